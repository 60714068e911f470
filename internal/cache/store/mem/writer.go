package mem

import (
	"fmt"
	"io"
	"sync"

	"sluice/internal/cache/store"
)

// Body buffer chunks: the first is as large as the first write (at least
// minChunk), each next one twice the last, up to maxChunk. A chunk is
// full before the next one starts, and bytes once written never move, so
// followers read them under the lock without copying the buffer.
const (
	minChunk = 512
	maxChunk = 64 << 10
)

// writer buffers a body on the Go heap; Commit copies the whole record
// into slab memory, now that its size is known.
type writer struct {
	s    *Store
	sh   *shard
	key  string
	hash uint64
	meta []byte // encoded

	mu     sync.Mutex
	cond   sync.Cond // signalled on every write and at the end
	chunks [][]byte
	size   int64
	state  writerState
}

type writerState uint8

const (
	writing writerState = iota
	committed
	aborted
)

var _ store.Writer = (*writer)(nil)

// Write appends p to the body, or aborts with store.ErrTooLarge when the
// body would exceed the maximum object size.
func (w *writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch w.state {
	case committed:
		return 0, errCommitted
	case aborted:
		return 0, store.ErrAborted
	}
	if w.size+int64(len(p)) > w.s.maxObject {
		w.end(aborted)
		return 0, store.ErrTooLarge
	}
	n := len(p)
	for len(p) > 0 {
		last := len(w.chunks) - 1
		if last < 0 || len(w.chunks[last]) == cap(w.chunks[last]) {
			size := max(minChunk, len(p))
			if last >= 0 {
				size = max(size, 2*cap(w.chunks[last]))
			}
			w.chunks = append(w.chunks, make([]byte, 0, min(size, maxChunk)))
			last++
		}
		c := w.chunks[last]
		k := min(len(p), cap(c)-len(c))
		w.chunks[last] = append(c, p[:k]...)
		p = p[k:]
	}
	w.size += int64(n)
	w.cond.Broadcast()
	return n, nil
}

// Commit copies the record into slab memory and links it under the key,
// replacing any entry there.
func (w *writer) Commit() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch w.state {
	case committed:
		return errCommitted
	case aborted:
		return store.ErrAborted
	}
	sh := w.sh
	n := recordLen(w.key, w.meta, w.size)
	sh.mu.Lock()
	if sh.closed {
		sh.mu.Unlock()
		w.end(aborted)
		return errClosed
	}
	i, ok := sh.alloc(n, w.hash)
	if !ok {
		sh.mu.Unlock()
		w.end(aborted)
		return fmt.Errorf("commit %d bytes: %w", n, errNoRoom)
	}
	rec := sh.record(i)
	sh.mu.Unlock()

	// The slot is pinned and unlinked: nobody else touches it.
	off := rec.writeHead(w.key, w.meta)
	for _, c := range w.chunks {
		rec.writeAt(c, off)
		off += int64(len(c))
	}

	sh.mu.Lock()
	closed := sh.closed
	if !closed {
		sh.link(i)
	}
	sh.unpin(i)
	sh.mu.Unlock()
	if closed {
		w.end(aborted)
		return errClosed
	}
	w.end(committed)
	return nil
}

// Abort discards the body; it does nothing after Commit.
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
		w.chunks = nil
	}
	w.cond.Broadcast()
}

// NewReader returns a reader of the body from its first byte. It reads
// the writer's buffer, so it stays readable after Commit whatever
// happens to the committed entry.
func (w *writer) NewReader() io.ReadCloser { return &follower{w: w} }

type follower struct {
	w      *writer
	off    int64 // bytes read
	chunk  int   // chunk holding off
	inside int   // offset of off in that chunk
	closed bool
}

func (r *follower) Read(p []byte) (int, error) {
	w := r.w
	w.mu.Lock()
	defer w.mu.Unlock()
	for {
		switch {
		case r.closed:
			return 0, errEntryClosed
		case w.state == aborted:
			return 0, store.ErrAborted
		case r.off < w.size:
			if r.inside == len(w.chunks[r.chunk]) { // full: more is in the next one
				r.chunk, r.inside = r.chunk+1, 0
			}
			n := copy(p, w.chunks[r.chunk][r.inside:])
			r.inside += n
			r.off += int64(n)
			return n, nil
		case w.state == committed:
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
