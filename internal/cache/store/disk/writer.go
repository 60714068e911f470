package disk

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"sync"

	"sluice/internal/cache/store"
)

var (
	errCommitted    = errors.New("disk: writer already committed")
	errReaderClosed = errors.New("disk: read from closed reader")
	errGone         = fmt.Errorf("disk: entry replaced or removed before the reader opened it: %w", store.ErrNotFound)
)

// Create opens a temporary file in Dir/tmp and writes the header, key and
// metadata to it; the body follows as written, and Commit adds the
// trailer and renames the file into place.
func (s *Store) Create(ctx context.Context, key string, meta *store.Meta) (store.Writer, error) {
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	prefix, err := encodePrefix(key, meta, 0)
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(s.tmpDir, s.tmpPrefix+"*")
	if err != nil {
		return nil, fmt.Errorf("disk: %w", err)
	}
	fi, err := f.Stat()
	if err == nil {
		_, err = f.Write(prefix)
	}
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("disk: %w", err)
	}
	w := &writer{
		s:       s,
		h:       hashKey(key),
		f:       f,
		fi:      fi,
		prefix:  prefix,
		bodyOff: int64(len(prefix)),
		limit:   s.maxObject,
		refs:    1,
	}
	w.cond.L = &w.mu
	return w, nil
}

type writeState int

const (
	writing writeState = iota
	committing
	committed
	aborted
)

// writer fills a temporary file. Write, Commit and Abort come from one
// goroutine at a time; readers (NewReader) run concurrently and read the
// file with pread(2) up to written, waiting on cond for more.
type writer struct {
	s       *Store
	h       keyHash
	f       *os.File    // the temporary file, renamed at Commit
	fi      os.FileInfo // f's identity, to recognise it after Commit
	prefix  []byte      // header, key and metadata, as at the start of f
	bodyOff int64
	limit   int64  // the largest body accepted
	crc     uint32 // of the body so far; Write and Commit only

	mu      sync.Mutex
	cond    sync.Cond // on mu; broadcast when written or state changes
	written int64
	state   writeState
	// refs counts the holders of f: the writer until it ends, and each
	// reader that shares it. The last to let go closes f.
	refs int
}

// Write appends p to the body. It returns store.ErrTooLarge, and aborts,
// when the body would exceed the maximum object size; a failed write
// aborts too, so that a short body is never committed.
func (w *writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	state, over := w.state, w.written+int64(len(p)) > w.limit
	w.mu.Unlock()
	switch {
	case state == aborted:
		return 0, store.ErrAborted
	case state != writing:
		return 0, errCommitted
	case over:
		w.Abort()
		return 0, store.ErrTooLarge
	}
	n, err := w.f.Write(p)
	w.crc = crc32.Update(w.crc, castagnoli, p[:n])
	w.mu.Lock()
	w.written += int64(n)
	w.cond.Broadcast()
	w.mu.Unlock()
	if err != nil {
		w.Abort()
		return n, fmt.Errorf("disk: %w", err)
	}
	return n, nil
}

// Commit writes the trailer and the final header, then renames the file
// into place, replacing any earlier entry, and indexes it.
func (w *writer) Commit() error {
	w.mu.Lock()
	switch w.state {
	case aborted:
		w.mu.Unlock()
		return store.ErrAborted
	case committing, committed:
		w.mu.Unlock()
		return errCommitted
	}
	w.state = committing
	bodyLen := w.written
	w.mu.Unlock()

	err := w.finish(bodyLen)

	w.mu.Lock()
	w.state = committed
	if err != nil {
		w.state = aborted
	}
	w.release()
	w.cond.Broadcast()
	w.mu.Unlock()
	if err != nil {
		os.Remove(w.f.Name())
	}
	return err
}

func (w *writer) finish(bodyLen int64) error {
	hd, _ := parseHeader(w.prefix)
	hd.bodyLen = bodyLen
	putHeader(w.prefix, hd)
	var t [trailerSize]byte
	putTrailer(t[:], trailer{crc32Checksum(w.prefix), w.crc, bodyLen})
	// The file's offset is at the end of the body: readers use pread.
	if _, err := w.f.Write(t[:]); err != nil {
		return fmt.Errorf("disk: %w", err)
	}
	if _, err := w.f.WriteAt(w.prefix[:headerSize], 0); err != nil {
		return fmt.Errorf("disk: %w", err)
	}
	_, err := w.s.install(w.h, w.f.Name(), w.bodyOff+bodyLen+trailerSize, nil)
	return err
}

// Abort removes the temporary file; readers get store.ErrAborted. It does
// nothing once Commit has started.
func (w *writer) Abort() {
	w.mu.Lock()
	if w.state != writing {
		w.mu.Unlock()
		return
	}
	w.state = aborted
	w.release()
	w.cond.Broadcast()
	w.mu.Unlock()
	os.Remove(w.f.Name())
}

// release drops one hold on f. w.mu is held.
func (w *writer) release() {
	if w.refs--; w.refs == 0 {
		w.f.Close()
	}
}

// NewReader returns a reader of the body that follows the writer. It
// shares the writer's file while anyone holds it open, which works across
// the rename at Commit; a reader created after Commit when nobody does
// opens the committed file, if it is still the same one.
func (w *writer) NewReader() io.ReadCloser {
	w.mu.Lock()
	defer w.mu.Unlock()
	r := &reader{w: w}
	switch {
	case w.refs > 0:
		w.refs++
		r.f = w.f
	case w.state == committed:
		f, err := os.Open(entryPath(w.s.objDir, w.h))
		if err != nil {
			r.err = errGone
			break
		}
		if fi, err := f.Stat(); err != nil || !os.SameFile(fi, w.fi) {
			f.Close()
			r.err = errGone
			break
		}
		r.f, r.own = f, true
	}
	return r
}

// reader follows a writer's body. Read and Close may be called from
// different goroutines; Close wakes a Read that waits.
type reader struct {
	w   *writer
	f   *os.File // the writer's file, or (own) a file of its own
	own bool
	pos int64 // Read only

	// Under w.mu:
	closed bool
	err    error // set when the reader has no file
}

func (r *reader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	w := r.w
	w.mu.Lock()
	for {
		var err error
		switch {
		case r.closed:
			err = errReaderClosed
		case w.state == aborted:
			err = store.ErrAborted
		case r.err != nil:
			err = r.err
		case r.pos < w.written:
		case w.state == committed:
			err = io.EOF
		default:
			w.cond.Wait()
			continue
		}
		if err != nil {
			w.mu.Unlock()
			return 0, err
		}
		break
	}
	avail := w.written - r.pos
	w.mu.Unlock()

	p = p[:min(int64(len(p)), avail)]
	n, err := r.f.ReadAt(p, w.bodyOff+r.pos)
	r.pos += int64(n)
	if err != nil && n < len(p) {
		return n, fmt.Errorf("disk: read %s: %w", r.f.Name(), err)
	}
	return n, nil
}

func (r *reader) Close() error {
	w := r.w
	w.mu.Lock()
	defer w.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	switch {
	case r.own:
		r.f.Close()
	case r.f != nil:
		w.release()
	}
	w.cond.Broadcast()
	return nil
}
