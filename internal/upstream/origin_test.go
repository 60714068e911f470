package upstream_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sluice/internal/testwait"
	"sluice/internal/upstream"
)

// waitLimit bounds every wait in these tests. It is generous: reaching it
// means a hang, not a slow machine.
const waitLimit = 5 * time.Second

// newTransport returns a Transport dialling loopback directly, with its idle
// connections closed when the test ends. edit, if not nil, sets options.
func newTransport(t testing.TB, edit func(*upstream.Transport)) *upstream.Transport {
	tr := &upstream.Transport{DialContext: (&net.Dialer{}).DialContext}
	if edit != nil {
		edit(tr)
	}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// origin is an httptest origin that counts the connections it accepted and
// closed.
type origin struct {
	*httptest.Server
	opened, closed atomic.Int32
}

func newOrigin(t testing.TB, h http.Handler) *origin {
	o := &origin{Server: httptest.NewUnstartedServer(h)}
	o.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			o.opened.Add(1)
		case http.StateClosed, http.StateHijacked:
			o.closed.Add(1)
		}
	}
	o.Start()
	t.Cleanup(o.Close)
	return o
}

// rawOrigin is a TCP origin whose handler scripts the bytes on each
// connection. The connection is closed when the handler returns, and every
// open connection is closed when the test ends.
type rawOrigin struct {
	URL   string // http://host:port
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]bool
	n     atomic.Int32 // connections accepted
}

func newRawOrigin(t testing.TB, handle func(c net.Conn)) *rawOrigin {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := &rawOrigin{URL: "http://" + ln.Addr().String(), ln: ln, conns: make(map[net.Conn]bool)}
	o.wg.Add(1)
	go func() {
		defer o.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			o.n.Add(1)
			o.mu.Lock()
			o.conns[c] = true
			o.mu.Unlock()
			o.wg.Add(1)
			go func() {
				defer o.wg.Done()
				handle(c)
				c.Close()
				o.mu.Lock()
				delete(o.conns, c)
				o.mu.Unlock()
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		o.mu.Lock()
		for c := range o.conns {
			c.Close()
		}
		o.mu.Unlock()
		o.wg.Wait()
	})
	return o
}

// cannedOrigin answers every request with resp, then closes the connection.
func cannedOrigin(t testing.TB, resp string) *rawOrigin {
	return newRawOrigin(t, func(c net.Conn) {
		if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
			return
		}
		io.WriteString(c, resp)
	})
}

// silentOrigin reads requests and never answers. received gets one value
// per connection once the request head arrived.
func silentOrigin(t testing.TB) (o *rawOrigin, received <-chan struct{}) {
	ch := make(chan struct{}, 16)
	o = newRawOrigin(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		ch <- struct{}{}
		io.Copy(io.Discard, br)
	})
	return o, ch
}

// get sends a GET and reads the whole body.
func get(t testing.TB, tr http.RoundTripper, url string) (*http.Response, string) {
	t.Helper()
	return do(t, tr, http.MethodGet, url)
}

func do(t testing.TB, tr http.RoundTripper, method, url string) (*http.Response, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return resp, string(b)
}

// eventually polls cond until it holds or waitLimit passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	testwait.Until(t, what, waitLimit, cond)
}

// recv waits for one value from ch, failing the test after waitLimit.
func recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitLimit):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// recordingBody is a request body that records how it was used.
type recordingBody struct {
	r      io.Reader
	reads  atomic.Int32
	once   sync.Once
	closed chan struct{}
}

func newRecordingBody(s string) *recordingBody {
	return &recordingBody{r: strings.NewReader(s), closed: make(chan struct{})}
}

func (b *recordingBody) Read(p []byte) (int, error) {
	b.reads.Add(1)
	return b.r.Read(p)
}

func (b *recordingBody) Close() error {
	b.once.Do(func() { close(b.closed) })
	return nil
}
