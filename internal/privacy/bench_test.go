package privacy

import "testing"

// benchRequest measures Request on a browser-like request. Each iteration
// restores what the previous one changed (query, Referer, the added
// Sec-GPC and User-Agent), so every iteration does the full work; the
// header map has already grown to hold the added fields.
func benchRequest(b *testing.B, o Options, rawURL, referer string) {
	p, err := New(o)
	if err != nil {
		b.Fatal(err)
	}
	r := request(b, rawURL, "Host: x\nUser-Agent: "+chromeUA+
		"\nAccept: text/html,application/xhtml+xml\nAccept-Language: en-GB,en;q=0.9\nAccept-Encoding: gzip, deflate\nCookie: session=abc123; theme=dark\nConnection: keep-alive")
	query, uri := r.URL.RawQuery, r.RequestURI
	refs := []string{referer}
	uas := r.Header["User-Agent"]
	cookies := r.Header["Cookie"]
	for b.Loop() {
		r.URL.RawQuery, r.RequestURI = query, uri
		refs[0] = referer
		r.Header["Referer"] = refs
		r.Header["User-Agent"] = uas
		r.Header["Cookie"] = cookies
		delete(r.Header, "Sec-Gpc")
		c := p.Request(r)
		p.Response(c, r.Header)
	}
}

func BenchmarkRequest(b *testing.B) {
	cases := []struct {
		name, url, referer string
	}{
		{"same-site", "http://static.example.com/css/site.css?v=3", "http://www.example.com/news/today"},
		{"cross-site", "http://cdn.example.net/lib.js?v=3", "http://www.example.com/news/today"},
		{"utm", "http://www.example.com/news/today?utm_source=newsletter&utm_medium=email&utm_campaign=spring&id=7", "http://mail.example.org/inbox"},
	}
	for _, l := range []Level{Off, Standard, Strict} {
		for _, tc := range cases {
			b.Run(l.String()+"/"+tc.name, func(b *testing.B) {
				benchRequest(b, Options{Default: l}, tc.url, tc.referer)
			})
		}
	}
	b.Run("standard-with-sites/same-site", func(b *testing.B) {
		benchRequest(b, Options{Default: Standard, Sites: map[string]Level{".bank.example": Off, "ads.example.net": Strict, ".example.org": Strict}},
			cases[0].url, cases[0].referer)
	})
}

func BenchmarkSiteOf(b *testing.B) {
	for _, host := range []string{"www.example.co.uk", "static.example.com", "a.github.io", "localhost", "192.0.2.1"} {
		b.Run(host, func(b *testing.B) {
			for b.Loop() {
				SiteOf(host)
			}
		})
	}
}

func BenchmarkStrip(b *testing.B) {
	m, err := newMatcher(nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, q := range []string{"v=3", "q=golang+proxy&page=2&sort=recent&lang=en&per_page=50", "utm_source=newsletter&utm_medium=email&utm_campaign=spring&id=7"} {
		b.Run(q, func(b *testing.B) {
			for b.Loop() {
				m.strip(q)
			}
		})
	}
}
