package dial

import (
	"fmt"
	"net/netip"
	"strings"
)

// ParseNumericHost normalises a host that is an IP literal in any form that
// libc inet_aton, browsers (the WHATWG URL Standard's IPv4 parser) or curl
// accept, so the policy sees the real address:
//
//   - a dotted quad: "127.0.0.1";
//   - a single 32-bit number in decimal ("2130706433"), hex ("0x7f000001",
//     "0X7F000001") or octal ("017700000001");
//   - per-part hex or octal: "0x7f.0.0.1", "0177.0.0.01";
//   - short forms, where the last part fills the remaining bytes: "127.1" is
//     127.0.0.1, "127.0.1", "10.1.2";
//   - one trailing dot: "127.0.0.1.";
//   - bracketed or bare IPv6: "[::1]", "::ffff:127.0.0.1", "::ffff:7f00:1".
//
// It returns ok=false and a nil error when host is a DNS name, that is when
// one of its dot-separated labels is not a number. It returns an error for a
// host that looks numeric but is invalid: a part out of range ("256.0.0.1",
// "0x100000000"), an octal part with an 8 or 9, more than four parts, an
// empty part, an IPv6 literal with a zone ("fe80::1%eth0"), or an empty host.
// IPv4-mapped IPv6 results are returned unmapped; the result never has a zone.
func ParseNumericHost(host string) (addr netip.Addr, ok bool, err error) {
	switch {
	case host == "":
		return netip.Addr{}, false, &numericError{host: host, reason: "empty host"}
	case host[0] == '[':
		if len(host) < 2 || host[len(host)-1] != ']' {
			return netip.Addr{}, false, &numericError{host: host, reason: "unbalanced brackets"}
		}
		return parseIPv6(host, host[1:len(host)-1])
	case strings.Contains(host, ":"):
		// A colon cannot appear in a DNS name, so this is IPv6 or nothing.
		return parseIPv6(host, host)
	}
	return parseIPv4(host)
}

// numericError reports a host that looks like an IP literal but is not a
// valid one.
type numericError struct {
	host   string
	reason string
}

func (e *numericError) Error() string {
	return fmt.Sprintf("invalid IP literal %q: %s", e.host, e.reason)
}

func parseIPv6(host, s string) (netip.Addr, bool, error) {
	if strings.Contains(s, "%") {
		// A zone names an interface on this host; an origin has no business
		// choosing one.
		return netip.Addr{}, false, &numericError{host: host, reason: "IPv6 zone not allowed"}
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is6() {
		return netip.Addr{}, false, &numericError{host: host, reason: "not a valid IPv6 address"}
	}
	return a.Unmap(), true, nil
}

// parseIPv4 follows the WHATWG URL Standard's IPv4 parser, which agrees with
// inet_aton on every input both accept.
func parseIPv4(host string) (netip.Addr, bool, error) {
	s := strings.TrimSuffix(host, ".")

	// Classify before parsing: any label that is not a number makes host a
	// name, however numeric the rest of it looks ("1.2.3.4.example").
	n := 0
	for label := range strings.SplitSeq(s, ".") {
		if label != "" && !isNumericLabel(label) {
			return netip.Addr{}, false, nil
		}
		n++
	}
	if n > 4 {
		return netip.Addr{}, false, &numericError{host: host, reason: "more than four parts"}
	}

	var v uint32
	i := 0
	for label := range strings.SplitSeq(s, ".") {
		if label == "" {
			return netip.Addr{}, false, &numericError{host: host, reason: "empty part"}
		}
		part, err := parseIPv4Part(label)
		if err != nil {
			return netip.Addr{}, false, &numericError{host: host, reason: err.Error()}
		}
		// Every part but the last is one byte; the last fills the bytes left.
		limit := uint64(0xff)
		if i == n-1 {
			limit = 1<<(8*(4-i)) - 1
		}
		if part > limit {
			return netip.Addr{}, false, &numericError{host: host, reason: fmt.Sprintf("part %q is out of range", label)}
		}
		if i == n-1 {
			v |= uint32(part)
		} else {
			v |= uint32(part) << (24 - 8*i)
		}
		i++
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true, nil
}

// isNumericLabel reports whether label is written as a number: decimal
// digits, or "0x"/"0X" followed by zero or more hex digits. Whether the number
// is valid (octal digits, range) is for parseIPv4Part to say.
func isNumericLabel(label string) bool {
	if hex, ok := cutHexPrefix(label); ok {
		for i := 0; i < len(hex); i++ {
			if !isHexDigit(hex[i]) {
				return false
			}
		}
		return true
	}
	for i := 0; i < len(label); i++ {
		if label[i] < '0' || label[i] > '9' {
			return false
		}
	}
	return label != ""
}

// parseIPv4Part parses one numeric label: hex after "0x" (empty means 0, as
// in WHATWG and inet_aton), octal after a leading "0", decimal otherwise. It
// fails once the value exceeds 32 bits, which no part may.
func parseIPv4Part(label string) (uint64, error) {
	digits, base := label, uint64(10)
	if hex, ok := cutHexPrefix(label); ok {
		digits, base = hex, 16
	} else if len(label) > 1 && label[0] == '0' {
		digits, base = label[1:], 8
	}
	var v uint64
	for i := 0; i < len(digits); i++ {
		d := hexValue(digits[i])
		if d >= base {
			return 0, fmt.Errorf("part %q is not a valid octal number", label)
		}
		v = v*base + d
		if v > 0xffffffff {
			return 0, fmt.Errorf("part %q is out of range", label)
		}
	}
	return v, nil
}

func cutHexPrefix(label string) (string, bool) {
	if len(label) >= 2 && label[0] == '0' && (label[1] == 'x' || label[1] == 'X') {
		return label[2:], true
	}
	return label, false
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// hexValue returns the value of a digit already known to be a hex digit.
func hexValue(c byte) uint64 {
	switch {
	case c <= '9':
		return uint64(c - '0')
	case c >= 'a':
		return uint64(c-'a') + 10
	default:
		return uint64(c-'A') + 10
	}
}
