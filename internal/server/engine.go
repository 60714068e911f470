package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"sluice/internal/accesslog"
)

// engine is the accept loop and the set of live connections.
type engine struct {
	handler        http.Handler
	headerTimeout  time.Duration
	idleTimeout    time.Duration
	maxHeaderBytes int
	log            *slog.Logger
	alog           *accesslog.Logger
	connState      func(net.Conn, http.ConnState)

	mu       sync.Mutex
	conns    map[*conn]struct{}
	ln       net.Listener
	shutting atomic.Bool
	idleWake chan struct{} // closed when the last connection is gone during shutdown
	baseCtx  context.Context
	stopAll  context.CancelFunc
}

func (e *engine) shuttingDown() bool { return e.shutting.Load() }

// serve accepts until the listener closes.
func (e *engine) serve(ln net.Listener) error {
	e.mu.Lock()
	e.ln = ln
	if e.shutting.Load() {
		ln.Close() // Shutdown came first: Accept fails, Serve returns
	}
	if e.baseCtx == nil {
		e.baseCtx, e.stopAll = context.WithCancel(context.Background())
	}
	e.mu.Unlock()
	stop := make(chan struct{})
	defer close(stop)
	go e.sweepWatches(stop)
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if e.shutting.Load() {
				return http.ErrServerClosed
			}
			if isTemporaryAccept(err) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				e.log.Warn("accept failed; retrying", "err", err, "in", backoff)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		c := &conn{srv: e, nc: nc, remote: nc.RemoteAddr().String()}
		c.src.nc = nc
		c.ctx, c.cancel = context.WithCancel(e.baseCtx)
		if !e.track(c) {
			nc.Close()
			c.cancel()
			continue
		}
		go c.serve()
	}
}

// sweepWatches starts the departure watcher of every connection whose
// request has run for watchDelay, until stop is closed.
func (e *engine) sweepWatches(stop <-chan struct{}) {
	t := time.NewTicker(watchTick)
	defer t.Stop()
	var due []*conn
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			e.mu.Lock()
			for c := range e.conns {
				if c.watchDue(now) {
					due = append(due, c)
				}
			}
			e.mu.Unlock()
			for i, c := range due {
				c.startWatch()
				due[i] = nil
			}
			due = due[:0]
		}
	}
}

// isTemporaryAccept reports accept errors worth retrying after a pause:
// running out of file descriptors or memory, or a connection that died in
// the backlog, must not stop the server for good.
func isTemporaryAccept(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	for _, errno := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED, syscall.ECONNRESET} {
		if errors.Is(err, errno) {
			return true
		}
	}
	return false
}

func (e *engine) track(c *conn) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.shutting.Load() {
		return false
	}
	if e.conns == nil {
		e.conns = make(map[*conn]struct{})
	}
	e.conns[c] = struct{}{}
	c.state.Store(int32(http.StateNew))
	if e.connState != nil {
		e.connState(c.nc, http.StateNew)
	}
	return true
}

// setState records a connection's state; it reports false when the
// connection should close because the server is shutting down.
func (e *engine) setState(c *conn, st http.ConnState) bool {
	c.state.Store(int32(st))
	if st == http.StateHijacked {
		e.mu.Lock()
		delete(e.conns, c)
		e.mu.Unlock()
		if e.connState != nil {
			e.connState(c.nc, st)
		}
		e.noteGone()
		return true
	}
	return !e.shutting.Load()
}

func (e *engine) forget(c *conn) {
	if c.hijacked {
		return
	}
	e.mu.Lock()
	delete(e.conns, c)
	e.mu.Unlock()
	if e.connState != nil {
		e.connState(c.nc, http.StateClosed)
	}
	e.noteGone()
}

func (e *engine) noteGone() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.shutting.Load() && len(e.conns) == 0 && e.idleWake != nil {
		close(e.idleWake)
		e.idleWake = nil
	}
}

// shutdown stops accepting, wakes idle connections so they close, and
// waits for active ones to finish their request, until ctx is done; then
// it closes what is left. It reports whether everything finished in time.
func (e *engine) shutdown(ctx context.Context) bool {
	e.mu.Lock()
	e.shutting.Store(true)
	if e.ln != nil {
		e.ln.Close()
	}
	var idle []*conn
	for c := range e.conns {
		if st := http.ConnState(c.state.Load()); st == http.StateIdle || st == http.StateNew {
			idle = append(idle, c)
		}
	}
	var wait chan struct{}
	if len(e.conns) > 0 {
		e.idleWake = make(chan struct{})
		wait = e.idleWake
	}
	e.mu.Unlock()
	for _, c := range idle {
		// Wakes the connection's wait for a request; it then sees the
		// shutdown and closes. A request that raced in is refused the
		// same way, as a closed keep-alive connection (RFC 9112 §9.3.1).
		c.nc.SetReadDeadline(aLongTimeAgo)
	}
	if wait == nil {
		return true
	}
	select {
	case <-wait:
		return true
	case <-ctx.Done():
	}
	e.closeAll()
	return false
}

// closeAll closes every connection now.
func (e *engine) closeAll() {
	e.mu.Lock()
	e.shutting.Store(true)
	if e.ln != nil {
		e.ln.Close()
	}
	conns := make([]*conn, 0, len(e.conns))
	for c := range e.conns {
		conns = append(conns, c)
	}
	e.mu.Unlock()
	if e.stopAll != nil {
		e.stopAll()
	}
	for _, c := range conns {
		c.nc.Close()
	}
}
