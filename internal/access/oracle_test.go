package access

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/idna"

	"sluice/internal/dial"
)

// oracle decides q for one resolved address a by reading the rules as the
// documentation states them, one address at a time, with none of the
// compiled structures, the phases or the bitsets. rules must compile.
func oracle(rules []Rule, defaultAllow bool, q Request, a netip.Addr) (bool, string) {
	for _, r := range rules {
		if oracleMatch(r, q, a) {
			return r.Allow, r.Name
		}
	}
	return defaultAllow, ""
}

func oracleMatch(r Rule, q Request, a netip.Addr) bool {
	any := func(n int, f func(i int) bool) bool {
		if n == 0 {
			return true // an empty condition matches everything
		}
		for i := range n {
			if f(i) {
				return true
			}
		}
		return false
	}
	client := q.Client.WithZone("").Unmap()
	return any(len(r.Users), func(i int) bool { return oracleUser(r.Users[i], q.User) }) &&
		any(len(r.Clients), func(i int) bool { return oraclePrefix(r.Clients[i]).Contains(client) }) &&
		any(len(r.Methods), func(i int) bool { return r.Methods[i] == q.Method }) &&
		any(len(r.Hosts), func(i int) bool { return oracleHost(r.Hosts[i], q.Host) }) &&
		any(len(r.Ports), func(i int) bool { return oraclePort(r.Ports[i], q.Port) }) &&
		any(len(r.Dest), func(i int) bool { return oracleDest(r.Dest[i], a) })
}

func oracleUser(entry, user string) bool {
	switch entry {
	case "-":
		return user == ""
	case "*":
		return user != ""
	}
	return user == entry
}

// oraclePrefix reads a prefix written in IPv4-mapped form as IPv4.
func oraclePrefix(p netip.Prefix) netip.Prefix {
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p
}

func oraclePort(spec string, port int) bool {
	lo, hi, ok := strings.Cut(spec, "-")
	if !ok {
		hi = lo
	}
	l, _ := strconv.Atoi(lo)
	h, _ := strconv.Atoi(hi)
	return l <= port && port <= h
}

func oracleDest(spec string, a netip.Addr) bool {
	ps, ok := NamedSet(spec)
	if !ok {
		p, err := netip.ParsePrefix(spec)
		if err != nil {
			x := netip.MustParseAddr(spec)
			p = netip.PrefixFrom(x, x.BitLen())
		}
		ps = []netip.Prefix{oraclePrefix(p)}
	}
	a = a.WithZone("").Unmap()
	forms := []netip.Addr{a}
	b := a.As16()
	switch {
	case !a.Is6():
	case netip.MustParsePrefix("::/96").Contains(a) && a != netip.MustParseAddr("::") && a != netip.MustParseAddr("::1"),
		netip.MustParsePrefix("64:ff9b::/96").Contains(a):
		forms = append(forms, netip.AddrFrom4([4]byte(b[12:])))
	case netip.MustParsePrefix("2002::/16").Contains(a):
		forms = append(forms, netip.AddrFrom4([4]byte(b[2:6])))
	}
	for _, p := range ps {
		for _, f := range forms {
			if p.Contains(f) {
				return true
			}
		}
	}
	return false
}

// oracleHost reports whether a host pattern that compiles matches host.
func oracleHost(pattern, host string) bool {
	ascii := func(s string) string {
		for _, c := range s {
			if c >= 0x80 {
				a, err := idna.Lookup.ToASCII(s)
				if err != nil {
					return "\x00invalid"
				}
				return a
			}
		}
		return strings.ToLower(s)
	}
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	if !strings.Contains(host, ":") {
		host = ascii(strings.TrimSuffix(host, "."))
	}
	if !strings.Contains(pattern, ":") {
		pattern = strings.TrimSuffix(pattern, ".")
		kind, base := "", pattern
		for _, k := range []string{"*.", "."} {
			if b, ok := strings.CutPrefix(pattern, k); ok {
				kind, base = k, b
				break
			}
		}
		pattern = kind + ascii(base)
	}
	// An IP literal host is what internal/dial reads it as.
	ha, numeric, herr := dial.ParseNumericHost(host)
	if herr != nil {
		return false
	}
	pa, perr := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(pattern, "["), "]"))
	if perr == nil || numeric {
		return perr == nil && numeric && pa.Unmap() == ha
	}
	if strings.Contains(host, ":") || host == "" {
		return false
	}
	switch {
	case strings.HasPrefix(pattern, "*."):
		return strings.HasSuffix(host, pattern[1:])
	case strings.HasPrefix(pattern, "."):
		return host == pattern[1:] || strings.HasSuffix(host, pattern)
	}
	return host == pattern
}

// TestAgainstOracle decides random requests against random rule lists and
// checks every phase-2 answer against the oracle, and that a phase-1
// answer that needs no addresses is the oracle's for every address.
func TestAgainstOracle(t *testing.T) {
	users := []string{"alice", "bob", "*", "-"}
	clients := []string{"10.0.0.0/8", "192.168.1.0/24", "::ffff:172.16.0.0/108", "2001:db8::/32", "::/0"}
	methods := []string{"GET", "CONNECT", "POST"}
	hosts := []string{"example.com", ".example.com", "*.example.com", "www.example.com", "www.example.org.", "bücher.example", "192.0.2.1", "2001:db8::1", "[::ffff:10.0.0.1]"}
	ports := []string{"80", "443", "8000-8999", "1-1024"}
	dests := []string{"private", "loopback", "link-local", "documentation", "10.1.0.0/16", "::ffff:192.168.0.0/112", "2001:db8::/32", "203.0.113.7", "0.0.0.0/0"}

	reqUsers := []string{"", "alice", "bob", "carol", "-", "*"}
	reqClients := []string{"10.1.1.1", "::ffff:10.1.1.1", "192.168.1.200", "172.20.0.1", "2001:db8::5", "fe80::1%eth0", "8.8.8.8"}
	reqMethods := []string{"GET", "CONNECT", "POST", "get"}
	reqHosts := []string{"example.com", "www.example.com", "EXAMPLE.COM.", "example.org", "www.example.org", "xn--bcher-kva.example", "192.0.2.1", "3221225985", "192.0.2.256", "2001:db8::1", "10.0.0.1", "", "."}
	reqPorts := []int{80, 443, 8080, 8500, 22, 0}
	addrs := []string{"10.1.2.3", "10.2.0.1", "::ffff:10.1.2.3", "64:ff9b::a01:203", "2002:c0a8:101::", "127.0.0.1", "::1", "169.254.169.254", "192.0.2.9", "2001:db8::7", "203.0.113.7", "8.8.8.8", "2606:4700::1111", "fe80::1%eth0", "192.168.3.4"}

	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(vs []string) []string {
		if rng.IntN(3) > 0 {
			return nil
		}
		var out []string
		for range 1 + rng.IntN(2) {
			out = append(out, vs[rng.IntN(len(vs))])
		}
		return out
	}
	for round := range 400 {
		n := rng.IntN(12)
		if round%20 == 0 {
			n = 70 + rng.IntN(60) // past the 64 Dest rules a Decision holds inline
		}
		rules := make([]Rule, n)
		for i := range rules {
			r := Rule{Allow: rng.IntN(2) == 0, Name: "r" + strconv.Itoa(i)}
			r.Users, r.Methods, r.Hosts, r.Ports, r.Dest = pick(users), pick(methods), pick(hosts), pick(ports), pick(dests)
			for _, c := range pick(clients) {
				r.Clients = append(r.Clients, netip.MustParsePrefix(c))
			}
			if n > 64 && rng.IntN(4) > 0 && r.Dest == nil {
				r.Dest = []string{dests[rng.IntN(len(dests))]}
			}
			rules[i] = r
		}
		def := rng.IntN(2) == 0
		l, err := Compile(slices.Clone(rules), def)
		if err != nil {
			t.Fatal(err)
		}
		for range 20 {
			q := Request{
				User:   reqUsers[rng.IntN(len(reqUsers))],
				Client: netip.MustParseAddr(reqClients[rng.IntN(len(reqClients))]),
				Method: reqMethods[rng.IntN(len(reqMethods))],
				Host:   reqHosts[rng.IntN(len(reqHosts))],
				Port:   reqPorts[rng.IntN(len(reqPorts))],
			}
			for how, l := range variants(l) {
				d := l.Decide(&q)
				for _, s := range addrs {
					a := netip.MustParseAddr(s)
					wantOK, wantRule := oracle(rules, def, q, a)
					if ok, rule := d.CheckAddr(a); ok != wantOK || rule != wantRule {
						t.Fatalf("%s, round %d, %+v at %s: CheckAddr got %v by %q, oracle %v by %q\nrules: %+v", how, round, q, s, ok, rule, wantOK, wantRule, rules)
					}
					if !d.NeedAddrs() && d.Allowed() != wantOK {
						t.Fatalf("%s, round %d, %+v at %s: Decide got %v by %q without addresses, oracle %v by %q\nrules: %+v", how, round, q, s, d.Allowed(), d.Rule(), wantOK, wantRule, rules)
					}
				}
			}
		}
	}
}
