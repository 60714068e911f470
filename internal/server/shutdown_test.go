package server

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"
)

// TestShutdownIdle: idle connections, hot or cold, and connections that
// never sent a byte are closed at once; Serve returns nil.
func TestShutdownIdle(t *testing.T) {
	ts := newTestServer(t, echo, nil)
	fresh := ts.dial(t)
	hot := ts.dial(t)
	cold := ts.dial(t)
	for _, c := range []*client{hot, cold} {
		c.send(getReq("/"))
		c.expectBody(200, "GET / ")
	}
	time.Sleep(3 * hotWait) // cold and fresh have given their buffers back
	hot.send(getReq("/"))
	hot.expectBody(200, "GET / ")
	eventually(t, "three connections", func() bool { return ts.OpenConns() == 3 })

	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if !ts.Shutdown(ctx) {
		t.Error("Shutdown: got false, want a clean drain")
	}
	if ctx.Err() != nil {
		t.Error("Shutdown waited for idle connections until its deadline")
	}
	for _, c := range []*client{fresh, hot, cold} {
		c.expectClosed()
	}
	ts.waitServed(t)
	if n := ts.OpenConns(); n != 0 {
		t.Errorf("OpenConns: got %d, want 0", n)
	}
	if c, err := net.DialTimeout("tcp", ts.addr, wait); err == nil {
		c.SetDeadline(time.Now().Add(wait))
		io.WriteString(c, getReq("/"))
		if b, _ := io.ReadAll(c); len(b) != 0 {
			t.Errorf("after Shutdown: got %q, want no answer", b)
		}
		c.Close()
	}
}

// TestShutdownInFlight: a request running when Shutdown starts finishes,
// with Connection: close; a request pipelined behind it is not served.
func TestShutdownInFlight(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			close(entered)
			<-release
		}
		io.WriteString(w, r.URL.Path)
	}, nil)
	c := ts.dial(t)
	c.send(getReq("/slow") + getReq("/behind"))
	<-entered

	done := make(chan bool, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		done <- ts.Shutdown(ctx)
	}()
	eventually(t, "listener closed", func() bool {
		nc, err := net.Dial("tcp", ts.addr)
		if err == nil {
			nc.Close()
		}
		return err != nil
	})
	select {
	case <-done:
		t.Fatal("Shutdown returned while a request was running")
	default:
	}
	close(release)
	resp := c.expectBody(200, "/slow")
	if !resp.Close {
		t.Error("the last response did not say Connection: close")
	}
	c.expectClosed()
	select {
	case clean := <-done:
		if !clean {
			t.Error("Shutdown: got false, want a clean drain")
		}
	case <-time.After(wait):
		t.Fatal("Shutdown did not return after the request finished")
	}
	ts.waitServed(t)
	if n := ts.calls.Load(); n != 1 {
		t.Errorf("handler calls: got %d, want 1", n)
	}
}

// TestShutdownDeadline: when ctx expires, what is left is closed and the
// requests' contexts are cancelled.
func TestShutdownDeadline(t *testing.T) {
	entered := make(chan struct{})
	cancelled := make(chan struct{})
	ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-r.Context().Done()
		close(cancelled)
	}, nil)
	c := ts.dial(t)
	c.send(getReq("/"))
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), hotWait)
	defer cancel()
	if ts.Shutdown(ctx) {
		t.Error("Shutdown: got true, want false (a request was still running)")
	}
	select {
	case <-cancelled:
	case <-time.After(wait):
		t.Fatal("the request's context was not cancelled")
	}
	c.rest() // closed, maybe with a partial response
	ts.waitServed(t)
	eventually(t, "connections closed", func() bool { return ts.OpenConns() == 0 })
}

func TestClientACL(t *testing.T) {
	ts := newTestServer(t, echo, func(o *Options) {
		o.AllowClients = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
	})
	c := ts.dial(t)
	c.send(getReq("/"))
	resp, body := c.get()
	if resp.StatusCode != http.StatusForbidden || body != refusedBody {
		t.Errorf("got %d %q, want 403 %q", resp.StatusCode, body, refusedBody)
	}
	if !resp.Close {
		t.Error("a refused client's connection was left open")
	}
	c.expectClosed()
	if n := ts.calls.Load(); n != 0 {
		t.Errorf("handler calls: got %d, want 0", n)
	}
	if n := ts.OpenConns(); n != 0 {
		t.Errorf("OpenConns: got %d, want 0 (refused clients are not served)", n)
	}
}

// TestShutdownBeforeServe: Serve called after Shutdown returns at once
// (a caller may start Serve in a goroutine and shut down before it runs).
func TestShutdownBeforeServe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := New(ln, Options{Handler: http.HandlerFunc(echo)})
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if !s.Shutdown(ctx) {
		t.Error("Shutdown: got false, want true")
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve() }()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve: got %v, want nil", err)
		}
	case <-time.After(wait):
		ln.Close()
		t.Fatal("Serve did not return after Shutdown")
	}
}
