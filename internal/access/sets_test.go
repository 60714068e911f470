package access

import (
	"net/netip"
	"slices"
	"testing"
)

func TestNamedSetBoundaries(t *testing.T) {
	// Each range's first and last address, and the addresses just
	// outside, written out so a typo in the table cannot hide.
	tests := []struct {
		set     string
		in, out []string
	}{
		{"loopback",
			[]string{"127.0.0.0", "127.0.0.1", "127.255.255.255", "::1"},
			[]string{"126.255.255.255", "128.0.0.0", "::", "::2", "::ffff:126.0.0.1"}},
		{"private",
			[]string{"10.0.0.0", "10.255.255.255", "172.16.0.0", "172.31.255.255", "192.168.0.0", "192.168.255.255", "fc00::", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::ffff:10.1.2.3"},
			[]string{"9.255.255.255", "11.0.0.0", "172.15.255.255", "172.32.0.0", "192.167.255.255", "192.169.0.0", "fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fe00::"}},
		{"link-local",
			[]string{"169.254.0.0", "169.254.169.254", "169.254.255.255", "fe80::", "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
			[]string{"169.253.255.255", "169.255.0.0", "fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fec0::"}},
		{"cgnat",
			[]string{"100.64.0.0", "100.127.255.255"},
			[]string{"100.63.255.255", "100.128.0.0"}},
		{"multicast",
			[]string{"224.0.0.0", "239.255.255.255", "ff00::", "ff02::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
			[]string{"223.255.255.255", "240.0.0.0", "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}},
		{"documentation",
			[]string{"192.0.2.0", "192.0.2.255", "198.51.100.0", "198.51.100.255", "203.0.113.0", "203.0.113.255", "2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "3fff::", "3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff"},
			[]string{"192.0.1.255", "192.0.3.0", "198.51.99.255", "198.51.101.0", "203.0.112.255", "203.0.114.0", "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db9::", "3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "3fff:1000::"}},
		{"unspecified",
			[]string{"0.0.0.0", "0.255.255.255", "::"},
			[]string{"1.0.0.0", "::1"}},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		seen[tt.set] = true
		l := compile(t, true, Rule{Allow: false, Dest: []string{tt.set}, Name: tt.set})
		d := l.Decide(&Request{})
		for _, s := range tt.in {
			if ok, rule := d.CheckAddr(netip.MustParseAddr(s)); ok || rule != tt.set {
				t.Errorf("%s: %s: got allowed=%v by %q, want it in the set", tt.set, s, ok, rule)
			}
		}
		for _, s := range tt.out {
			if ok, _ := d.CheckAddr(netip.MustParseAddr(s)); !ok {
				t.Errorf("%s: %s: got it in the set, want it outside", tt.set, s)
			}
		}
	}
	for _, name := range SetNames() {
		if !seen[name] {
			t.Errorf("set %q has no boundary test", name)
		}
	}
}

// TestNamedSetEdges checks, for every range of every set, that its first
// and last addresses are in the set and their neighbours outside it.
func TestNamedSetEdges(t *testing.T) {
	for _, name := range SetNames() {
		ps, _ := NamedSet(name)
		in := func(a netip.Addr) bool {
			return slices.ContainsFunc(ps, func(p netip.Prefix) bool { return p.Contains(a) })
		}
		for _, p := range ps {
			if p != p.Masked() {
				t.Errorf("%s: %s is not masked", name, p)
			}
			first, last := p.Addr(), lastAddr(p)
			if !in(first) || !in(last) {
				t.Errorf("%s: %s: edges %s and %s not in the set", name, p, first, last)
			}
			if prev := first.Prev(); prev.IsValid() && in(prev) {
				t.Errorf("%s: %s: %s before the range is in the set", name, p, prev)
			}
			if next := last.Next(); next.IsValid() && in(next) {
				t.Errorf("%s: %s: %s after the range is in the set", name, p, next)
			}
		}
	}
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

func TestNamedSetAPI(t *testing.T) {
	names := SetNames()
	want := []string{"cgnat", "documentation", "link-local", "loopback", "multicast", "private", "unspecified"}
	if !slices.Equal(names, want) {
		t.Fatalf("got SetNames %q, want %q", names, want)
	}
	names[0] = "changed"
	if SetNames()[0] != "cgnat" {
		t.Error("SetNames shares its slice")
	}
	ps, ok := NamedSet("private")
	if !ok || len(ps) != 4 {
		t.Fatalf("got NamedSet(private) = %v, %v", ps, ok)
	}
	ps[0] = netip.MustParsePrefix("0.0.0.0/0")
	if again, _ := NamedSet("private"); again[0] != netip.MustParsePrefix("10.0.0.0/8") {
		t.Error("NamedSet shares its slice")
	}
	for _, bad := range []string{"", "Private", "privat", "any"} {
		if ps, ok := NamedSet(bad); ok || ps != nil {
			t.Errorf("NamedSet(%q): got %v, %v, want nil, false", bad, ps, ok)
		}
	}
}
