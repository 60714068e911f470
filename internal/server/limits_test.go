package server

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"sluice/internal/limit"
)

// withLimits sets o.Limits to a limiter for lo that logs to the server's
// log.
func withLimits(lo limit.Options) func(*Options) {
	return func(o *Options) {
		lo.Logger = o.Logger
		o.Limits = limit.New(lo)
	}
}

// dialFrom connects to ts from the loopback address src (Linux answers on
// all of 127.0.0.0/8), so a test can be two clients.
func (ts *testServer) dialFrom(t testing.TB, src string) *client {
	t.Helper()
	d := net.Dialer{Timeout: wait, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	nc, err := d.Dial("tcp", ts.addr)
	if err != nil {
		t.Skipf("dial from %s: %v", src, err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(wait))
	return &client{t: t, Conn: nc, br: bufio.NewReader(nc)}
}

// expectTooMany reads a 429 and checks it closes the connection.
func (c *client) expectTooMany() *http.Response {
	c.t.Helper()
	resp, body := c.get()
	if resp.StatusCode != http.StatusTooManyRequests || !strings.HasPrefix(body, "429 Too Many Requests") {
		c.t.Fatalf("got %d %q, want 429", resp.StatusCode, body)
	}
	return resp
}

// TestConnCapPerClient: a client's connection past its cap gets 429 and
// is closed; once one of its connections closes, it may open another; a
// second client is not affected.
func TestConnCapPerClient(t *testing.T) {
	ts := newTestServer(t, echo, withLimits(limit.Options{MaxConnsPerClient: 2}))
	var held []*client
	for i := range 2 {
		c := ts.dial(t)
		c.send(getReq("/" + strconv.Itoa(i)))
		c.expectBody(200, "GET /"+strconv.Itoa(i)+" ")
		held = append(held, c)
	}
	over := ts.dial(t)
	over.send(getReq("/over"))
	if resp := over.expectTooMany(); !resp.Close {
		t.Error("the 429 did not close the connection")
	}
	over.expectClosed()
	if n := ts.calls.Load(); n != 2 {
		t.Errorf("handler calls: got %d, want 2", n)
	}

	other := ts.dialFrom(t, "127.0.0.2")
	other.send(getReq("/other"))
	other.expectBody(200, "GET /other ")

	held[0].Close()
	eventually(t, "the closed connection forgotten", func() bool { return ts.OpenConns() == 2 })
	again := ts.dial(t)
	again.send(getReq("/again"))
	again.expectBody(200, "GET /again ")
	if !strings.Contains(ts.log.String(), "cap of open connections") {
		t.Errorf("no warning about the client's cap in the log:\n%s", ts.log)
	}
}

// TestConnCapHijacked: a hijacked connection (a tunnel) keeps its place
// under the client's cap until the hijacker closes it, and gives it back
// then; the hijacker can still half-close it.
func TestConnCapHijacked(t *testing.T) {
	closed := make(chan struct{})
	h := func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/tunnel" {
			echo(w, r)
			return
		}
		nc, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		if _, ok := nc.(interface{ CloseWrite() error }); !ok {
			t.Errorf("the hijacked %T cannot half-close", nc)
		}
		io.WriteString(nc, "tunnel\n")
		nc.SetReadDeadline(time.Now().Add(wait))
		io.Copy(io.Discard, nc) // until the client closes
		nc.Close()
		nc.Close() // a second Close must not give a second place back
		close(closed)
	}
	ts := newTestServer(t, h, withLimits(limit.Options{MaxConnsPerClient: 1}))
	tunnel := ts.dial(t)
	tunnel.send("GET /tunnel HTTP/1.1\r\nHost: a\r\n\r\n")
	if line, err := tunnel.br.ReadString('\n'); line != "tunnel\n" {
		t.Fatalf("tunnel: got %q, %v, want %q", line, err, "tunnel\n")
	}
	if n := ts.OpenConns(); n != 0 {
		t.Errorf("OpenConns with the connection hijacked: got %d, want 0", n)
	}
	over := ts.dial(t)
	over.send(getReq("/over"))
	over.expectTooMany()

	tunnel.Close()
	select {
	case <-closed:
	case <-time.After(wait):
		t.Fatal("the hijacker did not see the client close")
	}
	c := ts.dial(t)
	c.send(getReq("/after"))
	c.expectBody(200, "GET /after ")
	// The double Close gave one place back, not two.
	c2 := ts.dial(t)
	c2.send(getReq("/second"))
	c2.expectTooMany()
}

// TestConnCapGlobal: past the global cap a connection is closed
// unanswered; the limiter logs one warning however many are refused.
func TestConnCapGlobal(t *testing.T) {
	ts := newTestServer(t, echo, withLimits(limit.Options{MaxConns: 1}))
	first := ts.dial(t)
	first.send(getReq("/first"))
	first.expectBody(200, "GET /first ")
	for range 5 {
		c := ts.dial(t)
		c.send(getReq("/over"))
		if s := c.rest(); s != "" {
			t.Errorf("a connection past the global cap: got %q, want it closed unanswered", s)
		}
	}
	if n := ts.calls.Load(); n != 1 {
		t.Errorf("handler calls: got %d, want 1", n)
	}
	if n := strings.Count(ts.log.String(), "global connection cap reached"); n != 1 {
		t.Errorf("warnings: got %d, want 1:\n%s", n, ts.log)
	}
	first.send(getReq("/still"))
	first.expectBody(200, "GET /still ")
}

// TestRateLimit: past its rate a client gets 429 with Retry-After; a
// bodiless request keeps the connection, one with a body closes it; the
// refusals log one warning, not one line each; another client is served.
func TestRateLimit(t *testing.T) {
	ts := newTestServer(t, echo, withLimits(limit.Options{Rate: 0.01, Burst: 2}))
	c := ts.dial(t)
	for range 2 {
		c.send(getReq("/ok"))
		c.expectBody(200, "GET /ok ")
	}
	for i := range 3 {
		c.send(getReq("/fast"))
		resp := c.expectTooMany()
		secs, err := strconv.Atoi(resp.Header.Get("Retry-After"))
		if err != nil || secs < 1 || secs > 100 {
			t.Errorf("Retry-After: got %q, want whole seconds in [1, 100]", resp.Header.Get("Retry-After"))
		}
		if resp.Close {
			t.Fatalf("429 %d to a bodiless request closed the connection", i)
		}
	}
	c.send("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello")
	if resp := c.expectTooMany(); !resp.Close {
		t.Error("429 to a request with a body kept the connection")
	}
	c.expectClosed()
	if n := ts.calls.Load(); n != 2 {
		t.Errorf("handler calls: got %d, want 2", n)
	}
	if n := strings.Count(ts.log.String(), "over its request rate"); n != 1 {
		t.Errorf("warnings: got %d, want 1:\n%s", n, ts.log)
	}
	other := ts.dialFrom(t, "127.0.0.2")
	other.send(getReq("/other"))
	other.expectBody(200, "GET /other ")
}

// TestRateLimitHead: a 429 to HEAD has no body.
func TestRateLimitHead(t *testing.T) {
	ts := newTestServer(t, echo, withLimits(limit.Options{Rate: 0.01, Burst: 1}))
	c := ts.dial(t)
	c.send(getReq("/ok"))
	c.expectBody(200, "GET /ok ")
	c.send("HEAD /fast HTTP/1.1\r\nHost: a\r\n\r\n")
	resp := c.response(http.MethodHead, 1)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("status: got %d, want 429", resp.StatusCode)
	}
	c.send(getReq("/next"))
	c.expectTooMany() // would misread the HEAD's body, had there been one
}

// sizeLimited answers 413 for a body over the server's bound, and echoes
// others: what the proxy's handler does.
func sizeLimited(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	if errors.Is(err, ErrBodyTooLarge) {
		http.Error(w, "too large", http.StatusRequestEntityTooLarge)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	io.WriteString(w, string(b))
}

func TestBodyLimit(t *testing.T) {
	ts := newTestServer(t, sizeLimited, func(o *Options) { o.MaxBodyBytes = 10 })
	tests := []struct {
		name    string
		req     string
		status  int
		body    string
		handler bool // whether the handler ran
		closed  bool
	}{
		{"length at the bound", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789", 200, "0123456789", true, false},
		{"length over", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world", 413, "", false, true},
		{"huge length, body never sent", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1099511627776\r\n\r\n", 413, "", false, true},
		{"length over, 100-continue", "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 11\r\n\r\n", 413, "", false, true},
		{"chunked at the bound", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n01234\r\n5\r\n56789\r\n0\r\n\r\n", 200, "0123456789", true, false},
		{"chunked over", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n01234\r\n6\r\n56789a\r\n0\r\n\r\n", 413, "too large\n", true, true},
		{"chunked over, one chunk", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n14\r\n01234567890123456789\r\n0\r\n\r\n", 413, "too large\n", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := ts.calls.Load()
			c := ts.dial(t)
			c.send(tt.req)
			resp, body := c.get()
			if resp.StatusCode != tt.status || (tt.body != "" && body != tt.body) {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, body, tt.status, tt.body)
			}
			if ran := ts.calls.Load() > before; ran != tt.handler {
				t.Errorf("handler ran: got %v, want %v", ran, tt.handler)
			}
			if tt.closed {
				c.expectClosed()
				return
			}
			c.send(getReq("/next"))
			c.expectBody(200, "")
		})
	}
}

// TestBodyLimitChunkedUnread: a chunked body over the bound that the
// handler leaves unread is not discarded to the end: the connection
// closes after the response.
func TestBodyLimitChunkedUnread(t *testing.T) {
	ts := newTestServer(t, nil, func(o *Options) { o.MaxBodyBytes = 10 })
	c := ts.dial(t)
	c.send("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n14\r\n01234567890123456789\r\n0\r\n\r\n" + getReq("/next"))
	c.expectBody(200, "ok")
	c.expectClosed()
}

// TestSlowloris: hundreds of connections sending their headers a byte at
// a time do not keep a normal client from being served, and the header
// timeout disconnects them.
func TestSlowloris(t *testing.T) {
	const (
		drippers      = 500
		drivers       = 10
		headerTimeout = 2 * time.Second
	)
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur < 2*drippers+200 {
		t.Skipf("needs %d file descriptors; the limit is %d", 2*drippers+200, rl.Cur)
	}
	ts := newTestServer(t, echo, func(o *Options) { o.HeaderTimeout = headerTimeout })
	head := "GET /slow HTTP/1.1\r\nHost: a\r\nX-Drip: " + strings.Repeat("x", 200) + "\r\n\r\n"

	start := time.Now()
	conns := make([]net.Conn, drippers)
	for i := range conns {
		nc, err := net.DialTimeout("tcp", ts.addr, wait)
		if err != nil {
			t.Fatalf("dripper %d: %v", i, err)
		}
		t.Cleanup(func() { nc.Close() })
		conns[i] = nc
	}
	// Each driver sends the next byte to each of its connections every
	// 75 ms, until the server has closed them all or the test stops it.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for d := range drivers {
		wg.Go(func() {
			mine := conns[d*drippers/drivers : (d+1)*drippers/drivers]
			alive := len(mine)
			sent := make([]int, len(mine))
			for alive > 0 {
				for i, nc := range mine {
					if sent[i] < 0 || sent[i] == len(head) {
						continue
					}
					nc.SetWriteDeadline(time.Now().Add(wait))
					if _, err := io.WriteString(nc, head[sent[i]:sent[i]+1]); err != nil {
						sent[i] = -1 // the server closed it
						alive--
						continue
					}
					sent[i]++
				}
				select {
				case <-stop:
					return
				case <-time.After(75 * time.Millisecond):
				}
			}
		})
	}
	defer func() { close(stop); wg.Wait() }()

	// While they drip, a normal client asks.
	time.Sleep(300 * time.Millisecond) // let the crowd get going; not synchronisation
	asked := time.Now()
	c := ts.dial(t)
	c.send(getReq("/normal"))
	c.expectBody(200, "GET /normal ")
	t.Logf("a normal client was answered in %v with %d connections dripping", time.Since(asked), drippers)

	// The header timeout disconnects every dripper: the head's first byte
	// had to come within it, and the rest within it again.
	// The slack beyond that is for a loaded machine to close 500
	// connections; the drippers would take 18 s to finish their heads.
	deadline := start.Add(2*headerTimeout + wait)
	timeouts := 0
	for _, nc := range conns {
		nc.SetReadDeadline(deadline)
		b, err := io.ReadAll(nc)
		switch {
		case err == nil || isReset(err):
		case isTimeout(err):
			timeouts++
			continue
		default:
			t.Errorf("dripper: %v", err)
		}
		if len(b) > 0 && !strings.HasPrefix(string(b), "HTTP/1.1 408 ") {
			t.Errorf("dripper: got %q, want a 408 or nothing", b)
		}
	}
	if timeouts > 0 {
		t.Errorf("%d of %d drippers were still connected after %v", timeouts, drippers, deadline.Sub(start))
	}
	if n := ts.calls.Load(); n != 1 {
		t.Errorf("handler calls: got %d, want 1", n)
	}
	t.Logf("all %d drippers disconnected %v after they connected", drippers, time.Since(start))
}

// BenchmarkKeepAliveLimits measures a keep-alive request over loopback,
// without limits and with a connection cap and a request rate that it
// stays within: the cost of the checks on the request path.
func BenchmarkKeepAliveLimits(b *testing.B) {
	for _, bc := range []struct {
		name string
		opt  func(*Options)
	}{
		{"none", nil},
		{"limits", withLimits(limit.Options{MaxConns: 1 << 16, MaxConnsPerClient: 64, Rate: 1e12})},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ts := newTestServer(b, nil, bc.opt)
			c := ts.dial(b)
			c.SetDeadline(time.Time{})
			req := getReq("/")
			b.ReportAllocs()
			for b.Loop() {
				c.send(req)
				resp := c.response(http.MethodGet, 1)
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
}
