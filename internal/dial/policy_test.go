package dial

import (
	"errors"
	"net/netip"
	"slices"
	"testing"
)

func TestDefaultDeny(t *testing.T) {
	want := []string{"127.0.0.0/8", "::1/128", "0.0.0.0/8", "::/128", "169.254.0.0/16", "fe80::/10"}
	got := DefaultDeny()
	var gotText []string
	for _, p := range got {
		gotText = append(gotText, p.String())
	}
	if !slices.Equal(gotText, want) {
		t.Fatalf("got %v, want %v", gotText, want)
	}
	got[0] = netip.MustParsePrefix("192.0.2.0/24")
	if again := DefaultDeny(); again[0].String() != want[0] {
		t.Errorf("after changing a returned slice: got %v, want %v", again[0], want[0])
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		addr  string
		allow []string
		want  string // the deny range, "" if allowed
	}{
		// Every default range, at and around its edges.
		{addr: "127.0.0.1", want: "127.0.0.0/8"},
		{addr: "127.0.0.0", want: "127.0.0.0/8"},
		{addr: "127.255.255.255", want: "127.0.0.0/8"},
		{addr: "126.255.255.255"},
		{addr: "128.0.0.0"},
		{addr: "::1", want: "::1/128"},
		{addr: "::1%lo", want: "::1/128"},
		{addr: "0.0.0.0", want: "0.0.0.0/8"},
		{addr: "0.255.255.255", want: "0.0.0.0/8"},
		{addr: "1.0.0.0"},
		{addr: "::", want: "::/128"},
		{addr: "169.254.169.254", want: "169.254.0.0/16"},
		{addr: "169.254.0.0", want: "169.254.0.0/16"},
		{addr: "169.254.255.255", want: "169.254.0.0/16"},
		{addr: "169.253.255.255"},
		{addr: "169.255.0.0"},
		{addr: "fe80::1", want: "fe80::/10"},
		{addr: "fe80::1%eth0", want: "fe80::/10"},
		{addr: "febf::1", want: "fe80::/10"},
		{addr: "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", want: "fe80::/10"},
		{addr: "fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
		{addr: "fec0::1"},

		// Ordinary destinations.
		{addr: "93.184.216.34"},
		{addr: "10.0.0.1"},
		{addr: "2001:db8::1"},
		{addr: "2606:4700::6810:84e5"},

		// 127.0.0.1 in every IPv6 embedding.
		{addr: "::ffff:127.0.0.1", want: "127.0.0.0/8"},
		{addr: "::ffff:7f00:1", want: "127.0.0.0/8"},
		{addr: "::127.0.0.1", want: "127.0.0.0/8"},
		{addr: "::7f00:1", want: "127.0.0.0/8"},
		{addr: "64:ff9b::127.0.0.1", want: "127.0.0.0/8"},
		{addr: "64:ff9b::7f00:1", want: "127.0.0.0/8"},
		{addr: "2002:7f00:1::", want: "127.0.0.0/8"},
		{addr: "2002:7f00:1:abcd::1", want: "127.0.0.0/8"},
		{addr: "2002:7f00:1::%eth0", want: "127.0.0.0/8"},

		// 169.254.169.254 in every IPv6 embedding.
		{addr: "::ffff:169.254.169.254", want: "169.254.0.0/16"},
		{addr: "::ffff:a9fe:a9fe", want: "169.254.0.0/16"},
		{addr: "::169.254.169.254", want: "169.254.0.0/16"},
		{addr: "64:ff9b::169.254.169.254", want: "169.254.0.0/16"},
		{addr: "64:ff9b::a9fe:a9fe", want: "169.254.0.0/16"},
		{addr: "2002:a9fe:a9fe::", want: "169.254.0.0/16"},

		// 0.0.0.0/8 embedded; ::2 is IPv4-compatible 0.0.0.2.
		{addr: "::ffff:0.0.0.0", want: "0.0.0.0/8"},
		{addr: "::2", want: "0.0.0.0/8"},
		{addr: "2002::", want: "0.0.0.0/8"},

		// Embeddings of public addresses are fine, as are near misses of
		// the embedding prefixes.
		{addr: "::ffff:8.8.8.8"},
		{addr: "::8.8.8.8"},
		{addr: "64:ff9b::808:808"},
		{addr: "2002:808:808::1"},
		{addr: "64:ff9a::7f00:1"},
		{addr: "64:ff9b:0:0:0:1:7f00:1"},
		{addr: "2003:7f00:1::"},
		{addr: "1::7f00:1"},

		// Exemptions. An allowed IPv4 range covers its embeddings too, but
		// not the IPv6 loopback.
		{addr: "127.0.0.1", allow: []string{"127.0.0.0/8"}},
		{addr: "::ffff:127.0.0.1", allow: []string{"127.0.0.0/8"}},
		{addr: "64:ff9b::7f00:1", allow: []string{"127.0.0.0/8"}},
		{addr: "2002:7f00:1::", allow: []string{"127.0.0.0/8"}},
		{addr: "::1", allow: []string{"127.0.0.0/8"}, want: "::1/128"},
		{addr: "169.254.169.254", allow: []string{"127.0.0.0/8"}, want: "169.254.0.0/16"},
		{addr: "127.0.0.2", allow: []string{"127.0.0.1/32"}, want: "127.0.0.0/8"},
		{addr: "127.0.0.1", allow: []string{"::ffff:127.0.0.0/104"}},
		{addr: "64:ff9b::7f00:1", allow: []string{"::ffff:127.0.0.0/104"}},
		{addr: "::1", allow: []string{"::1/128"}},
		{addr: "169.254.169.254", allow: []string{"169.254.169.254/32"}},
		{addr: "169.254.169.253", allow: []string{"169.254.169.254/32"}, want: "169.254.0.0/16"},
		{addr: "fe80::1%eth0", allow: []string{"fe80::/64"}},
		{addr: "fe80:0:0:1::1", allow: []string{"fe80::/64"}, want: "fe80::/10"},
		// The IPv6 form of an address can be exempted too.
		{addr: "64:ff9b::7f00:1", allow: []string{"64:ff9b::/96"}},
	}
	for _, tt := range tests {
		name := tt.addr
		if tt.allow != nil {
			name += " allow " + tt.allow[0]
		}
		t.Run(name, func(t *testing.T) {
			var allow []netip.Prefix
			for _, a := range tt.allow {
				allow = append(allow, netip.MustParsePrefix(a))
			}
			addr := netip.MustParseAddr(tt.addr)
			err := NewPolicy(allow).Check(addr)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Check(%v): got %v, want nil", addr, err)
				}
				return
			}
			var denied *DeniedError
			if !errors.As(err, &denied) {
				t.Fatalf("Check(%v): got %v, want *DeniedError", addr, err)
			}
			if !errors.Is(err, ErrDenied) {
				t.Errorf("errors.Is(%v, ErrDenied): got false, want true", err)
			}
			if got, want := denied.Range, netip.MustParsePrefix(tt.want); got != want {
				t.Errorf("Check(%v) range: got %v, want %v", addr, got, want)
			}
			if got, want := denied.Addr, addr.WithZone(""); got != want {
				t.Errorf("Check(%v) addr: got %v, want %v", addr, got, want)
			}
		})
	}
}

func TestCheckInvalidAddr(t *testing.T) {
	err := NewPolicy(nil).Check(netip.Addr{})
	if !errors.Is(err, ErrDenied) {
		t.Fatalf("got %v, want a denial", err)
	}
}

func TestNewPolicyCopiesAllow(t *testing.T) {
	allow := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	p := NewPolicy(allow)
	allow[0] = netip.MustParsePrefix("192.0.2.0/24")
	if err := p.Check(netip.MustParseAddr("127.0.0.1")); err != nil {
		t.Errorf("after changing the caller's slice: got %v, want nil", err)
	}
}

func TestDeniedErrorMessage(t *testing.T) {
	tests := []struct {
		err  *DeniedError
		want string
	}{
		{
			err:  &DeniedError{Addr: netip.MustParseAddr("127.0.0.1"), Range: netip.MustParsePrefix("127.0.0.0/8")},
			want: "destination 127.0.0.1 is in the denied range 127.0.0.0/8",
		},
		{
			err:  &DeniedError{Host: "127.0.0.1", Addr: netip.MustParseAddr("127.0.0.1"), Range: netip.MustParsePrefix("127.0.0.0/8")},
			want: "destination 127.0.0.1 is in the denied range 127.0.0.0/8",
		},
		{
			err:  &DeniedError{Host: "rebind.test", Addr: netip.MustParseAddr("127.0.0.1"), Range: netip.MustParsePrefix("127.0.0.0/8")},
			want: `destination 127.0.0.1 is in the denied range 127.0.0.0/8 (host "rebind.test")`,
		},
		{
			err:  &DeniedError{Host: "0x7f.1", Addr: netip.MustParseAddr("127.0.0.1"), Range: netip.MustParsePrefix("127.0.0.0/8")},
			want: `destination 127.0.0.1 is in the denied range 127.0.0.0/8 (host "0x7f.1")`,
		},
		{
			err:  &DeniedError{Addr: netip.MustParseAddr("64:ff9b::a9fe:a9fe"), Range: netip.MustParsePrefix("169.254.0.0/16")},
			want: "destination 64:ff9b::a9fe:a9fe (embedding 169.254.169.254) is in the denied range 169.254.0.0/16",
		},
		{
			err:  &DeniedError{},
			want: "destination is not a valid address",
		},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}

// TestCheckDoesNotAllocate guards the hot path: every dial checks every
// address. Only a denial allocates (its error).
func TestCheckDoesNotAllocate(t *testing.T) {
	p := NewPolicy([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})
	for _, s := range []string{"93.184.216.34", "2001:db8::1", "::ffff:8.8.8.8", "64:ff9b::808:808", "10.1.2.3"} {
		addr := netip.MustParseAddr(s)
		allocs := testing.AllocsPerRun(100, func() { _ = p.Check(addr) })
		if allocs != 0 {
			t.Errorf("Check(%v): got %v allocations, want 0", addr, allocs)
		}
	}
}

func BenchmarkCheck(b *testing.B) {
	p := NewPolicy([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})
	for _, bb := range []struct{ name, addr string }{
		{"ipv4", "93.184.216.34"},
		{"ipv6", "2606:4700::6810:84e5"},
		{"mapped", "::ffff:93.184.216.34"},
		{"6to4", "2002:5db8:d822::1"},
		{"allowed", "10.1.2.3"},
	} {
		addr := netip.MustParseAddr(bb.addr)
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := p.Check(addr); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
