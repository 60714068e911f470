package config

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Validate checks the values of c and how they fit together: listen is
// host:port, the names of formats, levels and modes are known, ports are in
// range, durations are not negative and those that must be are positive,
// via_pseudonym is a token, and so on. Parse calls it; call it again after
// changing a Config, such as from command-line flags. The problems it
// reports have no file or line.
func (c *Config) Validate() error {
	issues := c.check()
	if len(issues) == 0 {
		return nil
	}
	ps := make([]Problem, len(issues))
	for i, is := range issues {
		ps[i] = Problem{Key: is.key, Msg: is.msg}
	}
	return &Error{Problems: ps}
}

// issue is a problem found by check, before Parse places it in the file.
type issue struct {
	key  string
	item int // index of the offending item in the list at key, or -1
	msg  string
}

type checker []issue

func (v *checker) add(key string, item int, format string, args ...any) {
	*v = append(*v, issue{key: key, item: item, msg: fmt.Sprintf(format, args...)})
}

// check returns every problem with c, in the order the keys are declared.
func (c *Config) check() []issue {
	var v checker
	v.listen(c.Listen)
	if len(c.AllowClients) == 0 {
		v.add("allow_clients", -1, `empty, so no client could use the proxy; list the networks it serves, like [127.0.0.0/8, "::1"]`)
	}
	v.prefixes("allow_clients", c.AllowClients)
	v.prefixes("allow_dest", c.AllowDest)
	for i, p := range c.ConnectPorts {
		if err := checkPort(p); err != nil {
			v.add("connect_ports", i, "%v", err)
		}
	}
	if c.AccessLog == "" {
		v.add("access_log", -1, `empty; write "-" for standard output, "off" for no access log, or a file path`)
	}
	v.oneOf("log_format", c.LogFormat, "squid", "combined", "json")
	v.oneOf("log_level", c.LogLevel, "debug", "info", "warn", "error")
	for _, d := range []struct {
		key      string
		value    Duration
		positive bool
	}{
		{"upstream_timeout", c.UpstreamTimeout, true},
		{"connect_timeout", c.ConnectTimeout, true},
		{"idle_timeout", c.IdleTimeout, false},
		{"header_timeout", c.HeaderTimeout, true},
		{"tunnel_idle_timeout", c.TunnelIdleTimeout, false},
		{"drain_timeout", c.DrainTimeout, false},
	} {
		v.duration(d.key, d.value, d.positive)
	}
	if c.MaxHeaderBytes < KiB {
		v.add("max_header_bytes", -1, "must be at least 1KiB, not %d bytes (a bare number means bytes; write 64KiB, not 64)", int64(c.MaxHeaderBytes))
	}
	if c.ViaPseudonym != "" && !isToken(c.ViaPseudonym) {
		v.add("via_pseudonym", -1, "%q is not an HTTP token (RFC 9110 §5.6.2); use letters, digits and !#$%%&'*+-.^_`|~ only, with no spaces", c.ViaPseudonym)
	}
	v.oneOf("forwarded_for", c.ForwardedFor, "off", "add", "forwarded", "delete")
	v.count("upstream.max_idle_per_host", c.Upstream.MaxIdlePerHost)
	v.count("upstream.max_idle", c.Upstream.MaxIdle)
	v.duration("upstream.idle_conn_timeout", c.Upstream.IdleConnTimeout, false)
	v.count("upstream.max_conns_per_host", c.Upstream.MaxConnsPerHost)
	c.Cache.check(&v)
	c.Filter.check(&v)
	c.Privacy.check(&v)
	c.Rewrite.check(&v)
	c.Auth.check(&v)
	c.Access.check(&v)
	c.Limits.check(&v)
	c.Admin.check(&v)
	c.Redis.check(&v)
	if c.MaxBodyBytes < 0 {
		v.add("max_body_bytes", -1, "must not be negative")
	}
	return v
}

func (v *checker) duration(key string, d Duration, positive bool) {
	switch {
	case d < 0:
		v.add(key, -1, "must not be negative, not %s", d)
	case d == 0 && positive:
		v.add(key, -1, `must be longer than 0, like "10s"`)
	}
}

func (v *checker) count(key string, n int) {
	if n < 0 {
		v.add(key, -1, "must not be negative, not %d", n)
	}
}

func (v *checker) listen(s string) {
	const want = "want host:port, like 127.0.0.1:3128, or :3128 for all interfaces"
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		if strings.Count(s, ":") > 1 && !strings.HasPrefix(s, "[") {
			v.add("listen", -1, "%s, not %q; write IPv6 hosts in brackets, like [::1]:3128", want, s)
		} else {
			v.add("listen", -1, "%s, not %q", want, s)
		}
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 || port != strconv.Itoa(n) {
		v.add("listen", -1, "port %q in %q must be a number 0-65535", port, s)
	}
	if host == "" {
		return
	}
	if _, err := netip.ParseAddr(host); err != nil && !isHostName(host) {
		v.add("listen", -1, "host %q in %q is not an IP address or host name", host, s)
	}
}

func (v *checker) prefixes(key string, ps []netip.Prefix) {
	for i, p := range ps {
		if !p.IsValid() {
			v.add(key, i, "invalid address range")
		}
	}
}

func (v *checker) oneOf(key, value string, allowed ...string) {
	for _, a := range allowed {
		if value == a {
			return
		}
	}
	list := strings.Join(allowed[:len(allowed)-1], ", ") + " or " + allowed[len(allowed)-1]
	if s := suggest(value, allowed); s != "" {
		v.add(key, -1, "must be %s, not %q; did you mean %s?", list, value, s)
		return
	}
	v.add(key, -1, "must be %s, not %q", list, value)
}

// isToken reports whether s is a token (RFC 9110 §5.6.2):
// 1*tchar, where tchar is "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" /
// "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// isHostName reports whether s is a DNS host name (RFC 1123 §2.1): labels of
// letters, digits and hyphens, 1-63 long, not starting or ending with a
// hyphen, 253 bytes at most, with a last label that is not all digits (so
// that a mistyped address like 1.2.3 is not taken for a name).
func isHostName(s string) bool {
	if len(s) > 253 {
		return false
	}
	labels := strings.Split(s, ".")
	for _, l := range labels {
		if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	last := labels[len(labels)-1]
	return strings.Trim(last, "0123456789") != ""
}

func (c *Cache) check(v *checker) {
	for _, s := range []struct {
		key  string
		size Size
	}{{"cache.mem", c.Mem}, {"cache.disk", c.Disk}, {"cache.max_object_size", c.MaxObjectSize}, {"cache.max_object_size_mem", c.MaxObjectSizeMem}} {
		if s.size < 0 {
			v.add(s.key, -1, "must not be negative")
		}
	}
	if c.Dir != "off" && c.Disk < MiB {
		v.add("cache.disk", -1, "must be at least 1MiB when the disk tier is on, not %d bytes (write dir: off for no disk tier)", int64(c.Disk))
	}
	if c.Mem > 0 && c.Mem < MiB {
		v.add("cache.mem", -1, "must be 0 (no memory tier) or at least 1MiB, not %d bytes", int64(c.Mem))
	}
	if c.HeuristicPercent < 0 || c.HeuristicPercent > 100 {
		v.add("cache.heuristic_percent", -1, "must be between 0 and 100, not %d", c.HeuristicPercent)
	}
	v.duration("cache.heuristic_max", c.HeuristicMax, false)
	v.prefixes("cache.purge_clients", c.PurgeClients)
}
