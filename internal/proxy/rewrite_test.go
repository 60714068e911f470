package proxy_test

import (
	"bufio"
	"compress/gzip"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"sluice/internal/proxy"
	"sluice/internal/rewrite"
)

const adPage = `<!doctype html><html><head><title>News</title></head><body>
<h1>Headline</h1><div class="ad">BUY NOW</div><p>The colour of news.</p>
</body></html>`

// TestRewriteHTMLThroughProxy: a gzip-compressed page from the origin
// reaches the client rewritten (element removed, snippet injected, text
// replaced), still gzip, without a stale Content-Length, with a weakened
// ETag; header rules apply both ways.
func TestRewriteHTMLThroughProxy(t *testing.T) {
	t.Parallel()
	rw := newRulesWorld(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Server", "origin/1.0")
		zw := gzip.NewWriter(w)
		io.WriteString(zw, adPage)
		zw.Close()
	})
	rules, err := rewrite.Compile(
		[]rewrite.HeaderRule{
			{Match: rewrite.Match{Host: ".news.test"}, Phase: "response", Action: "remove", Name: "Server"},
			{Phase: "request", Action: "set", Name: "X-Through", Value: "sluice"},
		},
		[]rewrite.HTMLRule{{
			Match:      rewrite.Match{Host: "news.test"},
			Remove:     []string{"div.ad"},
			InjectBody: `<p id="note">filtered</p>`,
			Replace:    []rewrite.TextReplace{{Regex: "colour", With: "color"}},
		}})
	if err != nil {
		t.Fatal(err)
	}
	rw.rules.Store(&proxy.Rules{Rewrite: rules})

	req, _ := http.NewRequest(http.MethodGet, rw.url("news.test", "/article"), nil)
	req.Header.Set("Accept-Encoding", "gzip") // so the client does not decode for us
	resp, err := rw.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if got := resp.Header.Get("Content-Encoding"); got != "gzip" {
		t.Fatalf("Content-Encoding %q, want gzip", got)
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	for _, want := range []string{"<h1>Headline</h1>", `<p id="note">filtered</p></body>`, "The color of news."} {
		if !strings.Contains(page, want) {
			t.Errorf("rewritten page lacks %q:\n%s", want, page)
		}
	}
	if strings.Contains(page, "BUY NOW") {
		t.Errorf("the ad survived:\n%s", page)
	}
	if resp.ContentLength >= 0 && resp.ContentLength != int64(len(page)) && resp.Header.Get("Content-Length") != "" {
		t.Errorf("Content-Length %q does not fit the rewritten body", resp.Header.Get("Content-Length"))
	}
	if got := resp.Header.Get("ETag"); got != `W/"v1"` {
		t.Errorf("ETag %q, want W/\"v1\"", got)
	}
	if got := resp.Header.Get("Server"); got != "" {
		t.Errorf("Server %q, want it removed by the response rule", got)
	}
	if got := rw.seen.Load().Header.Get("X-Through"); got != "sluice" {
		t.Errorf("origin saw X-Through %q, want sluice (request rule)", got)
	}

	// Another host: no HTML rule matches, the page passes untouched.
	req2, _ := http.NewRequest(http.MethodGet, rw.url("ok.test", "/"), nil)
	req2.Header.Set("Accept-Encoding", "gzip")
	resp2, err := rw.Client().Do(req2)
	if err != nil {
		t.Fatal(err)
	}
	defer resp2.Body.Close()
	zr2, err := gzip.NewReader(resp2.Body)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := io.ReadAll(zr2)
	if resp2.Header.Get("ETag") != `"v1"` || string(b2) != adPage {
		t.Errorf("unmatched host: ETag %q, body %q; want both untouched", resp2.Header.Get("ETag"), b2)
	}
}

// TestRewriteStreams: the first part of a rewritten page reaches the
// client while the origin still holds back the rest.
func TestRewriteStreams(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	rw := newRulesWorld(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<html><head><title>t</title></head><body><p>first part</p>"+strings.Repeat("<p>filler</p>", 200))
		w.(http.Flusher).Flush()
		<-release
		io.WriteString(w, "<p>last part</p></body></html>")
	})
	defer close(release)
	rules, err := rewrite.Compile(nil, []rewrite.HTMLRule{{InjectHead: `<meta name="x">`}})
	if err != nil {
		t.Fatal(err)
	}
	rw.rules.Store(&proxy.Rules{Rewrite: rules})
	c := rw.Dial()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	u := rw.url("news.test", "/")
	io.WriteString(c, "GET "+u+" HTTP/1.1\r\nHost: news.test\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 0, 4096)
	for !strings.Contains(string(buf), "first part") {
		chunk := make([]byte, 512)
		n, err := resp.Body.Read(chunk)
		if err != nil {
			t.Fatalf("reading the first part while the origin waits: %v (got %q)", err, buf)
		}
		buf = append(buf, chunk[:n]...)
	}
	if !strings.Contains(string(buf), `<head><meta name="x">`) {
		t.Errorf("the first part lacks the injected snippet: %q", buf)
	}
}
