package rewrite

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// mustCompile compiles rules or fails the test.
func mustCompile(t testing.TB, headers []HeaderRule, html []HTMLRule) *Rules {
	t.Helper()
	rs, err := Compile(headers, html)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// newRequest is a proxied GET for rawURL.
func newRequest(t testing.TB, method, rawURL string) *http.Request {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Request{Method: method, URL: u, Host: u.Host, Header: http.Header{}, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}
}

// newResponse is a response with the given status, header lines
// ("Name: value") and body.
func newResponse(req *http.Request, status int, body io.Reader, header ...string) *http.Response {
	h := http.Header{}
	for _, line := range header {
		k, v, _ := strings.Cut(line, ":")
		h.Add(k, strings.TrimSpace(v))
	}
	resp := &http.Response{StatusCode: status, Header: h, Request: req, ContentLength: -1, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}
	if body != nil {
		resp.Body = io.NopCloser(body)
	} else {
		resp.Body = http.NoBody
	}
	return resp
}

// rewritePage runs an HTML page served as contentType through rs and
// returns the body the client gets.
func rewritePage(t testing.TB, rs *Rules, contentType, page string) string {
	t.Helper()
	req := newRequest(t, "GET", "http://news.example/article")
	resp := newResponse(req, 200, strings.NewReader(page), "Content-Type: "+contentType)
	rs.Response(req, resp)
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading rewritten body: %v", err)
	}
	if err := resp.Body.Close(); err != nil {
		t.Fatal(err)
	}
	return string(got)
}
