package server

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// framing serves the paths the framing tests ask for.
func framing(t *testing.T) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		switch r.URL.Path {
		case "/cl":
			h.Set("Content-Length", "5")
			io.WriteString(w, "hello")
		case "/chunked":
			io.WriteString(w, "hello")
			w.(http.Flusher).Flush()
			io.WriteString(w, " world")
		case "/empty":
		case "/flushed-empty":
			w.(http.Flusher).Flush()
		case "/204":
			w.WriteHeader(http.StatusNoContent)
			if _, err := io.WriteString(w, "x"); !errors.Is(err, http.ErrBodyNotAllowed) {
				t.Errorf("Write after 204: got %v, want ErrBodyNotAllowed", err)
			}
		case "/204-cl":
			h.Set("Content-Length", "3")
			w.WriteHeader(http.StatusNoContent)
		case "/304":
			h.Set("Content-Length", "10")
			h.Set("ETag", `"x"`)
			w.WriteHeader(http.StatusNotModified)
		case "/head":
			h.Set("Content-Length", "42")
			if n, err := io.WriteString(w, strings.Repeat("h", 42)); n != 42 || err != nil {
				t.Errorf("Write to HEAD: got %d, %v", n, err)
			}
		case "/head-nolen":
			io.WriteString(w, "abc")
		case "/close":
			h.Set("Connection", "close")
			io.WriteString(w, "bye")
		case "/short":
			h.Set("Content-Length", "10")
			io.WriteString(w, "hello")
		case "/long":
			h.Set("Content-Length", "3")
			if _, err := io.WriteString(w, "hello"); !errors.Is(err, http.ErrContentLength) {
				t.Errorf("Write past Content-Length: got %v, want ErrContentLength", err)
			}
		case "/status":
			w.WriteHeader(599)
			io.WriteString(w, "odd")
		case "/bad-cl":
			h.Set("Content-Length", "x")
			io.WriteString(w, "abc")
		default:
			http.NotFound(w, r)
		}
	}
}

func TestResponseFraming(t *testing.T) {
	ts := newTestServer(t, framing(t), nil)
	const none = -2 // no Content-Length header at all
	tests := []struct {
		name    string
		req     string
		status  int
		cl      int64 // the Content-Length header, or none
		chunked bool
		body    string
		close   bool
	}{
		{"content-length", "GET /cl HTTP/1.1\r\nHost: a\r\n\r\n", 200, 5, false, "hello", false},
		{"chunked", "GET /chunked HTTP/1.1\r\nHost: a\r\n\r\n", 200, none, true, "hello world", false},
		{"small body at end gets chunked", "GET /head-nolen HTTP/1.1\r\nHost: a\r\n\r\n", 200, none, true, "abc", false},
		{"empty", "GET /empty HTTP/1.1\r\nHost: a\r\n\r\n", 200, 0, false, "", false},
		{"flushed empty", "GET /flushed-empty HTTP/1.1\r\nHost: a\r\n\r\n", 200, none, true, "", false},
		{"204", "GET /204 HTTP/1.1\r\nHost: a\r\n\r\n", 204, none, false, "", false},
		{"204 drops Content-Length", "GET /204-cl HTTP/1.1\r\nHost: a\r\n\r\n", 204, none, false, "", false},
		{"304 keeps Content-Length", "GET /304 HTTP/1.1\r\nHost: a\r\n\r\n", 304, 10, false, "", false},
		{"HEAD keeps Content-Length", "HEAD /head HTTP/1.1\r\nHost: a\r\n\r\n", 200, 42, false, "", false},
		{"HEAD without length", "HEAD /head-nolen HTTP/1.1\r\nHost: a\r\n\r\n", 200, none, false, "", false},
		{"handler closes", "GET /close HTTP/1.1\r\nHost: a\r\n\r\n", 200, none, true, "bye", true},
		{"client closes", "GET /cl HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 200, 5, false, "hello", true},
		{"write past Content-Length", "GET /long HTTP/1.1\r\nHost: a\r\n\r\n", 200, 3, false, "hel", false},
		{"unknown status", "GET /status HTTP/1.1\r\nHost: a\r\n\r\n", 599, none, true, "odd", false},
		{"invalid Content-Length dropped", "GET /bad-cl HTTP/1.1\r\nHost: a\r\n\r\n", 200, none, true, "abc", false},
		{"HTTP/1.0 close-delimited", "GET /chunked HTTP/1.0\r\n\r\n", 200, none, false, "hello world", true},
		{"HTTP/1.0 keep-alive", "GET /cl HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 200, 5, false, "hello", false},
		{"HTTP/1.0 keep-alive, no length", "GET /chunked HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 200, none, false, "hello world", true},
		{"HTTP/1.0 keep-alive, empty", "GET /empty HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 200, 0, false, "", false},
		{"HTTP/1.0 default close", "GET /cl HTTP/1.0\r\n\r\n", 200, 5, false, "hello", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ts.dial(t)
			c.send(tt.req)
			method, _, _ := strings.Cut(tt.req, " ")
			minor := 1
			if strings.Contains(tt.req, "HTTP/1.0\r\n") {
				minor = 0
			}
			resp := c.response(method, minor)
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatalf("read body: %v", err)
			}
			if resp.StatusCode != tt.status {
				t.Errorf("status: got %d, want %d", resp.StatusCode, tt.status)
			}
			cl := int64(none)
			if v := resp.Header.Get("Content-Length"); v != "" {
				cl, _ = strconv.ParseInt(v, 10, 64)
			}
			if cl != tt.cl {
				t.Errorf("Content-Length: got %d, want %d (-2: none)", cl, tt.cl)
			}
			if chunked := len(resp.TransferEncoding) > 0; chunked != tt.chunked {
				t.Errorf("chunked: got %v, want %v", chunked, tt.chunked)
			}
			if string(b) != tt.body {
				t.Errorf("body: got %q, want %q", b, tt.body)
			}
			if _, err := time.Parse(http.TimeFormat, resp.Header.Get("Date")); err != nil {
				t.Errorf("Date: %v", err)
			}
			// resp.Close reads Connection: close, or its absence in
			// HTTP/1.0 without keep-alive.
			if resp.Close != tt.close {
				t.Errorf("close: got %v, want %v", resp.Close, tt.close)
			}
			if tt.close {
				c.expectClosed()
				return
			}
			// The framing was exact: the next response is read cleanly.
			c.send("GET /cl HTTP/1.1\r\nHost: a\r\n\r\n")
			c.expectBody(200, "hello")
		})
	}
}

// TestResponseIncomplete: a handler that writes less than its
// Content-Length leaves the client a truncated body and a closed
// connection, never a next response it could mistake for the rest.
func TestResponseIncomplete(t *testing.T) {
	ts := newTestServer(t, framing(t), nil)
	c := ts.dial(t)
	c.send("GET /short HTTP/1.1\r\nHost: a\r\n\r\n" + getReq("/cl"))
	resp := c.response("GET", 1)
	b, err := io.ReadAll(resp.Body)
	if !errors.Is(err, io.ErrUnexpectedEOF) || string(b) != "hello" {
		t.Errorf("body: got %q, %v; want \"hello\", unexpected EOF", b, err)
	}
}

func TestInterimResponses(t *testing.T) {
	ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</a.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Add("Link", "</b.js>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		w.Header().Set("X-Final", "1")
		io.WriteString(w, "done")
	}, nil)
	t.Run("HTTP/1.1", func(t *testing.T) {
		c := ts.dial(t)
		c.send(getReq("/"))
		for i, n := range []int{1, 2} {
			resp := c.response("GET", 1)
			if resp.StatusCode != http.StatusEarlyHints {
				t.Fatalf("response %d: got %d, want 103", i, resp.StatusCode)
			}
			if got := resp.Header.Values("Link"); len(got) != n {
				t.Errorf("response %d: Link got %q, want %d values", i, got, n)
			}
		}
		resp := c.expectBody(200, "done")
		if resp.Header.Get("Link") != "" || resp.Header.Get("X-Final") != "1" {
			t.Errorf("final header: got %q", resp.Header)
		}
		c.send(getReq("/"))
		if resp := c.response("GET", 1); resp.StatusCode != http.StatusEarlyHints {
			t.Errorf("next request: got %d, want 103", resp.StatusCode)
		}
	})
	t.Run("HTTP/1.0", func(t *testing.T) {
		c := ts.dial(t)
		c.send("GET / HTTP/1.0\r\n\r\n")
		resp := c.response("GET", 0)
		if resp.StatusCode != 200 {
			t.Errorf("status: got %d, want 200 (no 1xx to HTTP/1.0)", resp.StatusCode)
		}
	})
}

func TestResponseTrailers(t *testing.T) {
	ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Trailer", "X-Checksum, X-Count")
		if r.URL.Path == "/with-length" {
			h.Set("Content-Length", "5") // trailers need chunked
		}
		io.WriteString(w, "hello")
		w.(http.Flusher).Flush()
		h.Set("X-Checksum", "abc")
		h.Set(http.TrailerPrefix+"X-Late", "late")
		h.Set(http.TrailerPrefix+"Bad:Name", "x")
		h.Set(http.TrailerPrefix+"X-Bad-Value", "a\r\nInjected: 1")
	}, nil)
	for _, path := range []string{"/", "/with-length"} {
		t.Run(path, func(t *testing.T) {
			c := ts.dial(t)
			c.send(getReq(path))
			resp := c.expectBody(200, "hello")
			if len(resp.TransferEncoding) == 0 {
				t.Error("trailers sent without chunked framing")
			}
			want := http.Header{"X-Checksum": {"abc"}, "X-Count": nil, "X-Late": {"late"}}
			if !equalHeader(resp.Trailer, want) {
				t.Errorf("trailer: got %q, want %q", resp.Trailer, want)
			}
			c.send(getReq(path))
			c.expectBody(200, "hello")
		})
	}
}

// equalHeader compares headers, treating a nil value like a missing one.
func equalHeader(a, b http.Header) bool {
	for _, h := range []http.Header{a, b} {
		for k, v := range h {
			if len(v) == 0 {
				delete(h, k)
			}
		}
	}
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if strings.Join(v, "\x00") != strings.Join(b[k], "\x00") {
			return false
		}
	}
	return true
}

func TestHandlerAbort(t *testing.T) {
	ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/abort-length":
			w.Header().Set("Content-Length", "100")
			fallthrough
		case "/abort-chunked":
			io.WriteString(w, "0123456789")
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		case "/abort-unflushed":
			io.WriteString(w, "0123456789")
			panic(http.ErrAbortHandler)
		case "/panic":
			panic("boom")
		}
		io.WriteString(w, "ok")
	}, nil)
	for _, path := range []string{"/abort-length", "/abort-chunked"} {
		t.Run(path, func(t *testing.T) {
			c := ts.dial(t)
			c.send(getReq(path) + getReq("/next"))
			resp := c.response("GET", 1)
			b, err := io.ReadAll(resp.Body)
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("body: got %q, %v; want an unexpected EOF", b, err)
			}
			if string(b) != "0123456789" {
				t.Errorf("body: got %q, want the flushed part", b)
			}
		})
	}
	for _, path := range []string{"/abort-unflushed", "/panic"} {
		t.Run(path, func(t *testing.T) {
			c := ts.dial(t)
			c.send(getReq(path) + getReq("/next"))
			c.expectClosed()
		})
	}
	c := ts.dial(t)
	c.send(getReq("/next"))
	c.expectBody(200, "ok")
	log := ts.log.String()
	if strings.Count(log, "handler panic") != 1 || !strings.Contains(log, "boom") {
		t.Errorf("log: got %q, want one handler panic (boom), none for ErrAbortHandler", log)
	}
}

func TestHijack(t *testing.T) {
	ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		nc, rw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Errorf("Hijack: %v", err)
			return
		}
		defer nc.Close()
		if _, _, err := w.(http.Hijacker).Hijack(); !errors.Is(err, http.ErrHijacked) {
			t.Errorf("second Hijack: got %v, want ErrHijacked", err)
		}
		if _, err := io.WriteString(w, "x"); !errors.Is(err, http.ErrHijacked) {
			t.Errorf("Write after Hijack: got %v, want ErrHijacked", err)
		}
		nc.SetDeadline(time.Now().Add(wait))
		buf := make([]byte, len("EXTRA")+len("LATER"))
		if _, err := io.ReadFull(rw, buf); err != nil {
			t.Errorf("read hijacked: %v", err)
		}
		rw.WriteString("got " + string(buf))
		rw.Flush()
	}, nil)
	c := ts.dial(t)
	c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\nEXTRA")
	eventually(t, "hijacked connection uncounted", func() bool { return ts.OpenConns() == 0 })
	c.send("LATER")
	if got := c.rest(); got != "got EXTRALATER" {
		t.Errorf("got %q, want %q", got, "got EXTRALATER")
	}
}

// TestReadFrom: a Content-Length response copied from a TCP connection
// goes through the client connection's ReadFrom (splice); other
// responses are copied the ordinary way. Either way the framing holds.
func TestReadFrom(t *testing.T) {
	data := strings.Repeat("0123456789abcdef", 16<<10)
	origin, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { origin.Close() })
	go func() {
		for {
			c, err := origin.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.WriteString(c, data)
			}()
		}
	}()
	ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		var src io.Reader
		switch r.URL.Path {
		case "/tcp", "/tcp-chunked":
			oc, err := net.Dial("tcp", origin.Addr().String())
			if err != nil {
				t.Error(err)
				return
			}
			defer oc.Close()
			src = &io.LimitedReader{R: oc, N: int64(len(data))}
		default:
			src = strings.NewReader(data)
		}
		if r.URL.Path != "/tcp-chunked" && r.URL.Path != "/chunked" {
			w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		}
		n, err := w.(io.ReaderFrom).ReadFrom(src)
		if n != int64(len(data)) || err != nil {
			t.Errorf("ReadFrom: got %d, %v; want %d, nil", n, err, len(data))
		}
	}, nil)
	c := ts.dial(t)
	for _, path := range []string{"/tcp", "/tcp-chunked", "/reader", "/chunked"} {
		c.send(getReq(path))
		resp, body := c.get()
		if body != data {
			t.Errorf("%s: got %d bytes, want %d", path, len(body), len(data))
		}
		if chunked := len(resp.TransferEncoding) > 0; chunked != strings.HasSuffix(path, "chunked") {
			t.Errorf("%s: chunked %v", path, chunked)
		}
	}
}

// TestReadFromPastContentLength: ReadFrom, like Write, must not send more
// than the Content-Length the handler declared; bytes past it would be
// read by the client as the start of the next response.
func TestReadFromPastContentLength(t *testing.T) {
	ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "5")
		w.(io.ReaderFrom).ReadFrom(strings.NewReader("helloHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nforged"))
	}, nil)
	c := ts.dial(t)
	c.send(getReq("/"))
	c.expectBody(200, "hello")
	// Had the excess been sent, the next response read here would be the
	// forged one.
	c.send(getReq("/"))
	c.expectBody(200, "hello")
}

// TestResponseHeaderInjection: a header value or name from the handler
// cannot add fields or end the head early (net/http's server replaces
// CR and LF in values and drops invalid names; this writer already does
// the like for trailers).
func TestResponseHeaderInjection(t *testing.T) {
	bad := map[string]http.Header{
		"crlf-value": {"X-Bad": {"a\r\nInjected: 1"}},
		"lf-value":   {"X-Bad": {"a\nInjected: 1"}},
		"crlf-name":  {"Bad\r\nInjected: 1\r\nX": {"v"}},
		"space-name": {"Injected: 1\r\nX": {"v"}},
	}
	ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		for k, v := range bad[r.URL.Query().Get("h")] {
			w.Header()[k] = v
		}
		if r.URL.Path == "/103" {
			w.WriteHeader(http.StatusEarlyHints)
		}
		io.WriteString(w, "body")
	}, nil)
	for name := range bad {
		for _, path := range []string{"/", "/103"} {
			t.Run(name+path, func(t *testing.T) {
				c := ts.dial(t)
				c.send(getReq(path + "?h=" + name))
				for {
					resp := c.response("GET", 1)
					for k := range resp.Header {
						if strings.HasPrefix(k, "Injected") {
							t.Errorf("%d response: injected header %q", resp.StatusCode, k)
						}
					}
					if resp.StatusCode >= 200 {
						b, err := io.ReadAll(resp.Body)
						if string(b) != "body" || err != nil {
							t.Errorf("body: got %q, %v", b, err)
						}
						break
					}
				}
			})
		}
	}
}
