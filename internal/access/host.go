package access

import (
	"errors"
	"net/netip"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"

	"sluice/internal/dial"
)

// hostKind says which hosts a name pattern matches.
type hostKind uint8

const (
	hostExact  hostKind = iota // "example.com": that host only
	hostDomain                 // ".example.com": the host and every subdomain
	hostSub                    // "*.example.com": subdomains only
)

// hostPattern is one compiled host pattern: an IP literal when addr is
// valid, else a name of the given kind.
type hostPattern struct {
	name string // lower-case ASCII, no trailing dot, without the leading "." or "*."
	kind hostKind
	addr netip.Addr // normal (normalAddr)
}

// parseHostPattern compiles one host pattern as written in a rule.
func parseHostPattern(s string) (hostPattern, error) {
	if s == "" {
		return hostPattern{}, errors.New("empty")
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == 0x7f {
			return hostPattern{}, errors.New("contains white space or a control character")
		}
	}
	if strings.Contains(s, "://") || strings.ContainsAny(s, "/?#@") {
		return hostPattern{}, errors.New("write a host name only, without scheme, user, path or query")
	}
	if s[0] == '[' || strings.Contains(s, ":") {
		return parseIPv6Pattern(s)
	}
	name := strings.TrimSuffix(s, ".")
	if isASCII(name) {
		name = strings.ToLower(name)
	} // else idna's mapping (UTS #46 §4) folds case below
	kind := hostExact
	switch {
	case name == "" || name == "*": // ".", "*" or "*."
		return hostPattern{}, errors.New("matches every host; leave hosts out of the rule instead")
	case strings.HasPrefix(name, "*."):
		kind, name = hostSub, name[2:]
	case strings.HasPrefix(name, "."):
		kind, name = hostDomain, name[1:]
	}
	if strings.Contains(name, "*") {
		return hostPattern{}, errors.New(`"*" may only be the whole first label, as in "*.example.com"`)
	}
	if !isASCII(name) {
		if !utf8.ValidString(name) {
			return hostPattern{}, errors.New("not valid UTF-8")
		}
		a, err := idna.Lookup.ToASCII(name)
		if err != nil {
			return hostPattern{}, errors.New("not a valid internationalised domain name")
		}
		name = a
	}
	if err := checkName(name); err != nil {
		return hostPattern{}, err
	}
	if last := name[strings.LastIndexByte(name, '.')+1:]; isNumericLabel(last) {
		// RFC 3986 §3.2.2 and the WHATWG URL Standard read such a host
		// as an IPv4 address, not a name.
		a, err := netip.ParseAddr(name)
		if kind != hostExact || err != nil {
			return hostPattern{}, errors.New("ends in a number, so clients read it as an IPv4 address: write one dotted-quad address, or use dest for ranges")
		}
		return hostPattern{addr: a}, nil
	}
	return hostPattern{name: name, kind: kind}, nil
}

// parseIPv6Pattern compiles a pattern holding a colon or a bracket: an IPv6
// literal, bracketed or not.
func parseIPv6Pattern(s string) (hostPattern, error) {
	lit := s
	if s[0] == '[' {
		if s[len(s)-1] != ']' {
			return hostPattern{}, errors.New("not an IP address; a port belongs in ports, not in the host")
		}
		lit = s[1 : len(s)-1]
	}
	if strings.Contains(lit, "%") {
		return hostPattern{}, errors.New("an IPv6 zone names an interface of this host and cannot be a destination")
	}
	a, err := netip.ParseAddr(lit)
	if err != nil || !a.Is6() {
		return hostPattern{}, errors.New("not an IP address; a port belongs in ports, not in the host")
	}
	return hostPattern{addr: normalAddr(a)}, nil
}

// checkName checks a lower-case ASCII host name: dot-separated labels of 1
// to 63 letters, digits, "-" or "_" (which some internal names use), 253
// bytes at most (RFC 1035 §2.3.4), punycode labels that decode.
func checkName(name string) error {
	if len(name) > 253 {
		return errors.New("longer than 253 bytes")
	}
	for label := range strings.SplitSeq(name, ".") {
		if label == "" {
			return errors.New("has an empty label")
		}
		if len(label) > 63 {
			return errors.New("has a label longer than 63 bytes")
		}
		for i := 0; i < len(label); i++ {
			switch c := label[i]; {
			case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
			default:
				return errors.New(`may hold only letters, digits, "-", "_" and dots`)
			}
		}
		if strings.HasPrefix(label, "xn--") {
			if _, err := idna.Lookup.ToUnicode(label); err != nil {
				return errors.New("has a punycode label that does not decode")
			}
		}
	}
	return nil
}

// isNumericLabel reports whether a label is a number as the WHATWG URL
// Standard's IPv4 parser sees one: decimal digits, or "0x" and hex digits.
func isNumericLabel(l string) bool {
	digits := "0123456789"
	if len(l) >= 2 && l[0] == '0' && (l[1] == 'x' || l[1] == 'X') {
		l, digits = l[2:], "0123456789abcdefABCDEF"
		if l == "" {
			return true
		}
	}
	if l == "" {
		return false
	}
	for i := 0; i < len(l); i++ {
		if strings.IndexByte(digits, l[i]) < 0 {
			return false
		}
	}
	return true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// host is a request's host prepared once for matching against every
// pattern.
type host struct {
	name  string     // without one trailing dot; lower case unless fold
	fold  bool       // name holds upper-case ASCII letters
	addr  netip.Addr // valid when the host is an IP literal; normal
	valid bool       // the host can match a pattern at all
}

// prepareHost readies a request host. An IP literal in any form
// internal/dial accepts ("127.1", "0x7f000001", "::ffff:127.0.0.1") is
// read as the address it stands for, as dial will; an invalid one (a
// number out of range, an IPv6 zone) matches no pattern. prepareHost
// allocates only for such an invalid literal and for a host that is not
// ASCII, neither of which internal/server lets through.
func prepareHost(s string) host {
	if len(s) >= 2 && s[0] == '[' && s[len(s)-1] == ']' {
		s = s[1 : len(s)-1]
	}
	var upper, colon, high bool
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'A' <= c && c <= 'Z':
			upper = true
		case c == ':':
			colon = true
		case c >= 0x80:
			high = true
		}
	}
	if colon {
		return literalHost(s)
	}
	s = strings.TrimSuffix(s, ".")
	if high {
		a, err := idna.Lookup.ToASCII(s)
		if err != nil {
			return host{}
		}
		s, upper = a, false
	}
	if s == "" {
		return host{}
	}
	if isNumericLabel(s[strings.LastIndexByte(s, '.')+1:]) {
		if h := literalHost(s); h.addr.IsValid() || !h.valid {
			return h
		}
	}
	return host{name: s, fold: upper, valid: true}
}

// literalHost reads s with dial.ParseNumericHost: an address, a name
// (ok=false: not a literal after all) or an invalid literal.
func literalHost(s string) host {
	a, ok, err := dial.ParseNumericHost(s)
	switch {
	case err != nil:
		return host{}
	case ok:
		return host{addr: a, valid: true}
	}
	return host{name: s, valid: true}
}

// match reports whether the pattern matches h.
func (p *hostPattern) match(h *host) bool {
	if p.addr.IsValid() || h.addr.IsValid() {
		return p.addr == h.addr
	}
	n := h.name
	switch p.kind {
	case hostExact:
		return equal(n, p.name, h.fold)
	case hostDomain:
		if len(n) == len(p.name) {
			return equal(n, p.name, h.fold)
		}
	}
	// hostDomain with a longer host, or hostSub.
	cut := len(n) - len(p.name)
	return cut > 0 && n[cut-1] == '.' && equal(n[cut:], p.name, h.fold)
}

// equal reports whether s equals the lower-case t, folding ASCII case in s
// when fold is set.
func equal(s, t string, fold bool) bool {
	if !fold {
		return s == t
	}
	if len(s) != len(t) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != t[i] {
			return false
		}
	}
	return true
}
