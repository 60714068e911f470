package config

import (
	"net/netip"
	"strings"

	"sluice/internal/access"
)

// Auth holds proxy authentication. In the file they are keys under
// "auth:". Without htpasswd, the proxy asks nobody for credentials, and
// allow_clients is the only thing that decides who may use it.
type Auth struct {
	// Htpasswd is an Apache htpasswd file of the users allowed to use the
	// proxy. When set, every request and CONNECT must carry valid
	// credentials (HTTP Basic, the only scheme browsers offer proxies);
	// others get 407 Proxy Authentication Required. bcrypt entries
	// (htpasswd -B) are accepted; apr1 entries (htpasswd -m) are accepted
	// with a warning, as MD5 is cheap to guess; plain-text, crypt and SHA
	// entries are refused. A change to the file takes effect within
	// seconds, without a restart. The default, "", turns authentication
	// off. Flag: --htpasswd.
	Htpasswd string `yaml:"htpasswd"`

	// Realm is the name in the browser's password prompt (the realm of the
	// Proxy-Authenticate challenge). The default is "sluice". It must be
	// printable text without double quotes or backslashes.
	Realm string `yaml:"realm"`

	// ProbeResistance, when true, hides that this is a proxy from anyone
	// without valid credentials: instead of 407, they get what a plain web
	// server would send (404 for a page, 400 for CONNECT), with no
	// Proxy-Authenticate and no Via. Clients must then send credentials
	// without being asked (curl -x http://user:pass@host:port does;
	// browsers do only after a 407, see knock_host). The default is false.
	// It needs htpasswd. Flag: --probe-resistance.
	ProbeResistance bool `yaml:"probe_resistance"`

	// KnockHost is a secret host name that, under probe_resistance, still
	// gets the 407 challenge, so that a browser can be made to log in:
	// visit http://KNOCK_HOST/ once through the proxy and the browser
	// prompts and then sends the credentials with every request. Choose a
	// name nobody would guess; it never resolves. The default, "", has no
	// such host.
	KnockHost string `yaml:"knock_host"`
}

// Access holds the access rules. In the file they are keys under
// "access:". They apply after allow_clients and authentication, and after
// the built-in destination deny set (which only allow_dest relaxes), so a
// rule can forbid more but never open up loopback or link-local; see
// docs/security.md.
type Access struct {
	// Default is what happens to a request no rule matches: "allow" (the
	// default) or "deny".
	Default string `yaml:"default"`

	// Rules are checked in order and the first whose conditions all match
	// decides. Each has an action ("allow" or "deny") and any of the
	// conditions users, clients, methods, hosts, ports and dest; a
	// condition left out matches every request, and a request matches a
	// condition if it matches any of its values. A denied request gets
	// 403 Forbidden with a page naming the rule. The default is empty.
	Rules []AccessRule `yaml:"rules"`
}

// AccessRule is one access rule.
type AccessRule struct {
	// Action is "allow" or "deny".
	Action string `yaml:"action"`
	// Users are user names from the htpasswd file; "*" means any
	// authenticated user.
	Users []string `yaml:"users"`
	// Clients are client address ranges, like 10.1.0.0/16.
	Clients []netip.Prefix `yaml:"clients"`
	// Methods are request methods, like CONNECT or POST.
	Methods []string `yaml:"methods"`
	// Hosts are destination host patterns: "example.com" is exactly that
	// host, ".example.com" is it and its subdomains, "*.example.com" only
	// its subdomains.
	Hosts []string `yaml:"hosts"`
	// Ports are destination ports or ranges, like 443 or 8000-8999.
	Ports []string `yaml:"ports"`
	// Dest are destination address ranges, like 10.0.0.0/8, or the named
	// sets loopback, private, link-local, cgnat, multicast, documentation
	// and unspecified. They are checked against every address the
	// destination's name resolves to.
	Dest []string `yaml:"dest"`
}

// Limits holds the connection and request-rate limits. In the file they
// are keys under "limits:". Clients are told apart by IP address; IPv6
// clients by their /64 network.
type Limits struct {
	// MaxConns caps the client connections open at once, tunnels included;
	// beyond it new connections are closed at once. The default, 0, means
	// half the process's open-file limit (each client connection may need
	// a connection to an origin too), which on a default Debian system
	// with systemd is about 262,000 and under a 1024 limit is 480.
	// Flag: --max-conns.
	MaxConns int `yaml:"max_conns"`

	// MaxConnsPerClient caps the connections one client address may hold
	// open; beyond it the client gets 429 Too Many Requests and the
	// connection is closed. The default is 0, no per-client cap. Leave
	// room for offices behind one NAT address: a browser opens up to six
	// connections per site, and one page can touch dozens of sites.
	// Flag: --max-conns-per-client.
	MaxConnsPerClient int `yaml:"max_conns_per_client"`

	// RequestsPerSecond is the sustained rate of requests one client
	// address may make; beyond it (and its burst) requests get 429 Too
	// Many Requests with Retry-After. The default is 0, no rate limit.
	// Flag: --rate-limit.
	RequestsPerSecond int `yaml:"requests_per_second"`

	// Burst is how many requests a client may make at once above the
	// sustained rate. The default, 0, means twice requests_per_second (at
	// least 10).
	Burst int `yaml:"burst"`
}

func (a *Auth) check(v *checker) {
	if strings.ContainsAny(a.Realm, "\"\\") || strings.IndexFunc(a.Realm, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
		v.add("auth.realm", -1, "%q must not contain double quotes, backslashes or control characters", a.Realm)
	}
	if a.ProbeResistance && a.Htpasswd == "" {
		v.add("auth.probe_resistance", -1, "needs auth.htpasswd: without users there is nothing to hide behind")
	}
	if a.KnockHost != "" {
		if !a.ProbeResistance {
			v.add("auth.knock_host", -1, "only means something with auth.probe_resistance: true")
		}
		if !isHostName(a.KnockHost) {
			v.add("auth.knock_host", -1, "%q is not a host name", a.KnockHost)
		}
	}
}

func (a *Access) check(v *checker) {
	v.oneOf("access.default", a.Default, "allow", "deny")
	for i, r := range a.Rules {
		key := itemKey("access.rules", i)
		v.oneOf(key+".action", r.Action, "allow", "deny")
		v.prefixes(key+".clients", r.Clients)
		// The rule engine is the one judge of its values (host patterns,
		// ports, named sets); its messages are placed at the condition's
		// line.
		_, err := access.Compile([]access.Rule{{Name: key, Users: r.Users, Methods: r.Methods,
			Hosts: r.Hosts, Ports: r.Ports, Dest: r.Dest}}, true)
		for _, e := range unjoin(err) {
			msg := strings.TrimPrefix(e.Error(), key+": ")
			field, _, _ := strings.Cut(msg, " ")
			k := key
			if suffix, ok := conditionKeys[field]; ok {
				k += suffix
			}
			v.add(k, -1, "%s", msg)
		}
	}
}

// conditionKeys maps the value kinds access.Compile names in its messages
// to the keys they are written under.
var conditionKeys = map[string]string{
	"user": ".users", "method": ".methods", "host": ".hosts", "port": ".ports", "dest": ".dest",
}

func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func (l *Limits) check(v *checker) {
	v.count("limits.max_conns", l.MaxConns)
	v.count("limits.max_conns_per_client", l.MaxConnsPerClient)
	v.count("limits.requests_per_second", l.RequestsPerSecond)
	v.count("limits.burst", l.Burst)
}
