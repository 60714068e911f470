package redisstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"sluice/internal/cache/store"
)

var (
	errCommitted    = errors.New("redis: writer already committed")
	errReaderClosed = errors.New("redis: reader closed")
)

// writer builds the whole value in one buffer (header, metadata, then the
// body as it is written), so that Commit sends it with one SET and no
// copy. The buffer's capacity is taken from the Store's budget as it
// grows, and given back when the writer ends (or, with AsyncCommit, when
// its value has been sent).
type writer struct {
	s    *Store
	ctx  context.Context // Create's, without its cancellation
	key  string          // with the prefix
	meta *store.Meta     // for TTL at Commit

	mu      sync.Mutex
	cond    sync.Cond // signalled on every write and at the end
	buf     []byte    // the value so far; bytes once written never change
	bodyOff int
	held    int64 // budget bytes: cap(buf) until Commit or Abort
	state   writerState
}

type writerState uint8

const (
	writing    writerState = iota
	committing             // the body is complete; the SET is under way
	committed
	failed // the body is complete but was not stored
	aborted
)

var _ store.Writer = (*writer)(nil)

// Write appends p to the body, or aborts with store.ErrTooLarge when the
// body would exceed the maximum object size, and with ErrBusy when the
// buffer cannot grow within the Store's budget.
func (w *writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch w.state {
	case writing:
	case aborted:
		return 0, store.ErrAborted
	default:
		return 0, errCommitted
	}
	size := len(w.buf) - w.bodyOff
	if int64(size)+int64(len(p)) > w.s.maxObject {
		w.end(aborted)
		return 0, store.ErrTooLarge
	}
	if cap(w.buf)-len(w.buf) < len(p) && !w.grow(len(p)) {
		w.end(aborted)
		return 0, fmt.Errorf("redis: write: %w", ErrBusy)
	}
	w.buf = append(w.buf, p...)
	w.cond.Broadcast()
	return len(p), nil
}

// grow makes room for n more bytes. It doubles the buffer, within the
// object size limit, so that a body is copied about once more in all and
// the first write of a whole body fits exactly; when the budget has no
// room for that, it grows by n only. It reports false when even that does
// not fit; w.mu is held.
func (w *writer) grow(n int) bool {
	need := len(w.buf) + n
	c := min(max(2*cap(w.buf), need), w.bodyOff+int(w.s.maxObject))
	if !w.s.buffers.reserve(int64(c - cap(w.buf))) {
		if c == need || !w.s.buffers.reserve(int64(need-cap(w.buf))) {
			return false
		}
		c = need
	}
	w.held += int64(c - cap(w.buf))
	nb := make([]byte, len(w.buf), c)
	copy(nb, w.buf)
	w.buf = nb
	return true
}

// Commit sends the value with one SET (expiring after TTL), or with
// AsyncCommit queues it and returns nil. Followers reach io.EOF as soon
// as Commit starts, whether or not the SET succeeds: the body they read
// is whole either way, and only sharing it failed.
func (w *writer) Commit() error {
	w.mu.Lock()
	switch w.state {
	case writing:
	case aborted:
		w.mu.Unlock()
		return store.ErrAborted
	default:
		w.mu.Unlock()
		return errCommitted
	}
	w.state = committing
	binary.BigEndian.PutUint64(w.buf[bodyLenOff:], uint64(len(w.buf)-w.bodyOff))
	v, held := w.buf, w.held
	w.held = 0
	w.cond.Broadcast()
	w.mu.Unlock()

	err := w.s.commit(w.ctx, w.key, v, w.meta, held)

	w.mu.Lock()
	w.state = committed
	if err != nil {
		w.state = failed
	}
	w.mu.Unlock()
	return err
}

// Abort discards the body; it does nothing once Commit has started.
func (w *writer) Abort() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.state == writing {
		w.end(aborted)
	}
}

// end sets the final state and wakes followers; w.mu is held.
func (w *writer) end(s writerState) {
	w.state = s
	if s == aborted {
		w.buf = nil
		w.s.buffers.release(w.held)
		w.held = 0
	}
	w.cond.Broadcast()
}

// NewReader returns a reader of the body from its first byte. It reads
// the writer's buffer, so it stays readable after Commit.
func (w *writer) NewReader() io.ReadCloser { return &follower{w: w} }

type follower struct {
	w      *writer
	off    int // body bytes read
	closed bool
}

func (r *follower) Read(p []byte) (int, error) {
	w := r.w
	w.mu.Lock()
	defer w.mu.Unlock()
	for {
		switch {
		case r.closed:
			return 0, errReaderClosed
		case w.state == aborted:
			return 0, store.ErrAborted
		case w.bodyOff+r.off < len(w.buf):
			n := copy(p, w.buf[w.bodyOff+r.off:])
			r.off += n
			return n, nil
		case w.state != writing:
			return 0, io.EOF
		case len(p) == 0:
			return 0, nil
		}
		w.cond.Wait()
	}
}

func (r *follower) Close() error {
	r.w.mu.Lock()
	r.closed = true
	r.w.cond.Broadcast() // a Read waiting on r returns
	r.w.mu.Unlock()
	return nil
}
