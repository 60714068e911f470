package access

import (
	"strings"
	"testing"
)

func TestHostPatterns(t *testing.T) {
	tests := []struct {
		pattern string
		match   []string
		miss    []string
	}{
		{"example.com",
			[]string{"example.com", "example.com.", "EXAMPLE.com", "Example.Com."},
			[]string{"www.example.com", "example.org", "notexample.com", "example.com..", "xexample.com", "com", ""}},
		{".example.com",
			[]string{"example.com", "www.example.com", "a.b.example.com", "WWW.EXAMPLE.COM.", "example.com."},
			[]string{"notexample.com", "example.com.evil", "wwwexample.com", "com"}},
		{"*.example.com",
			[]string{"www.example.com", "a.b.example.com", "Www.Example.Com."},
			[]string{"example.com", "example.com.", "notexample.com", "xexample.com"}},
		{"EXAMPLE.COM.", // the pattern is folded and loses its dot too
			[]string{"example.com", "example.com."},
			[]string{"www.example.com"}},
		{"_dmarc.internal", []string{"_dmarc.internal"}, []string{"dmarc.internal"}},
		{"localhost", []string{"localhost", "LOCALHOST."}, []string{"localhost.localdomain"}},
		// IDNs: Unicode and punycode patterns both match the punycode
		// form requests carry (and a Unicode host, should one arrive).
		{"bücher.example", []string{"xn--bcher-kva.example", "bücher.example", "BÜCHER.example"}, []string{"bucher.example"}},
		{"BÜCHER.example", []string{"xn--bcher-kva.example"}, nil},
		{".bücher.example", []string{"www.xn--bcher-kva.example", "xn--bcher-kva.example"}, nil},
		{"*.bücher.example", []string{"www.xn--bcher-kva.example"}, []string{"xn--bcher-kva.example"}},
		{"xn--bcher-kva.example", []string{"xn--bcher-kva.example", "bücher.example"}, nil},
		{"ＥＸＡＭＰＬＥ.com", []string{"example.com"}, nil}, // UTS #46 maps full-width letters
		// IP literals match the literal, in any spelling of the same
		// address, but not as a suffix and not a name.
		{"192.0.2.1", []string{"192.0.2.1", "192.0.2.1.", "::ffff:192.0.2.1", "3221225985", "0xc0.0.2.1", "0300.0.2.1", "192.0.513", "[192.0.2.1]"},
			[]string{"192.0.2.10", "1.192.0.2.1", "x.192.0.2.1", "192.0.2.1.example", "192.0.2.256", "1.2.3.4.5"}},
		{"127.0.0.1", []string{"127.1", "0x7f000001", "017700000001", "127.0.0.1"}, []string{"localhost", "127.0.0.2", "0x7f000001x"}},
		{"2001:db8::1", []string{"2001:db8::1", "[2001:db8::1]", "2001:DB8:0:0::1", "2001:0db8::0001"}, []string{"2001:db8::2", "fe80::1%eth0"}},
		{"[2001:db8::1]", []string{"2001:db8::1"}, nil},
		{"::ffff:192.0.2.1", []string{"192.0.2.1"}, nil},
		{"::1", []string{"::1"}, []string{"localhost", "127.0.0.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			p, err := parseHostPattern(tt.pattern)
			if err != nil {
				t.Fatalf("parseHostPattern(%q): %v", tt.pattern, err)
			}
			for _, h := range tt.match {
				if hh := prepareHost(h); !matchHost([]hostPattern{p}, &hh) {
					t.Errorf("host %q: got no match, want a match", h)
				}
			}
			for _, h := range tt.miss {
				if hh := prepareHost(h); matchHost([]hostPattern{p}, &hh) {
					t.Errorf("host %q: got a match, want none", h)
				}
			}
		})
	}
}

func TestHostPatternErrors(t *testing.T) {
	tests := []struct{ pattern, want string }{
		{"", "empty"},
		{"*", "every host"},
		{".", "every host"},
		{"*.", "every host"},
		{"exa mple.com", "white space"},
		{" example.com", "white space"},
		{"example.com\n", "white space"},
		{"ex\x00ample.com", "control"},
		{"*example.com", `"*" may only`},
		{"www.*.example.com", `"*" may only`},
		{"**.example.com", `"*" may only`},
		{"example.*", `"*" may only`},
		{"*.*.example.com", `"*" may only`},
		{"https://example.com", "without scheme"},
		{"example.com/path", "without scheme"},
		{"user@example.com", "without scheme"},
		{"example.com:443", "port belongs in ports"},
		{"[2001:db8::1]:443", "port belongs in ports"},
		{"[2001:db8::1", "port belongs in ports"},
		{"fe80::1%eth0", "zone"},
		{"[fe80::1%25eth0]", "zone"},
		{"..example.com", "empty label"},
		{"example..com", "empty label"},
		{"example.com..", "empty label"},
		{".", "every host"},
		{"exa!mple.com", "may hold only"},
		{strings.Repeat("a", 64) + ".com", "63"},
		{strings.Repeat("a.", 127) + "com", "253"},
		{"xn--zz-zz.example", "punycode"},
		{"b\xffcher.example", "UTF-8"},
		{"bü cher.example", "white space"},
		{"10.0.0", "IPv4"},
		{"127.1", "IPv4"},
		{"0x7f000001", "IPv4"},
		{"256.0.0.1", "IPv4"},
		{".10.0.0.0", "IPv4"},
		{"*.0.0.1", "IPv4"},
		{"host.123", "IPv4"},
	}
	for _, tt := range tests {
		_, err := parseHostPattern(tt.pattern)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parseHostPattern(%q): got error %v, want one containing %q", tt.pattern, err, tt.want)
		}
	}
}
