package upstream

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseHead(t *testing.T) {
	get := &http.Request{Method: http.MethodGet}
	tests := []struct {
		name       string
		in         string
		code       int
		status     string
		proto      string
		minor      int
		close      bool
		header     http.Header // exact, when non-nil
		wantErrSub string      // when set, parsing must fail with ErrProtocol
	}{
		{
			name:   "canonical",
			in:     "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n",
			code:   200,
			status: "200 OK",
			proto:  "HTTP/1.1",
			minor:  1,
			header: http.Header{"Content-Type": {"text/plain"}, "Content-Length": {"5"}},
		},
		{
			name:   "lowercase names are canonicalised",
			in:     "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\nx-request-id: abc\r\netag: \"x\"\r\n\r\n",
			code:   200,
			status: "200 OK",
			proto:  "HTTP/1.1",
			minor:  1,
			header: http.Header{"Content-Type": {"text/html"}, "X-Request-Id": {"abc"}, "Etag": {`"x"`}},
		},
		{
			name:   "multiple values and mixed case of one name",
			in:     "HTTP/1.1 200 OK\r\nVary: Accept\r\nvary: Cookie\r\nVARY: Origin\r\n\r\n",
			code:   200,
			status: "200 OK",
			proto:  "HTTP/1.1",
			minor:  1,
			header: http.Header{"Vary": {"Accept", "Cookie", "Origin"}},
		},
		{
			name: "set-cookie three times in order",
			in: "HTTP/1.1 200 OK\r\nSet-Cookie: a=1; Path=/\r\nX-Other: y\r\n" +
				"Set-Cookie: b=2, c=3\r\nSet-Cookie: d=4\r\n\r\n",
			code:   200,
			status: "200 OK",
			proto:  "HTTP/1.1",
			minor:  1,
			header: http.Header{"Set-Cookie": {"a=1; Path=/", "b=2, c=3", "d=4"}, "X-Other": {"y"}},
		},
		{
			name:   "empty reason phrase without space",
			in:     "HTTP/1.1 200\r\n\r\n",
			code:   200,
			status: "200 OK",
			proto:  "HTTP/1.1",
			minor:  1,
			header: http.Header{},
		},
		{
			name:   "empty reason phrase with space",
			in:     "HTTP/1.1 404 \r\n\r\n",
			code:   404,
			status: "404 Not Found",
			proto:  "HTTP/1.1",
			minor:  1,
			header: http.Header{},
		},
		{
			name:   "unusual reason phrase kept",
			in:     "HTTP/1.1 418 Short and stout\r\n\r\n",
			code:   418,
			status: "418 Short and stout",
			proto:  "HTTP/1.1",
			minor:  1,
		},
		{
			name:   "unknown code accepted",
			in:     "HTTP/1.1 599 Whatever\r\n\r\n",
			code:   599,
			status: "599 Whatever",
			proto:  "HTTP/1.1",
			minor:  1,
		},
		{
			name:   "bare LF line endings",
			in:     "HTTP/1.1 200 OK\nA: b\n\n",
			code:   200,
			status: "200 OK",
			proto:  "HTTP/1.1",
			minor:  1,
			header: http.Header{"A": {"b"}},
		},
		{
			name:   "optional whitespace trimmed",
			in:     "HTTP/1.1 200 OK\r\nX-A:  \t spaced \t \r\nX-B:\r\n\r\n",
			code:   200,
			status: "200 OK",
			proto:  "HTTP/1.1",
			minor:  1,
			header: http.Header{"X-A": {"spaced"}, "X-B": {""}},
		},
		{
			name:   "HTTP/1.0 closes by default",
			in:     "HTTP/1.0 200 OK\r\n\r\n",
			code:   200,
			status: "200 OK",
			proto:  "HTTP/1.0",
			minor:  0,
			close:  true,
		},
		{
			name:   "HTTP/1.0 keep-alive",
			in:     "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n\r\n",
			code:   200,
			status: "200 OK",
			proto:  "HTTP/1.0",
			minor:  0,
		},
		{
			name:   "HTTP/1.1 connection close",
			in:     "HTTP/1.1 200 OK\r\nConnection: foo, close\r\n\r\n",
			code:   200,
			status: "200 OK",
			proto:  "HTTP/1.1",
			minor:  1,
			close:  true,
		},
		{
			name:   "multiple identical content-length",
			in:     "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
			code:   200,
			status: "200 OK",
			proto:  "HTTP/1.1",
			minor:  1,
			header: http.Header{"Content-Length": {"5", "5"}},
		},
		{
			name:   "1xx",
			in:     "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n",
			code:   103,
			status: "103 Early Hints",
			proto:  "HTTP/1.1",
			minor:  1,
		},

		{name: "empty", in: "\r\n", wantErrSub: "status line"},
		{name: "HTTP/2 version", in: "HTTP/2 200 OK\r\n\r\n", wantErrSub: "status line"},
		{name: "HTTP/1.x", in: "HTTP/1.x 200 OK\r\n\r\n", wantErrSub: "status line"},
		{name: "lowercase version", in: "http/1.1 200 OK\r\n\r\n", wantErrSub: "status line"},
		{name: "two-digit code", in: "HTTP/1.1 20 OK\r\n\r\n", wantErrSub: "status"},
		{name: "four-digit code", in: "HTTP/1.1 2000 OK\r\n\r\n", wantErrSub: "status line"},
		{name: "code below 100", in: "HTTP/1.1 099 Low\r\n\r\n", wantErrSub: "status line"},
		{name: "code above 599", in: "HTTP/1.1 600 High\r\n\r\n", wantErrSub: "status line"},
		{name: "code 999", in: "HTTP/1.1 999 x\r\n\r\n", wantErrSub: "status line"},
		{name: "two-digit code with reason", in: "HTTP/1.1 99 x\r\n\r\n", wantErrSub: "status"},
		{name: "ICY", in: "ICY 200 OK\r\n\r\n", wantErrSub: "status line"},
		{name: "HTTP/2 short", in: "HTTP/2 200\r\n\r\n", wantErrSub: "status line"},
		{name: "reason glued to code", in: "HTTP/1.1 200OK\r\n\r\n", wantErrSub: "status line"},
		{name: "NUL in status line", in: "HTTP/1.1 200 O\x00K\r\n\r\n", wantErrSub: "control character"},
		{name: "non-digit code", in: "HTTP/1.1 2x0 OK\r\n\r\n", wantErrSub: "status code"},
		{name: "double space", in: "HTTP/1.1  200 OK\r\n\r\n", wantErrSub: "status"},
		{name: "tab separator", in: "HTTP/1.1\t200 OK\r\n\r\n", wantErrSub: "status line"},
		{name: "control char in reason", in: "HTTP/1.1 200 O\x01K\r\n\r\n", wantErrSub: "control character"},
		{name: "CR in reason", in: "HTTP/1.1 200 O\rK\r\n\r\n", wantErrSub: "control character"},
		{name: "space before colon", in: "HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\n", wantErrSub: "header name"},
		{name: "tab before colon", in: "HTTP/1.1 200 OK\r\nX-A\t: 5\r\n\r\n", wantErrSub: "header name"},
		{name: "space in name", in: "HTTP/1.1 200 OK\r\nX A: 5\r\n\r\n", wantErrSub: "header name"},
		{name: "NUL in name", in: "HTTP/1.1 200 OK\r\nX\x00A: 5\r\n\r\n", wantErrSub: "header name"},
		{name: "non-ASCII name", in: "HTTP/1.1 200 OK\r\nX-\xc3\xa9: 5\r\n\r\n", wantErrSub: "header name"},
		{name: "empty name", in: "HTTP/1.1 200 OK\r\n: 5\r\n\r\n", wantErrSub: "malformed header"},
		{name: "no colon", in: "HTTP/1.1 200 OK\r\nJustText\r\n\r\n", wantErrSub: "malformed header"},
		{name: "obs-fold space", in: "HTTP/1.1 200 OK\r\nX-A: one\r\n two\r\n\r\n", wantErrSub: "folding"},
		{name: "obs-fold tab", in: "HTTP/1.1 200 OK\r\nX-A: one\r\n\ttwo\r\n\r\n", wantErrSub: "folding"},
		{name: "leading whitespace on first field", in: "HTTP/1.1 200 OK\r\n X-A: one\r\n\r\n", wantErrSub: "folding"},
		{name: "NUL in value", in: "HTTP/1.1 200 OK\r\nX-A: a\x00b\r\n\r\n", wantErrSub: "control character"},
		{name: "bare CR in value", in: "HTTP/1.1 200 OK\r\nX-A: a\rb\r\n\r\n", wantErrSub: "control character"},
		{name: "DEL in value", in: "HTTP/1.1 200 OK\r\nX-A: a\x7fb\r\n\r\n", wantErrSub: "control character"},
		{name: "escape in value", in: "HTTP/1.1 200 OK\r\nX-A: \x1b[31m\r\n\r\n", wantErrSub: "control character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := parseHead(tt.in, get)
			if tt.wantErrSub != "" {
				if !errors.Is(err, ErrProtocol) {
					t.Fatalf("parseHead(%q): got err %v, want ErrProtocol", tt.in, err)
				}
				if !strings.Contains(err.Error(), tt.wantErrSub) {
					t.Errorf("error %q does not mention %q", err, tt.wantErrSub)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseHead(%q): %v", tt.in, err)
			}
			if resp.StatusCode != tt.code {
				t.Errorf("StatusCode: got %d, want %d", resp.StatusCode, tt.code)
			}
			if resp.Status != tt.status {
				t.Errorf("Status: got %q, want %q", resp.Status, tt.status)
			}
			if resp.Proto != tt.proto || resp.ProtoMajor != 1 || resp.ProtoMinor != tt.minor {
				t.Errorf("Proto: got %q %d.%d, want %q 1.%d", resp.Proto, resp.ProtoMajor, resp.ProtoMinor, tt.proto, tt.minor)
			}
			if resp.Close != tt.close {
				t.Errorf("Close: got %v, want %v", resp.Close, tt.close)
			}
			if resp.Request != get {
				t.Errorf("Request not set")
			}
			if tt.header != nil && !reflect.DeepEqual(resp.Header, tt.header) {
				t.Errorf("Header: got %q, want %q", resp.Header, tt.header)
			}
		})
	}
}

// TestParseHeadAppendDoesNotAlias checks that appending to one header's
// values cannot overwrite another's: they share one backing array.
func TestParseHeadAppendDoesNotAlias(t *testing.T) {
	resp, err := parseHead("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Header.Add("A", "x")
	resp.Header.Add("B", "y")
	want := http.Header{"A": {"1", "x"}, "B": {"2", "y"}, "C": {"3"}}
	if !reflect.DeepEqual(resp.Header, want) {
		t.Errorf("got %q, want %q", resp.Header, want)
	}
}

// TestParseHeadTruncated checks inputs that readHead never produces (no
// final blank line); parseHead must not panic on them.
func TestParseHeadTruncated(t *testing.T) {
	for _, in := range []string{
		"HTTP/1.1 200 OK",
		"HTTP/1.1 200 OK\r\nA: b",
		"HTTP/1.1 200 OK\r\nA: b\r\nC: d",
		"HTTP/1.1 200 OK\nA: b",
	} {
		t.Run(in, func(t *testing.T) {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("parseHead(%q) panicked: %v", in, r)
				}
			}()
			parseHead(in, nil)
		})
	}
}

func TestContentLength(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want int64 // -1: want ErrProtocol
	}{
		{"zero", []string{"0"}, 0},
		{"simple", []string{"1234"}, 1234},
		{"whitespace", []string{" \t42\t "}, 42},
		{"leading zeros", []string{"007"}, 7},
		{"repeated lines", []string{"5", "5", "5"}, 5},
		{"comma list", []string{"5, 5,5"}, 5},
		{"max 18 digits", []string{"999999999999999999"}, 999999999999999999},
		{"nil", nil, -1},
		{"empty", []string{""}, -1},
		{"only whitespace", []string{"  "}, -1},
		{"differing lines", []string{"5", "6"}, -1},
		{"differing list", []string{"5, 6"}, -1},
		{"empty list element", []string{"5,,5"}, -1},
		{"trailing comma", []string{"5,"}, 5},
		{"negative", []string{"-1"}, -1},
		{"plus sign", []string{"+5"}, -1},
		{"hex", []string{"0x10"}, -1},
		{"19 digits", []string{"1000000000000000000"}, -1},
		{"overflow", []string{"99999999999999999999999"}, -1},
		{"fraction", []string{"1.5"}, -1},
		{"inner space", []string{"1 2"}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := contentLength(tt.in)
			if tt.want < 0 {
				if !errors.Is(err, ErrProtocol) {
					t.Errorf("contentLength(%q): got %d, %v; want ErrProtocol", tt.in, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("contentLength(%q): got %d, %v; want %d", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestHasToken(t *testing.T) {
	tests := []struct {
		vals []string
		tok  string
		want bool
	}{
		{[]string{"close"}, "close", true},
		{[]string{"Keep-Alive, Upgrade"}, "upgrade", true},
		{[]string{"foo", " UPGRADE "}, "upgrade", true},
		{[]string{"closed"}, "close", false},
		{[]string{"x-close"}, "close", false},
		{nil, "close", false},
		{[]string{""}, "close", false},
	}
	for _, tt := range tests {
		if got := hasToken(tt.vals, tt.tok); got != tt.want {
			t.Errorf("hasToken(%q, %q): got %v, want %v", tt.vals, tt.tok, got, tt.want)
		}
	}
}

func TestWriteHead(t *testing.T) {
	mustURL := func(s string) *url.URL {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	tests := []struct {
		name    string
		req     *http.Request
		hasBody bool
		want    string
	}{
		{
			name: "simple GET",
			req: &http.Request{Method: "GET", URL: mustURL("http://example.com/a/b?x=1&y=2"),
				Header: http.Header{"Accept": {"*/*"}}},
			want: "GET /a/b?x=1&y=2 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n",
		},
		{
			name: "empty path becomes slash",
			req:  &http.Request{Method: "GET", URL: mustURL("http://example.com:8080"), Header: http.Header{}},
			want: "GET / HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",
		},
		{
			name: "req.Host overrides URL host",
			req:  &http.Request{Method: "GET", URL: mustURL("http://10.0.0.1/"), Host: "virtual.example"},
			want: "GET / HTTP/1.1\r\nHost: virtual.example\r\n\r\n",
		},
		{
			name: "escaped path and forced query",
			req:  &http.Request{Method: "GET", URL: mustURL("http://example.com/a%20b/c%2Fd?")},
			want: "GET /a%20b/c%2Fd? HTTP/1.1\r\nHost: example.com\r\n\r\n",
		},
		{
			name: "OPTIONS asterisk-form",
			req:  &http.Request{Method: "OPTIONS", URL: mustURL("http://example.com")},
			want: "OPTIONS * HTTP/1.1\r\nHost: example.com\r\n\r\n",
		},
		{
			name: "OPTIONS with path",
			req:  &http.Request{Method: "OPTIONS", URL: mustURL("http://example.com/x")},
			want: "OPTIONS /x HTTP/1.1\r\nHost: example.com\r\n\r\n",
		},
		{
			name: "OPTIONS with query is not asterisk",
			req:  &http.Request{Method: "OPTIONS", URL: mustURL("http://example.com?q")},
			want: "OPTIONS /?q HTTP/1.1\r\nHost: example.com\r\n\r\n",
		},
		{
			name: "framing and host headers from the map are dropped",
			req: &http.Request{Method: "GET", URL: mustURL("http://example.com/"), Header: http.Header{
				"Host":              {"evil.example"},
				"Content-Length":    {"99"},
				"Transfer-Encoding": {"chunked"},
				"Trailer":           {"X-T"},
			}},
			want: "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
		},
		{
			name: "POST without body gets Content-Length 0",
			req:  &http.Request{Method: "POST", URL: mustURL("http://example.com/p")},
			want: "POST /p HTTP/1.1\r\nHost: example.com\r\nContent-Length: 0\r\n\r\n",
		},
		{
			name: "PATCH without body gets Content-Length 0",
			req:  &http.Request{Method: "PATCH", URL: mustURL("http://example.com/p")},
			want: "PATCH /p HTTP/1.1\r\nHost: example.com\r\nContent-Length: 0\r\n\r\n",
		},
		{
			name: "DELETE without body has no framing",
			req:  &http.Request{Method: "DELETE", URL: mustURL("http://example.com/p")},
			want: "DELETE /p HTTP/1.1\r\nHost: example.com\r\n\r\n",
		},
		{
			name:    "PUT with known length",
			req:     &http.Request{Method: "PUT", URL: mustURL("http://example.com/p"), ContentLength: 12345},
			hasBody: true,
			want:    "PUT /p HTTP/1.1\r\nHost: example.com\r\nContent-Length: 12345\r\n\r\n",
		},
		{
			name:    "POST with unknown length is chunked",
			req:     &http.Request{Method: "POST", URL: mustURL("http://example.com/p"), ContentLength: -1},
			hasBody: true,
			want:    "POST /p HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n",
		},
		{
			name: "chunked with a trailer announced",
			req: &http.Request{Method: "POST", URL: mustURL("http://example.com/p"), ContentLength: -1,
				Trailer: http.Header{"X-Checksum": nil}},
			hasBody: true,
			want:    "POST /p HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n",
		},
		{
			name: "forbidden trailers not announced",
			req: &http.Request{Method: "POST", URL: mustURL("http://example.com/p"), ContentLength: -1,
				Trailer: http.Header{"Content-Length": nil, "Proxy-Authorization": nil, "Host": nil}},
			hasBody: true,
			want:    "POST /p HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n",
		},
		{
			name: "repeated values each on a line",
			req: &http.Request{Method: "GET", URL: mustURL("http://example.com/"),
				Header: http.Header{"Cookie": {"a=1", "b=2"}}},
			want: "GET / HTTP/1.1\r\nHost: example.com\r\nCookie: a=1\r\nCookie: b=2\r\n\r\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			bw := bufio.NewWriter(&buf)
			if err := writeHead(bw, tt.req, tt.hasBody); err != nil {
				t.Fatal(err)
			}
			bw.Flush()
			if got := buf.String(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestWriteHeadManyHeaders compares sorted lines, since map order varies.
func TestWriteHeadManyHeaders(t *testing.T) {
	u, _ := url.Parse("http://example.com/")
	req := &http.Request{Method: "GET", URL: u, Header: http.Header{
		"Accept":     {"text/html"},
		"User-Agent": {"t"},
		"X-B":        {"2"},
		"X-A":        {"1"},
	}}
	var buf bytes.Buffer
	bw := bufio.NewWriter(&buf)
	if err := writeHead(bw, req, false); err != nil {
		t.Fatal(err)
	}
	bw.Flush()
	got := buf.String()
	first, rest, _ := strings.Cut(got, "\r\n")
	if first != "GET / HTTP/1.1" {
		t.Errorf("request line: got %q", first)
	}
	if !strings.HasSuffix(rest, "\r\n\r\n") {
		t.Fatalf("head does not end in a blank line: %q", got)
	}
	lines := strings.Split(strings.TrimSuffix(rest, "\r\n\r\n"), "\r\n")
	sort.Strings(lines)
	want := []string{"Accept: text/html", "Host: example.com", "User-Agent: t", "X-A: 1", "X-B: 2"}
	if !reflect.DeepEqual(lines, want) {
		t.Errorf("got %q, want %q", lines, want)
	}
}

func TestWriteHeadRejectsInjection(t *testing.T) {
	u, _ := url.Parse("http://example.com/")
	tests := []struct {
		name string
		req  *http.Request
	}{
		{"CRLF in value", &http.Request{Method: "GET", URL: u, Header: http.Header{"X-A": {"a\r\nEvil: 1"}}}},
		{"LF in value", &http.Request{Method: "GET", URL: u, Header: http.Header{"X-A": {"a\nEvil: 1"}}}},
		{"NUL in value", &http.Request{Method: "GET", URL: u, Header: http.Header{"X-A": {"a\x00"}}}},
		{"CRLF in host", &http.Request{Method: "GET", URL: u, Host: "a\r\nEvil: 1"}},
		// net/http.Transport rejects these too (httpguts.ValidHeaderFieldName).
		{"CRLF in name", &http.Request{Method: "GET", URL: u, Header: http.Header{"X-A\r\nEvil": {"1"}}}},
		{"space in name", &http.Request{Method: "GET", URL: u, Header: http.Header{"X A": {"1"}}}},
		{"colon in name", &http.Request{Method: "GET", URL: u, Header: http.Header{"X-A: 1\r\nEvil": {"1"}}}},
		{"empty name", &http.Request{Method: "GET", URL: u, Header: http.Header{"": {"1"}}}},
		{"CRLF in trailer name", &http.Request{Method: "POST", URL: u, ContentLength: -1,
			Trailer: http.Header{"X-T\r\nEvil: 1\r\nX-U": nil}, Body: io.NopCloser(strings.NewReader("x"))}},
		{"CRLF in method", &http.Request{Method: "GET / HTTP/1.1\r\nEvil: 1\r\n", URL: u}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			bw := bufio.NewWriter(&buf)
			if err := writeHead(bw, tt.req, tt.req.Body != nil); err == nil {
				bw.Flush()
				t.Errorf("writeHead accepted %s: wrote %q", tt.name, buf.String())
			}
		})
	}
}

func TestWriteBody(t *testing.T) {
	u, _ := url.Parse("http://example.com/")
	tests := []struct {
		name    string
		cl      int64
		body    string
		trailer http.Header
		want    string
		wantErr bool
	}{
		{name: "fixed length", cl: 5, body: "hello", want: "hello"},
		{name: "chunked", cl: -1, body: "hello", want: "5\r\nhello\r\n0\r\n\r\n"},
		{name: "chunked empty", cl: -1, body: "", want: "0\r\n\r\n"},
		{name: "chunked trailer", cl: -1, body: "ab", trailer: http.Header{"X-Sum": {"7"}},
			want: "2\r\nab\r\n0\r\nX-Sum: 7\r\n\r\n"},
		{name: "longer than declared", cl: 3, body: "hello", wantErr: true},
		{name: "shorter than declared", cl: 9, body: "hello", wantErr: true},
		{name: "bad trailer value", cl: -1, body: "a", trailer: http.Header{"X-Sum": {"a\r\nb"}}, wantErr: true},
		{name: "framing and credentials not passed on in trailers", cl: -1, body: "a",
			trailer: http.Header{"Content-Length": {"5"}, "Transfer-Encoding": {"chunked"}, "Host": {"evil.test"},
				"Proxy-Authorization": {"Basic dTpw"}, "Trailer": {"X"}, "Connection": {"close"}},
			want: "1\r\na\r\n0\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := &http.Request{Method: "POST", URL: u, ContentLength: tt.cl,
				Body: io.NopCloser(strings.NewReader(tt.body)), Trailer: tt.trailer}
			var buf bytes.Buffer
			err := writeBody(bufio.NewWriter(&buf), req)
			if tt.wantErr {
				if err == nil {
					t.Errorf("got no error, wrote %q", buf.String())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := buf.String(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestBytesPastAResponseNotReused: what an origin sends past the end of a
// response, at once or a little later, is never read as the response to
// the next request; the connection is closed instead of reused.
func TestBytesPastAResponseNotReused(t *testing.T) {
	const smuggled = "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled"
	for _, tt := range []struct {
		name  string
		first string
		later bool // the extra response comes once the first was read
	}{
		{"after a Content-Length body", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" + smuggled, false},
		{"after the last chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + smuggled, false},
		{"after a 204", "HTTP/1.1 204 No Content\r\n\r\n" + smuggled, false},
		{"later", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			defer wg.Wait()
			defer ln.Close()
			// For "later": the client has read the first response, and
			// the origin has then written the extra bytes.
			firstRead, lateSent := make(chan struct{}), make(chan struct{}, 1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					wg.Add(1)
					go func() {
						defer wg.Done()
						defer c.Close()
						c.SetDeadline(time.Now().Add(5 * time.Second))
						br := bufio.NewReader(c)
						for {
							r, err := http.ReadRequest(br)
							if err != nil {
								return
							}
							if r.URL.Path == "/second" {
								io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond")
								continue
							}
							io.WriteString(c, tt.first)
							if tt.later {
								select {
								case <-firstRead:
								case <-time.After(5 * time.Second):
									return
								}
								io.WriteString(c, smuggled)
								lateSent <- struct{}{}
							}
						}
					}()
				}
			}()
			tr := &Transport{DialContext: (&net.Dialer{}).DialContext}
			defer tr.CloseIdleConnections()
			for i, path := range []string{"/first", "/second"} {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+ln.Addr().String()+path, nil)
				resp, err := tr.RoundTrip(req)
				if err != nil {
					t.Fatalf("%s: %v", path, err)
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					t.Fatalf("%s: %v", path, err)
				}
				if i == 1 && string(b) != "second" {
					t.Errorf("%s: got %q, want %q", path, b, "second")
				}
				if tt.later && i == 0 {
					// The late bytes arrive after the first response was
					// read and before the next request (on loopback they
					// are there once written).
					close(firstRead)
					select {
					case <-lateSent:
					case <-time.After(5 * time.Second):
						t.Fatal("the origin did not send the late bytes")
					}
				}
			}
		})
	}
}
