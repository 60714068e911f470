package access

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

// FuzzHostPattern compiles any pattern and matches it against any host.
// A rejected pattern must be named in the error; an accepted one must
// match exactly the hosts the oracle says, including the hosts derived
// from the pattern itself, and must never match a host that is not a
// valid name or literal.
func FuzzHostPattern(f *testing.F) {
	for _, s := range [][2]string{
		{"example.com", "example.com"},
		{".example.com", "www.example.com"},
		{"*.example.com", "example.com"},
		{"EXAMPLE.com.", "Example.COM."},
		{"bücher.example", "xn--bcher-kva.example"},
		{"192.0.2.1", "::ffff:192.0.2.1"},
		{"[2001:db8::1]", "2001:db8::1"},
		{"*.", "."},
		{"exa mple.com", ""},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, host string) {
		l, err := Compile([]Rule{{Hosts: []string{pattern}, Name: "fuzz"}}, true)
		if err != nil {
			if want := "fuzz: host " + strconv.Quote(pattern) + ": "; !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("got error %q, want it to start with %q", err, want)
			}
			l.Decide(&Request{Host: host}) // a nil List still decides
			return
		}
		base := strings.TrimPrefix(strings.TrimPrefix(pattern, "*"), ".")
		for how, l := range variants(l) {
			for _, h := range []string{host, pattern, base, "www." + base, strings.ToUpper(host), host + "."} {
				d := l.Decide(&Request{Host: h})
				if got, want := !d.Allowed(), oracleHost(pattern, h); got != want {
					t.Fatalf("%s: pattern %q, host %q: got match=%v, oracle %v", how, pattern, h, got, want)
				}
			}
		}
	})
}

// FuzzCompile compiles one value of each other kind: a rejected value must
// be named in the error; an accepted port or destination must match as the
// oracle says.
func FuzzCompile(f *testing.F) {
	f.Add("alice", "GET", "443", "private", uint16(443), []byte{10, 0, 0, 1})
	f.Add("-", "CONNECT", "8000-8999", "10.0.0.0/8", uint16(7999), []byte{10, 255, 255, 255})
	f.Add("*", "get", "0", "::ffff:10.0.0.0/104", uint16(1), []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3})
	f.Add("a:b", "M-SEARCH", "65535-1", "2001:db8::1", uint16(65535), []byte{0x20, 0x02, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Add("", "", "", "fe80::1%eth0", uint16(0), []byte{})
	f.Fuzz(func(t *testing.T, user, method, port, dest string, p uint16, addr []byte) {
		for _, c := range []struct {
			what, value string
			rule        Rule
		}{
			{"user", user, Rule{Users: []string{user}}},
			{"method", method, Rule{Methods: []string{method}}},
			{"port", port, Rule{Ports: []string{port}}},
			{"dest", dest, Rule{Dest: []string{dest}}},
		} {
			c.rule.Name = "fuzz"
			_, err := Compile([]Rule{c.rule}, true)
			if want := "fuzz: " + c.what + " " + strconv.Quote(c.value) + ": "; err != nil && !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("got error %q, want it to start with %q", err, want)
			}
		}
		if l, err := Compile([]Rule{{Ports: []string{port}}}, true); err == nil {
			for _, n := range []int{int(p), 0, 1, 65535, 65536, -1} {
				if got, want := !l.Decide(&Request{Port: n}).Allowed(), oraclePort(port, n); got != want {
					t.Fatalf("ports %q, port %d: got match=%v, oracle %v", port, n, got, want)
				}
			}
		}
		a, ok := netip.AddrFromSlice(addr)
		if l, err := Compile([]Rule{{Dest: []string{dest}, Name: "d"}}, true); err == nil && ok {
			d := l.Decide(&Request{})
			allowed, _ := d.CheckAddr(a)
			if got, want := !allowed, oracleDest(dest, a); got != want {
				t.Fatalf("dest %q, address %s: got match=%v, oracle %v", dest, a, got, want)
			}
		}
	})
}
