package upstream

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"sluice/internal/wire"
)

// conn is one connection to an origin. It is used by one request at a time:
// the pool hands it out, and the response body gives it back.
type conn struct {
	t      *Transport
	key    connKey
	nc     net.Conn
	br     *bufio.Reader
	bw     *bufio.Writer
	idleAt time.Time
	reused bool
	// counted is true when the connection holds a MaxConnsPerHost slot,
	// given back by close.
	counted bool
	closed  bool

	// cancelled is set by the request context's AfterFunc before it moves
	// the deadline into the past, so that code which sets a fresh deadline
	// can tell that it must not.
	cancelled atomic.Bool
	head      []byte // scratch for reading a response head

	// bodyTaken is set by roundTrip once the request body belongs to the
	// body writer goroutine, which closes it after its last read.
	// RoundTrip must not close it then: whoever gave it the body takes a
	// close as the sign that nothing reads the body any more.
	bodyTaken bool

	// For stale: the socket beneath any TLS, and the peek function, made
	// once so that each check allocates nothing.
	rc       syscall.RawConn
	peekFn   func(uintptr) bool
	readable bool
}

var (
	brPool sync.Pool
	bwPool sync.Pool
)

func newConn(t *Transport, key connKey, nc net.Conn) *conn {
	pc := &conn{t: t, key: key, nc: nc}
	if br, _ := brPool.Get().(*bufio.Reader); br != nil {
		br.Reset(nc)
		pc.br = br
	} else {
		pc.br = bufio.NewReaderSize(nc, 16<<10)
	}
	if bw, _ := bwPool.Get().(*bufio.Writer); bw != nil {
		bw.Reset(nc)
		pc.bw = bw
	} else {
		pc.bw = bufio.NewWriterSize(nc, 4<<10)
	}
	return pc
}

// close closes the connection for good, gives back its slot and recycles
// its buffers. Only the connection's current owner calls it.
func (pc *conn) close() {
	if pc.closed {
		return
	}
	pc.closed = true
	pc.nc.Close()
	if pc.counted {
		pc.t.pool.release(pc.key, pc.t.MaxConnsPerHost)
	}
	if pc.br != nil {
		pc.br.Reset(nil)
		brPool.Put(pc.br)
		pc.br = nil
	}
	if pc.bw != nil {
		pc.bw.Reset(nil)
		bwPool.Put(pc.bw)
		pc.bw = nil
	}
}

// stale reports whether an idle connection has something to read: the
// origin closed it, or sent bytes after its last response that nobody
// asked for (and that would be read as the answer to the next request).
// It peeks at the socket without blocking. For TLS it peeks beneath the
// encryption, so a session ticket sent late also counts as stale: a
// needless new connection is cheap, a desynchronised one is not.
func (pc *conn) stale() bool {
	if pc.br.Buffered() > 0 {
		return true
	}
	if pc.rc == nil {
		nc := pc.nc
		if tc, ok := nc.(interface{ NetConn() net.Conn }); ok {
			nc = tc.NetConn()
		}
		sc, ok := nc.(syscall.Conn)
		if !ok {
			return false
		}
		rc, err := sc.SyscallConn()
		if err != nil {
			return false
		}
		pc.rc = rc
		pc.peekFn = func(fd uintptr) bool {
			var one [1]byte
			_, _, err := syscall.Recvfrom(int(fd), one[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			// Data (n > 0), EOF (n == 0, no error) and a reset all
			// mean stale; EAGAIN means quiet.
			pc.readable = err != syscall.EAGAIN && err != syscall.EINTR
			return true
		}
	}
	err := pc.rc.Read(pc.peekFn)
	return err != nil || pc.readable
}

// aLongTimeAgo is a deadline that has certainly passed.
var aLongTimeAgo = time.Unix(1, 0)

// exchange is the state of one request on a conn, shared by the caller's
// goroutine, the body writer goroutine and the context watcher.
type exchange struct {
	pc        *conn
	req       *http.Request
	stopWatch func() bool

	// writeDone receives the body writer's result exactly once; it is
	// buffered so the writer never blocks on it. nil when there is no
	// request body.
	writeDone chan error
	// writeErr is the body writer's error once settled.
	writeErr error
	// continueCh tells a writer waiting on "Expect: 100-continue" whether
	// to send the body (true) or give up (false). Buffered, sent at most once.
	continueCh chan bool
	// writer is the body writer's state: running, done or abandoned.
	writer atomic.Int32
	// bodyFailed is set by the body writer before it wakes the reader
	// because the request body could not be read.
	bodyFailed atomic.Bool
}

func (pc *conn) roundTrip(req *http.Request, trace *httptrace.ClientTrace) (*http.Response, error) {
	ctx := req.Context()
	if err := ctx.Err(); err != nil {
		pc.t.pool.put(pc)
		return nil, err
	}
	pc.cancelled.Store(false)
	pc.bodyTaken = false
	ex := &exchange{pc: pc, req: req}
	ex.stopWatch = context.AfterFunc(ctx, func() {
		pc.cancelled.Store(true)
		pc.nc.SetDeadline(aLongTimeAgo)
	})

	hasBody := req.Body != nil && req.Body != http.NoBody
	expect := hasBody && hasToken(req.Header["Expect"], "100-continue")
	if err := writeHead(pc.bw, req, hasBody); err != nil {
		return nil, ex.fail(err, true)
	}
	if err := pc.bw.Flush(); err != nil {
		return nil, ex.fail(err, true)
	}
	if hasBody {
		ex.writeDone = make(chan error, 1)
		if expect {
			ex.continueCh = make(chan bool, 1)
		}
		pc.bodyTaken = true
		go ex.writeBody(ex.continueCh)
	}

	var sent time.Time
	if pc.t.FirstByte != nil {
		sent = time.Now()
	}
	if d := pc.t.ResponseHeaderTimeout; d > 0 {
		pc.nc.SetReadDeadline(time.Now().Add(d))
		if pc.cancelled.Load() || ex.bodyFailed.Load() {
			// The context watcher or a failed body writer woke the
			// reader before this overwrote its deadline; put it back.
			pc.nc.SetReadDeadline(aLongTimeAgo)
		}
	}
	resp, err := ex.readResponse(trace)
	if err != nil {
		return nil, ex.fail(err, false)
	}
	if pc.t.FirstByte != nil {
		pc.t.FirstByte(time.Since(sent))
	}
	pc.nc.SetReadDeadline(time.Time{})
	if pc.cancelled.Load() {
		resp.Body.Close()
		return nil, ctx.Err()
	}
	return resp, nil
}

// fail closes the connection after an error and classifies the error.
func (ex *exchange) fail(err error, writing bool) error {
	pc := ex.pc
	ex.stopWatch()
	if ex.continueCh != nil {
		ex.continueCh <- false
		ex.continueCh = nil
	}
	cancelled := pc.cancelled.Load()
	pc.nc.Close()
	if ex.settleWriter() {
		pc.close()
	}
	if cancelled {
		if cerr := ex.req.Context().Err(); cerr != nil {
			return cerr
		}
	}
	if ex.writeErr != nil && ex.writeErr != errBodyNotSent {
		return ex.writeErr
	}
	var ne net.Error
	if !writing && errors.As(err, &ne) && ne.Timeout() {
		return ErrHeaderTimeout
	}
	var nr *nothingReadError
	if writing || errors.As(err, &nr) {
		return &nothingReadError{err}
	}
	return err
}

// Body writer states.
const (
	writerRunning int32 = iota
	writerDone
	writerAbandoned
)

// settleWriter waits for the body writer if it has finished or is about to,
// and otherwise abandons it: the connection is closed so its writes fail, and
// the writer recycles the connection's buffers itself when it returns (it
// may be blocked reading a slow client's body, which the caller must not
// wait for). It reports whether the caller still owns the connection's
// buffers; reusable reports whether the body was written completely.
func (ex *exchange) settleWriter() (owned bool) {
	owned, _ = ex.settle(false)
	return owned
}

// writerGrace is how long a finished response waits for the body writer to
// report before the connection is given up (the writer has usually just
// flushed the last bytes; closing would waste a good connection).
const writerGrace = 50 * time.Millisecond

func (ex *exchange) settle(wait bool) (owned, reusable bool) {
	if ex.writeDone == nil {
		return true, ex.writeErr == nil
	}
	select {
	case err := <-ex.writeDone:
		ex.writeDone, ex.writeErr = nil, err
		return true, err == nil
	default:
	}
	if wait {
		timer := time.NewTimer(writerGrace)
		select {
		case err := <-ex.writeDone:
			timer.Stop()
			ex.writeDone, ex.writeErr = nil, err
			return true, err == nil
		case <-timer.C:
		}
	}
	if ex.writer.CompareAndSwap(writerRunning, writerAbandoned) {
		ex.writeDone = nil
		if ex.continueCh != nil {
			ex.continueCh <- false
			ex.continueCh = nil
		}
		ex.pc.nc.Close()
		return false, false
	}
	err := <-ex.writeDone
	ex.writeDone, ex.writeErr = nil, err
	return true, err == nil
}

// writeBody streams the request body, then reports on writeDone. With
// "Expect: 100-continue" it first waits for the origin's go-ahead or the
// timeout. It owns req.Body and always closes it.
// The channel is passed in because the reading side clears its field.
func (ex *exchange) writeBody(continueCh <-chan bool) {
	req, pc := ex.req, ex.pc
	err := func() error {
		if continueCh != nil {
			timer := time.NewTimer(pc.t.expectContinueTimeout())
			defer timer.Stop()
			select {
			case ok := <-continueCh:
				if !ok {
					return errBodyNotSent
				}
			case <-timer.C:
			}
		}
		return writeBody(pc.bw, req)
	}()
	req.Body.Close()
	if !ex.writer.CompareAndSwap(writerRunning, writerDone) {
		// Abandoned: nobody waits for us, and the buffers are ours to
		// recycle.
		pc.close()
		return
	}
	// Done, not yet reported: whoever settles the writer now waits for
	// the report, so the error below is what a woken reader returns (and
	// the connection is still ours to touch).
	if err != nil && err != errBodyNotSent {
		// The origin would wait for the rest of a body that will not
		// come: wake the reader now rather than at a timeout. The flag
		// keeps roundTrip from arming its header deadline over this.
		ex.bodyFailed.Store(true)
		pc.nc.SetDeadline(aLongTimeAgo)
	}
	ex.writeDone <- err
}

var errBodyNotSent = errors.New("request body not sent: origin answered first")

// readResponse reads the response head, passing on 1xx responses, and sets
// up the body.
func (ex *exchange) readResponse(trace *httptrace.ClientTrace) (*http.Response, error) {
	pc, req := ex.pc, ex.req
	for n1xx := 0; ; n1xx++ {
		resp, err := readHead(pc, req)
		if err != nil {
			return nil, err
		}
		code := resp.StatusCode
		if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
			if n1xx >= 16 {
				return nil, fmt.Errorf("%w: too many 1xx responses", ErrProtocol)
			}
			if code == http.StatusContinue && ex.continueCh != nil {
				ex.continueCh <- true
				ex.continueCh = nil
			}
			if trace != nil && trace.Got1xxResponse != nil {
				if err := trace.Got1xxResponse(code, textprotoHeader(resp.Header)); err != nil {
					return nil, err
				}
			}
			continue
		}
		if ex.continueCh != nil {
			// A final answer before "100 Continue": the body must not
			// be sent, so the connection cannot be reused.
			ex.continueCh <- false
			ex.continueCh = nil
			resp.Close = true
		}
		return resp, ex.setBody(resp)
	}
}

// setBody attaches the body reader per RFC 9112 §6.3.
func (ex *exchange) setBody(resp *http.Response) error {
	req := ex.req
	code := resp.StatusCode
	if code == http.StatusSwitchingProtocols {
		if !hasToken(req.Header["Connection"], "upgrade") {
			return fmt.Errorf("%w: unrequested 101 Switching Protocols", ErrProtocol)
		}
		ex.stopWatch()
		if ex.writeDone != nil {
			// A body on an upgrade request is unusual; finish it first.
			if err := <-ex.writeDone; err != nil {
				return err
			}
			ex.writeDone = nil
		}
		resp.Body = &upgraded{pc: ex.pc}
		resp.ContentLength = -1
		return nil
	}
	if req.Method == http.MethodHead || code == http.StatusNoContent || code == http.StatusNotModified {
		resp.ContentLength = 0
		if req.Method == http.MethodHead {
			// Keep the Content-Length an origin announced for HEAD.
			if cl, err := contentLength(resp.Header["Content-Length"]); err == nil {
				resp.ContentLength = cl
			}
		}
		resp.Body = http.NoBody
		ex.finish(resp.Close)
		return nil
	}
	b := &body{ex: ex, resp: resp}
	if te := resp.Header["Transfer-Encoding"]; len(te) > 0 {
		if len(te) != 1 || !strings.EqualFold(te[0], "chunked") {
			return fmt.Errorf("%w: unsupported transfer-encoding %q", ErrProtocol, te)
		}
		if _, ok := resp.Header["Content-Length"]; ok {
			// RFC 9112 §6.3 ¶3: Transfer-Encoding would override it, but
			// the message "ought to be handled as an error": an origin
			// that frames a response two ways may mean either, and
			// whatever it meant, bytes of one response could be read
			// as the next.
			return fmt.Errorf("%w: both Transfer-Encoding and Content-Length", ErrProtocol)
		}
		delete(resp.Header, "Transfer-Encoding")
		resp.TransferEncoding = chunkedTE
		resp.ContentLength = -1
		b.mode = modeChunked
		if resp.ProtoMinor == 0 {
			resp.Close = true // RFC 9112 §6.1: chunked from HTTP/1.0 is faulty framing
		}
	} else if cls := resp.Header["Content-Length"]; len(cls) > 0 {
		cl, err := contentLength(cls)
		if err != nil {
			return err
		}
		resp.ContentLength = cl
		b.mode = modeLength
		b.remain = cl
		if cl == 0 {
			resp.Body = http.NoBody
			ex.finish(resp.Close)
			return nil
		}
	} else {
		resp.ContentLength = -1
		resp.Close = true
		b.mode = modeClose
	}
	resp.Body = b
	return nil
}

var chunkedTE = []string{"chunked"}

// finish ends the exchange after the response body was read completely and
// returns the connection to the pool if it is still usable.
func (ex *exchange) finish(mustClose bool) {
	pc := ex.pc
	if !ex.stopWatch() {
		// The context watcher ran (or is running) and may set a past
		// deadline at any moment: the connection cannot be pooled.
		mustClose = true
	}
	owned, reusable := ex.settle(!mustClose)
	if !owned {
		return
	}
	// Bytes already read past the end of the response were not asked
	// for: on reuse they would be taken for the next response.
	if mustClose || !reusable || pc.cancelled.Load() || pc.br.Buffered() > 0 {
		pc.close()
		return
	}
	pc.nc.SetDeadline(time.Time{})
	pc.t.pool.put(pc)
}

// abort ends the exchange with the connection closed.
func (ex *exchange) abort() {
	pc := ex.pc
	ex.stopWatch()
	pc.nc.Close()
	if ex.settleWriter() {
		pc.close()
	}
}

func contentLength(vals []string) (int64, error) {
	n, ok := wire.ContentLength(vals)
	switch {
	case !ok:
		return 0, fmt.Errorf("%w: invalid or conflicting Content-Length %q", ErrProtocol, vals)
	case n < 0:
		return 0, fmt.Errorf("%w: empty Content-Length", ErrProtocol)
	}
	return n, nil
}

// textprotoHeader adapts for httptrace's Got1xxResponse signature.
func textprotoHeader(h http.Header) textproto.MIMEHeader { return textproto.MIMEHeader(h) }

// upgraded is the body of a 101 response: the raw connection, with any
// bytes the origin sent after the header still in the buffer.
type upgraded struct {
	pc   *conn
	once sync.Once
}

func (u *upgraded) Read(p []byte) (int, error)  { return u.pc.br.Read(p) }
func (u *upgraded) Write(p []byte) (int, error) { return u.pc.nc.Write(p) }
func (u *upgraded) Close() error {
	u.once.Do(func() { u.pc.nc.Close() })
	return nil
}

// CloseWrite half-closes the connection when the transport supports it.
func (u *upgraded) CloseWrite() error {
	if cw, ok := u.pc.nc.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// SetDeadline lets a tunnel pump apply idle deadlines.
func (u *upgraded) SetDeadline(t time.Time) error { return u.pc.nc.SetDeadline(t) }

// SetReadDeadline lets a tunnel pump apply idle deadlines.
func (u *upgraded) SetReadDeadline(t time.Time) error { return u.pc.nc.SetReadDeadline(t) }

// SetWriteDeadline lets a tunnel pump apply idle deadlines.
func (u *upgraded) SetWriteDeadline(t time.Time) error { return u.pc.nc.SetWriteDeadline(t) }

var _ io.ReadWriteCloser = (*upgraded)(nil)
