package upstream_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"sluice/internal/upstream"
)

// roundTrip runs RoundTrip on its own goroutine so that a hang fails the
// test instead of stalling it.
func roundTrip(t *testing.T, tr http.RoundTripper, req *http.Request, limit time.Duration) (*http.Response, error) {
	t.Helper()
	type result struct {
		resp *http.Response
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		resp, err := tr.RoundTrip(req)
		ch <- result{resp, err}
	}()
	select {
	case r := <-ch:
		return r.resp, r.err
	case <-time.After(limit):
		t.Fatalf("RoundTrip did not return in %v", limit)
		return nil, nil
	}
}

func TestResponseHeaderTimeout(t *testing.T) {
	tests := []struct {
		name    string
		partial string // what the origin sends before falling silent
	}{
		{"silent", ""},
		{"partial status line", "HTTP/1.1 2"},
		{"partial header", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"},
		{"after a 1xx", "HTTP/1.1 100 Continue\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := newRawOrigin(t, func(c net.Conn) {
				br := bufio.NewReader(c)
				if _, err := http.ReadRequest(br); err != nil {
					return
				}
				io.WriteString(c, tt.partial)
				io.Copy(io.Discard, br)
			})
			tr := newTransport(t, func(tr *upstream.Transport) { tr.ResponseHeaderTimeout = 50 * time.Millisecond })
			_, err := roundTrip(t, tr, mustRequest(t, "GET", o.URL), waitLimit)
			if !errors.Is(err, upstream.ErrHeaderTimeout) {
				t.Fatalf("got %v, want ErrHeaderTimeout", err)
			}
			var ne interface{ Timeout() bool }
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Errorf("%v does not report Timeout", err)
			}
			// The timeout can fire before the origin's accept loop has
			// counted the connection, which the kernel had accepted.
			eventually(t, "the origin to count the connection", func() bool { return o.n.Load() >= 1 })
			if n := o.n.Load(); n != 1 {
				t.Errorf("connections: got %d, want 1 (a timeout must not be retried)", n)
			}
		})
	}
}

// TestResponseHeaderTimeoutNotForBody: the header timeout stops applying
// once the header arrived.
func TestResponseHeaderTimeoutNotForBody(t *testing.T) {
	// The origin must answer each request head within timeout, on a
	// loaded machine too; the pause in the body outlasts it.
	const timeout = 500 * time.Millisecond
	o := newRawOrigin(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			if _, err := http.ReadRequest(br); err != nil {
				return
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab")
			time.Sleep(2 * timeout) // the stimulus, not an assertion
			io.WriteString(c, "cd")
		}
	})
	tr := newTransport(t, func(tr *upstream.Transport) { tr.ResponseHeaderTimeout = timeout })
	for range 2 { // the second request also checks the pooled conn's deadline
		if _, body := get(t, tr, o.URL); body != "abcd" {
			t.Errorf("got %q, want %q", body, "abcd")
		}
	}
}

func TestReadIdleTimeout(t *testing.T) {
	o := newRawOrigin(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
		io.Copy(io.Discard, br)
	})
	tr := newTransport(t, func(tr *upstream.Transport) { tr.ReadIdleTimeout = 50 * time.Millisecond })
	resp, err := roundTrip(t, tr, mustRequest(t, "GET", o.URL), waitLimit)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	done := make(chan error, 1)
	go func() {
		_, err := io.ReadAll(resp.Body)
		done <- err
	}()
	err = recv(t, done, "the body read to time out")
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("got %v, want a timeout", err)
	}
}

func TestCancelBeforeRoundTrip(t *testing.T) {
	o := newOrigin(t, http.HandlerFunc(hello))
	tr := newTransport(t, nil)
	get(t, tr, o.URL) // a pooled connection that the cancelled request must not spoil
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	body := newRecordingBody("x")
	req, _ := http.NewRequestWithContext(ctx, "POST", o.URL, body)
	if _, err := tr.RoundTrip(req); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
	recv(t, body.closed, "request body to be closed")
	if _, body := get(t, tr, o.URL); body != "hello" {
		t.Errorf("GET after: got %q", body)
	}
}

// TestCancelWaitingForHeader cancels a request whose origin is silent.
// (With ResponseHeaderTimeout set this is flaky today, for the reason
// TestCancelRightAfterWrite shows deterministically.)
func TestCancelWaitingForHeader(t *testing.T) {
	o, received := silentOrigin(t)
	tr := newTransport(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", o.URL, nil)
	go func() {
		<-received
		cancel()
	}()
	if _, err := roundTrip(t, tr, req, waitLimit); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
	if n := tr.IdleConns(); n != 0 {
		t.Errorf("IdleConns: got %d, want 0", n)
	}
}

func TestCancelDuringBody(t *testing.T) {
	o := newRawOrigin(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
		io.Copy(io.Discard, br)
	})
	for _, idle := range []time.Duration{0, time.Minute} {
		tr := newTransport(t, func(tr *upstream.Transport) { tr.ReadIdleTimeout = idle })
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, "GET", o.URL, nil)
		resp, err := roundTrip(t, tr, req, waitLimit)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 3)
		if _, err := io.ReadFull(resp.Body, buf); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			_, err := resp.Body.Read(buf)
			done <- err
		}()
		cancel()
		if err := recv(t, done, "Read to return after cancel"); !errors.Is(err, context.Canceled) {
			t.Errorf("ReadIdleTimeout %v: got %v, want context.Canceled", idle, err)
		}
		resp.Body.Close()
	}
}

func TestCancelDuringUpload(t *testing.T) {
	o, _ := silentOrigin(t)
	tr := newTransport(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	defer pw.Close()
	req, _ := http.NewRequestWithContext(ctx, "POST", o.URL, pr)
	req.ContentLength = -1
	go func() {
		io.WriteString(pw, "some of the body")
		cancel()
	}()
	if _, err := roundTrip(t, tr, req, waitLimit); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}

// deadlineConn reports deadlines set in the past (the transport's way of
// aborting a blocked read) and runs afterWrite once, after the first Write.
type deadlineConn struct {
	net.Conn
	afterWrite func()
	once       atomic.Bool
	aborted    chan struct{} // gets a value per past deadline
}

func (c *deadlineConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if c.once.CompareAndSwap(false, true) {
		c.afterWrite()
	}
	return n, err
}

func (c *deadlineConn) SetDeadline(t time.Time) error {
	err := c.Conn.SetDeadline(t)
	if !t.IsZero() && t.Before(time.Now()) {
		select {
		case c.aborted <- struct{}{}:
		default:
		}
	}
	return err
}

// TestCancelRightAfterWrite cancels the request just after its head was
// written and before the transport arms ResponseHeaderTimeout. RoundTrip
// must still return promptly.
//
// It guards a fixed bug: conn.roundTrip set the header read deadline
// without checking pc.cancelled, overwriting the past deadline that the
// context's AfterFunc had just set, so the read waited for the full
// ResponseHeaderTimeout instead.
func TestCancelRightAfterWrite(t *testing.T) {
	o, _ := silentOrigin(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tr := newTransport(t, func(tr *upstream.Transport) {
		tr.ResponseHeaderTimeout = time.Minute
		d := &net.Dialer{}
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			nc, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			dc := &deadlineConn{Conn: nc, aborted: make(chan struct{}, 1)}
			dc.afterWrite = func() {
				cancel()
				// Let the context's AfterFunc finish before the
				// transport carries on.
				select {
				case <-dc.aborted:
				case <-time.After(waitLimit):
				}
			}
			return dc, nil
		}
	})
	req, _ := http.NewRequestWithContext(ctx, "GET", o.URL, nil)
	// Far below ResponseHeaderTimeout, which is what a hang waits for.
	if _, err := roundTrip(t, tr, req, 10*time.Second); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}

// failingBody yields data, then fails as a client that went away would.
type failingBody struct {
	data string
	err  error
}

func (b *failingBody) Read(p []byte) (int, error) {
	if b.data == "" {
		return 0, b.err
	}
	n := copy(p, b.data)
	b.data = b.data[n:]
	return n, nil
}

func (b *failingBody) Close() error { return nil }

// failing makes fresh failingBodies.
func failing(data string, err error) func() io.ReadCloser {
	return func() io.ReadCloser { return &failingBody{data: data, err: err} }
}

// TestRequestBodyErrorDoesNotHang: when reading the request body fails
// (the proxy's client went away or sent a malformed chunk), the origin is
// still waiting for the rest; RoundTrip must give up at once rather than
// wait for the origin, and must report the body's error, not blame the
// origin. A body that fails before its first byte races the writer's
// wake-up against the response header deadline being armed and against
// the reader settling the writer, so each case runs many times.
func TestRequestBodyErrorDoesNotHang(t *testing.T) {
	clientGone := errors.New("client went away")
	tests := []struct {
		name string
		cl   int64
		body func() io.ReadCloser // a fresh body for each try
		want error                // when not nil, the error must wrap it
	}{
		{"content-length read error", 10, failing("hel", clientGone), clientGone},
		{"chunked read error", -1, failing("hel", clientGone), clientGone},
		{"shorter than content-length", 10, func() io.ReadCloser { return io.NopCloser(strings.NewReader("hel")) }, nil},
		{"content-length fails at once", 10, failing("", clientGone), clientGone},
		{"chunked fails at once", -1, failing("", clientGone), clientGone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The origin waits for the whole body before answering.
			o := newRawOrigin(t, func(c net.Conn) {
				req, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil {
					return
				}
				io.ReadAll(req.Body)
				io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")
			})
			// A header timeout far past roundTrip's limit: a wake-up
			// that the armed deadline overwrote shows as a hang.
			tr := newTransport(t, func(tr *upstream.Transport) { tr.ResponseHeaderTimeout = time.Minute })
			for range 50 {
				ctx, cancel := context.WithCancel(context.Background())
				req, _ := http.NewRequestWithContext(ctx, "POST", o.URL, tt.body())
				req.ContentLength = tt.cl
				_, err := roundTrip(t, tr, req, 10*time.Second)
				cancel()
				if err == nil {
					t.Fatal("got no error")
				}
				// The proxy turns ErrHeaderTimeout into 504 and blames the
				// origin; the failure was the client's.
				if errors.Is(err, upstream.ErrHeaderTimeout) || errors.Is(err, upstream.ErrProtocol) {
					t.Fatalf("got %v, which blames the origin", err)
				}
				if tt.want != nil && !errors.Is(err, tt.want) {
					t.Fatalf("got %v, want it to wrap %v", err, tt.want)
				}
			}
		})
	}
}
