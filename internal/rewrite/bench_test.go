package rewrite

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"testing"

	"github.com/andybalholm/brotli"
)

// benchRules is what a news site's rule might do.
func benchRules(b *testing.B) *Rules {
	return mustCompile(b, nil, []HTMLRule{{
		Match:      Match{Host: ".news.example"},
		Remove:     []string{"div.ad", "script[src*='tracker.example']", "iframe[src*='ads.example']", "#consent"},
		InjectHead: `<link rel="stylesheet" href="/fix.css">`,
		InjectBody: `<script src="/helper.js"></script>`,
		Replace:    []TextReplace{{Regex: `\bharbor\b`, With: "harbour"}},
	}})
}

// BenchmarkRewrite measures rewriting a 100 KB article, in MB/s of the
// page's uncompressed size.
func BenchmarkRewrite(b *testing.B) {
	page := []byte(newsPage(100))
	var gz bytes.Buffer
	w, _ := gzip.NewWriterLevel(&gz, 6)
	w.Write(page)
	w.Close()
	br := brotliBytes(string(page))
	untouched := mustCompile(b, nil, []HTMLRule{{Remove: []string{"div.never"}}})
	for _, bc := range []struct {
		name   string
		rs     *Rules
		body   []byte
		coding string
	}{
		{"identity", benchRules(b), page, ""},
		{"identity-untouched", untouched, page, ""},
		{"gzip", benchRules(b), gz.Bytes(), "gzip"},
		{"br", benchRules(b), br, "br"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(page)))
			b.ReportAllocs()
			req := newRequest(b, "GET", "http://www.news.example/article")
			r := bytes.NewReader(nil)
			buf := make([]byte, 32<<10)
			var out int64
			for b.Loop() {
				r.Reset(bc.body)
				resp := newResponse(req, 200, r, "Content-Type: text/html; charset=utf-8", "Content-Encoding: "+bc.coding)
				bc.rs.Response(req, resp)
				n, err := io.CopyBuffer(writerOnly{io.Discard}, resp.Body, buf)
				if err != nil {
					b.Fatal(err)
				}
				out = n
				resp.Body.Close()
			}
			b.ReportMetric(float64(out), "out-bytes")
		})
	}
}

// writerOnly hides io.Discard's ReaderFrom, so the copy goes through the
// buffer as the proxy's does.
type writerOnly struct{ io.Writer }

// BenchmarkRequest measures header rules on a typical proxied request.
func BenchmarkRequest(b *testing.B) {
	rs := mustCompile(b, []HeaderRule{
		{Match: Match{Host: ".tracker.example"}, Phase: "request", Action: "remove", Name: "Cookie"},
		{Phase: "request", Action: "set", Name: "DNT", Value: "1"},
		{Phase: "request", Action: "remove", Name: "X-Client-Data"},
		{Match: Match{URL: "*/api/*"}, Phase: "request", Action: "add", Name: "X-Api", Value: "1"},
		{Phase: "request", Action: "replace", Name: "User-Agent", Regex: `Chrome/(\d+)\.[\d.]+`, Value: "Chrome/$1.0.0.0"},
	}, nil)
	req := newRequest(b, "GET", "https://www.news.example/article?id=1")
	ua := []string{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.91 Safari/537.36"}
	cookie := []string{"session=abc; theme=dark"}
	req.Header = http.Header{
		"Accept":          {"text/html,application/xhtml+xml"},
		"Accept-Encoding": {"gzip, deflate, br"},
		"Accept-Language": {"en-GB,en;q=0.9"},
		"Cookie":          cookie,
		"User-Agent":      ua,
	}
	b.ReportAllocs()
	for b.Loop() {
		req.Header["User-Agent"] = ua
		req.Header["Cookie"] = cookie
		rs.Request(req)
	}
}

// BenchmarkRequestNoMatch measures rules that match other hosts only.
func BenchmarkRequestNoMatch(b *testing.B) {
	rs := mustCompile(b, []HeaderRule{
		{Match: Match{Host: ".tracker.example"}, Phase: "request", Action: "remove", Name: "Cookie"},
		{Match: Match{Host: "ads.example"}, Phase: "request", Action: "set", Name: "DNT", Value: "1"},
	}, []HTMLRule{{Match: Match{Host: ".news.example"}, InjectBody: "x"}})
	req := newRequest(b, "GET", "https://www.other.example/article?id=1")
	req.Header = http.Header{"Cookie": {"a=b"}, "Accept-Encoding": {"gzip, zstd"}}
	b.ReportAllocs()
	for b.Loop() {
		rs.Request(req)
	}
}

var _ = brotli.NewReader
