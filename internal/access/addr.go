package access

import "net/netip"

// normalAddr returns a without a zone and, when it is IPv4-mapped IPv6
// (::ffff:a.b.c.d), as the IPv4 address it maps.
func normalAddr(a netip.Addr) netip.Addr {
	return a.WithZone("").Unmap()
}

// normalPrefix returns p masked, without a zone, and, when it is written in
// IPv4-mapped form with at least 96 bits (::ffff:10.0.0.0/104), as the IPv4
// prefix it maps (10.0.0.0/8). It returns the zero Prefix when p is not
// valid.
func normalPrefix(p netip.Prefix) netip.Prefix {
	if !p.IsValid() {
		return netip.Prefix{}
	}
	a := p.Addr().WithZone("")
	bits := p.Bits()
	if a.Is4In6() && bits >= 96 {
		a, bits = a.Unmap(), bits-96
	}
	return netip.PrefixFrom(a, bits).Masked()
}

// embeddedIPv4 returns the IPv4 address carried inside the IPv6 address a,
// if a has one of the forms that reach an IPv4 host. a must be normal
// (normalAddr), so IPv4-mapped addresses have already been unmapped. These
// are the forms internal/dial's Policy sees through (its embeddedIPv4 is
// not exported; this is the same rule, kept in step by TestEmbeddedIPv4).
func embeddedIPv4(a netip.Addr) (netip.Addr, bool) {
	if !a.Is6() {
		return netip.Addr{}, false
	}
	b := a.As16()
	switch {
	case [12]byte(b[:12]) == [12]byte{} && a != netip.IPv6Unspecified() && a != netip.IPv6Loopback():
		// RFC 4291 §2.5.5.1 (deprecated, still routed by some stacks): ::a.b.c.d
		return netip.AddrFrom4([4]byte(b[12:])), true
	case b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && [8]byte(b[4:12]) == [8]byte{}:
		// RFC 6052 §2.1: 64:ff9b::a.b.c.d, the NAT64 well-known prefix
		return netip.AddrFrom4([4]byte(b[12:])), true
	case b[0] == 0x20 && b[1] == 0x02:
		// RFC 3056 §2: 2002:AABB:CCDD::/48, the 6to4 prefix of a.b.c.d
		return netip.AddrFrom4([4]byte(b[2:6])), true
	}
	return netip.Addr{}, false
}

// addrSet is the address ranges of one Dest condition, split by family so
// an address is only compared with ranges that can hold it.
type addrSet struct {
	v4, v6 []netip.Prefix
}

func (s *addrSet) add(p netip.Prefix) {
	if p.Addr().Is4() {
		s.v4 = append(s.v4, p)
	} else {
		s.v6 = append(s.v6, p)
	}
}

// contains reports whether a, or the IPv4 address v4 that a embeds when
// embedded is true, is in one of the ranges. a must be normal.
func (s *addrSet) contains(a, v4 netip.Addr, embedded bool) bool {
	if a.Is4() {
		return anyContains(s.v4, a)
	}
	return anyContains(s.v6, a) || embedded && anyContains(s.v4, v4)
}

func anyContains(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
