package dial

import (
	"net/netip"
	"testing"
)

// parseTests is shared by TestParseNumericHost and the fuzz seeds. want is
// the address for numeric hosts, "" for names; wantErr marks hosts that look
// numeric but are invalid.
var parseTests = []struct {
	host    string
	want    string
	wantErr bool
}{
	// Dotted quad.
	{host: "127.0.0.1", want: "127.0.0.1"},
	{host: "0.0.0.0", want: "0.0.0.0"},
	{host: "255.255.255.255", want: "255.255.255.255"},
	{host: "93.184.216.34", want: "93.184.216.34"},

	// One 32-bit number.
	{host: "2130706433", want: "127.0.0.1"},
	{host: "0x7f000001", want: "127.0.0.1"},
	{host: "0X7F000001", want: "127.0.0.1"},
	{host: "0x7F000001", want: "127.0.0.1"},
	{host: "017700000001", want: "127.0.0.1"},
	{host: "0", want: "0.0.0.0"},
	{host: "4294967295", want: "255.255.255.255"},
	{host: "0xffffffff", want: "255.255.255.255"},
	{host: "037777777777", want: "255.255.255.255"},
	{host: "0x00000000007f000001", want: "127.0.0.1"},
	{host: "0000000000000000000000000017700000001", want: "127.0.0.1"},
	{host: "2852039166", want: "169.254.169.254"},
	{host: "0x", want: "0.0.0.0"},

	// Per-part hex and octal.
	{host: "0x7f.0.0.1", want: "127.0.0.1"},
	{host: "0177.0.0.01", want: "127.0.0.1"},
	{host: "0x7f.0x0.0x0.0x1", want: "127.0.0.1"},
	{host: "0xa9.0xfe.0xa9.0xfe", want: "169.254.169.254"},
	{host: "0251.0376.0251.0376", want: "169.254.169.254"},
	{host: "010.0.0.1", want: "8.0.0.1"},

	// Short forms: the last part fills the remaining bytes.
	{host: "127.1", want: "127.0.0.1"},
	{host: "127.0.1", want: "127.0.0.1"},
	{host: "10.1.2", want: "10.1.0.2"},
	{host: "169.254.43518", want: "169.254.169.254"},
	{host: "169.16689662", want: "169.254.169.254"},
	{host: "0x7f.1", want: "127.0.0.1"},
	{host: "1.0xffffff", want: "1.255.255.255"},
	{host: "1.2.0xffff", want: "1.2.255.255"},

	// Trailing dot.
	{host: "127.0.0.1.", want: "127.0.0.1"},
	{host: "2130706433.", want: "127.0.0.1"},
	{host: "127.1.", want: "127.0.0.1"},

	// IPv6, bracketed or bare; IPv4-mapped comes back unmapped.
	{host: "[::1]", want: "::1"},
	{host: "::1", want: "::1"},
	{host: "[::]", want: "::"},
	{host: "::ffff:127.0.0.1", want: "127.0.0.1"},
	{host: "::ffff:7f00:1", want: "127.0.0.1"},
	{host: "[::ffff:169.254.169.254]", want: "169.254.169.254"},
	{host: "[2001:db8::1]", want: "2001:db8::1"},
	{host: "64:ff9b::7f00:1", want: "64:ff9b::7f00:1"},
	{host: "[FE80::1]", want: "fe80::1"},

	// Names.
	{host: "example.com"},
	{host: "example.com."},
	{host: "localhost"},
	{host: "1.2.3.4.example"},
	{host: "0x7f.example"},
	{host: "example.1"},
	{host: "0x7g"},
	{host: "1.2.3.0x7g"},
	{host: "1e3"},
	{host: "127.0.0.1%eth0"},
	{host: " 127.0.0.1"},
	{host: "-1"},
	{host: "+1"},
	{host: "xn--nxasmq6b"},
	{host: "1.2.3.4.5.example"},

	// Numeric-looking but invalid.
	{host: "", wantErr: true},
	{host: ".", wantErr: true},
	{host: "256.0.0.1", wantErr: true},
	{host: "1.256.0.1", wantErr: true},
	{host: "1.2.3.256", wantErr: true},
	{host: "0x100000000", wantErr: true},
	{host: "4294967296", wantErr: true},
	{host: "040000000000", wantErr: true},
	{host: "99999999999999999999999999", wantErr: true},
	{host: "0x1ffffffffffffffff", wantErr: true},
	{host: "1.0x1000000", wantErr: true},
	{host: "1.2.65536", wantErr: true},
	{host: "08", wantErr: true},
	{host: "0179.0.0.1", wantErr: true},
	{host: "1.2.3.4.5", wantErr: true},
	{host: "1..2", wantErr: true},
	{host: ".1.2", wantErr: true},
	{host: "127.0.0.1..", wantErr: true},
	{host: "fe80::1%eth0", wantErr: true},
	{host: "[fe80::1%eth0]", wantErr: true},
	{host: "[fe80::1%25eth0]", wantErr: true},
	{host: "[::1", wantErr: true},
	{host: "[", wantErr: true},
	{host: "[]", wantErr: true},
	{host: "[127.0.0.1]", wantErr: true},
	{host: "::g", wantErr: true},
	{host: "127.0.0.1:80", wantErr: true},
	{host: "::ffff:0x7f.1", wantErr: true},
}

func TestParseNumericHost(t *testing.T) {
	for _, tt := range parseTests {
		t.Run(tt.host, func(t *testing.T) {
			addr, ok, err := ParseNumericHost(tt.host)
			if gotErr := err != nil; gotErr != tt.wantErr {
				t.Fatalf("ParseNumericHost(%q) error: got %v, want error %v", tt.host, err, tt.wantErr)
			}
			if err != nil {
				if ok || addr.IsValid() {
					t.Errorf("ParseNumericHost(%q) with error: got (%v, %v), want (invalid IP, false)", tt.host, addr, ok)
				}
				return
			}
			wantOK := tt.want != ""
			if ok != wantOK {
				t.Fatalf("ParseNumericHost(%q) ok: got %v, want %v", tt.host, ok, wantOK)
			}
			if !ok {
				return
			}
			if want := netip.MustParseAddr(tt.want); addr != want {
				t.Errorf("ParseNumericHost(%q): got %v, want %v", tt.host, addr, want)
			}
		})
	}
}

func TestParseNumericHostErrorNamesHost(t *testing.T) {
	_, _, err := ParseNumericHost("256.0.0.1")
	if err == nil {
		t.Fatal("got nil error, want one")
	}
	want := `invalid IP literal "256.0.0.1": part "256" is out of range`
	if got := err.Error(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func FuzzParseNumericHost(f *testing.F) {
	for _, tt := range parseTests {
		f.Add(tt.host)
	}
	f.Fuzz(func(t *testing.T, host string) {
		addr, ok, err := ParseNumericHost(host)
		if err != nil {
			if ok || addr.IsValid() {
				t.Fatalf("ParseNumericHost(%q) = (%v, %v, %v): result alongside an error", host, addr, ok, err)
			}
			return
		}
		// Anything netip accepts is an IP literal in its canonical form and
		// must come out as the same address.
		if std, perr := netip.ParseAddr(host); perr == nil && std.Zone() == "" {
			if !ok || addr != std.Unmap() {
				t.Fatalf("ParseNumericHost(%q): got (%v, %v), want (%v, true)", host, addr, ok, std.Unmap())
			}
		}
		if !ok {
			if addr.IsValid() {
				t.Fatalf("ParseNumericHost(%q) = (%v, false): address for a name", host, addr)
			}
			return
		}
		if !addr.IsValid() || addr.Zone() != "" || addr.Is4In6() {
			t.Fatalf("ParseNumericHost(%q) = %v: want a valid, unmapped address without zone", host, addr)
		}
		again, ok, err := ParseNumericHost(addr.String())
		if err != nil || !ok || again != addr {
			t.Fatalf("ParseNumericHost(%q) = %v, re-parsing %q: got (%v, %v, %v), want (%v, true, <nil>)",
				host, addr, addr.String(), again, ok, err, addr)
		}
	})
}
