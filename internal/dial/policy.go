// Package dial opens TCP connections to origin servers on behalf of proxy
// clients, and is the one place the destination policy is enforced: a proxy
// must not become a way into its own host or into a cloud metadata service.
//
// A host is resolved once, every address it resolves to is checked, and only
// checked addresses are dialed, so there is no window between the check and
// the connect in which DNS can answer differently (DNS rebinding). Numeric
// hosts in any form a browser, curl or libc would accept ("0x7f000001",
// "127.1", "[::ffff:127.0.0.1]") are normalised before the check, and IPv4
// addresses carried inside IPv6 are checked as the IPv4 address they carry.
//
// The package deliberately does not cache DNS answers (the resolver and the
// operating system already do), does not race IPv4 against IPv6 connects
// (happy eyeballs; addresses are tried in order), and does not chain through
// another proxy. It knows nothing about HTTP.
package dial

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// DefaultDeny returns the ranges denied unless exempted: 127.0.0.0/8, ::1/128,
// 0.0.0.0/8, ::/128, 169.254.0.0/16, fe80::/10. Each call returns a new slice.
func DefaultDeny() []netip.Prefix {
	return []netip.Prefix{
		netip.MustParsePrefix("127.0.0.0/8"),    // loopback, RFC 1122 §3.2.1.3
		netip.MustParsePrefix("::1/128"),        // loopback, RFC 4291 §2.5.3
		netip.MustParsePrefix("0.0.0.0/8"),      // "this network"; Linux connects 0.0.0.0 to the local host
		netip.MustParsePrefix("::/128"),         // unspecified, RFC 4291 §2.5.2; same as 0.0.0.0
		netip.MustParsePrefix("169.254.0.0/16"), // link-local, RFC 3927; cloud metadata lives at 169.254.169.254
		netip.MustParsePrefix("fe80::/10"),      // link-local, RFC 4291 §2.5.6
	}
}

// Policy decides which destination addresses may be dialed. It is immutable
// after NewPolicy and safe for concurrent use.
type Policy struct {
	deny  []netip.Prefix
	allow []netip.Prefix
}

// NewPolicy returns a policy denying DefaultDeny() except addresses inside one
// of allow (the operator's --allow-dest exemptions). An allow prefix written
// in IPv4-mapped form (::ffff:127.0.0.0/104) is treated as the IPv4 prefix it
// maps (127.0.0.0/8). The slice is copied.
func NewPolicy(allow []netip.Prefix) *Policy {
	p := &Policy{deny: DefaultDeny(), allow: make([]netip.Prefix, 0, len(allow))}
	for _, a := range allow {
		a = netip.PrefixFrom(a.Addr().WithZone(""), a.Bits()).Masked()
		if a.Addr().Is4In6() && a.Bits() >= 96 {
			a = netip.PrefixFrom(a.Addr().Unmap(), a.Bits()-96)
		}
		if a.IsValid() {
			p.allow = append(p.allow, a)
		}
	}
	return p
}

// Check returns nil if addr may be dialed, else a *DeniedError. The zone is
// stripped first. An IPv4 address embedded in IPv6 as IPv4-mapped
// (::ffff:0:0/96), IPv4-compatible (::/96, except :: and ::1, which are
// checked as IPv6), NAT64 well-known prefix (64:ff9b::/96) or 6to4
// (2002::/16) is checked against the IPv4 rules; the allow list exempts the
// address if it holds either form. Other tunnelling forms (Teredo, ISATAP,
// operator-chosen NAT64 prefixes) are not decoded. The zero Addr is denied.
// Check does not allocate unless it denies.
func (p *Policy) Check(addr netip.Addr) error {
	a := addr.WithZone("")
	if !a.IsValid() {
		return &DeniedError{Addr: a}
	}
	v4, embedded := embeddedIPv4(a)
	if p.allowed(a) || embedded && p.allowed(v4) {
		return nil
	}
	if r, ok := p.denied(a); ok {
		return &DeniedError{Addr: a, Range: r}
	}
	if embedded {
		if r, ok := p.denied(v4); ok {
			return &DeniedError{Addr: a, Range: r}
		}
	}
	return nil
}

func (p *Policy) allowed(a netip.Addr) bool {
	for _, r := range p.allow {
		if r.Contains(a) {
			return true
		}
	}
	return false
}

func (p *Policy) denied(a netip.Addr) (netip.Prefix, bool) {
	for _, r := range p.deny {
		if r.Contains(a) {
			return r, true
		}
	}
	return netip.Prefix{}, false
}

// embeddedIPv4 returns the IPv4 address carried inside the IPv6 address a, if
// a has one of the forms Check sees through. a must have no zone.
func embeddedIPv4(a netip.Addr) (netip.Addr, bool) {
	if !a.Is6() {
		return netip.Addr{}, false
	}
	b := a.As16()
	switch {
	case a.Is4In6(): // RFC 4291 §2.5.5.2: ::ffff:a.b.c.d
		return a.Unmap(), true
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

// ErrDenied matches any *DeniedError with errors.Is.
var ErrDenied = errors.New("destination denied")

// DeniedError says which address was denied and why.
type DeniedError struct {
	Host  string       // the host name or literal the client asked for (may be empty)
	Addr  netip.Addr   // the address that was denied
	Range netip.Prefix // the deny range it fell in; zero when Addr is not a valid address
	Rule  string       // the operator's access rule that denied it, when one did (then Range is zero)
}

func (e *DeniedError) Error() string {
	var b strings.Builder
	switch {
	case e.Rule != "" && e.Addr.IsValid():
		fmt.Fprintf(&b, "destination %s is denied by %s", e.Addr, e.Rule)
	case !e.Addr.IsValid() || !e.Range.IsValid():
		b.WriteString("destination is not a valid address")
	default:
		fmt.Fprintf(&b, "destination %s", e.Addr)
		if v4, ok := embeddedIPv4(e.Addr); ok && e.Range.Addr().Is4() {
			fmt.Fprintf(&b, " (embedding %s)", v4)
		}
		fmt.Fprintf(&b, " is in the denied range %s", e.Range)
	}
	if e.Host != "" && e.Host != e.Addr.String() {
		fmt.Fprintf(&b, " (host %q)", e.Host)
	}
	return b.String()
}

// Is reports whether target is ErrDenied.
func (e *DeniedError) Is(target error) bool { return target == ErrDenied }
