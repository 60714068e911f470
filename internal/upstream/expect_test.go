package upstream_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"sluice/internal/upstream"
)

// informational records the 1xx responses a request saw.
type informational struct {
	mu     sync.Mutex
	codes  []int
	header []textproto.MIMEHeader
}

func (in *informational) trace(ctx context.Context) context.Context {
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			in.mu.Lock()
			defer in.mu.Unlock()
			in.codes = append(in.codes, code)
			in.header = append(in.header, h)
			return nil
		},
	})
}

func (in *informational) got() []int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]int(nil), in.codes...)
}

// expectRequest is a POST with "Expect: 100-continue" and body.
func expectRequest(t *testing.T, ctx context.Context, url string, body io.ReadCloser, n int64) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, "POST", url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = n
	req.Header.Set("Expect", "100-continue")
	return req
}

func TestExpectContinueSendsBody(t *testing.T) {
	o := newOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body) // makes net/http send "100 Continue"
		io.WriteString(w, "got "+string(b))
	}))
	// A long timeout: the body may go only after the origin's go-ahead.
	tr := newTransport(t, func(tr *upstream.Transport) { tr.ExpectContinueTimeout = time.Minute })
	for _, cl := range []int64{7, -1} {
		var in informational
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		req := expectRequest(t, in.trace(ctx), o.URL, io.NopCloser(strings.NewReader("payload")), cl)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(b) != "got payload" {
			t.Errorf("ContentLength %d: got %q, %v", cl, b, err)
		}
		if got := in.got(); !reflect.DeepEqual(got, []int{100}) {
			t.Errorf("ContentLength %d: 1xx codes: got %v, want [100]", cl, got)
		}
	}
}

func TestExpectContinueRejected(t *testing.T) {
	o := newOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "too big", http.StatusExpectationFailed)
	}))
	tr := newTransport(t, func(tr *upstream.Transport) { tr.ExpectContinueTimeout = time.Minute })
	body := newRecordingBody("payload")
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	resp, err := tr.RoundTrip(expectRequest(t, ctx, o.URL, body, 7))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusExpectationFailed || err != nil || string(b) != "too big\n" {
		t.Errorf("got %d %q, %v", resp.StatusCode, b, err)
	}
	recv(t, body.closed, "request body to be closed")
	if n := body.reads.Load(); n != 0 {
		t.Errorf("request body read %d times, want never", n)
	}
	if n := tr.IdleConns(); n != 0 {
		t.Errorf("IdleConns after an unsent body: got %d, want 0", n)
	}
}

// TestExpectContinueFinalFirst has an origin that answers at once and keeps
// the connection open: the body must not be sent, and the connection (whose
// request framing is now unknown to the origin) must not be reused.
func TestExpectContinueFinalFirst(t *testing.T) {
	o := newRawOrigin(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		io.Copy(io.Discard, br)
	})
	tr := newTransport(t, func(tr *upstream.Transport) { tr.ExpectContinueTimeout = time.Minute })
	for range 2 {
		body := newRecordingBody("payload")
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		resp, err := tr.RoundTrip(expectRequest(t, ctx, o.URL, body, 7))
		if err != nil {
			t.Fatal(err)
		}
		if b, err := io.ReadAll(resp.Body); err != nil || string(b) != "ok" {
			t.Errorf("got %q, %v", b, err)
		}
		resp.Body.Close()
		recv(t, body.closed, "request body to be closed")
		if n := body.reads.Load(); n != 0 {
			t.Errorf("request body read %d times, want never", n)
		}
	}
	if n := o.n.Load(); n != 2 {
		t.Errorf("connections: got %d, want 2", n)
	}
}

// TestExpectContinueTimeout has an origin that never sends "100 Continue"
// but waits for the body: it is sent after ExpectContinueTimeout.
func TestExpectContinueTimeout(t *testing.T) {
	o := newRawOrigin(t, func(c net.Conn) {
		req, err := http.ReadRequest(bufio.NewReader(c))
		if err != nil {
			return
		}
		b, _ := io.ReadAll(req.Body)
		io.WriteString(c, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\ngot "+string(b))
	})
	tr := newTransport(t, func(tr *upstream.Transport) { tr.ExpectContinueTimeout = 10 * time.Millisecond })
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	resp, err := tr.RoundTrip(expectRequest(t, ctx, o.URL, io.NopCloser(strings.NewReader("payload")), 7))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(b) != "got payload" {
		t.Errorf("got %q, %v", b, err)
	}
}

func TestEarlyHints(t *testing.T) {
	o := newOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload; as=style")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Add("Link", "</app.js>; rel=preload; as=script")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		io.WriteString(w, "page")
	}))
	tr := newTransport(t, nil)
	var in informational
	req, _ := http.NewRequestWithContext(in.trace(context.Background()), "GET", o.URL, nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "page" {
		t.Errorf("final: got %d %q", resp.StatusCode, b)
	}
	if got := in.got(); !reflect.DeepEqual(got, []int{103, 103}) {
		t.Fatalf("1xx codes: got %v, want [103 103]", got)
	}
	if got := in.header[0]["Link"]; len(got) != 1 {
		t.Errorf("first 103 Link: got %q", got)
	}
	if got := in.header[1]["Link"]; len(got) != 2 {
		t.Errorf("second 103 Link: got %q", got)
	}
	if got := resp.Header["Link"]; got != nil {
		t.Errorf("final response has Link %q", got)
	}
	if n := tr.IdleConns(); n != 1 {
		t.Errorf("IdleConns: got %d, want 1", n)
	}
}

func TestGot1xxResponseError(t *testing.T) {
	o := cannedOrigin(t, "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	tr := newTransport(t, nil)
	stop := errors.New("stop here")
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		Got1xxResponse: func(int, textproto.MIMEHeader) error { return stop },
	})
	req, _ := http.NewRequestWithContext(ctx, "GET", o.URL, nil)
	if _, err := tr.RoundTrip(req); !errors.Is(err, stop) {
		t.Errorf("got %v, want %v", err, stop)
	}
}
