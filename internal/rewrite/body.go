package rewrite

import (
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"

	"sluice/internal/copybuf"
)

// body is a rewritten response body.
//
// Read and Close run on the caller's goroutine, and only they touch the
// origin's body, which (like any io.Reader) is not safe for concurrent
// use. The rewriter is written as a straight loop over tokens, run as a
// coroutine (iter.Pull): when it needs input it parks, and Read, having
// handed out what output there is, reads one chunk from the origin and
// resumes it. So the rewriter never blocks holding output (the client gets
// everything made from what has arrived before the proxy waits for the
// origin again), and memory is bounded by one chunk of input and what the
// rewriter made of it. The coroutine is started by the first Read and
// ended by Close or the end of the body: it has no life of its own.
type body struct {
	rs     *Rules
	resp   *http.Response // whose trailers are cleaned at the end
	origin io.ReadCloser
	coding coding
	dec    *decoder // nil until the first Read, and for identity
	src    io.Reader
	enc    encoder // nil for identity
	cfg    config

	// Input: the chunk last read from the origin, decoded, after pre,
	// the first bytes when the first reads were too short to sniff.
	pre          []byte
	in           *[]byte // from copybuf
	inOff, inEnd int
	inErr        error

	// Output waiting to be read, in a buffer from copybuf (out may
	// outgrow it).
	outBuf *[]byte
	out    []byte
	outOff int
	dirty  bool // bytes went into enc since it was last flushed

	next    func() (struct{}, bool)
	stop    func()
	yield   func(struct{}) bool // the coroutine's, while it runs
	parked  bool                // the coroutine waits for input
	stopped bool                // yield returned false: Close ended the coroutine
	done    bool
	result  error // what the coroutine returned
	err     error // after done: io.EOF or why the body failed
	closed  bool
}

// config is what the rewriter needs to know of the response.
type config struct {
	plan        *plan
	contentType string
	xhtml       bool
}

var errStopped = errors.New("rewrite: body closed")

func newBody(rs *Rules, resp *http.Response, c coding, cfg config) *body {
	return &body{rs: rs, resp: resp, origin: resp.Body, coding: c, cfg: cfg}
}

// Read returns rewritten bytes: what the rewriter made of the input so
// far, up to len(p). It reads the origin only when it has no output left
// to return, so it never waits for the origin while holding output; a
// short read means the next one may wait. After the origin fails or sends
// a broken encoding, it returns the error (after the output made so far),
// never a clean end.
func (b *body) Read(p []byte) (n int, err error) {
	if b.closed {
		return 0, errStopped
	}
	if len(p) == 0 {
		return 0, nil
	}
	if b.next == nil && !b.done {
		b.start()
	}
	for {
		if b.outOff < len(b.out) {
			c := copy(p[n:], b.out[b.outOff:])
			n += c
			b.outOff += c
			if b.outOff == len(b.out) {
				b.out, b.outOff = b.out[:0], 0
			}
			if n == len(p) {
				return n, nil
			}
		}
		if b.done {
			b.releaseOut()
			if n > 0 {
				return n, nil
			}
			return 0, b.err
		}
		if b.parked {
			// Reading the origin may wait: hand out what there is first,
			// flushing the encoder so that it is all there.
			if b.flush() {
				continue
			}
			if n > 0 {
				return n, nil
			}
			b.fill()
		}
		b.resume()
	}
}

// start sets up decoding and the coroutine.
func (b *body) start() {
	b.in = copybuf.Get()
	b.outBuf = copybuf.Get()
	b.out = (*b.outBuf)[:0]
	b.src = b.origin
	b.next, b.stop = iter.Pull(b.run)
}

// fill reads the next chunk from the origin (through the decoder).
func (b *body) fill() {
	buf := *b.in
	if b.coding != identity && b.dec == nil {
		d, err := b.rs.pools.newDecoder(b.coding, b.origin)
		b.dec = d
		if err != nil {
			b.inOff, b.inEnd, b.inErr = 0, 0, b.wrap(err)
			return
		}
		b.src = d
	}
	for range 100 {
		n, err := b.src.Read(buf)
		if n > 0 || err != nil {
			b.inOff, b.inEnd, b.inErr = 0, n, b.wrap(err)
			return
		}
	}
	b.inOff, b.inEnd, b.inErr = 0, 0, io.ErrNoProgress // the origin keeps returning nothing
}

// wrap adds the coding to a decoding error.
func (b *body) wrap(err error) error {
	if err == nil || err == io.EOF || b.coding == identity {
		return err
	}
	return fmt.Errorf("rewrite: reading %s body: %w", b.coding, err)
}

// resume runs the coroutine until it wants input again or returns.
func (b *body) resume() {
	b.parked = false
	if _, ok := b.next(); ok {
		b.parked = true
		return
	}
	b.finish()
}

// finish ends a body whose coroutine has returned.
func (b *body) finish() {
	b.done = true
	b.err = b.result
	if b.err == nil {
		b.err = io.EOF
		if b.enc != nil {
			b.enc.Close() // writes the coding's trailer: only for a whole body
		}
		if b.resp != nil {
			dropDigests(b.resp.Trailer)
		}
	}
	b.release()
}

// flush flushes the encoder; it reports whether that produced output.
func (b *body) flush() bool {
	if b.enc == nil || !b.dirty {
		return false
	}
	b.dirty = false
	before := len(b.out)
	b.enc.Flush()
	return len(b.out) > before
}

// release gives back the buffers and codecs; the coroutine has ended.
func (b *body) release() {
	if b.in != nil {
		copybuf.Put(b.in)
		b.in = nil
	}
	if b.dec != nil {
		b.rs.pools.releaseDecoder(b.dec)
		b.dec = nil
	}
	if b.enc != nil {
		b.rs.pools.releaseEncoder(b.enc)
		b.enc = nil
	}
	b.src = nil
}

// releaseOut gives back the output buffer once it is drained (or the
// body closed).
func (b *body) releaseOut() {
	if b.outBuf != nil && (b.outOff == len(b.out) || b.closed) {
		copybuf.Put(b.outBuf)
		b.outBuf, b.out, b.outOff = nil, nil, 0
	}
}

// Close ends the coroutine, if it runs, and closes the origin's body.
func (b *body) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	if b.stop != nil && !b.done {
		b.stop() // the coroutine sees errStopped from its next read and returns
		b.done = true
		b.release()
	}
	b.releaseOut()
	return b.origin.Close()
}

// The coroutine's side.

// run is the coroutine: it rewrites the whole body.
func (b *body) run(yield func(struct{}) bool) {
	b.yield = yield
	if b.coding != identity {
		b.enc = b.rs.pools.newEncoder(b.coding, (*outWriter)(b))
	}
	b.result = rewriteHTML(b, b.cfg)
}

// await parks the coroutine until Read has filled the input buffer.
func (b *body) await() error {
	if b.stopped || !b.yield(struct{}{}) {
		b.stopped = true
		return errStopped
	}
	return nil
}

// buffered returns the input that has arrived and not been consumed,
// waiting for some if there is none. At the end it returns the origin's
// error (io.EOF for a whole body).
func (b *body) buffered() ([]byte, error) {
	for b.inOff == b.inEnd {
		if b.inErr != nil {
			return nil, b.inErr
		}
		if err := b.await(); err != nil {
			return nil, err
		}
	}
	return (*b.in)[b.inOff:b.inEnd], nil
}

// sniff returns the first bytes of the body for charset detection: what
// the first read brought, without waiting for more (a slow origin must not
// hold the page back), but at least the three bytes of a byte order mark
// unless the body is shorter.
func (b *body) sniff() ([]byte, error) {
	in, err := b.buffered()
	if err != nil || len(in) >= 3 {
		return in, err
	}
	for len(b.pre) < 3 {
		in, err := b.buffered()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		k := min(3-len(b.pre), len(in))
		b.pre = append(b.pre, in[:k]...)
		b.inOff += k
	}
	first := append([]byte(nil), b.pre...)
	if b.inOff < b.inEnd {
		first = append(first, (*b.in)[b.inOff:b.inEnd]...)
	}
	return first, nil
}

// consume is the tokenizer's input (through source).
func (b *body) consume(p []byte) (int, error) {
	if len(b.pre) > 0 {
		n := copy(p, b.pre)
		b.pre = b.pre[n:]
		return n, nil
	}
	in, err := b.buffered()
	if err != nil {
		return 0, err
	}
	n := copy(p, in)
	b.inOff += n
	return n, nil
}

// write appends rewritten output, through the encoder if there is one.
func (b *body) write(p []byte) {
	if len(p) == 0 {
		return
	}
	if b.enc != nil {
		b.enc.Write(p)
		b.dirty = true
		return
	}
	b.out = append(b.out, p...)
}

// passthrough copies the rest of the input unchanged.
func (b *body) passthrough() error {
	b.write(b.pre)
	b.pre = nil
	for {
		in, err := b.buffered()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		b.write(in)
		b.inOff = b.inEnd
	}
}

// source is the tokenizer's io.Reader.
type source body

func (s *source) Read(p []byte) (int, error) { return (*body)(s).consume(p) }

// outWriter is the encoder's destination: the output buffer.
type outWriter body

func (w *outWriter) Write(p []byte) (int, error) {
	w.out = append(w.out, p...)
	return len(p), nil
}

// dropDigests removes fields that describe the bytes of the body, which
// the rewrite changed: Content-MD5 (RFC 1864), Digest (RFC 3230),
// Content-Digest and Repr-Digest (RFC 9530).
func dropDigests(h http.Header) {
	if h == nil {
		return
	}
	delete(h, "Content-Md5")
	delete(h, "Digest")
	delete(h, "Content-Digest")
	delete(h, "Repr-Digest")
}
