// Package tunnel relays bytes both ways between two connections: a CONNECT
// tunnel, or a WebSocket after a 101 Switching Protocols. It half-closes
// each direction when its source ends, closes both when neither side has
// sent anything for the idle timeout, and tracks open tunnels so a graceful
// shutdown can wait for them.
//
// It does not look inside the bytes, dial anything or write HTTP: the proxy
// does that before handing the two connections over.
package tunnel

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"sluice/internal/copybuf"
	"sluice/internal/splice"
)

// Conn is what a tunnel end needs: a byte stream with deadlines.
// *net.TCPConn satisfies it; so does an upgraded HTTP connection.
type Conn interface {
	io.ReadWriteCloser
	SetReadDeadline(time.Time) error
	SetWriteDeadline(time.Time) error
}

// Result reports what passed through a tunnel.
type Result struct {
	// Up is the number of bytes copied from client to server, Down from
	// server to client.
	Up, Down int64
	// Idle is true when the tunnel was closed for inactivity.
	Idle bool
}

// Pump copies client→server and server→client until both directions end,
// then closes both connections. idle, if positive, closes the tunnel when
// no byte has moved in either direction for that long. Pump returns when
// both copies have finished.
//
// When both ends are *net.TCPConn the kernel splices the bytes (no copy
// through user space).
func Pump(client, server Conn, idle time.Duration) Result {
	p := &pump{idle: idle}
	p.touch()
	done := make(chan struct{}, 1) // the up copy reports once; buffered so it never blocks
	var res Result
	go func() {
		res.Up = p.copy(server, client)
		done <- struct{}{}
	}()
	stopWatch := make(chan struct{})
	watched := make(chan struct{})
	if idle > 0 {
		go func() {
			defer close(watched)
			p.watch(client, server, stopWatch)
		}()
	} else {
		close(watched)
	}
	res.Down = p.copy(client, server)
	<-done
	close(stopWatch)
	<-watched
	client.Close()
	server.Close()
	res.Idle = p.timedOut.Load()
	return res
}

type pump struct {
	idle     time.Duration
	last     atomic.Int64 // unix nanoseconds of the last byte moved either way
	timedOut atomic.Bool
	aborted  atomic.Bool
}

func (p *pump) touch() { p.last.Store(time.Now().UnixNano()) }

// watch tears the tunnel down when nothing has moved for the idle period,
// also when both directions are blocked writing to peers that do not read
// (then neither copy wakes to look). It exits when stop is closed.
func (p *pump) watch(a, b Conn, stop <-chan struct{}) {
	tick := time.NewTicker(max(p.idle/4, time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		if time.Since(time.Unix(0, p.last.Load())) >= p.idle {
			p.timedOut.Store(true)
			p.abort(a, b)
			return
		}
	}
}

// chunk bounds one splice or copy so activity is recorded at least this
// often on a busy tunnel.
const chunk = 1 << 20

// copy moves bytes from src to dst until src ends or the tunnel is torn
// down, then half-closes dst.
//
// Two TCP sockets go through spliceCopy, which records progress after
// every write. Otherwise (an end that is not a plain socket) progress is
// only visible when a copy of up to chunk bytes returns, so each direction
// wakes every idle/2 (its read deadline) to record progress, and the
// watchdog closes the tunnel once nothing has moved either way for a
// whole idle period. A busy direction's report is at most idle/2 old, so
// a quiet direction never outvotes a busy one.
//
// Only reads get deadlines. A write deadline that fires in the middle of a
// splice loses the bytes already moved into the kernel pipe; a write
// blocked on a peer that does not read is released by abort, when the
// other direction finds the tunnel idle or ends.
func (p *pump) copy(dst, src Conn) int64 {
	if n, ok := p.spliceCopy(dst, src); ok {
		return n
	}
	var total int64
	lr := &io.LimitedReader{R: readSide(src)}
	for {
		if p.idle > 0 {
			src.SetReadDeadline(time.Now().Add(p.idle / 2))
		}
		if p.aborted.Load() {
			break
		}
		lr.N = chunk
		n, err := copyOnce(dst, lr)
		total += n
		if n > 0 {
			p.touch()
		}
		if err == nil && lr.N == 0 {
			continue // a full chunk: go on
		}
		if err == nil {
			// Source reached EOF: pass the half-close on.
			closeWrite(dst)
			return total
		}
		if isTimeout(err) && p.idle > 0 && !p.aborted.Load() {
			continue // the watchdog decides when the tunnel is idle
		}
		break
	}
	p.abort(dst, src)
	return total
}

// spliceCopy is copy for two TCP sockets, with splice.Stream, which
// batches a busy direction's wake-ups. It reports ok=false, having done
// nothing, when either end is not a TCP socket.
func (p *pump) spliceCopy(dst, src Conn) (int64, bool) {
	ss, ok1 := readSide(src).(*net.TCPConn)
	ds, ok2 := readSide(dst).(*net.TCPConn)
	if !ok1 || !ok2 || !splice.Supported() {
		return 0, false
	}
	s := &splice.Stream{
		Dst:     ds,
		Src:     ss,
		Idle:    p.idle / 2,
		Stopped: p.aborted.Load,
		Moved:   func(int64) { p.touch() },
	}
	var total int64
	for {
		n, err := s.Copy(-1)
		total += n
		if err == nil {
			closeWrite(dst) // source reached EOF: pass the half-close on
			return total, true
		}
		if isTimeout(err) && p.idle > 0 && !p.aborted.Load() {
			continue // the watchdog decides when the tunnel is idle
		}
		break
	}
	p.abort(dst, src)
	return total, true
}

// abort tears the whole tunnel down: unblock the other direction too.
func (p *pump) abort(a, b Conn) {
	p.aborted.Store(true)
	a.SetReadDeadline(aLongTimeAgo)
	a.SetWriteDeadline(aLongTimeAgo)
	b.SetReadDeadline(aLongTimeAgo)
	b.SetWriteDeadline(aLongTimeAgo)
}

var aLongTimeAgo = time.Unix(1, 0)

// copyOnce copies until lr is exhausted or fails; it returns a nil error
// at EOF. It uses dst's ReadFrom (splice for TCP) when there is one.
func copyOnce(dst io.Writer, lr *io.LimitedReader) (int64, error) {
	if rf, ok := dst.(io.ReaderFrom); ok {
		return rf.ReadFrom(lr)
	}
	bp := copybuf.Get()
	defer copybuf.Put(bp)
	return io.CopyBuffer(dst, lr, *bp)
}

// readSide is what copy reads src through (and spliceCopy writes dst
// through). A hijacked client connection that holds a place under the
// server's connection caps wraps its socket to count its Close, and the
// kernel splices only from the socket itself, so the socket is used
// directly; closing still goes through the wrapper.
func readSide(c Conn) io.Reader {
	if s, ok := c.(interface{ Socket() *net.TCPConn }); ok {
		return s.Socket()
	}
	return c
}

func closeWrite(c Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
		return
	}
	c.Close()
}

func isTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Tracker counts open tunnels so shutdown can wait for them and, when the
// wait runs out, close them. The zero value is ready to use.
type Tracker struct {
	mu    sync.Mutex
	open  map[*entry]struct{}
	zero  chan struct{} // closed when open becomes empty while someone waits
	count atomic.Int64
}

type entry struct{ a, b io.Closer }

// Track registers a tunnel between a and b; call the returned function
// when it has ended.
func (t *Tracker) Track(a, b io.Closer) (done func()) {
	e := &entry{a, b}
	t.mu.Lock()
	if t.open == nil {
		t.open = make(map[*entry]struct{})
	}
	t.open[e] = struct{}{}
	t.count.Add(1)
	t.mu.Unlock()
	return func() {
		t.mu.Lock()
		if _, ok := t.open[e]; ok {
			delete(t.open, e)
			t.count.Add(-1)
			if len(t.open) == 0 && t.zero != nil {
				close(t.zero)
				t.zero = nil
			}
		}
		t.mu.Unlock()
	}
}

// Open reports the number of open tunnels.
func (t *Tracker) Open() int64 { return t.count.Load() }

// Wait blocks until no tunnel is open or deadline is reached; at the
// deadline it closes the tunnels still open. It reports whether all ended
// by themselves.
func (t *Tracker) Wait(deadline <-chan struct{}) bool {
	t.mu.Lock()
	if len(t.open) == 0 {
		t.mu.Unlock()
		return true
	}
	if t.zero == nil {
		t.zero = make(chan struct{})
	}
	zero := t.zero
	t.mu.Unlock()
	select {
	case <-zero:
		return true
	case <-deadline:
	}
	t.mu.Lock()
	var left []*entry
	for e := range t.open {
		left = append(left, e)
	}
	t.mu.Unlock()
	for _, e := range left {
		e.a.Close()
		e.b.Close()
	}
	// Give the tunnels' owners a moment to notice and finish (and log).
	t.mu.Lock()
	if len(t.open) > 0 && t.zero == nil {
		t.zero = make(chan struct{})
	}
	zero = t.zero
	t.mu.Unlock()
	if zero != nil {
		select {
		case <-zero:
		case <-time.After(time.Second):
		}
	}
	return false
}
