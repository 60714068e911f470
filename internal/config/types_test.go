package config

import (
	"flag"
	"io"
	"math"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Size
		err  string // part of the error, or "" for none
	}{
		{"0", 0, ""},
		{"512", 512, ""},
		{"512B", 512, ""},
		{"512 b", 512, ""},
		{"64KiB", 64 << 10, ""},
		{"64kib", 64 << 10, ""},
		{"64 KiB", 64 << 10, ""},
		{" 64KiB ", 64 << 10, ""},
		{"1KB", 1000, ""},
		{"1kb", 1000, ""},
		{"256MiB", 256 << 20, ""},
		{"3MB", 3_000_000, ""},
		{"2GiB", 2 << 30, ""},
		{"10GB", 10_000_000_000, ""},
		{"1TiB", 1 << 40, ""},
		{"5TB", 5_000_000_000_000, ""},
		{"+7", 7, ""},
		{"8388607TiB", 8388607 << 40, ""},
		{"9223372036854775807", math.MaxInt64, ""},
		{"8388608TiB", 0, "too large"},
		{"9223372036854775808", 0, "too large"},
		{"-5", 0, "must not be negative"},
		{"-5KiB", 0, "must not be negative"},
		{"1.5GiB", 0, "whole number"},
		{"", 0, "want a whole number"},
		{"KiB", 0, "want a whole number"},
		{"ten", 0, "want a whole number"},
		{"64K", 0, `unknown unit "K"`},
		{"64 KiBs", 0, `unknown unit "KiBs"`},
		{"64PiB", 0, "unknown unit"},
		{"6 4KiB", 0, "unknown unit"},
	} {
		got, err := ParseSize(tt.in)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("ParseSize(%q): %v", tt.in, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("ParseSize(%q) = %d, %v; want an error with %q", tt.in, got, err, tt.err)
		case got != tt.want:
			t.Errorf("ParseSize(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestSizeString(t *testing.T) {
	for _, tt := range []struct {
		in   Size
		want string
	}{
		{0, "0B"},
		{1, "1B"},
		{1000, "1KB"},
		{1024, "1KiB"},
		{1536, "1536B"}, // 1.5KiB is not a whole number of any unit
		{64 * KiB, "64KiB"},
		{1000 * KiB, "1000KiB"},
		{10 * GB, "10GB"},
		{3 * TiB, "3TiB"},
		{1001, "1001B"},
		{math.MaxInt64, "9223372036854775807B"},
	} {
		got := tt.in.String()
		if got != tt.want {
			t.Errorf("Size(%d).String() = %q, want %q", int64(tt.in), got, tt.want)
		}
		back, err := ParseSize(got)
		if err != nil || back != tt.in {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", got, back, err, int64(tt.in))
		}
	}
}

func TestParsePrefix(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want string // the prefix, or "" for an error
	}{
		{"10.0.0.0/8", "10.0.0.0/8"},
		{"10.1.2.3/8", "10.0.0.0/8"},
		{"192.168.1.7", "192.168.1.7/32"},
		{" 192.168.1.7 ", "192.168.1.7/32"},
		{"0.0.0.0/0", "0.0.0.0/0"},
		{"::1", "::1/128"},
		{"::", "::/128"},
		{"fd00::/8", "fd00::/8"},
		{"2001:db8::1/32", "2001:db8::/32"},
		{"::ffff:10.0.0.1", "::ffff:10.0.0.1/128"},
		{"::/0", "::/0"},
		{"10.0.0.0/33", ""},
		{"10.0.0.0/-1", ""},
		{"10.0.0.0/08", ""},
		{"10.0.0.0/", ""},
		{"::/129", ""},
		{"300.0.0.1", ""},
		{"10.0.0", ""},
		{"localhost", ""},
		{"fe80::1%eth0", ""},
		{"fe80::%eth0/64", ""},
		{"", ""},
		{"/8", ""},
	} {
		got, err := ParsePrefix(tt.in)
		switch {
		case tt.want == "" && err == nil:
			t.Errorf("ParsePrefix(%q) = %v, want an error", tt.in, got)
		case tt.want != "" && err != nil:
			t.Errorf("ParsePrefix(%q): %v", tt.in, err)
		case tt.want != "" && got != netip.MustParsePrefix(tt.want):
			t.Errorf("ParsePrefix(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestParsePorts(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []int
		err  string
	}{
		{"443", []int{443}, ""},
		{"443,8443", []int{443, 8443}, ""},
		{" 443 , 8443 ,563", []int{443, 8443, 563}, ""},
		{"1,65535", []int{1, 65535}, ""},
		{"", nil, ""},
		{"  ", nil, ""},
		{"0", nil, "port 0 out of range 1-65535"},
		{"65536", nil, "port 65536 out of range 1-65535"},
		{"-443", nil, "out of range"},
		{"443,", nil, "empty item"},
		{"443,,8443", nil, "empty item"},
		{"https", nil, `"https" is not a port number`},
		{"443 8443", nil, "is not a port number"},
		{"8000-8100", nil, "is not a port number"},
	} {
		got, err := ParsePorts(tt.in)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("ParsePorts(%q): %v", tt.in, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("ParsePorts(%q) = %v, %v; want an error with %q", tt.in, got, err, tt.err)
		case !slices.Equal(got, tt.want):
			t.Errorf("ParsePorts(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestDurationText(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"30s", 30 * time.Second, false},
		{"1h30m", 90 * time.Minute, false},
		{"500ms", 500 * time.Millisecond, false},
		{"30", 30 * time.Second, false},
		{" 0 ", 0, false},
		{"-5s", -5 * time.Second, false},
		{"9223372036", 9223372036 * time.Second, false},
		{"9223372037", 0, true},
		{"99999999999999999999", 0, true},
		{"1.5", 0, true},
		{"30 seconds", 0, true},
		{"", 0, true},
	} {
		var d Duration
		err := d.UnmarshalText([]byte(tt.in))
		if (err != nil) != tt.err || d.D() != tt.want {
			t.Errorf("UnmarshalText(%q) = %v, %v; want %v, error %v", tt.in, d, err, tt.want, tt.err)
		}
		if err == nil {
			b, _ := d.MarshalText()
			var back Duration
			if err := back.UnmarshalText(b); err != nil || back != d {
				t.Errorf("round trip of %q through %q gave %v, %v", tt.in, b, back, err)
			}
		}
	}
}

// TestFlagTextVar checks that Duration and Size work as command-line flags,
// as cmd/sluice may use them.
func TestFlagTextVar(t *testing.T) {
	c := Default()
	fs := flag.NewFlagSet("sluice", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.TextVar(&c.UpstreamTimeout, "upstream-timeout", c.UpstreamTimeout, "")
	fs.TextVar(&c.MaxHeaderBytes, "max-header-bytes", c.MaxHeaderBytes, "")
	if err := fs.Parse([]string{"--upstream-timeout=45", "--max-header-bytes=1MiB"}); err != nil {
		t.Fatal(err)
	}
	if c.UpstreamTimeout.D() != 45*time.Second || c.MaxHeaderBytes != MiB {
		t.Errorf("got %v and %v, want 45s and 1MiB", c.UpstreamTimeout, c.MaxHeaderBytes)
	}
	if err := fs.Parse([]string{"--max-header-bytes=-1"}); err == nil {
		t.Error("a negative size flag was accepted")
	}
}
