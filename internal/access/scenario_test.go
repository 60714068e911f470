package access

import (
	"net/netip"
	"strconv"
	"testing"
)

// compile compiles rules, naming each "rN" (counting from 1) unless it has
// a name, and fails the test on an error.
func compile(t testing.TB, defaultAllow bool, rules ...Rule) *List {
	t.Helper()
	for i := range rules {
		if rules[i].Name == "" {
			rules[i].Name = "r" + strconv.Itoa(i+1)
		}
	}
	l, err := Compile(rules, defaultAllow)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// verdict decides q as the proxy does: Decide, then, when it needs them,
// every address the host resolved to, denying if any one is denied. It
// returns the verdict and the deciding rule, which for a denial is the
// rule that denied the first denied address.
func verdict(l *List, q Request, addrs ...string) (bool, string) {
	d := l.Decide(&q)
	if !d.NeedAddrs() {
		return d.Allowed(), d.Rule()
	}
	allowed, rule := d.Allowed(), d.Rule()
	for i, s := range addrs {
		ok, r := d.CheckAddr(netip.MustParseAddr(s))
		if !ok {
			return false, r
		}
		if i == 0 {
			allowed, rule = ok, r
		}
	}
	return allowed, rule
}

type scenarioCase struct {
	name  string
	q     Request
	addrs []string // what the host resolves to
	allow bool
	rule  string // "" for the default
}

func runScenario(t *testing.T, l *List, cases []scenarioCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for how, l := range variants(l) {
				allow, rule := verdict(l, c.q, c.addrs...)
				if allow != c.allow || rule != c.rule {
					t.Errorf("%s: got allowed=%v by %q, want allowed=%v by %q", how, allow, rule, c.allow, c.rule)
				}
			}
		})
	}
}

func get(user, host string, port int) Request {
	return Request{User: user, Client: netip.MustParseAddr("192.168.1.10"), Method: "GET", Host: host, Port: port}
}

func connect(user, host string, port int) Request {
	q := get(user, host, port)
	q.Method = "CONNECT"
	return q
}

// Each scenario is a policy a Squid administrator writes with http_access
// and acl lines, in this package's terms.

func TestScenarioAdminsOnlyPrivate(t *testing.T) {
	// acl admins proxy_auth alice bob
	// http_access allow admins private; http_access deny private
	l := compile(t, true,
		Rule{Allow: true, Users: []string{"alice", "bob"}, Dest: []string{"private"}, Name: "admins-private"},
		Rule{Allow: false, Dest: []string{"private", "loopback", "link-local"}, Name: "no-private"},
	)
	runScenario(t, l, []scenarioCase{
		{"admin to private", get("alice", "intranet.corp", 80), []string{"10.1.2.3"}, true, "admins-private"},
		{"admin to private v6", get("bob", "intranet.corp", 80), []string{"fd00::1"}, true, "admins-private"},
		{"admin to loopback", get("alice", "localhost", 80), []string{"127.0.0.1"}, false, "no-private"},
		{"admin to public", get("alice", "example.com", 80), []string{"93.184.215.14"}, true, ""},
		{"user to private", get("carol", "intranet.corp", 80), []string{"10.1.2.3"}, false, "no-private"},
		{"anonymous to private", get("", "router", 80), []string{"192.168.1.1"}, false, "no-private"},
		{"user to public", get("carol", "example.com", 443), []string{"93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"}, true, ""},
		{"user to name with one private address", get("carol", "rebind.example", 80), []string{"93.184.215.14", "10.0.0.1"}, false, "no-private"},
		{"user to IPv4-mapped private", get("carol", "mapped.example", 80), []string{"::ffff:10.0.0.1"}, false, "no-private"},
		{"user to NAT64 private", get("carol", "nat64.example", 80), []string{"64:ff9b::a00:1"}, false, "no-private"},
		{"user to 6to4 private", get("carol", "6to4.example", 80), []string{"2002:c0a8:101::1"}, false, "no-private"},
		{"user to metadata", get("carol", "metadata.google.internal", 80), []string{"169.254.169.254"}, false, "no-private"},
		{"user name is case-sensitive", get("Alice", "intranet.corp", 80), []string{"10.1.2.3"}, false, "no-private"},
	})
}

func TestScenarioConnectOnlyToTLSPorts(t *testing.T) {
	// acl SSL_ports port 443 8443; http_access deny CONNECT !SSL_ports
	l := compile(t, true,
		Rule{Allow: true, Methods: []string{"CONNECT"}, Ports: []string{"443", "8443"}, Name: "tls-ports"},
		Rule{Allow: false, Methods: []string{"CONNECT"}, Name: "other-connect"},
	)
	runScenario(t, l, []scenarioCase{
		{"443", connect("", "example.com", 443), nil, true, "tls-ports"},
		{"8443", connect("", "example.com", 8443), nil, true, "tls-ports"},
		{"ssh", connect("", "example.com", 22), nil, false, "other-connect"},
		{"smtp", connect("", "mail.example.com", 25), nil, false, "other-connect"},
		{"444", connect("", "example.com", 444), nil, false, "other-connect"},
		{"plain GET on 8080", get("", "example.com", 8080), nil, true, ""},
		{"lower-case method is another method", Request{Method: "connect", Host: "example.com", Port: 22}, nil, true, ""},
	})
}

func TestScenarioSquidSafePorts(t *testing.T) {
	// Squid's default: http_access deny !Safe_ports, written with ranges.
	l := compile(t, true,
		Rule{Allow: false, Ports: []string{"1-20", "22-79", "82-442", "444-487", "489-590", "592-776", "778-1024"}, Name: "unsafe-ports"},
	)
	runScenario(t, l, []scenarioCase{
		{"80", get("", "example.com", 80), nil, true, ""},
		{"21", get("", "ftp.example.com", 21), nil, true, ""},
		{"25", get("", "example.com", 25), nil, false, "unsafe-ports"},
		{"1024", get("", "example.com", 1024), nil, false, "unsafe-ports"},
		{"1025", get("", "example.com", 1025), nil, true, ""},
		{"65535", get("", "example.com", 65535), nil, true, ""},
	})
}

func TestScenarioAliceIntranet(t *testing.T) {
	// acl intranet dstdomain intranet.example.com
	// http_access allow alice intranet; http_access deny intranet
	l := compile(t, true,
		Rule{Allow: true, Users: []string{"alice"}, Hosts: []string{"intranet.example.com"}, Name: "alice-intranet"},
		Rule{Allow: false, Hosts: []string{"intranet.example.com"}, Name: "intranet"},
	)
	runScenario(t, l, []scenarioCase{
		{"alice", get("alice", "intranet.example.com", 443), nil, true, "alice-intranet"},
		{"alice, trailing dot", get("alice", "intranet.example.com.", 443), nil, true, "alice-intranet"},
		{"bob", get("bob", "intranet.example.com", 443), nil, false, "intranet"},
		{"bob, upper case and dot", get("bob", "INTRANET.Example.COM.", 443), nil, false, "intranet"},
		{"anonymous", get("", "intranet.example.com", 80), nil, false, "intranet"},
		{"bob elsewhere", get("bob", "www.example.com", 443), nil, true, ""},
		{"bob to a subdomain", get("bob", "x.intranet.example.com", 443), nil, true, ""},
	})
}

func TestScenarioAllowListDefaultDeny(t *testing.T) {
	// A kiosk: only some sites, everything else refused.
	l := compile(t, false,
		Rule{Allow: true, Hosts: []string{".example.com", "*.example.org", "bücher.example"}, Ports: []string{"80", "443"}, Name: "sites"},
	)
	runScenario(t, l, []scenarioCase{
		{"domain itself", get("", "example.com", 443), nil, true, "sites"},
		{"subdomain", get("", "www.example.com", 80), nil, true, "sites"},
		{"wildcard excludes the domain", get("", "example.org", 443), nil, false, ""},
		{"wildcard subdomain", get("", "docs.example.org", 443), nil, true, "sites"},
		{"lookalike", get("", "notexample.com", 443), nil, false, ""},
		{"suffix trick", get("", "example.com.evil.net", 443), nil, false, ""},
		{"IDN in punycode", get("", "xn--bcher-kva.example", 443), nil, true, "sites"},
		{"other port", get("", "example.com", 8080), nil, false, ""},
	})
}

func TestScenarioOfficeOrLogin(t *testing.T) {
	// http_access allow office; http_access allow authenticated;
	// http_access deny all
	office := netip.MustParsePrefix("192.168.0.0/16")
	l := compile(t, true,
		Rule{Allow: true, Clients: []netip.Prefix{office, netip.MustParsePrefix("2001:db8:1::/48")}, Name: "office"},
		Rule{Allow: true, Users: []string{"*"}, Name: "logged-in"},
		Rule{Allow: false, Name: "deny-all"},
	)
	at := func(user, client string) Request {
		q := get(user, "example.com", 443)
		q.Client = netip.MustParseAddr(client)
		return q
	}
	runScenario(t, l, []scenarioCase{
		{"office, anonymous", at("", "192.168.7.7"), nil, true, "office"},
		{"office over IPv4-mapped IPv6", at("", "::ffff:192.168.7.7"), nil, true, "office"},
		{"office v6", at("", "2001:db8:1:2::3"), nil, true, "office"},
		{"outside, logged in", at("dave", "203.0.113.9"), nil, true, "logged-in"},
		{"outside, anonymous", at("", "203.0.113.9"), nil, false, "deny-all"},
		{"outside v6 with zone", at("", "fe80::1%eth0"), nil, false, "deny-all"},
		{"no client address", at("", "0.0.0.0"), nil, false, "deny-all"},
	})
}

func TestScenarioAnonymousWebOnly(t *testing.T) {
	// Guests may browse; staff may do anything.
	l := compile(t, true,
		Rule{Allow: true, Users: []string{"-"}, Methods: []string{"GET", "HEAD", "CONNECT"}, Ports: []string{"80", "443"}, Name: "guests-web"},
		Rule{Allow: false, Users: []string{"-"}, Name: "guests-other"},
	)
	post := get("", "example.com", 80)
	post.Method = "POST"
	staffPost := post
	staffPost.User = "erin"
	runScenario(t, l, []scenarioCase{
		{"guest GET", get("", "example.com", 80), nil, true, "guests-web"},
		{"guest CONNECT 443", connect("", "example.com", 443), nil, true, "guests-web"},
		{"guest POST", post, nil, false, "guests-other"},
		{"guest CONNECT 22", connect("", "example.com", 22), nil, false, "guests-other"},
		{"staff POST", staffPost, nil, true, ""},
	})
}

func TestScenarioBlockMetadataFirst(t *testing.T) {
	// Even admins never reach the cloud metadata service, whatever later
	// rules say: order is the whole precedence.
	l := compile(t, false,
		Rule{Allow: false, Dest: []string{"169.254.169.254", "fd00:ec2::254"}, Name: "metadata"},
		Rule{Allow: true, Users: []string{"root"}, Name: "root"},
	)
	runScenario(t, l, []scenarioCase{
		{"root to metadata", get("root", "169.254.169.254", 80), []string{"169.254.169.254"}, false, "metadata"},
		{"root to metadata v6", get("root", "fd00:ec2::254", 80), []string{"fd00:ec2::254"}, false, "metadata"},
		{"root to metadata, IPv4-compatible", get("root", "x", 80), []string{"::169.254.169.254"}, false, "metadata"},
		{"root elsewhere", get("root", "example.com", 80), []string{"93.184.215.14"}, true, "root"},
		{"root next door", get("root", "x", 80), []string{"169.254.169.253"}, true, "root"},
		{"others", get("eve", "example.com", 80), []string{"93.184.215.14"}, false, ""},
	})
}

// variants returns l as compiled, with a host index whatever its size, and
// without one, so tests can check both ways of matching hosts agree.
func variants(l *List) map[string]*List {
	indexed, linear := *l, *l
	indexed.index = newHostIndex(l.rules, 0)
	linear.index = nil
	return map[string]*List{"compiled": l, "indexed": &indexed, "linear": &linear}
}
