package server

import (
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// TestParseRequest covers the four request-target forms and the header
// rules a valid request goes through.
func TestParseRequest(t *testing.T) {
	type want struct {
		method string
		url    string
		host   string
		header http.Header
		cl     int64
		te     []string
		close  bool
	}
	tests := []struct {
		name string
		raw  string
		want want
	}{
		{"origin-form", "GET /a/b?c=d HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\n\r\n",
			want{"GET", "/a/b?c=d", "example.com", http.Header{"User-Agent": {"t"}}, 0, nil, false}},
		{"absolute-form wins over Host", "GET http://Example.com:8080/p?q HTTP/1.1\r\nHost: other.org\r\n\r\n",
			want{"GET", "http://Example.com:8080/p?q", "Example.com:8080", http.Header{}, 0, nil, false}},
		{"absolute-form scheme lowercased", "GET HTTP://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n",
			want{"GET", "http://example.com", "example.com", http.Header{}, 0, nil, false}},
		{"absolute-form IPv6", "GET http://[::1]:80/ HTTP/1.1\r\nHost: x\r\n\r\n",
			want{"GET", "http://[::1]:80/", "[::1]:80", http.Header{}, 0, nil, false}},
		{"authority-form without Host", "CONNECT example.com:443 HTTP/1.1\r\n\r\n",
			want{"CONNECT", "//example.com:443", "example.com:443", http.Header{}, 0, nil, false}},
		{"authority-form IPv6", "CONNECT [2001:db8::1]:443 HTTP/1.1\r\nHost: [2001:db8::1]:443\r\n\r\n",
			want{"CONNECT", "//[2001:db8::1]:443", "[2001:db8::1]:443", http.Header{}, 0, nil, false}},
		{"asterisk-form", "OPTIONS * HTTP/1.1\r\nHost: example.com\r\n\r\n",
			want{"OPTIONS", "*", "example.com", http.Header{}, 0, nil, false}},
		{"HTTP/1.0 closes by default", "GET / HTTP/1.0\r\n\r\n",
			want{"GET", "/", "", http.Header{}, 0, nil, true}},
		{"HTTP/1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
			want{"GET", "/", "", http.Header{"Connection": {"Keep-Alive"}}, 0, nil, false}},
		{"HTTP/1.1 Connection: close", "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Close\r\n\r\n",
			want{"GET", "/", "a", http.Header{"Connection": {"keep-alive, Close"}}, 0, nil, true}},
		{"lowercase names canonicalized", "GET / HTTP/1.1\r\nhost: a\r\ncontent-length: 0\r\nx-cUSTOM-thing: v\r\n\r\n",
			want{"GET", "/", "a", http.Header{"Content-Length": {"0"}, "X-Custom-Thing": {"v"}}, 0, nil, false}},
		{"repeated headers in order", "GET / HTTP/1.1\r\nAccept: a\r\nHost: h\r\nX: 1\r\naccept: b\r\nAccept: c\r\n\r\n",
			want{"GET", "/", "h", http.Header{"Accept": {"a", "b", "c"}, "X": {"1"}}, 0, nil, false}},
		{"leading empty lines", "\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
			want{"GET", "/", "a", http.Header{}, 0, nil, false}},
		{"OWS trimmed, inner tab kept", "GET / HTTP/1.1\r\nHost:a\r\nX: \t v\tw \t\r\nY:\r\n\r\n",
			want{"GET", "/", "a", http.Header{"X": {"v\tw"}, "Y": {""}}, 0, nil, false}},
		{"empty Host", "GET / HTTP/1.1\r\nHost:\r\n\r\n",
			want{"GET", "/", "", http.Header{}, 0, nil, false}},
		{"Host with port and IPv6", "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
			want{"GET", "/", "[::1]:8080", http.Header{}, 0, nil, false}},
		{"extension method", "PROPFIND /d HTTP/1.1\r\nHost: a\r\n\r\n",
			want{"PROPFIND", "/d", "a", http.Header{}, 0, nil, false}},
		{"chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
			want{"POST", "/", "a", http.Header{}, -1, []string{"chunked"}, false}},
		{"chunked after a tab, any case", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\tChunked\r\n\r\n",
			want{"POST", "/", "a", http.Header{}, -1, []string{"chunked"}, false}},
		{"identical Content-Lengths", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\nContent-Length: 5\r\n\r\n",
			want{"POST", "/", "a", http.Header{"Content-Length": {"5, 5", "5"}}, 5, nil, false}},
		{"Content-Length 0", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
			want{"POST", "/", "a", http.Header{"Content-Length": {"0"}}, 0, nil, false}},
		{"Content-Length leading zeros", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 007\r\n\r\n",
			want{"POST", "/", "a", http.Header{"Content-Length": {"007"}}, 7, nil, false}},
		{"chunked with OWS and capitals", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:  CHUNKED \t\r\n\r\n",
			want{"POST", "/", "a", http.Header{}, -1, []string{"chunked"}, false}},
		{"lower-case method is an extension method", "get / HTTP/1.1\r\nHost: a\r\n\r\n",
			want{"get", "/", "a", http.Header{}, 0, nil, false}},
		{"underscore in other names", "GET / HTTP/1.1\r\nHost: a\r\nX_Content_Length: 1\r\n\r\n",
			want{"GET", "/", "a", http.Header{"X_content_length": {"1"}}, 0, nil, false}},
		{"IDN as punycode", "GET http://xn--bcher-kva.example/ HTTP/1.1\r\nHost: XN--BCHER-KVA.example\r\n\r\n",
			want{"GET", "http://xn--bcher-kva.example/", "xn--bcher-kva.example", http.Header{}, 0, nil, false}},
		{"trailing dot and underscore", "GET http://_dmarc.example.:8080/ HTTP/1.1\r\nHost: x\r\n\r\n",
			want{"GET", "http://_dmarc.example.:8080/", "_dmarc.example.:8080", http.Header{}, 0, nil, false}},
		{"IPv4-mapped IPv6", "GET http://[::ffff:127.0.0.1]/ HTTP/1.1\r\nHost: x\r\n\r\n",
			want{"GET", "http://[::ffff:127.0.0.1]/", "[::ffff:127.0.0.1]", http.Header{}, 0, nil, false}},
		{"CONNECT with Content-Length 0", "CONNECT example.com:443 HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
			want{"CONNECT", "//example.com:443", "example.com:443", http.Header{"Content-Length": {"0"}}, 0, nil, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := parseRaw(tt.raw, 64<<10)
			if err != nil {
				t.Fatalf("parse %q: %v", tt.raw, err)
			}
			w := tt.want
			if r.Method != w.method {
				t.Errorf("Method: got %q, want %q", r.Method, w.method)
			}
			if got := r.URL.String(); got != w.url {
				t.Errorf("URL: got %q, want %q", got, w.url)
			}
			if r.Host != w.host {
				t.Errorf("Host: got %q, want %q", r.Host, w.host)
			}
			if !reflect.DeepEqual(r.Header, w.header) {
				t.Errorf("Header: got %q, want %q", r.Header, w.header)
			}
			if r.ContentLength != w.cl {
				t.Errorf("ContentLength: got %d, want %d", r.ContentLength, w.cl)
			}
			if !reflect.DeepEqual(r.TransferEncoding, w.te) {
				t.Errorf("TransferEncoding: got %q, want %q", r.TransferEncoding, w.te)
			}
			if r.Close != w.close {
				t.Errorf("Close: got %v, want %v", r.Close, w.close)
			}
			if r.ProtoMajor != 1 || r.Proto != fmt.Sprintf("HTTP/1.%d", r.ProtoMinor) {
				t.Errorf("Proto: got %q (%d.%d)", r.Proto, r.ProtoMajor, r.ProtoMinor)
			}
			if r.RequestURI == "" {
				t.Error("RequestURI is empty")
			}
		})
	}
}

// TestParseRequestTrailerDeclared: declared trailers exist in r.Trailer
// when the handler starts, so shallow copies of the request share them.
func TestParseRequestTrailerDeclared(t *testing.T) {
	r, err := parseRaw("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTrailer: x-sum, Digest\r\nTrailer: bad name\r\n\r\n", 1<<10)
	if err != nil {
		t.Fatal(err)
	}
	want := http.Header{"X-Sum": nil, "Digest": nil}
	if !reflect.DeepEqual(r.Trailer, want) {
		t.Errorf("Trailer: got %q, want %q", r.Trailer, want)
	}
}

// rejections are heads parseRequest (or the head reader) refuses, with
// the status the client gets.
var rejections = []struct {
	name   string
	raw    string
	status int
}{
	{"space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400},
	{"tab before colon", "GET / HTTP/1.1\r\nHost: a\r\nX\t: v\r\n\r\n", 400},
	{"obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX: v\r\n w\r\n\r\n", 400},
	{"obs-fold tab", "GET / HTTP/1.1\r\nHost: a\r\nX: v\r\n\tw\r\n\r\n", 400},
	{"fold first line", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400},
	{"NUL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n", 400},
	{"CR in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400},
	{"CR before CRLF", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\r\n\r\n", 400},
	{"DEL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n", 400},
	{"control in value", "GET / HTTP/1.1\r\nHost: a\r\nX: \x01\r\n\r\n", 400},
	{"no colon", "GET / HTTP/1.1\r\nHost: a\r\nX\r\n\r\n", 400},
	{"empty name", "GET / HTTP/1.1\r\nHost: a\r\n: v\r\n\r\n", 400},
	{"non-token name", "GET / HTTP/1.1\r\nHost: a\r\nX(y): v\r\n\r\n", 400},
	{"TE and CL", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
	{"TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
	{"chunked not final", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n", 400},
	{"chunked not final over lines", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n", 400},
	{"identity only", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n", 400},
	{"empty TE", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n", 400},
	{"gzip then chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
	{"gzip then chunked over lines", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", 501},
	{"differing CL in a list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n", 400},
	{"differing CL lines", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400},
	{"CL plus sign", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", 400},
	{"CL hex", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\n", 400},
	{"CL negative", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400},
	{"CL empty", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:  \r\n\r\n", 400},
	{"CL inner space", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n", 400},
	{"CL too long", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9999999999999999999\r\n\r\n", 400},
	{"missing Host", "GET / HTTP/1.1\r\n\r\n", 400},
	{"repeated Host", "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400},
	{"Host with space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400},
	{"Host with userinfo", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400},
	{"Host with path", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400},
	{"Host percent-encoded", "GET / HTTP/1.1\r\nHost: ex%61mple.com\r\n\r\n", 400},
	{"Host unbalanced bracket", "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", 400},
	{"Host in HTTP/1.0 also checked", "GET / HTTP/1.0\r\nHost: a,b\r\n\r\n", 400},
	{"absolute userinfo", "GET http://user:pw@host/ HTTP/1.1\r\nHost: host\r\n\r\n", 400},
	{"absolute zone", "GET http://[::1%25eth0]/ HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"absolute percent", "GET http://ex%61mple.com/ HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"absolute non-ASCII", "GET http://exämple.com/ HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"absolute empty authority", "GET http:///x HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"absolute backslash", "GET http://a\\@b/ HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"no scheme separator", "GET http//x HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"bad escape", "GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"DEL in target", "GET /\x7f HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"CONNECT without port", "CONNECT example.com HTTP/1.1\r\n\r\n", 400},
	{"CONNECT port 0", "CONNECT example.com:0 HTTP/1.1\r\n\r\n", 400},
	{"CONNECT port too big", "CONNECT example.com:65536 HTTP/1.1\r\n\r\n", 400},
	{"CONNECT named port", "CONNECT example.com:https HTTP/1.1\r\n\r\n", 400},
	{"CONNECT empty host", "CONNECT :443 HTTP/1.1\r\n\r\n", 400},
	{"CONNECT userinfo", "CONNECT u@example.com:443 HTTP/1.1\r\n\r\n", 400},
	{"CONNECT origin-form", "CONNECT /x HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"CONNECT absolute-form", "CONNECT http://example.com:443 HTTP/1.1\r\n\r\n", 400},
	{"asterisk for GET", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505},
	{"HTTP/1.2", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505},
	{"HTTP/0.9", "GET / HTTP/0.9\r\n\r\n", 505},
	{"HTTP/10.0", "GET / HTTP/10.0\r\n\r\n", 400},
	{"HTTP/1", "GET / HTTP/1\r\n\r\n", 400},
	{"lowercase proto", "GET / http/1.1\r\nHost: a\r\n\r\n", 400},
	{"proto with suffix", "GET / HTTP/1.1x\r\nHost: a\r\n\r\n", 400},
	{"no proto", "GET /\r\n\r\n", 400},
	{"method only", "GET\r\n\r\n", 400},
	{"invalid method", "GE(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"non-ASCII method", "GÉT / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"leading space", " GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"double space", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"trailing word", "GET / HTTP/1.1 x\r\nHost: a\r\n\r\n", 400},
	{"tab separator", "GET /\tHTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"tab after method", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"five empty lines", "\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"bare LF", "POST /x HTTP/1.1\nHost: a\nContent-Length: 3\n\n", 400},
	{"bare LF after request line", "GET / HTTP/1.1\nHost: a\r\n\r\n", 400},
	{"bare LF after a field", "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", 400},
	{"bare LF blank line", "GET / HTTP/1.1\r\nHost: a\r\n\n", 400},
	{"bare LF empty line first", "\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"CR line", "GET / HTTP/1.1\r\nHost: a\r\n\r\r\n\r\n", 400},
	{"fragment", "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"fragment in absolute-form", "GET http://a/#b HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"TE chunked twice in a list", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400},
	{"TE chunked twice over lines", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
	{"TE empty element", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , chunked\r\n\r\n", 400},
	{"TE trailing comma", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked,\r\n\r\n", 400},
	{"TE parameter", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;q=1\r\n\r\n", 400},
	{"TE quoted", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \"chunked\"\r\n\r\n", 400},
	{"TE xchunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n", 400},
	{"TE gzip parameter then chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip;x=1, chunked\r\n\r\n", 400},
	{"TE identity then chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity, chunked\r\n\r\n", 501},
	{"Transfer_Encoding", "POST / HTTP/1.1\r\nHost: a\r\nTransfer_Encoding: chunked\r\n\r\n", 400},
	{"content_length", "POST / HTTP/1.1\r\nHost: a\r\ncontent_length: 5\r\n\r\n", 400},
	{"CL trailing comma", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,\r\n\r\n", 400},
	{"CL leading comma", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ,5\r\n\r\n", 400},
	{"CONNECT with Content-Length", "CONNECT example.com:443 HTTP/1.1\r\nContent-Length: 5\r\n\r\n", 400},
	{"CONNECT with Transfer-Encoding", "CONNECT example.com:443 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
	{"IDN empty", "GET http://xn--/ HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"IDN invalid punycode", "GET http://xn--zz.example/ HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"IDN disallowed", "GET http://xn--a.example/ HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"IDN ASCII only", "GET http://xn--abc-.example/ HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"Host bad IDN", "GET / HTTP/1.1\r\nHost: xn--\r\n\r\n", 400},
	{"empty label", "GET http://a..example/ HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"leading dot", "GET http://.example/ HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"only a dot", "GET http://./ HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"label too long", "GET http://" + strings.Repeat("a", 64) + ".example/ HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"name too long", "GET http://" + strings.Repeat("a.", 127) + "aa/ HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"two ports", "GET http://a:80:80/ HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"empty port", "GET http://a:/ HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"port 0", "GET http://a:0/ HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"port too big", "GET http://a:65536/ HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"port too long", "GET http://a:000080/ HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"port negative", "GET http://a:-80/ HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"IPv6 unbracketed", "GET http://::1/ HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"IPv4 in brackets", "GET http://[127.0.0.1]/ HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"not IPv6 in brackets", "GET http://[gg::1]/ HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"IPvFuture", "GET http://[v1.a]/ HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"text after brackets", "GET http://[::1]x/ HTTP/1.1\r\nHost: x\r\n\r\n", 400},
	{"Host bracket in the middle", "GET / HTTP/1.1\r\nHost: a[::1]\r\n\r\n", 400},
	{"CONNECT IPv4 in brackets", "CONNECT [127.0.0.1]:443 HTTP/1.1\r\n\r\n", 400},
	{"head too large", "GET / HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("v", 1<<10) + "\r\n\r\n", 431},
}

// TestParseRequestRejects: every head a lenient parser might read
// differently from the next hop is refused, with its status.
func TestParseRequestRejects(t *testing.T) {
	for _, tt := range rejections {
		t.Run(tt.name, func(t *testing.T) {
			r, err := parseRaw(tt.raw, 1<<10)
			if err == nil {
				t.Fatalf("parsed %q as %s %s (Host %q), want status %d", tt.raw, r.Method, r.URL, r.Host, tt.status)
			}
			if got := statusOf(err); got != tt.status {
				t.Errorf("status: got %d (%v), want %d", got, err, tt.status)
			}
		})
	}
}

// hostile are raw requests sent to a live server. A request with served
// false must never reach the handler, and neither may anything smuggled
// behind it.
var hostile = []struct {
	name   string
	raw    string
	status int
	served bool
}{
	{"CL and TE", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n", 400, false},
	{"TE and CL", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n5c\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n0\r\n\r\n", 400, false},
	{"chunked, identity", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", 400, false},
	{"space before colon in TE", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n", 400, false},
	{"tab after colon in TE", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\tchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 200, true},
	{"CL list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\nhello!", 400, false},
	{"duplicate differing CL", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400, false},
	{"CL plus", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello", 400, false},
	{"CL hex", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\nhello", 400, false},
	{"obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX-Folded: a\r\n Transfer-Encoding: chunked\r\n\r\n", 400, false},
	{"NUL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n", 400, false},
	{"CR in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\rTransfer-Encoding: chunked\r\n\r\n", 400, false},
	{"userinfo", "GET http://user:pw@host/ HTTP/1.1\r\nHost: host\r\n\r\n", 400, false},
	{"IPv6 zone", "GET http://[::1%25eth0]/ HTTP/1.1\r\nHost: x\r\n\r\n", 400, false},
	{"percent in authority", "GET http://ex%61mple.com/ HTTP/1.1\r\nHost: x\r\n\r\n", 400, false},
	{"non-ASCII authority", "GET http://exämple.com/ HTTP/1.1\r\nHost: x\r\n\r\n", 400, false},
	{"double space", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400, false},
	{"trailing word", "GET / HTTP/1.1 x\r\nHost: a\r\n\r\n", 400, false},
	{"tab separator", "GET /\tHTTP/1.1\r\nHost: a\r\n\r\n", 400, false},
	{"TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, false},
	{"unknown coding", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501, false},
	{"HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, false},
	{"missing Host", "GET / HTTP/1.1\r\n\r\n", 400, false},
	{"two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, false},
	{"bare LF", "GET / HTTP/1.1\nHost: a\n\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n", 400, false},
	{"LF inside a value", "POST / HTTP/1.1\r\nHost: a\r\nX: a\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, false},
	{"chunked twice", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, false},
	{"Transfer_Encoding", "POST / HTTP/1.1\r\nHost: a\r\nTransfer_Encoding: chunked\r\n\r\n0\r\n\r\n", 400, false},
	{"CONNECT with a body", "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\nContent-Length: 34\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n", 400, false},
	{"bad IDN", "GET http://xn--/ HTTP/1.1\r\nHost: a\r\n\r\n", 400, false},
	{"unsupported Expect", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 200-ok\r\n\r\nhello", 417, false},
}

// TestHostileRequests sends each hostile request on its own connection.
func TestHostileRequests(t *testing.T) {
	ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			t.Errorf("handler called for %s", r.URL)
		}
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("read body: %v", err)
		}
		io.WriteString(w, string(b))
	}, nil)
	for _, tt := range hostile {
		t.Run(tt.name, func(t *testing.T) {
			before := ts.calls.Load()
			c := ts.dial(t)
			c.send(tt.raw)
			resp, _ := c.get()
			if resp.StatusCode != tt.status {
				t.Errorf("status: got %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.served {
				return
			}
			if !resp.Close {
				t.Error("a refused request left the connection open")
			}
			c.expectClosed()
			if n := ts.calls.Load() - before; n != 0 {
				t.Errorf("handler called %d times, want 0", n)
			}
		})
	}
}

// TestParseChunkLine holds chunk-size lines to RFC 9112 §7.1.
func TestParseChunkLine(t *testing.T) {
	for _, tt := range []struct {
		line string
		size int64
		ok   bool
	}{
		{"5\r\n", 5, true},
		{"0\r\n", 0, true},
		{"000\r\n", 0, true},
		{"aBc\r\n", 0xabc, true},
		{"7fffffffffffffff\r\n", 1<<63 - 1, true},
		{"5;a\r\n", 5, true},
		{"5;a=b\r\n", 5, true},
		{"5 ; a = b ;c\r\n", 5, true},
		{"5\t;a\r\n", 5, true},
		{"5;a=\"x;y\\\"z\"\r\n", 5, true},
		{"5;a=\"\"\r\n", 5, true},

		{"5\n", 0, false},
		{"5\r\r\n", 0, false},
		{"\r\n", 0, false},
		{"0x5\r\n", 0, false},
		{"+5\r\n", 0, false},
		{"-1\r\n", 0, false},
		{" 5\r\n", 0, false},
		{"5 \r\n", 0, false},
		{"5 ;\r\n", 0, false},
		{"5;\r\n", 0, false},
		{"5;=b\r\n", 0, false},
		{"5;a=\r\n", 0, false},
		{"5;a=b c\r\n", 0, false},
		{"5;a=\"x\r\n", 0, false},
		{"5;a=\"x\x00\"\r\n", 0, false},
		{"5;a\rb\r\n", 0, false},
		{"5a;\r\n", 0, false},
		{"8000000000000000\r\n", 0, false},
		{"ffffffffffffffff\r\n", 0, false},
		{"10000000000000005\r\n", 0, false},
		{"zz\r\n", 0, false},
	} {
		size, ok := parseChunkLine([]byte(tt.line))
		if ok != tt.ok || size != tt.size {
			t.Errorf("parseChunkLine(%q): got %d, %v; want %d, %v", tt.line, size, ok, tt.size, tt.ok)
		}
	}
}

// TestCheckChunks checks the body bytes that came with a head: as far as
// they go, and no further.
func TestCheckChunks(t *testing.T) {
	for _, tt := range []struct {
		name string
		body string
		ok   bool
	}{
		{"empty", "", true},
		{"whole", "5\r\nhello\r\n0\r\n\r\n", true},
		{"whole with trailer", "5\r\nhello\r\n0\r\nX-Sum: 1\r\n\r\n", true},
		{"next request after it", "0\r\n\r\nGET / HTTP/1.1\r\n\r\n", true},
		{"size line incomplete", "5", true},
		{"data incomplete", "5\r\nhel", true},
		{"CR of data end only", "5\r\nhello\r", true},
		{"second size incomplete", "5\r\nhello\r\nz", true},
		{"huge chunk", "7fffffffffffffff\r\nabc", true},
		{"trailer incomplete", "0\r\nX-Sum: 1", true},

		{"bad size", "0x5\r\nhello\r\n0\r\n\r\n", false},
		{"second size bad", "5\r\nhello\r\nzz\r\n", false},
		{"data too long", "5\r\nhello!\r\n0\r\n\r\n", false},
		{"data without CRLF", "5\r\nhello0\r\n\r\n", false},
		{"data with bare LF", "5\r\nhello\n0\r\n\r\n", false},
		{"trailer bare LF", "0\r\nX: 1\n\r\n", false},
		{"trailer without colon", "0\r\nX\r\n\r\n", false},
		{"trailer fold", "0\r\nX: a\r\n b\r\n\r\n", false},
		{"trailer space before colon", "0\r\nX : a\r\n\r\n", false},
		{"trailer NUL", "0\r\nX: a\x00\r\n\r\n", false},
		{"blank line bare LF", "0\r\n\n", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := checkChunks([]byte(tt.body))
			if (err == nil) != tt.ok {
				t.Errorf("checkChunks(%q): got %v, want ok %v", tt.body, err, tt.ok)
			}
			if err != nil && statusOf(err) != 400 {
				t.Errorf("status: got %d, want 400", statusOf(err))
			}
		})
	}
}
