package server

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"sluice/internal/accesslog"
	"sluice/internal/wire"
)

// conn is one client connection, served by one goroutine: read a request,
// run the handler, finish the response, repeat.
//
// Between requests it keeps only its read buffer (net/http's server also
// keeps a 4 KiB write buffer per idle connection); the write buffer is
// taken from a pool per response. Unlike net/http it starts no background
// read per request to notice a client going away: a departed client is
// noticed when the response is written to it.
type conn struct {
	srv      *engine
	nc       net.Conn
	adm      *admitted // the place under the connection caps; nil without limits
	remote   string
	br       *bufio.Reader
	tmpl     *http.Request // empty request with the connection's context and address
	head     []byte
	ctx      context.Context
	cancel   context.CancelFunc
	state    atomic.Int32 // http.ConnState
	hijacked bool

	// readAborted is set when the handler forced the read deadline into
	// the past (to wake a body reader); armBodyDeadline must not undo it.
	readAborted atomic.Bool
	// readDeadline is a read deadline the handler set (unix ns, 0: none).
	readDeadline atomic.Int64

	// The departure watcher: see watch.
	watchFrom  atomic.Int64 // when the watched request started, unix ns
	watchState atomic.Int32
	watchDone  chan struct{}
}

// watchDelay is how long a bodiless request may run before the server
// starts watching its client for a disconnect; the engine looks for such
// requests every watchTick.
const (
	watchDelay = time.Second
	watchTick  = 250 * time.Millisecond
)

// Departure-watcher states.
const (
	watchOff int32 = iota
	watchArmed
	watchRunning
)

var (
	brPool sync.Pool
	bwPool sync.Pool
)

func getReader(r io.Reader) *bufio.Reader {
	if br, _ := brPool.Get().(*bufio.Reader); br != nil {
		br.Reset(r)
		return br
	}
	return bufio.NewReaderSize(r, 4<<10)
}

func getWriter(w io.Writer) *bufio.Writer {
	if bw, _ := bwPool.Get().(*bufio.Writer); bw != nil {
		bw.Reset(w)
		return bw
	}
	return bufio.NewWriterSize(w, 4<<10)
}

func putWriter(bw *bufio.Writer) {
	bw.Reset(nil)
	bwPool.Put(bw)
}

// serve runs the connection until it closes or is hijacked.
func (c *conn) serve() {
	defer func() {
		if !c.hijacked {
			c.nc.Close()
			c.release()
			if c.br != nil {
				c.br.Reset(nil)
				brPool.Put(c.br)
				c.br = nil
			}
		}
		c.cancel()
		c.srv.forget(c)
	}()
	first := true
	for {
		// Wait for the next request; the first must begin within the
		// header timeout, later ones within the idle timeout (zero: none).
		wait := c.srv.idleTimeout
		if first {
			wait = c.srv.headerTimeout
		}
		if !c.waitRequest(wait) {
			return
		}
		if !c.srv.setState(c, http.StateActive) {
			return // shutting down
		}
		first = false
		// The wait's deadline is still armed. A head already buffered
		// whole needs no other: reading it cannot block. Otherwise the
		// rest of it must arrive within the header timeout.
		if !c.headBuffered() {
			if t := c.srv.headerTimeout; t > 0 {
				c.nc.SetReadDeadline(time.Now().Add(t))
			} else {
				c.nc.SetReadDeadline(time.Time{})
			}
		}
		keep := c.serveOne()
		if !keep || c.hijacked {
			return
		}
		if !c.srv.setState(c, http.StateIdle) {
			return
		}
	}
}

// release gives the connection's place under the connection caps back;
// for a hijacked connection, closing it does (see engine.setState).
func (c *conn) release() {
	if c.adm != nil {
		c.adm.slot.Release()
	}
}

// hotWait is how long an idle connection keeps its read buffer: a busy
// keep-alive client sends its next request well within it; past it the
// buffer goes back to the pool, so thousands of idle connections cost
// little more than their goroutines. Measured with compare.sh's idle
// scenario (5,000 connections) and pass-1k: 250ms → 13–15 KiB/conn, 50ms →
// 10.9 KiB/conn at the same req/s, 0 → 11.6 KiB/conn and 5% fewer req/s
// (a peek syscall per request).
const hotWait = 50 * time.Millisecond

// waitRequest waits up to wait for the next request's first byte, with the
// read buffer for a short while and then without it. It reports false
// when the connection should close (timeout, EOF, shutdown).
func (c *conn) waitRequest(wait time.Duration) bool {
	start := time.Now()
	if c.br != nil && c.br.Buffered() > 0 {
		return !c.srv.shutting.Load() // a pipelined request is waiting
	}
	if c.br == nil {
		c.br = getReader(c.nc)
	}
	hot := hotWait
	if wait > 0 && wait < hot {
		hot = wait
	}
	c.nc.SetReadDeadline(start.Add(hot))
	if c.srv.shutting.Load() {
		return false // shutdown may have woken us just before the line above
	}
	// Read, not wait for the poller first: a wait starts by forgetting
	// the readiness the poller recorded, so a request that arrived
	// while the last response was finishing would sleep until hotWait.
	_, err := c.br.Peek(1)
	if err == nil {
		return true
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || c.srv.shutting.Load() {
		return false
	}
	if wait > 0 && wait <= hot {
		return false // the whole wait has passed
	}
	// Cold: give the buffer back and wait for readability without one.
	c.br.Reset(nil)
	brPool.Put(c.br)
	c.br = nil
	if wait > 0 {
		c.nc.SetReadDeadline(start.Add(wait))
	} else {
		c.nc.SetReadDeadline(time.Time{})
	}
	if c.srv.shutting.Load() {
		return false
	}
	if !waitReadable(c.nc) {
		return false
	}
	c.br = getReader(c.nc)
	return true
}

// waitReadable blocks until nc has bytes (or EOF) to read, honouring its
// read deadline, without holding a buffer: a one-byte MSG_PEEK looks at
// the socket itself, so data that arrived before the wait is not missed.
func waitReadable(nc net.Conn) bool {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return true // not a socket: just read
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	var one [1]byte
	ready := false
	err = rc.Read(func(fd uintptr) bool {
		_, _, err := syscall.Recvfrom(int(fd), one[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		if err == syscall.EAGAIN || err == syscall.EINTR {
			return false // wait for readability
		}
		ready = err == nil
		return true
	})
	return err == nil && ready
}

// headBuffered reports whether the read buffer holds a whole request
// head: after any empty lines (which readHead skips), a line that ends
// where an empty line follows.
func (c *conn) headBuffered() bool {
	buf, _ := c.br.Peek(c.br.Buffered())
	for len(buf) > 0 && (buf[0] == '\r' || buf[0] == '\n') {
		buf = buf[1:]
	}
	return bytes.Contains(buf, []byte("\n\r\n")) || bytes.Contains(buf, []byte("\n\n"))
}

// serveOne reads and answers one request. It reports whether the
// connection can carry another.
func (c *conn) serveOne() (keep bool) {
	start := time.Now()
	s, err := c.readHead(c.br, c.srv.maxHeaderBytes)
	if err != nil {
		c.reject(err, start, "")
		return false
	}
	if c.tmpl == nil {
		c.tmpl = (&http.Request{RemoteAddr: c.remote}).WithContext(c.ctx)
	}
	// A copy of the connection's template carries its context and
	// address: one allocation per request instead of two.
	r := new(http.Request)
	*r = *c.tmpl
	if err := parseRequestInto(r, s); err != nil {
		c.reject(err, start, s)
		return false
	}
	if r.ContentLength < 0 {
		// A malformed chunked body that came with the head is refused
		// before the handler forwards the head anywhere.
		buf, _ := c.br.Peek(c.br.Buffered())
		if err := checkChunks(buf); err != nil {
			c.reject(err, start, s)
			return false
		}
	}
	if c.adm != nil {
		if ok, retry := c.adm.slot.Request(); !ok {
			return c.tooManyRequests(r, retry)
		}
	}
	if max := c.srv.maxBodyBytes; max > 0 && r.ContentLength > max {
		c.reject(&requestError{http.StatusRequestEntityTooLarge, "request body larger than " + strconv.FormatInt(max, 10) + " bytes"}, start, s)
		c.linger()
		return false
	}
	// The read deadline of the wait or the head stays armed while the
	// handler runs: nothing reads the connection then, except a body
	// reader, a hijacker and the departure watcher, which each clear or
	// replace it first. (Clearing it for every request cost a timer
	// update.)

	bw := getWriter(c.nc)
	w := &response{c: c, req: r, bw: bw}
	var b *body
	if r.ContentLength != 0 && r.Method != http.MethodConnect {
		c.readAborted.Store(false)
		c.readDeadline.Store(0)
		c.nc.SetReadDeadline(time.Time{})
		b = newBody(c, r, w)
		r.Body = b
	} else {
		r.Body = http.NoBody
	}
	if ex := r.Header["Expect"]; len(ex) > 0 && !wire.HasToken(ex, "100-continue") {
		w.Header()["Connection"] = []string{"close"}
		http.Error(w, "417 Expectation Failed: only 100-continue is supported", http.StatusExpectationFailed)
		w.finish()
		putWriter(bw)
		return false
	}

	watch := b == nil && r.Method != http.MethodConnect
	if watch {
		c.watch(start)
	}
	ok := c.runHandler(w, r)
	if watch {
		c.stopWatch()
	}
	if !ok {
		if !w.hijacked {
			putWriter(bw)
		}
		return false
	}
	if w.hijacked {
		return false
	}
	err = w.finish()
	putWriter(bw)
	if err != nil || w.closeAfter {
		return false
	}
	if b != nil && !b.done() {
		// The handler left part of the body unread; read it away if it
		// is small, or give up the connection.
		c.nc.SetReadDeadline(time.Now().Add(time.Second))
		if !b.discard(256 << 10) {
			return false
		}
	}
	return true
}

// watch arms the departure watcher for a request that started at start.
// Net/http reads every connection in the background while a handler
// runs, to cancel the request when the client leaves; that costs a
// goroutine and syscalls per request. Here only a request still running
// after watchDelay is watched (the engine's sweep finds it): a goroutine
// peeks at the socket, and EOF or a reset cancels the connection's
// context (and with it the request and its origin connection). Only
// requests without a body are watched, since the handler may be reading
// the body. Arming and disarming are two atomic stores: a timer per
// request cost 2% of a cache hit.
func (c *conn) watch(start time.Time) {
	c.watchFrom.Store(start.UnixNano())
	c.watchState.Store(watchArmed)
}

// watchDue reports whether c has been armed for at least watchDelay at now.
func (c *conn) watchDue(now time.Time) bool {
	return c.watchState.Load() == watchArmed && now.UnixNano()-c.watchFrom.Load() >= int64(watchDelay)
}

// startWatch starts the departure watcher on nc, the connection's socket
// as the engine read it under its lock.
func (c *conn) startWatch(nc net.Conn) {
	// watchDone is set before the state says running, which is when
	// stopWatch starts to read it.
	done := make(chan struct{})
	if c.watchState.Load() != watchArmed {
		return
	}
	// The wait's read deadline is still armed (see serveOne). It is
	// cleared before the state says running, so it cannot undo the
	// deadline stopWatch sets to wake the watcher.
	nc.SetReadDeadline(time.Time{})
	c.watchDone = done
	if !c.watchState.CompareAndSwap(watchArmed, watchRunning) {
		return
	}
	go func() {
		defer close(done)
		if clientGone(nc) {
			c.cancel()
		}
	}()
}

// stopWatch disarms the watcher, or wakes and waits for a running one.
func (c *conn) stopWatch() {
	if c.watchState.CompareAndSwap(watchArmed, watchOff) {
		return
	}
	if c.watchState.Load() == watchRunning {
		c.nc.SetReadDeadline(aLongTimeAgo)
		<-c.watchDone
		c.nc.SetReadDeadline(time.Time{})
		c.watchState.Store(watchOff)
	}
}

// clientGone blocks until the client's socket is readable and reports
// whether that is because the client closed or reset it (rather than
// because it sent more bytes, or the read deadline passed). It consumes
// nothing.
func clientGone(nc net.Conn) bool {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	var one [1]byte
	gone := false
	rc.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), one[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		if err == syscall.EAGAIN || err == syscall.EINTR {
			return false
		}
		gone = err != nil || n == 0
		return true
	})
	return gone
}

// armBodyDeadline bounds the next read of a request body by the idle
// timeout, so a client that stalls mid-upload does not hold the request
// (and its origin connection) for ever.
func (c *conn) armBodyDeadline() {
	d := c.srv.idleTimeout
	if d <= 0 {
		return
	}
	t := time.Now().Add(d)
	if hd := c.readDeadline.Load(); hd != 0 && hd < t.UnixNano() {
		t = time.Unix(0, hd) // the handler's own, earlier deadline wins
	}
	c.nc.SetReadDeadline(t)
	if c.readAborted.Load() {
		c.nc.SetReadDeadline(aLongTimeAgo)
	}
}

// runHandler calls the handler, containing its panics. It reports false
// when the handler aborted (http.ErrAbortHandler) or panicked: the
// connection must then be closed without finishing the response, so the
// client cannot mistake a partial response for a whole one.
func (c *conn) runHandler(w *response, r *http.Request) (ok bool) {
	defer func() {
		if p := recover(); p != nil {
			ok = false
			if p != http.ErrAbortHandler {
				buf := make([]byte, 16<<10)
				buf = buf[:runtime.Stack(buf, false)]
				c.srv.log.Error("handler panic", "client", c.remote, "url", r.RequestURI, "panic", fmt.Sprint(p), "stack", string(buf))
			}
		}
	}()
	c.srv.handler.ServeHTTP(w, r)
	return true
}

// reject answers a request the server refused before the handler, then
// the connection closes.
func (c *conn) reject(err error, start time.Time, head string) {
	var re *requestError
	if !errors.As(err, &re) {
		return // the client went away: nobody to answer
	}
	msg := strconv.Itoa(re.status) + " " + http.StatusText(re.status) + ": " + re.msg + "\n"
	c.nc.SetWriteDeadline(time.Now().Add(2 * time.Second))
	bw := getWriter(c.nc)
	writeStatusLine(bw, re.status)
	bw.WriteString("Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\nCache-Control: no-store\r\nDate: ")
	bw.WriteString(httpDate())
	bw.WriteString("\r\nContent-Length: ")
	bw.WriteString(strconv.Itoa(len(msg)))
	bw.WriteString("\r\n\r\n")
	bw.WriteString(msg)
	bw.Flush()
	putWriter(bw)
	rec := accesslog.Record{Start: start, Duration: time.Since(start), Client: c.remote,
		Status: re.status, Result: "NONE", Hierarchy: "HIER_NONE", BytesOut: int64(len(msg)), Error: re.msg}
	if line, _ := cutLine(head); line != "" {
		if f := splitRequestLine(line); len(f) == 3 {
			rec.Method, rec.URL, rec.Proto = f[0], f[1], f[2]
		}
	}
	c.srv.alog.Log(rec)
}

// tooManyRequests answers a request over its client's rate with 429 and
// Retry-After (RFC 6585 §4, RFC 9110 §10.2.3), without running the
// handler and without an access-log line: the limiter logs the burst,
// not each request. A bodiless HTTP/1.1 request keeps its connection
// (pipelined requests after it are checked in turn); otherwise the
// connection closes, since skipping a body could take as long as reading
// it. It reports whether the connection can carry another request.
func (c *conn) tooManyRequests(r *http.Request, retry time.Duration) (keep bool) {
	keep = r.ProtoMinor == 1 && !r.Close && r.ContentLength == 0 && r.Method != http.MethodConnect
	secs := strconv.FormatInt(max(int64(math.Ceil(retry.Seconds())), 1), 10)
	msg := "429 Too Many Requests: your address is sending requests faster than this proxy allows; retry after " + secs + " s.\n"
	c.nc.SetWriteDeadline(time.Now().Add(2 * time.Second))
	bw := getWriter(c.nc)
	writeStatusLine(bw, http.StatusTooManyRequests)
	bw.WriteString("Content-Type: text/plain; charset=utf-8\r\nCache-Control: no-store\r\nRetry-After: ")
	bw.WriteString(secs)
	if !keep {
		bw.WriteString("\r\nConnection: close")
	}
	bw.WriteString("\r\nDate: ")
	bw.WriteString(httpDate())
	bw.WriteString("\r\nContent-Length: ")
	bw.WriteString(strconv.Itoa(len(msg)))
	bw.WriteString("\r\n\r\n")
	if r.Method != http.MethodHead {
		bw.WriteString(msg)
	}
	err := bw.Flush()
	putWriter(bw)
	c.nc.SetWriteDeadline(time.Time{})
	if err != nil {
		return false
	}
	if !keep && r.ContentLength != 0 {
		c.linger()
	}
	return keep
}

// linger follows a final answer given before the request's body was read:
// it half-closes the connection and reads away, for a second and at most
// 256 KiB, what the client is still sending. Closing with unread bytes
// would reset the connection, and the reset can destroy the answer before
// the client reads it.
func (c *conn) linger() {
	tc, ok := c.nc.(*net.TCPConn)
	if !ok {
		return
	}
	tc.CloseWrite()
	tc.SetReadDeadline(time.Now().Add(time.Second))
	io.Copy(io.Discard, io.LimitReader(tc, 256<<10))
}

func splitRequestLine(line string) []string {
	var f []string
	for len(f) < 2 {
		i := indexSpace(line)
		if i < 0 {
			break
		}
		f = append(f, line[:i])
		line = line[i+1:]
	}
	return append(f, line)
}

func indexSpace(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' {
			return i
		}
	}
	return -1
}

// httpDate returns the current time in IMF-fixdate (RFC 9110 §5.6.7),
// formatted at most once a second.
func httpDate() string {
	now := time.Now().Unix()
	if d := dateCache.Load(); d != nil && d.unix == now {
		return d.text
	}
	d := &cachedDate{unix: now, text: time.Unix(now, 0).UTC().Format(http.TimeFormat)}
	dateCache.Store(d)
	return d.text
}

type cachedDate struct {
	unix int64
	text string
}

var dateCache atomic.Pointer[cachedDate]

var aLongTimeAgo = time.Unix(1, 0)
