package upstream_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sluice/internal/upstream"
)

func hello(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") }

func TestKeepAliveSequential(t *testing.T) {
	o := newOrigin(t, http.HandlerFunc(hello))
	tr := newTransport(t, nil)
	for i := range 20 {
		if _, body := get(t, tr, o.URL); body != "hello" {
			t.Fatalf("request %d: got %q", i, body)
		}
		if n := tr.IdleConns(); n != 1 {
			t.Fatalf("request %d: IdleConns got %d, want 1", i, n)
		}
	}
	if n := o.opened.Load(); n != 1 {
		t.Errorf("20 sequential GETs: got %d connections, want 1", n)
	}
}

func TestKeepAliveConcurrent(t *testing.T) {
	o := newOrigin(t, http.HandlerFunc(hello))
	tr := newTransport(t, nil)
	const n = 30
	batch := func() {
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
				defer cancel()
				req, _ := http.NewRequestWithContext(ctx, "GET", o.URL, nil)
				resp, err := tr.RoundTrip(req)
				if err != nil {
					t.Error(err)
					return
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || string(b) != "hello" {
					t.Errorf("got %q, %v", b, err)
				}
			})
		}
		wg.Wait()
	}
	batch()
	first := o.opened.Load()
	if idle := tr.IdleConns(); int32(idle) != first {
		t.Errorf("after the first batch: %d idle of %d opened", idle, first)
	}
	batch()
	if got := o.opened.Load(); got > n {
		t.Errorf("2×%d concurrent GETs: got %d connections, want at most %d", n, got, n)
	}
}

func TestCloseBeforeEOFDiscardsConn(t *testing.T) {
	big := strings.Repeat("x", 256<<10)
	o := newOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, big)
	}))
	tr := newTransport(t, nil)
	resp, err := tr.RoundTrip(mustRequest(t, "GET", o.URL))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := resp.Body.Read(make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if n, err := resp.Body.Read(make([]byte, 10)); n != 0 || err == nil {
		t.Errorf("Read after Close: got %d, %v; want an error", n, err)
	}
	if n := tr.IdleConns(); n != 0 {
		t.Errorf("IdleConns after early Close: got %d, want 0", n)
	}
	eventually(t, "the origin sees the connection closed", func() bool { return o.closed.Load() == 1 })
	if _, body := get(t, tr, o.URL); body != big {
		t.Errorf("second GET: got %d bytes", len(body))
	}
	if n := o.opened.Load(); n != 2 {
		t.Errorf("connections: got %d, want 2", n)
	}
}

func TestCloseAfterEOFKeepsConn(t *testing.T) {
	o := newOrigin(t, http.HandlerFunc(hello))
	tr := newTransport(t, nil)
	for range 3 {
		resp, err := tr.RoundTrip(mustRequest(t, "GET", o.URL))
		if err != nil {
			t.Fatal(err)
		}
		io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body.Close() // twice is harmless
	}
	if n := o.opened.Load(); n != 1 {
		t.Errorf("connections: got %d, want 1", n)
	}
}

// TestStaleConnRetry closes pooled connections at the origin; the next
// bodiless request must be retried on a fresh connection.
func TestStaleConnRetry(t *testing.T) {
	o := newOrigin(t, http.HandlerFunc(hello))
	tr := newTransport(t, nil)
	for i := range 5 {
		if _, body := get(t, tr, o.URL); body != "hello" {
			t.Fatalf("GET %d: got %q", i, body)
		}
		if tr.IdleConns() != 1 {
			t.Fatalf("GET %d: connection not pooled", i)
		}
		o.CloseClientConnections()
	}
	if n := o.opened.Load(); n != 5 {
		t.Errorf("connections: got %d, want 5", n)
	}
}

// TestStaleConnRetryRaw uses an origin that closes after every response
// without announcing it.
func TestStaleConnRetryRaw(t *testing.T) {
	o := cannedOrigin(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	tr := newTransport(t, nil)
	for i := range 10 {
		method := http.MethodGet
		if i%2 == 1 {
			method = http.MethodDelete
		}
		if _, body := do(t, tr, method, o.URL); body != "ok" {
			t.Fatalf("request %d: got %q", i, body)
		}
	}
}

// TestStaleConnWithBody: a request with a body is not retried, so it may
// fail on a stale connection, but it must not hang.
func TestStaleConnWithBody(t *testing.T) {
	o := newOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "hello")
	}))
	tr := newTransport(t, nil)
	get(t, tr, o.URL)
	o.CloseClientConnections()
	body := newRecordingBody("payload")
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", o.URL, body)
	req.ContentLength = 7
	done := make(chan error, 1)
	go func() {
		resp, err := tr.RoundTrip(req)
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		done <- err
	}()
	err := recv(t, done, "POST on a stale connection")
	if ctx.Err() != nil {
		t.Fatalf("POST ran into the test's deadline: %v", err)
	}
	t.Logf("POST on a stale connection: %v", err)
	recv(t, body.closed, "request body to be closed")
	// The transport still works afterwards.
	if _, body := get(t, tr, o.URL); body != "hello" {
		t.Errorf("GET after: got %q", body)
	}
}

func TestIdleConnTimeout(t *testing.T) {
	o := newOrigin(t, http.HandlerFunc(hello))
	tr := newTransport(t, func(tr *upstream.Transport) { tr.IdleConnTimeout = 50 * time.Millisecond })
	get(t, tr, o.URL)
	eventually(t, "the janitor empties the pool", func() bool { return tr.IdleConns() == 0 })
	eventually(t, "the origin sees the connection closed", func() bool { return o.closed.Load() == 1 })
	get(t, tr, o.URL)
	if n := o.opened.Load(); n != 2 {
		t.Errorf("connections: got %d, want 2", n)
	}
}

func TestMaxIdlePerHost(t *testing.T) {
	release := make(chan struct{})
	var arrived sync.WaitGroup
	o := newOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/wait" {
			arrived.Done()
			<-release
		}
		io.WriteString(w, "hello")
	}))
	tr := newTransport(t, func(tr *upstream.Transport) { tr.MaxIdlePerHost = 1 })
	const n = 5
	arrived.Add(n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			req, _ := http.NewRequest("GET", o.URL+"/wait", nil)
			resp, err := tr.RoundTrip(req)
			if err != nil {
				t.Error(err)
				return
			}
			io.ReadAll(resp.Body)
			resp.Body.Close()
		})
	}
	arrived.Wait() // n connections are open
	close(release)
	wg.Wait()
	if got := o.opened.Load(); got != n {
		t.Fatalf("connections: got %d, want %d", got, n)
	}
	if got := tr.IdleConns(); got != 1 {
		t.Errorf("IdleConns: got %d, want 1", got)
	}
	eventually(t, "the origin sees the surplus closed", func() bool { return o.closed.Load() == n-1 })
}

func TestMaxIdle(t *testing.T) {
	tr := newTransport(t, func(tr *upstream.Transport) { tr.MaxIdle = 2 })
	var origins []*origin
	for range 3 {
		o := newOrigin(t, http.HandlerFunc(hello))
		origins = append(origins, o)
		get(t, tr, o.URL)
	}
	if n := tr.IdleConns(); n != 2 {
		t.Errorf("IdleConns across 3 origins with MaxIdle 2: got %d, want 2", n)
	}
	eventually(t, "the third origin's connection is closed", func() bool { return origins[2].closed.Load() == 1 })
}

func TestKeepAliveDisabled(t *testing.T) {
	o := newOrigin(t, http.HandlerFunc(hello))
	tr := newTransport(t, func(tr *upstream.Transport) { tr.MaxIdlePerHost = -1 })
	for range 3 {
		get(t, tr, o.URL)
		if n := tr.IdleConns(); n != 0 {
			t.Fatalf("IdleConns: got %d, want 0", n)
		}
	}
	if n := o.opened.Load(); n != 3 {
		t.Errorf("connections: got %d, want 3", n)
	}
}

func TestConnectionCloseNotPooled(t *testing.T) {
	tests := []struct {
		name, resp string
		keepOpen   bool // the origin keeps the connection open after answering
	}{
		{"Connection: close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", true},
		{"HTTP/1.0", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", true},
		{"read until close", "HTTP/1.1 200 OK\r\n\r\nok", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Where the origin keeps the connection open for a second
			// request, the transport must still not use it.
			o := newRawOrigin(t, func(c net.Conn) {
				br := bufio.NewReader(c)
				if _, err := http.ReadRequest(br); err != nil {
					return
				}
				io.WriteString(c, tt.resp)
				if tt.keepOpen {
					io.Copy(io.Discard, br)
				}
			})
			tr := newTransport(t, nil)
			for range 2 {
				if _, body := get(t, tr, o.URL); body != "ok" {
					t.Fatalf("got %q", body)
				}
				if n := tr.IdleConns(); n != 0 {
					t.Fatalf("IdleConns: got %d, want 0", n)
				}
			}
			if n := o.n.Load(); n != 2 {
				t.Errorf("connections: got %d, want 2", n)
			}
		})
	}
}

func TestCloseIdleConnections(t *testing.T) {
	o := newOrigin(t, http.HandlerFunc(hello))
	tr := newTransport(t, nil)
	get(t, tr, o.URL)
	tr.CloseIdleConnections()
	if n := tr.IdleConns(); n != 0 {
		t.Errorf("IdleConns after CloseIdleConnections: got %d, want 0", n)
	}
	eventually(t, "the origin sees the connection closed", func() bool { return o.closed.Load() == 1 })
	tr.CloseIdleConnections() // idempotent
	// The transport still works.
	if _, body := get(t, tr, o.URL); body != "hello" {
		t.Errorf("GET after CloseIdleConnections: got %q", body)
	}
}

// TestNoRetryNonIdempotent: an origin takes a POST on a kept-alive
// connection and then drops the connection without answering. The POST may
// have been acted on, so it must not be sent again (RFC 9110 §9.2.2,
// RFC 9112 §9.3.1); a GET may be.
//
// It guards a fixed bug: canRetry used to ask only whether the request
// had a body, so a bodiless POST whose connection died after it was
// written reached the origin twice.
func TestNoRetryNonIdempotent(t *testing.T) {
	for _, tt := range []struct {
		method string
		want   int32 // times the origin sees the second request
	}{
		{http.MethodGet, 2},
		{http.MethodPost, 1},
		{http.MethodPatch, 1},
	} {
		t.Run(tt.method, func(t *testing.T) {
			var seen atomic.Int32
			o := newRawOrigin(t, func(c net.Conn) {
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					if req.URL.Path == "/act" {
						// Acted on, then the process died.
						seen.Add(1)
						return
					}
					io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
				}
			})
			tr := newTransport(t, nil)
			get(t, tr, o.URL+"/warm")
			ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, tt.method, o.URL+"/act", nil)
			if _, err := tr.RoundTrip(req); err == nil {
				t.Errorf("got no error")
			}
			if got := seen.Load(); got != tt.want {
				t.Errorf("origin saw the %s %d times, want %d", tt.method, got, tt.want)
			}
		})
	}
}

// TestCloseIdleConnectionsDuringFirstRoundTrip calls CloseIdleConnections
// (as a shutdown would) while the transport's first round trip is in
// flight, from a goroutine that has not synchronised with it since it
// started the pool's janitor.
//
// It guards a fixed race (seen under -race): pool.start's once.Do used to
// evaluate p.stop for "go p.janitor(..., p.stop)" after unlocking p.mu,
// while closeAll wrote p.stop = nil under the lock. (The same code
// started a janitor that never stopped when CloseIdleConnections came
// first.)
func TestCloseIdleConnectionsDuringFirstRoundTrip(t *testing.T) {
	eventually(t, "janitors of earlier tests exit", func() bool { return janitors() == 0 })
	o, _ := silentOrigin(t)
	tr := newTransport(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", o.URL, nil)
	done := make(chan error, 1)
	go func() {
		_, err := tr.RoundTrip(req)
		done <- err
	}()
	// Watch for the janitor without any synchronisation the race
	// detector could see: a channel, a lock, or reading from a socket
	// after the round trip wrote to one would all order the accesses.
	eventually(t, "the janitor starts", func() bool { return janitors() == 1 })
	tr.CloseIdleConnections()
	eventually(t, "the janitor stops", func() bool { return janitors() == 0 })
	cancel()
	if err := recv(t, done, "RoundTrip to return"); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}

// janitors counts the goroutines running a pool's janitor.
func janitors() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return bytes.Count(buf, []byte("upstream.(*pool).janitor("))
}
