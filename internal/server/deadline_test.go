package server

import (
	"io"
	"net/http"
	"testing"
	"time"
)

// The read deadline armed while waiting for a request (hotWait) stays
// armed while the handler runs, since clearing it for every request cost
// a timer update. These tests pass the moment it expires and check that
// nothing that reads the connection afterwards trips over it.
const pastHotWait = 3 * hotWait

// TestHeadSplitAfterEmptyLines: empty lines before a request do not count
// as a whole head; the rest of the head arriving later is still read.
func TestHeadSplitAfterEmptyLines(t *testing.T) {
	ts := newTestServer(t, echo, nil)
	c := ts.dial(t)
	c.send("\r\n\r\nGET /split HTTP/1.1\r\n")
	time.Sleep(pastHotWait)
	c.send("Host: a\r\n\r\n")
	c.expectBody(http.StatusOK, "GET /split ")
}

// TestBodyAfterWaitDeadline: a request body that arrives after the wait's
// deadline has passed is read, with and without an idle timeout (which
// bounds each body read).
func TestBodyAfterWaitDeadline(t *testing.T) {
	for _, idle := range []time.Duration{0, wait} {
		ts := newTestServer(t, echo, func(o *Options) { o.IdleTimeout = idle })
		c := ts.dial(t)
		c.send("POST /late HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\n")
		time.Sleep(pastHotWait)
		c.send("body")
		c.expectBody(http.StatusOK, "POST /late body")
	}
}

// TestHijackAfterWaitDeadline: a hijacked connection read after the
// wait's deadline has passed, without setting a deadline of its own,
// does not time out.
func TestHijackAfterWaitDeadline(t *testing.T) {
	got := make(chan string, 1)
	ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(pastHotWait)
		nc, rw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			got <- err.Error()
			return
		}
		defer nc.Close()
		buf := make([]byte, 5)
		if _, err := io.ReadFull(rw, buf); err != nil {
			got <- err.Error()
			return
		}
		got <- string(buf)
	}, nil)
	c := ts.dial(t)
	c.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	time.Sleep(2 * pastHotWait)
	c.send("LATER")
	select {
	case s := <-got:
		if s != "LATER" {
			t.Errorf("hijacked read: got %q, want LATER", s)
		}
	case <-time.After(wait):
		t.Fatal("hijacked read did not return")
	}
}

// TestWatcherSeesDeparture: a bodiless request still running after
// watchDelay has its context cancelled when the client goes away, though
// the wait's read deadline expired long before.
func TestWatcherSeesDeparture(t *testing.T) {
	cancelled := make(chan bool, 1)
	ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
			cancelled <- true
		case <-time.After(watchDelay + wait):
			cancelled <- false
		}
	}, nil)
	c := ts.dial(t)
	c.send("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
	time.Sleep(watchDelay + pastHotWait)
	c.Close()
	if !<-cancelled {
		t.Error("the handler's context was not cancelled after the client left")
	}
}

// TestRequestArrivedBeforeWait: a keep-alive request that arrived while
// the handler was still running after sending its whole response is read
// at once. Go's poller forgets readiness it recorded before a wait
// starts, so a server that waited for the poller before reading would
// sleep through it: here, with the idle timeout at hotWait, until it
// closed the connection with the request unread.
func TestRequestArrivedBeforeWait(t *testing.T) {
	release := make(chan struct{})
	ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "2")
		io.WriteString(w, "ok")
		w.(http.Flusher).Flush()
		if r.URL.Path == "/first" {
			<-release // the response is out; the handler has not returned
		}
	}, func(o *Options) { o.IdleTimeout = hotWait })
	c := ts.dial(t)
	for range 5 {
		c.send(getReq("/first"))
		c.expectBody(http.StatusOK, "ok")
		c.send(getReq("/second"))
		// Not synchronisation: time for the poller to record the
		// arrival before the server starts waiting.
		time.Sleep(10 * time.Millisecond)
		release <- struct{}{}
		c.expectBody(http.StatusOK, "ok")
	}
}
