package privacy

import (
	"fmt"
	"hash/maphash"
	"sync"
	"testing"
)

func TestSiteOf(t *testing.T) {
	tests := []struct{ host, want string }{
		{"www.example.com", "example.com"},
		{"example.com", "example.com"},
		{"a.b.c.example.com", "example.com"},
		{"www.example.co.uk", "example.co.uk"},
		{"static.example.co.uk", "example.co.uk"},
		{"a.github.io", "a.github.io"}, // github.io is a (private) public suffix
		{"x.a.github.io", "a.github.io"},
		{"github.io", "github.io"}, // a public suffix is its own site
		{"co.uk", "co.uk"},
		{"com", "com"},
		{"localhost", "localhost"},
		{"intranet", "intranet"},
		{"printer.corp", "printer.corp"}, // unlisted TLD: the "*" rule
		{"a.printer.corp", "printer.corp"},
		{"Example.COM", "example.com"},
		{"www.example.com:8080", "example.com"},
		{"www.example.com.", "example.com"},
		{"192.0.2.1", "192.0.2.1"},
		{"192.0.2.1:8080", "192.0.2.1"},
		{"127.1", "127.1"},
		{"2001:db8::1", "2001:db8::1"},
		{"[2001:db8::1]", "2001:db8::1"},
		{"[2001:DB8::1]:443", "2001:db8::1"},
		{"", ""},
		{"a..example.com", "a..example.com"},
		{".example.com", ".example.com"},
		{"xn--80ak6aa92e.com", "xn--80ak6aa92e.com"},
	}
	for _, tt := range tests {
		if got := SiteOf(tt.host); got != tt.want {
			t.Errorf("SiteOf(%q): got %q, want %q", tt.host, got, tt.want)
		}
	}
}

func TestSameSite(t *testing.T) {
	tests := []struct {
		dst, ref string
		want     bool
	}{
		{"www.example.co.uk", "static.example.co.uk", true},
		{"a.github.io", "b.github.io", false},
		{"example.com", "example.com:8443", true}, // ports do not matter
		{"example.com", "EXAMPLE.com", true},
		{"example.com", "example.org", false},
		{"192.0.2.1", "192.0.2.1", true},
		{"192.0.2.1", "192.0.2.2", false},
		{"10.0.0.1", "1.0.0.1", false}, // not a domain: no suffix logic
		{"localhost", "localhost:3000", true},
		{"localhost", "other", false},
	}
	for _, tt := range tests {
		d := dest{host: hostname(tt.dst), cache: &siteCache{seed: maphash.MakeSeed()}}
		if got := d.sameSite(hostname(tt.ref)); got != tt.want {
			t.Errorf("sameSite(%q, %q): got %v, want %v", tt.dst, tt.ref, got, tt.want)
		}
	}
}

func TestParseOrigin(t *testing.T) {
	tests := []struct {
		in            string
		ok            bool
		host, trimmed string
	}{
		{"https://www.example.com/path?q=1", true, "www.example.com", "https://www.example.com/"},
		{"https://www.example.com/", true, "www.example.com", "https://www.example.com/"},
		{"https://www.example.com", true, "www.example.com", "https://www.example.com"},
		{"http://Example.COM:8080/a", true, "example.com", "http://Example.COM:8080/"},
		{"http://example.com?q=secret", true, "example.com", "http://example.com/"},
		{"http://example.com#frag", true, "example.com", "http://example.com/"},
		{"http://user:pw@example.com/a", true, "example.com", "http://example.com/"},
		{"http://[2001:db8::1]:8080/x", true, "2001:db8::1", "http://[2001:db8::1]:8080/"},
		{"http://192.0.2.1/x", true, "192.0.2.1", "http://192.0.2.1/"},
		{"android-app://com.example.app/", true, "com.example.app", "android-app://com.example.app/"},
		{"null", false, "", ""},
		{"about:client", false, "", ""},
		{"/relative/path", false, "", ""},
		{"//example.com/x", false, "", ""},
		{"://example.com/", false, "", ""},
		{"1http://example.com/", false, "", ""},
		{"http:///path", false, "", ""},
		{"http://:80/", false, "", ""},
		{"", false, "", ""},
	}
	for _, tt := range tests {
		o, ok := parseOrigin(tt.in)
		if ok != tt.ok {
			t.Errorf("parseOrigin(%q): got ok %v, want %v", tt.in, ok, tt.ok)
			continue
		}
		if !ok {
			continue
		}
		if o.host != tt.host {
			t.Errorf("parseOrigin(%q) host: got %q, want %q", tt.in, o.host, tt.host)
		}
		if got := o.trimmed(); got != tt.trimmed {
			t.Errorf("parseOrigin(%q).trimmed(): got %q, want %q", tt.in, got, tt.trimmed)
		}
	}
}

func TestSiteCache(t *testing.T) {
	c := &siteCache{seed: maphash.MakeSeed()}
	var hosts []string
	// More hosts than slots, so entries collide and are replaced.
	for i := range 3 * siteCacheSize {
		hosts = append(hosts, fmt.Sprintf("h%d.site%d.example.co.uk", i, i%7), fmt.Sprintf("x%d.github.io", i))
	}
	hosts = append(hosts, "localhost", "192.0.2.1", "2001:db8::1", "", "com", "a..b.example")
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 2 {
				for _, h := range hosts {
					if got, want := c.site(h), SiteOf(h); got != want {
						t.Errorf("site(%q): got %q, want %q", h, got, want)
						return
					}
				}
			}
		})
	}
	wg.Wait()
}
