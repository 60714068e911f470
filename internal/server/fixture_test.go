package server

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sluice/internal/testwait"
)

// wait bounds every blocking step of a test: long enough never to fire
// on a loaded machine, short enough that a hang fails instead of
// stalling the run.
const wait = 5 * time.Second

// testServer is a Server on a loopback port with a handler that counts
// its calls, plus the log it wrote. It is shut down when the test ends.
type testServer struct {
	*Server
	addr     string
	calls    atomic.Int64
	log      *syncBuffer
	served   chan struct{} // closed when Serve returned, with serveErr
	serveErr error
}

// newTestServer starts a server for h (which may be nil: then every
// request gets 200 "ok"). opt, if not nil, adjusts the options first.
func newTestServer(t testing.TB, h http.HandlerFunc, opt func(*Options)) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{addr: ln.Addr().String(), log: new(syncBuffer), served: make(chan struct{})}
	if h == nil {
		h = func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }
	}
	o := Options{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ts.calls.Add(1)
			h(w, r)
		}),
		HeaderTimeout: wait,
		Logger:        slog.New(slog.NewTextHandler(ts.log, nil)),
	}
	if opt != nil {
		opt(&o)
	}
	ts.Server = New(ln, o)
	go func() {
		ts.serveErr = ts.Serve()
		close(ts.served)
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		ts.Shutdown(ctx)
		ts.waitServed(t)
	})
	return ts
}

// waitServed waits for Serve to return and checks it returned nil.
func (ts *testServer) waitServed(t testing.TB) {
	t.Helper()
	select {
	case <-ts.served:
		if ts.serveErr != nil {
			t.Errorf("Serve: got %v, want nil", ts.serveErr)
		}
	case <-time.After(wait):
		t.Error("Serve did not return after Shutdown")
	}
}

// client is a raw connection to a test server.
type client struct {
	t testing.TB
	net.Conn
	br *bufio.Reader
}

func (ts *testServer) dial(t testing.TB) *client {
	t.Helper()
	nc, err := net.DialTimeout("tcp", ts.addr, wait)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(wait))
	return &client{t: t, Conn: nc, br: bufio.NewReader(nc)}
}

// send writes s in one write.
func (c *client) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c, s); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// response reads one response to a request with the given method and
// protocol minor version; 1xx responses are returned like any other.
func (c *client) response(method string, minor int) *http.Response {
	c.t.Helper()
	resp, err := http.ReadResponse(c.br, &http.Request{Method: method, ProtoMajor: 1, ProtoMinor: minor})
	if err != nil {
		c.t.Fatalf("read response: %v", err)
	}
	return resp
}

// get reads a whole response to a GET and returns it with its body.
func (c *client) get() (*http.Response, string) {
	c.t.Helper()
	resp := c.response(http.MethodGet, 1)
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("read body: %v", err)
	}
	return resp, string(b)
}

// rest reads until the server closes the connection.
func (c *client) rest() string {
	c.t.Helper()
	b, err := io.ReadAll(c.br)
	if err != nil && !errors.Is(err, net.ErrClosed) && !isReset(err) {
		c.t.Fatalf("read to EOF: %v", err)
	}
	return string(b)
}

// expectClosed checks that the server closes the connection with nothing
// more to read.
func (c *client) expectClosed() {
	c.t.Helper()
	if s := c.rest(); s != "" {
		c.t.Errorf("after the response: got %q, want EOF", s)
	}
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

// syncBuffer is a bytes.Buffer safe for concurrent use (a log sink).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// eventually polls cond until it holds or the wait bound passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	testwait.Until(t, what, wait, cond)
}

// statusOf returns the status a parse error is answered with, or 0.
func statusOf(err error) int {
	var re *requestError
	if errors.As(err, &re) {
		return re.status
	}
	return 0
}

// parseRaw reads a head from raw the way a connection does (skipping
// leading empty lines, enforcing limit) and parses it.
func parseRaw(raw string, limit int) (*http.Request, error) {
	c := new(conn)
	s, err := c.readHead(bufio.NewReader(strings.NewReader(raw)), limit)
	if err != nil {
		return nil, err
	}
	return parseRequest(s)
}
