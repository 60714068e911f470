package access

import (
	"net/netip"
	"testing"

	"sluice/internal/dial"
)

// TestEmbeddedIPv4 keeps this package's reading of IPv4-in-IPv6 in step
// with internal/dial's: a Dest condition holding dial's default-deny ranges
// must deny exactly the addresses dial's Policy denies.
func TestEmbeddedIPv4(t *testing.T) {
	var dest []string
	for _, p := range dial.DefaultDeny() {
		dest = append(dest, p.String())
	}
	l := compile(t, true, Rule{Allow: false, Dest: dest})
	d := l.Decide(&Request{})
	policy := dial.NewPolicy(nil)

	var addrs []netip.Addr
	for _, v4 := range []string{"127.0.0.1", "127.255.255.255", "128.0.0.0", "0.0.0.0", "0.0.0.1", "1.0.0.0", "169.254.169.254", "169.255.0.0", "10.0.0.1", "8.8.8.8"} {
		b := netip.MustParseAddr(v4).As4()
		addrs = append(addrs,
			netip.AddrFrom4(b),
			netip.AddrFrom16([16]byte{10: 0xff, 11: 0xff, 12: b[0], 13: b[1], 14: b[2], 15: b[3]}), // mapped
			netip.AddrFrom16([16]byte{12: b[0], 13: b[1], 14: b[2], 15: b[3]}),                     // compatible
			netip.AddrFrom16([16]byte{0: 0x00, 1: 0x64, 2: 0xff, 3: 0x9b, 12: b[0], 13: b[1], 14: b[2], 15: b[3]}),
			netip.AddrFrom16([16]byte{0: 0x20, 1: 0x02, 2: b[0], 3: b[1], 4: b[2], 5: b[3], 15: 1}),                    // 6to4
			netip.AddrFrom16([16]byte{0: 0x20, 1: 0x01, 4: 0x41, 5: 0x36, 12: ^b[0], 13: ^b[1], 14: ^b[2], 15: ^b[3]}), // Teredo
			netip.AddrFrom16([16]byte{0: 0x00, 1: 0x64, 2: 0xff, 3: 0x9b, 4: 1, 12: b[0], 13: b[1], 14: b[2], 15: b[3]}),
		)
	}
	for _, s := range []string{"::", "::1", "::2", "fe80::1", "fe80::1%eth0", "febf::1", "fec0::1", "2001:db8::1"} {
		addrs = append(addrs, netip.MustParseAddr(s))
	}
	for _, a := range addrs {
		dialDenies := policy.Check(a) != nil
		if ok, _ := d.CheckAddr(a); ok == dialDenies {
			t.Errorf("%s: access allows=%v, dial denies=%v", a, ok, dialDenies)
		}
	}
}
