package config

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Duration is a length of time. In the file it is written like "30s", "2m"
// or "1h30m" (units ns, us, ms, s, m and h, as Go's time.ParseDuration
// reads them); a bare whole number means seconds. A duration must not be
// negative, and some fields also forbid 0.
//
// Duration implements encoding.TextMarshaler and encoding.TextUnmarshaler,
// so it works with flag.TextVar.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String returns d the way time.Duration prints it, like "1m30s"; Duration
// reads that form back.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText returns d.String().
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads a duration written as in the file. It accepts
// negative durations; Validate rejects them where a field does.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := parseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// maxSeconds is the largest whole number of seconds a Duration holds.
const maxSeconds = math.MaxInt64 / int64(time.Second)

func parseDuration(s string) (Duration, error) {
	t := strings.TrimSpace(s)
	if n, err := strconv.ParseInt(t, 10, 64); err == nil {
		if n > maxSeconds || n < -maxSeconds {
			return 0, fmt.Errorf("duration %q is too long", s)
		}
		return Duration(time.Duration(n) * time.Second), nil
	} else if errors.Is(err, strconv.ErrRange) {
		return 0, fmt.Errorf("duration %q is too long", s)
	}
	d, err := time.ParseDuration(t)
	if err != nil {
		return 0, fmt.Errorf(`invalid duration %q: want a length of time like "30s", "2m" or "1h30m" (a bare number means seconds)`, s)
	}
	return Duration(d), nil
}

// Size is a number of bytes. In the file it is written as a whole number
// with an optional unit, like "64KiB", "256MiB", "10GB" or "512" (bytes).
// The units are B, KB, MB, GB and TB (powers of 1000) and KiB, MiB, GiB and
// TiB (powers of 1024), in any letter case, with or without a space before
// them. A size must not be negative.
//
// Size implements encoding.TextMarshaler and encoding.TextUnmarshaler, so it
// works with flag.TextVar.
type Size int64

// Units of Size.
const (
	B   Size = 1
	KB  Size = 1000
	MB  Size = 1000 * KB
	GB  Size = 1000 * MB
	TB  Size = 1000 * GB
	KiB Size = 1024
	MiB Size = 1024 * KiB
	GiB Size = 1024 * MiB
	TiB Size = 1024 * GiB
)

// sizeUnits maps a unit, in lower case, to its size.
var sizeUnits = map[string]Size{
	"": B, "b": B,
	"kb": KB, "mb": MB, "gb": GB, "tb": TB,
	"kib": KiB, "mib": MiB, "gib": GiB, "tib": TiB,
}

// ParseSize reads a size written as in the file, such as "64KiB" or "10 GB".
// It rejects negative sizes, fractions ("1.5GiB") and sizes too large for
// an int64.
func ParseSize(s string) (Size, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || i == 0 && (t[i] == '-' || t[i] == '+')) {
		i++
	}
	num, unit := t[:i], strings.TrimSpace(t[i:])
	if strings.HasPrefix(num, "-") {
		return 0, fmt.Errorf("invalid size %q: must not be negative", s)
	}
	if strings.HasPrefix(unit, ".") {
		return 0, fmt.Errorf("invalid size %q: write a whole number, like 1536MiB rather than 1.5GiB", s)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if errors.Is(err, strconv.ErrRange) {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	if err != nil {
		return 0, fmt.Errorf(`invalid size %q: want a whole number and a unit, like "64KiB" or "10MB"`, s)
	}
	mult, ok := sizeUnits[strings.ToLower(unit)]
	if !ok {
		return 0, fmt.Errorf("invalid size %q: unknown unit %q (use B, KB, KiB, MB, MiB, GB, GiB, TB or TiB)", s, unit)
	}
	if n > int64(math.MaxInt64/mult) {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	return Size(n) * mult, nil
}

// String returns s in the largest unit that divides it exactly, like
// "64KiB", "10GB" or "1001B"; ParseSize reads it back.
func (s Size) String() string {
	for _, u := range []struct {
		name string
		size Size
	}{
		{"TiB", TiB}, {"TB", TB}, {"GiB", GiB}, {"GB", GB},
		{"MiB", MiB}, {"MB", MB}, {"KiB", KiB}, {"KB", KB},
	} {
		if s != 0 && s%u.size == 0 {
			return strconv.FormatInt(int64(s/u.size), 10) + u.name
		}
	}
	return strconv.FormatInt(int64(s), 10) + "B"
}

// MarshalText returns s.String().
func (s Size) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a size with ParseSize.
func (s *Size) UnmarshalText(b []byte) error {
	v, err := ParseSize(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// ParsePrefix reads an address range in CIDR notation, like "10.0.0.0/8" or
// "fd00::/8", or a single address, like "192.168.1.7" or "::1", which
// becomes a /32 or /128 range. Host bits are cleared, so "10.1.2.3/8" is
// 10.0.0.0/8. Host names and zones ("fe80::1%eth0") are not accepted.
func ParsePrefix(s string) (netip.Prefix, error) {
	t := strings.TrimSpace(s)
	if strings.Contains(t, "%") {
		return netip.Prefix{}, fmt.Errorf("invalid address range %q: zones like %%eth0 are not allowed", s)
	}
	addr, bits, hasBits := strings.Cut(t, "/")
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid address range %q: want an IP address or a CIDR range, like 10.0.0.0/8 or ::1", s)
	}
	if !hasBits {
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	n, err := strconv.Atoi(bits)
	if err != nil || n < 0 || n > a.BitLen() || bits != strconv.Itoa(n) {
		return netip.Prefix{}, fmt.Errorf("invalid address range %q: prefix length must be a number 0-%d", s, a.BitLen())
	}
	return netip.PrefixFrom(a, n).Masked(), nil
}

// ParsePorts reads a comma-separated list of ports, like "443,8443" or
// "443, 8443". Each port must be 1-65535. An empty or blank string is an
// empty list.
func ParsePorts(s string) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var ports []int
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		p, err := strconv.Atoi(item)
		if err != nil {
			if item == "" {
				return nil, fmt.Errorf("invalid port list %q: empty item", s)
			}
			return nil, fmt.Errorf("invalid port list %q: %q is not a port number", s, item)
		}
		if err := checkPort(p); err != nil {
			return nil, err
		}
		ports = append(ports, p)
	}
	return ports, nil
}

func checkPort(p int) error {
	if p < 1 || p > 65535 {
		return fmt.Errorf("port %d out of range 1-65535", p)
	}
	return nil
}
