package access

import (
	"net/netip"
	"slices"
)

// namedSets are the address ranges a Dest condition may name. They are
// never modified; NamedSet hands out copies.
var namedSets = []struct {
	name     string
	prefixes []netip.Prefix
}{
	{"cgnat", []netip.Prefix{
		netip.MustParsePrefix("100.64.0.0/10"), // shared address space for carrier-grade NAT, RFC 6598 §7
	}},
	{"documentation", []netip.Prefix{
		netip.MustParsePrefix("192.0.2.0/24"),    // TEST-NET-1, RFC 5737 §3
		netip.MustParsePrefix("198.51.100.0/24"), // TEST-NET-2, RFC 5737 §3
		netip.MustParsePrefix("203.0.113.0/24"),  // TEST-NET-3, RFC 5737 §3
		netip.MustParsePrefix("2001:db8::/32"),   // RFC 3849 §2
		netip.MustParsePrefix("3fff::/20"),       // RFC 9637 §3
	}},
	{"link-local", []netip.Prefix{
		netip.MustParsePrefix("169.254.0.0/16"), // RFC 3927 §2.1; cloud metadata services live at 169.254.169.254
		netip.MustParsePrefix("fe80::/10"),      // RFC 4291 §2.5.6
	}},
	{"loopback", []netip.Prefix{
		netip.MustParsePrefix("127.0.0.0/8"), // RFC 1122 §3.2.1.3
		netip.MustParsePrefix("::1/128"),     // RFC 4291 §2.5.3
	}},
	{"multicast", []netip.Prefix{
		netip.MustParsePrefix("224.0.0.0/4"), // RFC 5771 §2 (class D, RFC 1112 §4)
		netip.MustParsePrefix("ff00::/8"),    // RFC 4291 §2.7
	}},
	{"private", []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),     // RFC 1918 §3
		netip.MustParsePrefix("172.16.0.0/12"),  // RFC 1918 §3
		netip.MustParsePrefix("192.168.0.0/16"), // RFC 1918 §3
		netip.MustParsePrefix("fc00::/7"),       // unique local addresses, RFC 4193 §3.1
	}},
	{"unspecified", []netip.Prefix{
		netip.MustParsePrefix("0.0.0.0/8"), // "this host on this network", RFC 1122 §3.2.1.3; Linux connects 0.0.0.0 to the local host
		netip.MustParsePrefix("::/128"),    // RFC 4291 §2.5.2
	}},
}

// NamedSet returns the address ranges of the named set and true, or nil and
// false when there is no set of that name. Names are lower case: "cgnat",
// "documentation", "link-local", "loopback", "multicast", "private" and
// "unspecified". Each call returns a new slice.
func NamedSet(name string) ([]netip.Prefix, bool) {
	for _, s := range namedSets {
		if s.name == name {
			return slices.Clone(s.prefixes), true
		}
	}
	return nil, false
}

// SetNames returns the names NamedSet knows, sorted. Each call returns a
// new slice.
func SetNames() []string {
	names := make([]string, len(namedSets))
	for i, s := range namedSets {
		names[i] = s.name
	}
	return names
}
