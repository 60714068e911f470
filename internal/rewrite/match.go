package rewrite

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"regexp"
	"strings"
)

// matcher is a compiled Match.
type matcher struct {
	glob  []string       // URL glob split at '*'; nil when there is none
	re    *regexp.Regexp // URL regular expression
	host  string         // lower-case, without a leading dot
	sub   bool           // host also matches subdomains
	types []string       // lower-case media types; "text/*" allowed
}

func compileMatch(m Match) (matcher, error) {
	var c matcher
	switch u := m.URL; {
	case u == "":
	case len(u) >= 2 && u[0] == '/' && u[len(u)-1] == '/':
		re, err := regexp.Compile(u[1 : len(u)-1])
		if err != nil {
			return c, fmt.Errorf("url regex: %v", err)
		}
		c.re = re
	default:
		c.glob = strings.Split(u, "*")
	}
	if m.Host != "" {
		if err := c.compileHost(m.Host); err != nil {
			return c, err
		}
	}
	return c, c.compileTypes(m)
}

func (c *matcher) compileHost(host string) error {
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	if strings.HasPrefix(h, "*.") {
		return fmt.Errorf("host %q: write .%s to match it and its subdomains", host, h[2:])
	}
	if strings.HasPrefix(h, ".") {
		c.sub, h = true, h[1:]
	}
	if ip := strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"); strings.Contains(ip, ":") {
		if _, err := netip.ParseAddr(ip); err == nil && !c.sub {
			c.host = ip // an IPv6 address, as URL.Hostname gives it
			return nil
		}
	}
	if h == "" || strings.ContainsAny(h, "/:*?#[] \t") {
		return fmt.Errorf("host %q: want a host name such as example.com or .example.com, without scheme, port or path", host)
	}
	c.host = h
	return nil
}

func (c *matcher) compileTypes(m Match) error {
	for _, t := range m.ContentType {
		lt := strings.ToLower(strings.TrimSpace(t))
		typ, sub, ok := strings.Cut(lt, "/")
		if !ok || typ == "" || sub == "" || typ == "*" || strings.ContainsAny(lt, "; \t,") ||
			strings.Contains(sub, "*") && sub != "*" {
			return fmt.Errorf("content_type %q: want type/subtype or type/* without parameters", t)
		}
		c.types = append(c.types, lt)
	}
	return nil
}

// target is what rules match against; the URL string and host are
// computed when a rule first asks for them.
type target struct {
	r         *http.Request
	url       string
	urlDone   bool
	host      string
	hostDone  bool
	mediaType string // the response's media type, lower-case
	haveType  bool   // mediaType is known (a response)
}

// URL returns the request URL as URL patterns see it.
func (t *target) URL() string {
	if !t.urlDone {
		t.urlDone = true
		if t.r != nil && t.r.URL != nil {
			u := t.r.URL
			path := u.EscapedPath()
			if path == "" {
				path = "/"
			}
			host := u.Host
			if host == "" {
				host = t.r.Host
			}
			var b strings.Builder
			b.Grow(len(u.Scheme) + 3 + len(host) + len(path) + 1 + len(u.RawQuery))
			b.WriteString(strings.ToLower(u.Scheme))
			b.WriteString("://")
			b.WriteString(strings.ToLower(host))
			b.WriteString(path)
			if u.RawQuery != "" || u.ForceQuery {
				b.WriteByte('?')
				b.WriteString(u.RawQuery)
			}
			t.url = b.String()
		}
	}
	return t.url
}

// Host returns the request's host name, lower-case, without port or
// trailing dot.
func (t *target) Host() string {
	if !t.hostDone {
		t.hostDone = true
		if t.r != nil {
			h := ""
			if t.r.URL != nil {
				h = t.r.URL.Hostname()
			}
			if h == "" {
				h = hostname(t.r.Host)
			}
			h = strings.TrimSuffix(h, ".")
			if hasUpper(h) {
				h = strings.ToLower(h)
			}
			t.host = h
		}
	}
	return t.host
}

// hostname strips the port from a Host header value.
func hostname(hostport string) string {
	if strings.HasPrefix(hostport, "[") {
		if i := strings.IndexByte(hostport, ']'); i > 0 {
			return hostport[1:i]
		}
		return hostport
	}
	if i := strings.LastIndexByte(hostport, ':'); i >= 0 {
		return hostport[:i]
	}
	return hostport
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return true
		}
	}
	return false
}

// matches reports whether the rule applies to t. With ignoreType, a
// content-type condition is taken as met (used before the response is
// known).
func (m *matcher) matches(t *target, ignoreType bool) bool {
	if m.host != "" {
		h := t.Host()
		if h != m.host && !(m.sub && len(h) > len(m.host) && strings.HasSuffix(h, m.host) && h[len(h)-len(m.host)-1] == '.') {
			return false
		}
	}
	if m.glob != nil && !globMatch(m.glob, t.URL()) {
		return false
	}
	if m.re != nil && !m.re.MatchString(t.URL()) {
		return false
	}
	if len(m.types) > 0 && !ignoreType {
		if !t.haveType || !typeMatch(m.types, t.mediaType) {
			return false
		}
	}
	return true
}

// globMatch matches s against a pattern split at its '*'s: the first part
// is a prefix, the last a suffix, and the others occur in order between.
func globMatch(parts []string, s string) bool {
	if len(parts) == 1 {
		return s == parts[0]
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return len(s) >= len(last) && strings.HasSuffix(s, last)
}

func typeMatch(types []string, mt string) bool {
	for _, t := range types {
		if t == mt {
			return true
		}
		if base, ok := strings.CutSuffix(t, "/*"); ok && len(mt) > len(base) && mt[len(base)] == '/' && strings.HasPrefix(mt, base) {
			return true
		}
	}
	return false
}

// mediaType returns the lower-cased type/subtype of a Content-Type value,
// or "" when it has none.
func mediaType(ct string) string {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = strings.TrimSpace(ct)
	if !strings.Contains(ct, "/") {
		return ""
	}
	if hasUpper(ct) {
		ct = strings.ToLower(ct)
	}
	return ct
}

// isHTML reports whether a media type is one the rewriter handles.
func isHTML(mt string) bool { return mt == "text/html" || mt == "application/xhtml+xml" }

// errNotHTML is returned for an HTML rule whose content types can never
// be HTML.
var errNotHTML = errors.New("is not text/html or application/xhtml+xml; HTML rules only apply to HTML")
