package upstream_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"sluice/internal/upstream"
)

type denyKey struct{}

// TestReuseCheck: a pooled connection is handed to a request only if
// ReuseCheck allows its peer for that request; a refused request gets the
// check's error, and the connection stays pooled for the others.
func TestReuseCheck(t *testing.T) {
	o := newOrigin(t, http.HandlerFunc(hello))
	errDenied := errors.New("denied for this request")
	var checked []string
	tr := newTransport(t, func(tr *upstream.Transport) {
		tr.ReuseCheck = func(ctx context.Context, remote net.Addr) error {
			checked = append(checked, remote.String())
			if ctx.Value(denyKey{}) != nil {
				return errDenied
			}
			return nil
		}
	})
	if _, body := get(t, tr, o.URL); body != "hello" {
		t.Fatalf("first request: %q", body)
	}
	if len(checked) != 0 {
		t.Fatalf("a new connection was checked by ReuseCheck: %v", checked)
	}
	ctx := context.WithValue(t.Context(), denyKey{}, true)
	req, _ := http.NewRequestWithContext(ctx, "GET", o.URL, nil)
	if _, err := tr.RoundTrip(req); !errors.Is(err, errDenied) {
		t.Fatalf("denied request: got %v", err)
	}
	if len(checked) != 1 || checked[0] != o.Listener.Addr().String() {
		t.Fatalf("checked %v, want the origin's address once", checked)
	}
	if n := tr.IdleConns(); n != 1 {
		t.Fatalf("IdleConns %d after the denied request, want 1", n)
	}
	if _, body := get(t, tr, o.URL); body != "hello" {
		t.Fatalf("later request: %q", body)
	}
	if n := o.opened.Load(); n != 1 {
		t.Errorf("%d connections opened, want the one, reused", n)
	}
}

// TestFirstByte: the time to a response's head is reported, and it covers
// the origin's thinking time.
func TestFirstByte(t *testing.T) {
	o := newOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(30 * time.Millisecond)
		hello(w, r)
	}))
	var got []time.Duration
	tr := newTransport(t, func(tr *upstream.Transport) { tr.FirstByte = func(d time.Duration) { got = append(got, d) } })
	for range 2 {
		if _, body := get(t, tr, o.URL); body != "hello" {
			t.Fatalf("body %q", body)
		}
	}
	if len(got) != 2 || got[0] < 30*time.Millisecond || got[1] < 30*time.Millisecond {
		t.Fatalf("first-byte times %v, want two of at least 30ms", got)
	}
}
