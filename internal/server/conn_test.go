package server

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// echo answers with the request's method, path and body.
func echo(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.Path, b)
}

func getReq(path string) string { return "GET " + path + " HTTP/1.1\r\nHost: a\r\n\r\n" }

// expectBody reads a response to a GET and checks its status and body.
func (c *client) expectBody(status int, body string) *http.Response {
	c.t.Helper()
	resp, got := c.get()
	if resp.StatusCode != status || got != body {
		c.t.Fatalf("got %d %q, want %d %q", resp.StatusCode, got, status, body)
	}
	return resp
}

func TestKeepAlive(t *testing.T) {
	ts := newTestServer(t, echo, nil)
	c := ts.dial(t)
	for i := range 50 {
		p := "/" + strconv.Itoa(i)
		c.send(getReq(p))
		resp := c.expectBody(200, "GET "+p+" ")
		if resp.Close {
			t.Fatalf("request %d: the server closed a keep-alive connection", i)
		}
	}
	if n := ts.OpenConns(); n != 1 {
		t.Errorf("OpenConns: got %d, want 1", n)
	}
}

func TestPipelining(t *testing.T) {
	ts := newTestServer(t, echo, nil)
	c := ts.dial(t)
	c.send(getReq("/1") + "POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nbody" + getReq("/3"))
	c.expectBody(200, "GET /1 ")
	c.expectBody(200, "POST /2 body")
	c.expectBody(200, "GET /3 ")
	if n := ts.calls.Load(); n != 3 {
		t.Errorf("handler calls: got %d, want 3", n)
	}
}

// TestIdleHotToCold: a connection idle past hotWait gives its read buffer
// back and waits without one; a request arriving then, or while it
// switches, is served all the same.
func TestIdleHotToCold(t *testing.T) {
	ts := newTestServer(t, echo, func(o *Options) { o.HeaderTimeout = time.Second })
	c := ts.dial(t)
	c.SetDeadline(time.Time{})
	step := func(name string, pause time.Duration, parts ...string) {
		t.Helper()
		time.Sleep(pause)
		c.SetDeadline(time.Now().Add(wait))
		for i, p := range parts {
			if i > 0 {
				time.Sleep(10 * time.Millisecond)
			}
			c.send(p)
		}
		c.expectBody(200, "GET /"+name+" ")
	}
	step("first", 0, getReq("/first"))
	for i := range 3 {
		step("cold"+strconv.Itoa(i), 3*hotWait, getReq("/cold"+strconv.Itoa(i)))
	}
	// Around the switch itself.
	for d := hotWait - 8*time.Millisecond; d <= hotWait+8*time.Millisecond; d += 2 * time.Millisecond {
		step("edge", d, getReq("/edge"))
	}
	// A head split across the switch.
	r := getReq("/split")
	step("split", hotWait-5*time.Millisecond, r[:7], r[7:])
	// Cold, then pipelined.
	step("p1", 3*hotWait, getReq("/p1")+getReq("/p2"))
	c.expectBody(200, "GET /p2 ")
}

func TestIdleTimeout(t *testing.T) {
	for _, idle := range []time.Duration{hotWait / 2, 4 * hotWait} {
		t.Run(idle.String(), func(t *testing.T) {
			ts := newTestServer(t, echo, func(o *Options) { o.IdleTimeout = idle })
			c := ts.dial(t)
			c.send(getReq("/"))
			c.expectBody(200, "GET / ")
			c.expectClosed()
			eventually(t, "connection forgotten", func() bool { return ts.OpenConns() == 0 })
		})
	}
}

// TestIdleWaitNotHeaderTimeout: the wait for a later request is bounded
// by IdleTimeout (here none), not HeaderTimeout.
func TestIdleWaitNotHeaderTimeout(t *testing.T) {
	// The first request must still begin within the header timeout, so it
	// is long enough for a loaded machine to get it there from the dial;
	// the idle gap is twice that.
	const headerTimeout = 8 * hotWait
	ts := newTestServer(t, echo, func(o *Options) { o.HeaderTimeout = headerTimeout })
	c := ts.dial(t)
	c.send(getReq("/1"))
	c.expectBody(200, "GET /1 ")
	time.Sleep(2 * headerTimeout)
	c.send(getReq("/2"))
	c.expectBody(200, "GET /2 ")
}

func TestHeaderTimeout(t *testing.T) {
	ts := newTestServer(t, echo, func(o *Options) { o.HeaderTimeout = 4 * hotWait })
	t.Run("silent new connection", func(t *testing.T) {
		c := ts.dial(t)
		c.expectClosed()
	})
	t.Run("empty line then silence", func(t *testing.T) {
		c := ts.dial(t)
		c.send("\r\n")
		c.expectClosed()
	})
	t.Run("partial head", func(t *testing.T) {
		c := ts.dial(t)
		c.send("GET / HTTP/1.1\r\nHost: a\r\n")
		resp, _ := c.get()
		if resp.StatusCode != http.StatusRequestTimeout {
			t.Errorf("status: got %d, want 408", resp.StatusCode)
		}
		c.expectClosed()
	})
	t.Run("slowloris", func(t *testing.T) {
		c := ts.dial(t)
		c.send("GET / HTTP/1.1\r\nHost: a\r\n")
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-time.After(hotWait / 2):
				}
				if _, err := fmt.Fprintf(c, "X-%d: %d\r\n", i, i); err != nil {
					return
				}
			}
		}()
		defer func() { close(stop); <-done }()
		resp, _ := c.get()
		if resp.StatusCode != http.StatusRequestTimeout {
			t.Errorf("status: got %d, want 408", resp.StatusCode)
		}
		c.rest()
	})
	if n := ts.calls.Load(); n != 0 {
		t.Errorf("handler calls: got %d, want 0", n)
	}
}

// TestNoHeaderTimeout: with HeaderTimeout zero a head may take its time;
// the short deadline of the hot idle wait must not leak into the read of
// the head.
func TestNoHeaderTimeout(t *testing.T) {
	ts := newTestServer(t, echo, func(o *Options) { o.HeaderTimeout = 0 })
	c := ts.dial(t)
	for i := range 2 {
		c.send("GET /slow HTTP/1.1\r\n")
		time.Sleep(3 * hotWait)
		c.send("Host: a\r\n\r\n")
		resp, body := c.get()
		if resp.StatusCode != 200 {
			t.Fatalf("request %d: got %d %q, want 200", i, resp.StatusCode, body)
		}
	}
}

func TestHeaderTooLarge(t *testing.T) {
	const limit = 1 << 10
	ts := newTestServer(t, echo, func(o *Options) { o.MaxHeaderBytes = limit })
	head := func(n int) string {
		s := "GET / HTTP/1.1\r\nHost: a\r\nX: \r\n\r\n"
		return strings.Replace(s, "X: ", "X: "+strings.Repeat("v", n-len(s)), 1)
	}
	t.Run("at the limit", func(t *testing.T) {
		c := ts.dial(t)
		c.send(head(limit))
		c.expectBody(200, "GET / ")
	})
	for _, n := range []int{limit + 1, 8 * limit} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			before := ts.calls.Load()
			c := ts.dial(t)
			c.send(head(n))
			resp, _ := c.get()
			if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
				t.Errorf("status: got %d, want 431", resp.StatusCode)
			}
			c.rest()
			if ts.calls.Load() != before {
				t.Error("handler called for an oversized head")
			}
		})
	}
}

func TestExpectContinue(t *testing.T) {
	ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/refuse":
			http.Error(w, "no", http.StatusForbidden)
		case "/late":
			w.WriteHeader(http.StatusAccepted)
			w.(http.Flusher).Flush()
			echo(w, r)
		default:
			echo(w, r)
		}
	}, nil)
	const head = "POST %s HTTP/1.%d\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"

	t.Run("handler reads", func(t *testing.T) {
		c := ts.dial(t)
		c.send(fmt.Sprintf(head, "/read", 1))
		if resp := c.response("POST", 1); resp.StatusCode != http.StatusContinue {
			t.Fatalf("status: got %d, want 100", resp.StatusCode)
		}
		c.send("hello")
		c.expectBody(200, "POST /read hello")
		c.send(getReq("/next"))
		c.expectBody(200, "GET /next ")
	})
	t.Run("handler does not read", func(t *testing.T) {
		c := ts.dial(t)
		c.send(fmt.Sprintf(head, "/refuse", 1))
		c.expectBody(http.StatusForbidden, "no\n")
		// A client that sends the body anyway keeps the connection.
		c.send("hello" + getReq("/next"))
		c.expectBody(200, "GET /next ")
	})
	t.Run("response started first", func(t *testing.T) {
		c := ts.dial(t)
		c.send(fmt.Sprintf(head, "/late", 1))
		resp := c.response("POST", 1)
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("status: got %d, want 202", resp.StatusCode)
		}
		c.send("hello")
		if b, err := io.ReadAll(resp.Body); err != nil || string(b) != "POST /late hello" {
			t.Errorf("body: got %q, %v", b, err)
		}
	})
	t.Run("HTTP/1.0", func(t *testing.T) {
		c := ts.dial(t)
		c.send(fmt.Sprintf(head, "/read", 0) + "hello")
		resp := c.response("POST", 0)
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(b) != "POST /read hello" {
			t.Errorf("got %d %q, want 200 without 100 first", resp.StatusCode, b)
		}
	})
	t.Run("other expectation", func(t *testing.T) {
		before := ts.calls.Load()
		c2 := ts.dial(t)
		c2.send("POST / HTTP/1.1\r\nHost: a\r\nExpect: foo\r\nContent-Length: 5\r\n\r\n")
		resp, _ := c2.get()
		if resp.StatusCode != http.StatusExpectationFailed || !resp.Close {
			t.Errorf("got %d (close %v), want 417 and close", resp.StatusCode, resp.Close)
		}
		c2.expectClosed()
		if got := ts.calls.Load() - before; got != 0 {
			t.Errorf("handler calls: got %d, want 0", got)
		}
	})
}

func TestUnreadBody(t *testing.T) {
	ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/half" {
			io.ReadFull(r.Body, make([]byte, 3))
		}
		io.WriteString(w, r.URL.Path)
	}, nil)
	chunked := func(n int) string {
		var b strings.Builder
		for n > 0 {
			k := min(n, 8<<10)
			fmt.Fprintf(&b, "%x\r\n%s\r\n", k, strings.Repeat("c", k))
			n -= k
		}
		b.WriteString("0\r\nX-T: 1\r\n\r\n")
		return b.String()
	}
	t.Run("small is discarded", func(t *testing.T) {
		c := ts.dial(t)
		c.send("POST /small HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n" + strings.Repeat("b", 1000) + getReq("/next"))
		c.expectBody(200, "/small")
		c.expectBody(200, "/next")
	})
	t.Run("half read", func(t *testing.T) {
		c := ts.dial(t)
		c.send("POST /half HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789" + getReq("/next"))
		c.expectBody(200, "/half")
		c.expectBody(200, "/next")
	})
	t.Run("small chunked is discarded", func(t *testing.T) {
		c := ts.dial(t)
		c.send("POST /chunked HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(20<<10) + getReq("/next"))
		c.expectBody(200, "/chunked")
		c.expectBody(200, "/next")
	})
	large := []struct{ name, head, body string }{
		{"large", "POST /large HTTP/1.1\r\nHost: a\r\nContent-Length: 1048576\r\n\r\n", strings.Repeat("b", 1<<20)},
		{"large chunked", "POST /large HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", chunked(1 << 20)},
	}
	for _, tt := range large {
		t.Run(tt.name+" closes", func(t *testing.T) {
			c := ts.dial(t)
			c.send(tt.head)
			go io.WriteString(c, tt.body+getReq("/next")) // fails once the server closes
			c.expectBody(200, "/large")
			// The server may reset the connection (unread data), but it
			// must not answer /next.
			if s := c.rest(); strings.Contains(s, "/next") {
				t.Errorf("after the response: got %q, want EOF", s)
			}
		})
	}
}

func TestChunkedRequestTrailers(t *testing.T) {
	ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		if _, ok := r.Trailer["X-Sum"]; !ok && r.Header.Get("Trailer") != "" {
			t.Errorf("declared trailer missing before the body is read: %q", r.Trailer)
		}
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "%s|%q|%q", b, r.Trailer.Values("X-Sum"), r.Trailer.Values("X-Extra"))
	}, nil)
	c := ts.dial(t)
	c.send("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n" +
		"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nx-sum: abc\r\nX-Extra:  e \r\n\r\n" + getReq("/next"))
	c.expectBody(200, `hello world|["abc"]|["e"]`)
	c.expectBody(200, `|[]|[]`)

	t.Run("malformed", func(t *testing.T) {
		for _, body := range []string{"zz\r\nhello\r\n0\r\n\r\n", "5\r\nhello\r\n0\r\nbad trailer\r\n\r\n", "5\r\nhello\r\n0\r\nX: a\x00\r\n\r\n"} {
			c := ts.dial(t)
			c.send("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + body + getReq("/next"))
			resp, _ := c.get()
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("body %q: got %d, want the handler's 400", body, resp.StatusCode)
			}
			c.expectClosed()
		}
	})
}

// TestBodyReadDeadline: the handler bounds a body read with
// http.ResponseController, also when an IdleTimeout bounds body reads.
func TestBodyReadDeadline(t *testing.T) {
	for _, idle := range []time.Duration{0, time.Minute} {
		t.Run("idle "+idle.String(), func(t *testing.T) {
			ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
				rc := http.NewResponseController(w)
				if err := rc.SetReadDeadline(time.Now().Add(hotWait)); err != nil {
					t.Errorf("SetReadDeadline: %v", err)
				}
				if err := rc.SetWriteDeadline(time.Now().Add(wait)); err != nil {
					t.Errorf("SetWriteDeadline: %v", err)
				}
				_, err := io.ReadAll(r.Body)
				if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
					t.Errorf("read body: got %v, want a timeout", err)
				}
				w.Header().Set("Connection", "close")
				w.WriteHeader(http.StatusRequestTimeout)
			}, func(o *Options) { o.IdleTimeout = idle })
			c := ts.dial(t)
			c.SetDeadline(time.Now().Add(wait)) // far past the handler's deadline of one hotWait
			c.send("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc")
			resp, _ := c.get()
			if resp.StatusCode != http.StatusRequestTimeout {
				t.Errorf("status: got %d, want 408", resp.StatusCode)
			}
			c.expectClosed()
		})
	}
}
