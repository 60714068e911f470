package cache

import (
	"net/url"
	"testing"
	"unicode/utf8"
)

// FuzzHostPattern feeds PurgeHost's host argument parser anything: it
// must not panic, and a host it accepts must match the key of a URL on
// that host (ASCII input; a Unicode name is stored in its A-label).
func FuzzHostPattern(f *testing.F) {
	for _, s := range []string{
		"example.com", "Example.COM.", "example.com:8080", "example.com:080", "[::1]:8080", "::1", "[0:0::1]",
		"127.0.0.1:80", "bücher.example", "xn--bcher-kva.example", "a.example:", "[::1", "*.example", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		p, err := parseHostPattern(host)
		if err != nil || !utf8.ValidString(host) {
			return
		}
		for _, c := range host {
			if c >= utf8.RuneSelf {
				return
			}
		}
		u, err := url.Parse("http://" + host + "/")
		if err != nil || u.Host != host || u.Hostname() == "" {
			return
		}
		if k := Key(u); !p.matches(k) {
			t.Errorf("host %q accepted as %+v does not match the key %q of its URL", host, p, k)
		}
	})
}
