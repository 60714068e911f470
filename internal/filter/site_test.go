package filter

import (
	"strings"
	"testing"
)

func TestRegistrableDomain(t *testing.T) {
	for _, tc := range []struct{ host, want string }{
		{"www.example.com", "example.com"},
		{"a.b.c.example.com", "example.com"},
		{"example.com", "example.com"},
		{"example.com.", "example.com"},
		{"com", "com"},
		{"", ""},
		{"www.example.co.uk", "example.co.uk"},
		{"example.co.uk", "example.co.uk"},
		{"co.uk", "co.uk"},
		{"www.example.com.au", "example.com.au"},
		{"x.example.ac.jp", "example.ac.jp"},
		{"x.gov.uk", "x.gov.uk"},
		{"www.example.de", "example.de"},
		{"www.example.co", "example.co"}, // "co" is the top-level domain here
		{"www.example.co.com", "co.com"}, // only under two-letter top-level domains
		{"user.github.io", "github.io"},  // the approximation, wrong here
		{"192.168.1.20", "192.168.1.20"}, // addresses are their own site
		{"2001:db8::1", "2001:db8::1"},
		{"localhost", "localhost"},
	} {
		if got := RegistrableDomain(tc.host); got != tc.want {
			t.Errorf("RegistrableDomain(%q): got %q, want %q", tc.host, got, tc.want)
		}
	}
}

func TestSiteOf(t *testing.T) {
	l := parse(t, Adblock, "||static.site.example^$third-party\n")
	q := get("http://static.site.example/x.js", "www.site.example")
	m := Compile([]*List{l}, nil)
	runMatch(t, m, []wantCase{{q, ""}}) // same registrable domain: first-party

	m = Compile([]*List{l}, nil)
	m.SiteOf = func(host string) string { return host } // every host its own site
	runMatch(t, m, []wantCase{{q, "block ||static.site.example^$third-party"}})
}

func TestDecideAllocations(t *testing.T) {
	l := parse(t, Adblock, "||tracker.example^$third-party\n/ads/*.gif\n@@/ads/ok$domain=site.example\n/\\/x[0-9]+\\//\n")
	m := Compile([]*List{l}, nil)
	qs := []Request{
		get("http://tracker.example/p.gif", "site.example"),
		get("http://a.example/ads/1.gif", "site.example"),
		get("http://a.example/ads/ok.gif", "site.example"),
		get("http://a.example/x12/", ""),
		get("http://a.example/nothing/here?q=1", "site.example"),
	}
	for i := range qs {
		if raceEnabled && strings.Contains(qs[i].URL, "/x12/") {
			continue // a regex match: regexp's pooled machines allocate under -race
		}
		if n := testing.AllocsPerRun(100, func() { m.Decide(&qs[i]) }); n != 0 {
			t.Errorf("%s: got %v allocations, want 0", qs[i].URL, n)
		}
	}
}
