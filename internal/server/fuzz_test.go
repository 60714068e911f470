package server

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"sluice/internal/wire"
)

// FuzzParseRequest feeds arbitrary heads to parseRequest. Seeds are in
// testdata/fuzz/FuzzParseRequest (the valid, rejected and hostile heads
// of request_test.go).
func FuzzParseRequest(f *testing.F) {
	f.Fuzz(func(t *testing.T, head string) {
		r, err := parseRequest(head)
		if err != nil {
			if r != nil {
				t.Errorf("got a request and error %v", err)
			}
			switch st := statusOf(err); st {
			case 400, 501, 505:
			default:
				t.Errorf("error %v: status %d, want 400, 501 or 505", err, st)
			}
			return
		}
		if !wire.IsToken(r.Method) {
			t.Errorf("Method %q is not a token", r.Method)
		}
		if r.Proto != "HTTP/1.1" && r.Proto != "HTTP/1.0" {
			t.Errorf("Proto %q", r.Proto)
		}
		if r.URL == nil {
			t.Fatal("URL is nil")
		}
		if hasCTL(r.Host) || strings.ContainsAny(r.Host, " @%/") || !validHost(r.Host) {
			t.Errorf("Host %q", r.Host)
		}
		if r.URL.User != nil || r.URL.Fragment != "" {
			t.Errorf("URL %q has userinfo or a fragment", r.URL)
		}
		if !crlfOnly(head) {
			t.Errorf("accepted a head with a bare LF: %q", head)
		}
		if r.Method == http.MethodConnect && (r.ContentLength != 0 || r.TransferEncoding != nil) {
			t.Errorf("CONNECT with a body: ContentLength %d, TransferEncoding %q", r.ContentLength, r.TransferEncoding)
		}
		if r.ContentLength < -1 {
			t.Errorf("ContentLength %d", r.ContentLength)
		}
		if r.TransferEncoding != nil {
			if r.ContentLength != -1 {
				t.Errorf("TransferEncoding %q with ContentLength %d", r.TransferEncoding, r.ContentLength)
			}
			if _, ok := r.Header["Content-Length"]; ok {
				t.Errorf("TransferEncoding %q with a Content-Length header", r.TransferEncoding)
			}
		}
		for _, name := range []string{"Host", "Transfer-Encoding"} {
			if v, ok := r.Header[name]; ok {
				t.Errorf("%s header left in r.Header: %q", name, v)
			}
		}
		for name, vals := range r.Header {
			if canonical, ok := wire.CheckName(name); !ok || !canonical {
				t.Errorf("header name %q (canonical %v, valid %v)", name, canonical, ok)
			}
			for _, v := range vals {
				if hasCTL(v) {
					t.Errorf("control character in %s value %q", name, v)
				}
			}
		}
	})
}

// crlfOnly reports whether every line of the head in s, up to its blank
// line, ends in CRLF.
func crlfOnly(s string) bool {
	for {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			return true
		}
		if i == 0 || s[i-1] != '\r' {
			return false
		}
		if i == 1 {
			return true // the blank line
		}
		s = s[i+1:]
	}
}

// hasCTL reports whether s holds a control character other than tab.
func hasCTL(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return true
		}
	}
	return false
}

var statusLine = regexp.MustCompile(`^HTTP/1\.1 [1-9][0-9][0-9] `)

// FuzzServeConn writes arbitrary bytes to a live server and half-closes:
// the server must not panic or hang, must answer only with well-formed
// status lines, and must go on serving. Seeds are in
// testdata/fuzz/FuzzServeConn.
func FuzzServeConn(f *testing.F) {
	ts := newTestServer(f, func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		switch r.URL.Path {
		case "/flush":
			w.(http.Flusher).Flush()
		case "/103":
			w.WriteHeader(http.StatusEarlyHints)
		}
		fmt.Fprintf(w, "%s %d", r.Method, n)
	}, func(o *Options) { o.MaxHeaderBytes = 8 << 10 })
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := net.DialTimeout("tcp", ts.addr, wait)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(wait))
		if _, err := c.Write(data); err != nil && isTimeout(err) {
			t.Fatal("the server stopped reading without closing")
		}
		c.(*net.TCPConn).CloseWrite()
		out, err := io.ReadAll(io.LimitReader(c, 4<<20))
		if isTimeout(err) {
			t.Fatalf("no EOF within %v after the client's FIN; got %q", wait, out)
		}
		if len(out) > 0 && !statusLine.Match(out) {
			t.Errorf("response does not start with a status line: %q", out[:min(len(out), 64)])
		}

		after := ts.dial(t)
		after.send(getReq("/"))
		after.expectBody(200, "GET 0")
	})
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// FuzzFastAbsoluteURL holds the absolute-form fast path to net/url: where
// it answers, its URL must be exactly the one url.ParseRequestURI gives.
func FuzzFastAbsoluteURL(f *testing.F) {
	for _, s := range []string{
		"http://example.com/", "http://example.com", "https://a.example:8443/x/y;p=1?q=2&r",
		"http://h/?", "http://h/a%20b", "http://h/a!b", "http://h:/x", "http://h:08/x",
		"HTTP://h/", "http://[::1]:80/", "http://h/p?q#f", "http://h?x=1", "http://h/@:$&+,;=~._-",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, target string) {
		i := strings.Index(target, "://")
		if i <= 0 {
			return
		}
		auth := target[i+3:]
		if j := strings.IndexAny(auth, "/?#"); j >= 0 {
			auth = auth[:j]
		}
		if auth == "" || !validAuthority(auth) {
			return
		}
		got, ok := fastAbsoluteURL(target, i, auth)
		if !ok {
			return
		}
		want, err := url.ParseRequestURI(target)
		if err != nil {
			t.Fatalf("fast path accepted %q, which net/url rejects: %v", target, err)
		}
		if *got != *want {
			t.Fatalf("fast path for %q:\n got %#v\nwant %#v", target, *got, *want)
		}
	})
}

// chunkLineRE is RFC 9112 §7.1's chunk-size line, written out as a
// regular expression over bytes (each byte one rune, so obs-text works).
var chunkLineRE = func() *regexp.Regexp {
	tchar := "[!#$%&'*+\\-.^_`|~0-9A-Za-z]"
	token := tchar + "+"
	bws := "[ \t]*"
	quoted := `"(?:[\t \x{21}\x{23}-\x{5b}\x{5d}-\x{7e}\x{80}-\x{ff}]|\\[\t \x{21}-\x{7e}\x{80}-\x{ff}])*"`
	ext := bws + ";" + bws + token + "(?:" + bws + "=" + bws + "(?:" + token + "|" + quoted + "))?"
	return regexp.MustCompile("^([0-9A-Fa-f]+)(?:" + ext + ")*\r\n$")
}()

// FuzzParseChunkLine holds parseChunkLine to the grammar, and checkChunks
// to not panicking on whatever follows.
func FuzzParseChunkLine(f *testing.F) {
	for _, s := range []string{
		"5\r\n", "5;a=b\r\n", "5 ; a = \"x\\\"y\" ;c\r\n", "0x5\r\n", "5 ;\r\n", "5 \r\n", "5\n",
		"7fffffffffffffff\r\n", "8000000000000000\r\n", "0000000000000000005\r\n", "5;a=\"\xff\"\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		checkChunks(line)
		size, ok := parseChunkLine(line)
		runes := make([]rune, len(line))
		for i, c := range line {
			runes[i] = rune(c)
		}
		m := chunkLineRE.FindStringSubmatch(string(runes))
		want := m != nil
		var wantSize int64
		if want {
			digits := strings.TrimLeft(m[1], "0")
			if len(digits) > 16 || len(digits) == 16 && digits[0] > '7' {
				want = false // does not fit an int64
			} else if digits != "" {
				n, err := strconv.ParseInt(digits, 16, 64)
				if err != nil {
					t.Fatal(err)
				}
				wantSize = n
			}
		}
		if ok != want || size != wantSize && ok {
			t.Errorf("parseChunkLine(%q): got %d, %v; the grammar says %d, %v", line, size, ok, wantSize, want)
		}
	})
}
