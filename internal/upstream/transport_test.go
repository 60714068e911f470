package upstream_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"sluice/internal/upstream"
)

func TestRoundTripGet(t *testing.T) {
	o := newOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Path", r.URL.RequestURI())
		w.Header().Set("X-Host", r.Host)
		w.Header().Set("X-Agent", r.Header.Get("User-Agent"))
		w.Header().Add("Set-Cookie", "a=1")
		w.Header().Add("Set-Cookie", "b=2")
		io.WriteString(w, "hello")
	}))
	tr := newTransport(t, nil)
	req, _ := http.NewRequest(http.MethodGet, o.URL+"/p/a%20th?q=1", nil)
	req.Host = "virtual.example"
	req.Header.Set("User-Agent", "sluice-test")
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != "hello" {
		t.Errorf("body: got %q, want %q", b, "hello")
	}
	if resp.StatusCode != 200 || resp.Status != "200 OK" || resp.Proto != "HTTP/1.1" {
		t.Errorf("status: got %d %q %q", resp.StatusCode, resp.Status, resp.Proto)
	}
	if resp.ContentLength != 5 {
		t.Errorf("ContentLength: got %d, want 5", resp.ContentLength)
	}
	if resp.Request != req {
		t.Errorf("Request not set")
	}
	for k, want := range map[string]string{"X-Path": "/p/a%20th?q=1", "X-Host": "virtual.example", "X-Agent": "sluice-test"} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s: got %q, want %q", k, got, want)
		}
	}
	if got, want := resp.Header["Set-Cookie"], []string{"a=1", "b=2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Set-Cookie: got %q, want %q", got, want)
	}
}

func TestRoundTripBadRequests(t *testing.T) {
	tr := newTransport(t, nil)
	tests := []struct {
		name string
		req  *http.Request
	}{
		{"no URL", &http.Request{Method: "GET"}},
		{"ftp scheme", mustRequest(t, "GET", "ftp://example.com/")},
		{"no host", &http.Request{Method: "GET", URL: mustRequest(t, "GET", "http:///x").URL}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := newRecordingBody("x")
			tt.req.Body = body
			if _, err := tr.RoundTrip(tt.req); err == nil {
				t.Fatal("got no error")
			}
			recv(t, body.closed, "request body to be closed")
		})
	}
}

func mustRequest(t testing.TB, method, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func TestChunkedResponseTrailers(t *testing.T) {
	o := newOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Sum")
		io.WriteString(w, "part one,")
		w.(http.Flusher).Flush()
		io.WriteString(w, "part two")
		w.Header().Set("X-Sum", "42")
		w.Header().Set(http.TrailerPrefix+"X-Late", "yes")
	}))
	tr := newTransport(t, nil)
	resp, body := get(t, tr, o.URL)
	if body != "part one,part two" {
		t.Errorf("body: got %q", body)
	}
	if resp.ContentLength != -1 || !reflect.DeepEqual(resp.TransferEncoding, []string{"chunked"}) {
		t.Errorf("framing: got ContentLength %d, TransferEncoding %q", resp.ContentLength, resp.TransferEncoding)
	}
	if _, ok := resp.Header["Transfer-Encoding"]; ok {
		t.Errorf("Transfer-Encoding left in Header")
	}
	want := http.Header{"X-Sum": {"42"}, "X-Late": {"yes"}}
	if !reflect.DeepEqual(resp.Trailer, want) {
		t.Errorf("Trailer: got %q, want %q", resp.Trailer, want)
	}
	if n := tr.IdleConns(); n != 1 {
		t.Errorf("IdleConns after chunked body: got %d, want 1", n)
	}
}

func TestRequestBodyStreaming(t *testing.T) {
	got := make(chan string, 4)
	o := newOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength != -1 || !reflect.DeepEqual(r.TransferEncoding, []string{"chunked"}) {
			t.Errorf("origin saw ContentLength %d, TransferEncoding %q", r.ContentLength, r.TransferEncoding)
		}
		if _, ok := r.Trailer["X-Sum"]; !ok {
			t.Errorf("Trailer not announced: %q", r.Trailer)
		}
		buf := make([]byte, 64)
		for {
			n, err := r.Body.Read(buf)
			if n > 0 {
				got <- string(buf[:n])
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Errorf("origin reading body: %v", err)
				return
			}
		}
		io.WriteString(w, "sum="+r.Trailer.Get("X-Sum"))
	}))
	tr := newTransport(t, nil)

	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPost, o.URL, pr)
	req.ContentLength = -1
	req.Trailer = http.Header{"X-Sum": nil}
	done := make(chan struct{})
	go func() {
		defer close(done)
		// The origin must see each piece before the next is written:
		// nothing may buffer the whole body.
		for _, piece := range []string{"first", "second"} {
			io.WriteString(pw, piece)
			select {
			case s := <-got:
				if s != piece {
					t.Errorf("origin got %q, want %q", s, piece)
				}
			case <-time.After(waitLimit):
				t.Errorf("origin did not get %q while the body was open", piece)
				pw.CloseWithError(errors.New("test timed out"))
				return
			}
		}
		req.Trailer.Set("X-Sum", "11")
		pw.Close()
	}()
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	<-done
	if string(b) != "sum=11" {
		t.Errorf("got %q, want %q", b, "sum=11")
	}
}

func TestRequestBodyContentLength(t *testing.T) {
	o := newOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("origin: %v", err)
		}
		fmt.Fprintf(w, "%s %d %q %q", r.Method, r.ContentLength, r.TransferEncoding, b)
	}))
	tr := newTransport(t, nil)
	tests := []struct {
		method string
		body   string
		want   string
	}{
		{"POST", "hello", `POST 5 [] "hello"`},
		{"PUT", strings.Repeat("x", 100<<10), fmt.Sprintf(`PUT %d [] %q`, 100<<10, strings.Repeat("x", 100<<10))},
		{"POST", "", `POST 0 [] ""`},
		{"GET", "", `GET 0 [] ""`},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %d", tt.method, len(tt.body)), func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, o.URL, strings.NewReader(tt.body))
			resp, err := tr.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != tt.want {
				t.Errorf("got %.80q, want %.80q", b, tt.want)
			}
		})
	}
}

func TestHeadKeepsContentLength(t *testing.T) {
	o := newOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1234")
		if r.Method != http.MethodHead {
			w.Write(make([]byte, 1234))
		}
	}))
	tr := newTransport(t, nil)
	resp, body := do(t, tr, http.MethodHead, o.URL)
	if resp.ContentLength != 1234 {
		t.Errorf("ContentLength: got %d, want 1234", resp.ContentLength)
	}
	if got := resp.Header.Get("Content-Length"); got != "1234" {
		t.Errorf("Content-Length header: got %q, want %q", got, "1234")
	}
	if body != "" {
		t.Errorf("HEAD body: got %d bytes", len(body))
	}
	if resp.Body != http.NoBody {
		t.Errorf("HEAD body: got %T, want http.NoBody", resp.Body)
	}
	if _, body := get(t, tr, o.URL); len(body) != 1234 {
		t.Errorf("GET after HEAD: got %d bytes", len(body))
	}
	if n := o.opened.Load(); n != 1 {
		t.Errorf("connections: got %d, want 1", n)
	}
}

func TestNoBodyStatusesReuse(t *testing.T) {
	o := newOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/204":
			w.WriteHeader(http.StatusNoContent)
		case "/304":
			w.Header().Set("Etag", `"v1"`)
			w.WriteHeader(http.StatusNotModified)
		default:
			io.WriteString(w, "full")
		}
	}))
	tr := newTransport(t, nil)
	for _, path := range []string{"/204", "/304", "/204", "/"} {
		resp, body := get(t, tr, o.URL+path)
		if path != "/" && (body != "" || resp.ContentLength != 0 || resp.Body != http.NoBody) {
			t.Errorf("%s: got body %q, ContentLength %d, %T", path, body, resp.ContentLength, resp.Body)
		}
		if path == "/" && body != "full" {
			t.Errorf("%s: got %q, want %q", path, body, "full")
		}
		if n := tr.IdleConns(); n != 1 {
			t.Errorf("%s: IdleConns got %d, want 1", path, n)
		}
	}
	if n := o.opened.Load(); n != 1 {
		t.Errorf("connections: got %d, want 1", n)
	}
}

func TestOriginClosesMidBody(t *testing.T) {
	o := cannedOrigin(t, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
	tr := newTransport(t, nil)
	resp, err := tr.RoundTrip(mustRequest(t, "GET", o.URL))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("ReadAll: got %v, want io.ErrUnexpectedEOF", err)
	}
	if string(b) != "0123456789" {
		t.Errorf("got %q before the error", b)
	}
	if n := tr.IdleConns(); n != 0 {
		t.Errorf("IdleConns after a short body: got %d, want 0", n)
	}
}

// TestResponseFraming sends canned responses through a real connection.
func TestResponseFraming(t *testing.T) {
	tests := []struct {
		name    string
		resp    string
		body    string // wanted body
		cl      int64  // wanted ContentLength
		trailer http.Header
		err     error // wanted from RoundTrip (errors.Is)
		bodyErr error // wanted from reading the body (errors.Is)
	}{
		{name: "content-length", resp: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcdef", body: "abc", cl: 3},
		{name: "content-length zero", resp: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", body: "", cl: 0},
		{name: "until close", resp: "HTTP/1.1 200 OK\r\n\r\nall of it", body: "all of it", cl: -1},
		{name: "HTTP/1.0 until close", resp: "HTTP/1.0 200 OK\r\n\r\nold", body: "old", cl: -1},
		{name: "chunked", resp: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\n\r\n", body: "abcde", cl: -1},
		{name: "chunked trailers", resp: "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n1\r\na\r\n0\r\nx-t: 1\r\nX-T: 2\r\n\r\n",
			body: "a", cl: -1, trailer: http.Header{"X-T": {"1", "2"}}},
		{name: "identical CLs", resp: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok", body: "ok", cl: 2},

		{name: "TE and CL", resp: "HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", err: upstream.ErrProtocol},
		{name: "differing CLs", resp: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok", err: upstream.ErrProtocol},
		{name: "negative CL", resp: "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nok", err: upstream.ErrProtocol},
		{name: "gzip TE", resp: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", err: upstream.ErrProtocol},
		{name: "two TE lines", resp: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", err: upstream.ErrProtocol},
		{name: "identity TE", resp: "HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\nok", err: upstream.ErrProtocol},
		{name: "obs-fold", resp: "HTTP/1.1 200 OK\r\nX-A: 1\r\n 2\r\nContent-Length: 0\r\n\r\n", err: upstream.ErrProtocol},
		{name: "space before colon", resp: "HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n", err: upstream.ErrProtocol},
		{name: "NUL in value", resp: "HTTP/1.1 200 OK\r\nX-A: \x00\r\nContent-Length: 0\r\n\r\n", err: upstream.ErrProtocol},
		{name: "garbage status", resp: "SSH-2.0-OpenSSH_9.6\r\n\r\n", err: upstream.ErrProtocol},
		{name: "head cut short", resp: "HTTP/1.1 200 OK\r\nContent-Le", err: upstream.ErrProtocol},
		{name: "empty line first", resp: "\r\nHTTP/1.1 200 OK\r\n\r\n", err: upstream.ErrProtocol},
		{name: "unrequested 101", resp: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n", err: upstream.ErrProtocol},
		{name: "too many 1xx", resp: strings.Repeat("HTTP/1.1 102 Processing\r\n\r\n", 20) + "HTTP/1.1 200 OK\r\n\r\n", err: upstream.ErrProtocol},
		{name: "huge header", resp: "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("a", 300<<10) + "\r\n\r\n", err: upstream.ErrProtocol},

		{name: "bad chunk size", resp: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", bodyErr: upstream.ErrProtocol},
		{name: "huge chunk size", resp: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nx", bodyErr: upstream.ErrProtocol},
		{name: "chunked cut short", resp: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", bodyErr: upstream.ErrProtocol},
		{name: "bad trailer", resp: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nbad trailer\r\n\r\n", bodyErr: upstream.ErrProtocol},
		{name: "short CL body", resp: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", bodyErr: io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := cannedOrigin(t, tt.resp)
			tr := newTransport(t, nil)
			ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "GET", o.URL, nil)
			resp, err := tr.RoundTrip(req)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("RoundTrip: got %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("RoundTrip: %v", err)
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if tt.bodyErr != nil {
				if !errors.Is(err, tt.bodyErr) {
					t.Fatalf("reading body: got %v, want %v", err, tt.bodyErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("reading body: %v", err)
			}
			if string(b) != tt.body {
				t.Errorf("body: got %q, want %q", b, tt.body)
			}
			if resp.ContentLength != tt.cl {
				t.Errorf("ContentLength: got %d, want %d", resp.ContentLength, tt.cl)
			}
			if cl := resp.Header["Content-Length"]; resp.TransferEncoding != nil && cl != nil {
				t.Errorf("Content-Length %q kept next to Transfer-Encoding", cl)
			}
			if !reflect.DeepEqual(resp.Trailer, tt.trailer) {
				t.Errorf("Trailer: got %q, want %q", resp.Trailer, tt.trailer)
			}
		})
	}
}

func TestUpgrade(t *testing.T) {
	o := newRawOrigin(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		if req.Header.Get("Upgrade") != "echo" {
			io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
			return
		}
		// "hi" right behind the header tests bytes already buffered.
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nhi")
		io.Copy(c, br)
	})
	tr := newTransport(t, nil)
	req := mustRequest(t, "GET", o.URL)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "echo")
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status: got %d, want 101", resp.StatusCode)
	}
	rwc, ok := resp.Body.(io.ReadWriteCloser)
	if !ok {
		t.Fatalf("Body is %T, not an io.ReadWriteCloser", resp.Body)
	}
	defer rwc.Close()
	buf := make([]byte, 2)
	if _, err := io.ReadFull(rwc, buf); err != nil || string(buf) != "hi" {
		t.Fatalf("first bytes: got %q, %v", buf, err)
	}
	for _, msg := range []string{"ping", "a longer message\n"} {
		if _, err := io.WriteString(rwc, msg); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, len(msg))
		if _, err := io.ReadFull(rwc, buf); err != nil || string(buf) != msg {
			t.Fatalf("echo: got %q, %v; want %q", buf, err, msg)
		}
	}
	// Half-close: the origin's copy ends, it closes, and we read EOF.
	cw, ok := rwc.(interface{ CloseWrite() error })
	if !ok {
		t.Fatalf("Body %T has no CloseWrite", rwc)
	}
	if err := cw.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		n, err := rwc.Read(buf)
		if n > 0 {
			err = fmt.Errorf("read %q after half-close", buf[:n])
		}
		done <- err
	}()
	if err := recv(t, done, "EOF after half-close"); err != io.EOF {
		t.Errorf("after CloseWrite: got %v, want io.EOF", err)
	}
	if n := tr.IdleConns(); n != 0 {
		t.Errorf("IdleConns after upgrade: got %d, want 0", n)
	}
}

func TestTLS(t *testing.T) {
	o := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "tls=%v proto=%s", r.TLS != nil, r.Proto)
	}))
	o.Config.ErrorLog = log.New(io.Discard, "", 0) // the untrusted case's handshake error
	o.StartTLS()
	t.Cleanup(o.Close)
	pool := x509.NewCertPool()
	pool.AddCert(o.Certificate())
	tr := newTransport(t, func(tr *upstream.Transport) {
		tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	})
	// httptest's certificate is for example.com and 127.0.0.1.
	for range 2 {
		if _, body := get(t, tr, o.URL); body != "tls=true proto=HTTP/1.1" {
			t.Errorf("got %q", body)
		}
	}
	if n := tr.IdleConns(); n != 1 {
		t.Errorf("IdleConns: got %d, want 1", n)
	}

	t.Run("untrusted", func(t *testing.T) {
		tr := newTransport(t, nil)
		_, err := tr.RoundTrip(mustRequest(t, "GET", o.URL))
		var terr *upstream.TLSError
		if !errors.As(err, &terr) {
			t.Fatalf("got %v, want a *TLSError", err)
		}
		if terr.Host != "127.0.0.1" {
			t.Errorf("TLSError.Host: got %q, want %q", terr.Host, "127.0.0.1")
		}
	})
}

func TestDialError(t *testing.T) {
	dialErr := errors.New("dial refused by policy")
	tr := newTransport(t, func(tr *upstream.Transport) {
		tr.DialContext = func(context.Context, string, string) (net.Conn, error) { return nil, dialErr }
	})
	body := newRecordingBody("x")
	req, _ := http.NewRequest("POST", "http://example.com/", body)
	if _, err := tr.RoundTrip(req); !errors.Is(err, dialErr) {
		t.Errorf("got %v, want %v", err, dialErr)
	}
	recv(t, body.closed, "request body to be closed")
}

func TestDialAddress(t *testing.T) {
	tests := []struct{ url, addr string }{
		{"http://example.com/", "example.com:80"},
		{"https://example.com/", "example.com:443"},
		{"http://example.com:8080/", "example.com:8080"},
		{"http://[::1]/", "[::1]:80"},
		{"https://[2001:db8::1]:8443/", "[2001:db8::1]:8443"},
	}
	for _, tt := range tests {
		var got string
		tr := newTransport(t, func(tr *upstream.Transport) {
			tr.DialContext = func(_ context.Context, _, addr string) (net.Conn, error) {
				got = addr
				return nil, errors.New("no")
			}
		})
		tr.RoundTrip(mustRequest(t, "GET", tt.url))
		if got != tt.addr {
			t.Errorf("%s: dialled %q, want %q", tt.url, got, tt.addr)
		}
	}
}
