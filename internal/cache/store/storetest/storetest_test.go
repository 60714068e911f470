package storetest

import (
	"container/list"
	"context"
	"errors"
	"io"
	"sync"
	"testing"

	"sluice/internal/cache/store"
)

// TestReference runs the suite against refStore, the simplest store that
// meets the contract, so that a failure in a real store is not a bug in
// the suite.
func TestReference(t *testing.T) {
	Run(t, Factory{
		Open: func(t *testing.T, dir string, capacity int64) store.Store {
			return &refStore{capacity: capacity, max: 2 << 20, m: map[string]*list.Element{}, lru: list.New()}
		},
		MaxObjectSize: 2 << 20,
	})
}

// refStore keeps entries on the Go heap under one mutex, evicting least
// recently used entries.
type refStore struct {
	mu        sync.Mutex
	capacity  int64
	max       int64
	m         map[string]*list.Element // of *refEntry
	lru       *list.List               // front: most recent
	bytes     int64
	evictions int64
}

type refEntry struct {
	key  string
	meta []byte
	body []byte
}

func (e *refEntry) size() int64 { return int64(len(e.key) + len(e.meta) + len(e.body)) }

func (s *refStore) Get(_ context.Context, key string) (store.Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	el, ok := s.m[key]
	if !ok {
		return nil, store.ErrNotFound
	}
	s.lru.MoveToFront(el)
	return refReader{el.Value.(*refEntry)}, nil
}

func (s *refStore) Create(_ context.Context, key string, meta *store.Meta) (store.Writer, error) {
	w := &refWriter{s: s, e: &refEntry{key: key, meta: store.AppendMeta(nil, meta)}}
	w.cond.L = &w.mu
	return w, nil
}

func (s *refStore) Update(_ context.Context, key string, meta *store.Meta) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	el, ok := s.m[key]
	if !ok {
		return store.ErrNotFound
	}
	old := el.Value.(*refEntry)
	s.put(&refEntry{key: key, meta: store.AppendMeta(nil, meta), body: old.body})
	return nil
}

func (s *refStore) Delete(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if el, ok := s.m[key]; ok {
		s.remove(el)
	}
	return nil
}

// Keys lists a snapshot of the keys: simple, and bounded only by the
// store's size, which the reference may be.
func (s *refStore) Keys(ctx context.Context, fn func(string) bool) error {
	s.mu.Lock()
	keys := make([]string, 0, len(s.m))
	for k := range s.m {
		keys = append(keys, k)
	}
	s.mu.Unlock()
	for _, k := range keys {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !fn(k) {
			return nil
		}
	}
	return nil
}

func (s *refStore) Stats() store.Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return store.Stats{Entries: int64(len(s.m)), Bytes: s.bytes, Capacity: s.capacity, Evictions: s.evictions}
}

func (s *refStore) Close() error { return nil }

// put stores e, replacing the entry under its key; s.mu is held.
func (s *refStore) put(e *refEntry) {
	if el, ok := s.m[e.key]; ok {
		s.remove(el)
	}
	for s.bytes+e.size() > s.capacity && s.lru.Len() > 0 {
		s.remove(s.lru.Back())
		s.evictions++
	}
	s.m[e.key] = s.lru.PushFront(e)
	s.bytes += e.size()
}

func (s *refStore) remove(el *list.Element) {
	e := s.lru.Remove(el).(*refEntry)
	delete(s.m, e.key)
	s.bytes -= e.size()
}

type refReader struct{ e *refEntry }

func (r refReader) Meta() *store.Meta {
	m, err := store.DecodeMeta(r.e.meta)
	if err != nil {
		panic(err)
	}
	return m
}
func (r refReader) Size() int64  { return int64(len(r.e.body)) }
func (r refReader) Tier() string { return "ref" }
func (r refReader) Close() error { return nil }
func (r refReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	if off >= int64(len(r.e.body)) {
		return 0, io.EOF
	}
	n := copy(p, r.e.body[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

type refWriter struct {
	s    *refStore
	mu   sync.Mutex
	cond sync.Cond
	e    *refEntry
	done bool
	err  error // nil, io.EOF once committed, or store.ErrAborted
}

func (w *refWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return 0, errors.New("write after end")
	}
	if int64(len(w.e.body)+len(p)) > w.s.max {
		w.end(store.ErrAborted)
		return 0, store.ErrTooLarge
	}
	w.e.body = append(w.e.body[:len(w.e.body):len(w.e.body)], p...)
	w.cond.Broadcast()
	return len(p), nil
}

func (w *refWriter) Commit() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return errors.New("commit after end")
	}
	w.s.mu.Lock()
	w.s.put(w.e)
	w.s.mu.Unlock()
	w.end(io.EOF)
	return nil
}

func (w *refWriter) Abort() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.end(store.ErrAborted)
	}
}

func (w *refWriter) end(err error) {
	w.done, w.err = true, err
	w.cond.Broadcast()
}

func (w *refWriter) NewReader() io.ReadCloser { return &refFollower{w: w} }

type refFollower struct {
	w   *refWriter
	off int
}

func (r *refFollower) Read(p []byte) (int, error) {
	w := r.w
	w.mu.Lock()
	defer w.mu.Unlock()
	for r.off == len(w.e.body) && !w.done {
		w.cond.Wait()
	}
	if r.off < len(w.e.body) && w.err != store.ErrAborted {
		n := copy(p, w.e.body[r.off:])
		r.off += n
		return n, nil
	}
	return 0, w.err
}

func (r *refFollower) Close() error { return nil }
