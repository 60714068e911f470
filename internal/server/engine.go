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
	"sluice/internal/limit"
	"sluice/internal/sockopt"
)

// engine is the accept loop and the set of live connections.
type engine struct {
	handler        http.Handler
	headerTimeout  time.Duration
	idleTimeout    time.Duration
	maxHeaderBytes int
	maxBodyBytes   int64 // 0: no bound
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
		var adm *admitted
		if a, ok := nc.(*admitted); ok {
			adm, nc = a, a.Conn // the raw socket: response.ReadFrom splices to it
		}
		sockopt.Tune(nc)
		c := &conn{srv: e, nc: nc, adm: adm, remote: nc.RemoteAddr().String()}
		c.ctx, c.cancel = context.WithCancel(e.baseCtx)
		if !e.track(c) {
			nc.Close()
			c.release()
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
	type watchItem struct {
		c  *conn
		nc net.Conn // read under e.mu: see setState
	}
	var due []watchItem
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			e.mu.Lock()
			for c := range e.conns {
				if c.watchDue(now) {
					due = append(due, watchItem{c, c.nc})
				}
			}
			e.mu.Unlock()
			for i, w := range due {
				w.c.startWatch(w.nc)
				due[i] = watchItem{}
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
//
// On StateHijacked, when the connection holds a place under the
// connection caps, c.nc becomes a wrapper that gives the place back when
// the hijacker closes it: Hijack hands out c.nc after this returns, so a
// tunnel counts against its client's cap until it ends. The swap happens
// under e.mu, and the engine's other goroutines read c.nc only under
// e.mu, while c is in e.conns.
func (e *engine) setState(c *conn, st http.ConnState) bool {
	c.state.Store(int32(st))
	if st == http.StateHijacked {
		raw := c.nc
		e.mu.Lock()
		delete(e.conns, c)
		if c.adm != nil {
			c.nc = hijackedConn(raw, &c.adm.slot)
		}
		e.mu.Unlock()
		if e.connState != nil {
			e.connState(raw, st)
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
	var idle []net.Conn
	for c := range e.conns {
		if st := http.ConnState(c.state.Load()); st == http.StateIdle || st == http.StateNew {
			idle = append(idle, c.nc)
		}
	}
	var wait chan struct{}
	if len(e.conns) > 0 {
		e.idleWake = make(chan struct{})
		wait = e.idleWake
	}
	e.mu.Unlock()
	for _, nc := range idle {
		// Wakes the connection's wait for a request; it then sees the
		// shutdown and closes. A request that raced in is refused the
		// same way, as a closed keep-alive connection (RFC 9112 §9.3.1).
		nc.SetReadDeadline(aLongTimeAgo)
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
	conns := make([]net.Conn, 0, len(e.conns))
	for c := range e.conns {
		conns = append(conns, c.nc)
	}
	e.mu.Unlock()
	if e.stopAll != nil {
		e.stopAll()
	}
	for _, nc := range conns {
		nc.Close()
	}
}

// hijackedConn wraps a hijacked connection so that closing it gives its
// place under the connection caps back (once, however often it is
// closed). A TCP connection keeps its *net.TCPConn methods (CloseWrite,
// ReadFrom, SyscallConn), so a tunnel can still half-close it and splice
// into it; to splice from it, read from its Socket.
func hijackedConn(nc net.Conn, slot *limit.Slot) net.Conn {
	if tc, ok := nc.(*net.TCPConn); ok {
		return &hijackedTCP{TCPConn: tc, slot: slot}
	}
	return &hijackedOther{Conn: nc, slot: slot}
}

type hijackedTCP struct {
	*net.TCPConn
	slot *limit.Slot
}

func (h *hijackedTCP) Close() error {
	err := h.TCPConn.Close()
	h.slot.Release()
	return err
}

// Socket returns the TCP connection itself. The kernel splices only from
// a *net.TCPConn, so a tunnel reads from it; closing must still go
// through h.
func (h *hijackedTCP) Socket() *net.TCPConn { return h.TCPConn }

type hijackedOther struct {
	net.Conn
	slot *limit.Slot
}

func (h *hijackedOther) Close() error {
	err := h.Conn.Close()
	h.slot.Release()
	return err
}
