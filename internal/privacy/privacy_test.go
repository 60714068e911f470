package privacy

import (
	"strings"
	"testing"
)

func TestParseLevel(t *testing.T) {
	for _, l := range []Level{Off, Standard, Strict} {
		got, err := ParseLevel(l.String())
		if err != nil || got != l {
			t.Errorf("ParseLevel(%q): got %v, %v, want %v", l.String(), got, err, l)
		}
	}
	for _, s := range []string{"", "Strict", "on", "none", "standard "} {
		if _, err := ParseLevel(s); err == nil {
			t.Errorf("ParseLevel(%q): got no error", s)
		}
	}
	if got := Level(7).String(); got != "Level(7)" {
		t.Errorf("Level(7).String(): got %q, want %q", got, "Level(7)")
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"bad default", Options{Default: 3}, "default level"},
		{"bad site level", Options{Sites: map[string]Level{"example.com": -1}}, "level Level(-1)"},
		{"empty site", Options{Sites: map[string]Level{"": Off}}, "empty host"},
		{"lone dot", Options{Sites: map[string]Level{".": Off}}, "empty host"},
		{"wildcard", Options{Sites: map[string]Level{"*.example.com": Off}}, `write ".example.com"`},
		{"port", Options{Sites: map[string]Level{"example.com:443": Off}}, `':' is not allowed`},
		{"path", Options{Sites: map[string]Level{"example.com/a": Off}}, `'/' is not allowed`},
		{"scheme", Options{Sites: map[string]Level{"https://example.com": Off}}, `':' is not allowed`},
		{"empty label", Options{Sites: map[string]Level{"a..example.com": Off}}, "empty label"},
		{"trailing dot", Options{Sites: map[string]Level{"example.com.": Off}}, "empty label"},
		{"conflict", Options{Sites: map[string]Level{"Example.com": Off, "example.COM": Strict}}, "named twice"},
		{"user agent CRLF", Options{UserAgent: "x\r\nCookie: a"}, "not a valid header value"},
		{"user agent spaces", Options{UserAgent: " x"}, "not a valid header value"},
		{"tracking param", Options{TrackingParams: []string{"*"}}, "tracking parameter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
	if _, err := New(Options{}); err != nil {
		t.Errorf("zero Options: got error %v", err)
	}
}

func TestLevelSites(t *testing.T) {
	p, err := New(Options{
		Default: Standard,
		Sites: map[string]Level{
			"exact.example":        Off,
			".bank.example":        Off,
			".secure.bank.example": Strict,
			"secure.bank.example":  Standard,
			".Example.ORG":         Strict,
			"192.0.2.1":            Off,
			"[2001:db8::1]":        Strict,
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		host string
		want Level
	}{
		{"other.example", Standard},
		{"exact.example", Off},
		{"www.exact.example", Standard}, // exact means exactly
		{"bank.example", Off},           // a dotted key covers the domain itself
		{"www.bank.example", Off},
		{"secure.bank.example", Standard}, // exact beats the dotted key of the same name
		{"login.secure.bank.example", Strict},
		{"a.b.secure.bank.example", Strict}, // the longest suffix wins
		{"notbank.example", Standard},       // suffixes match whole labels
		{"WWW.Bank.Example", Off},
		{"www.bank.example.", Off},
		{"www.bank.example:8443", Off},
		{"example.org", Strict},
		{"x.example.org", Strict},
		{"192.0.2.1", Off},
		{"192.0.2.1:8080", Off},
		{"1.192.0.2.1", Standard},
		{"[2001:db8::1]:443", Strict},
		{"2001:db8::1", Strict},
		{"", Standard},
	}
	for _, tt := range tests {
		if got := p.Level(tt.host); got != tt.want {
			t.Errorf("Level(%q): got %v, want %v", tt.host, got, tt.want)
		}
	}
}

func TestChangesString(t *testing.T) {
	tests := []struct {
		c    Changes
		want string
	}{
		{0, ""},
		{ParamsRemoved, "params-removed"},
		{ParamsRemoved | GPCAdded | ThirdParty, "params-removed,gpc-added,third-party"},
		{SetCookieRemoved, "set-cookie-removed"},
	}
	for _, tt := range tests {
		if got := tt.c.String(); got != tt.want {
			t.Errorf("Changes(%d).String(): got %q, want %q", tt.c, got, tt.want)
		}
	}
}
