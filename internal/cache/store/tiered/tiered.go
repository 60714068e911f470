// Package tiered stacks cache stores: a fast, small tier (memory) in front
// of a large, slower one (disk, later Redis). Writes go through to every
// tier that accepts the object; reads try the fast tier first and promote
// small objects found only in a slower tier.
//
// It does not decide what is cacheable and keeps no index of its own: each
// tier bounds and evicts its own contents.
package tiered

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sync"

	"sluice/internal/cache/store"
)

// PromoteMax is the largest body copied into the fast tier when it is
// found only in a slower one.
const PromoteMax = 1 << 20

// Store is a stack of tiers, fastest first. It implements store.Store.
type Store struct {
	tiers []store.Store
}

var (
	_ store.Store       = (*Store)(nil)
	_ store.Lister      = (*Store)(nil)
	_ store.FuncUpdater = (*Store)(nil)
)

// New stacks tiers, fastest first. Nil tiers are skipped.
func New(tiers ...store.Store) *Store {
	s := &Store{}
	for _, t := range tiers {
		if t != nil {
			s.tiers = append(s.tiers, t)
		}
	}
	return s
}

// MaxObjectSize returns the largest body some tier accepts, or 0 when a
// tier has no limit it tells.
func (s *Store) MaxObjectSize() int64 {
	var n int64
	for _, t := range s.tiers {
		l, ok := t.(store.Limiter)
		if !ok {
			return 0
		}
		n = max(n, l.MaxObjectSize())
	}
	return n
}

// Tiers returns the stacked stores, fastest first.
func (s *Store) Tiers() []store.Store { return s.tiers }

// Get returns the entry from the fastest tier that holds it. A tier that
// fails (a shared tier that is down or slow, a disk that errs) is passed
// over like a tier without the entry, so one sick tier costs a miss there,
// not the request; its error is returned only if no tier has the entry.
func (s *Store) Get(ctx context.Context, key string) (store.Entry, error) {
	var firstErr error
	for i, t := range s.tiers {
		e, err := t.Get(ctx, key)
		if err == nil {
			if i > 0 && e.Size() <= PromoteMax {
				s.promote(ctx, key, e, s.tiers[:i])
			}
			return e, nil
		}
		if !errors.Is(err, store.ErrNotFound) && firstErr == nil {
			firstErr = err
		}
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return nil, store.ErrNotFound
}

// promote copies e into the faster tiers. Failures only cost a later
// slower read, so they are ignored.
func (s *Store) promote(ctx context.Context, key string, e store.Entry, faster []store.Store) {
	for _, t := range faster {
		w, err := t.Create(ctx, key, e.Meta())
		if err != nil {
			continue
		}
		if _, err := io.Copy(w, io.NewSectionReader(e, 0, e.Size())); err != nil {
			w.Abort()
			continue
		}
		w.Commit()
	}
}

// Create starts the entry in every tier that accepts it.
func (s *Store) Create(ctx context.Context, key string, meta *store.Meta) (store.Writer, error) {
	w := &writer{}
	var firstErr error
	for _, t := range s.tiers {
		tw, err := t.Create(ctx, key, meta.Clone())
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		limit := int64(math.MaxInt64)
		if l, ok := t.(store.Limiter); ok {
			limit = l.MaxObjectSize()
		}
		w.ws = append(w.ws, tw)
		w.limits = append(w.limits, limit)
	}
	if len(w.ws) == 0 {
		if firstErr == nil {
			firstErr = errors.New("tiered: no tiers")
		}
		return nil, firstErr
	}
	return w, nil
}

// Update refreshes the metadata in every tier holding the entry.
func (s *Store) Update(ctx context.Context, key string, meta *store.Meta) error {
	found := false
	var firstErr error
	for _, t := range s.tiers {
		err := t.Update(ctx, key, meta.Clone())
		switch {
		case err == nil:
			found = true
		case !errors.Is(err, store.ErrNotFound) && firstErr == nil:
			firstErr = err
		}
	}
	if firstErr != nil {
		return firstErr
	}
	if !found {
		return store.ErrNotFound
	}
	return nil
}

// UpdateFunc updates the entry in every tier holding it, each from its
// own stored metadata (store.FuncUpdater): the tiers may hold different
// responses under one key (a shared tier may have another instance's
// newer copy while the memory tier keeps the older one), so fn decides
// for each tier what it holds and may accept one and refuse another. A
// tier's own UpdateFunc is used when it has one (atomic there),
// otherwise store.UpdateFunc's Get, fn and Update.
//
// Like Update, it returns the first error a tier returned that does not
// wrap store.ErrNotFound (a sick tier), else nil when some tier updated
// its entry; when none did, store.ErrRefused if some tier held an entry
// that fn refused (or that was replaced meanwhile), else
// store.ErrNotFound.
func (s *Store) UpdateFunc(ctx context.Context, key string, fn func(stored *store.Meta) (*store.Meta, bool)) error {
	found, refused := false, false
	var firstErr error
	for _, t := range s.tiers {
		called := false
		err := store.UpdateFunc(ctx, t, key, func(stored *store.Meta) (*store.Meta, bool) {
			called = true
			m, ok := fn(stored)
			if !ok || m == nil {
				return nil, false
			}
			// A meta of the tier's own, as with Update: the tier may
			// keep it, and fn may return one value to every tier.
			return m.Clone(), true
		})
		switch {
		case err == nil:
			found = true
		case errors.Is(err, store.ErrNotFound):
			// Refused by fn, or replaced after fn accepted: the tier
			// held an entry, not the one meant.
			refused = refused || called
		case firstErr == nil:
			firstErr = err
		}
	}
	switch {
	case firstErr != nil:
		return firstErr
	case found:
		return nil
	case refused:
		return store.ErrRefused
	}
	return store.ErrNotFound
}

// Delete removes the entry from every tier, slowest first: a Get that
// misses the fast tier while Delete runs then finds no copy left below
// to promote into it. (A Get that is already reading the slow copy may
// still promote it; nothing short of a lock over every tier prevents
// that.)
func (s *Store) Delete(ctx context.Context, key string) error {
	var firstErr error
	for i := len(s.tiers) - 1; i >= 0; i-- {
		if err := s.tiers[i].Delete(ctx, key); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// Keys lists the keys of each tier in turn, fastest first, so a key held
// by several tiers is listed once per tier that still holds it when that
// tier's turn comes; a caller that deletes each key it is given (Delete
// removes it from every tier) sees it once. If a tier cannot list its
// keys, Keys lists nothing and returns an error wrapping
// errors.ErrUnsupported: a purge must not pass over a tier.
func (s *Store) Keys(ctx context.Context, fn func(key string) bool) error {
	listers := make([]store.Lister, len(s.tiers))
	for i, t := range s.tiers {
		l, ok := t.(store.Lister)
		if !ok {
			return fmt.Errorf("tiered: tier %d (%T) cannot list its keys: %w", i, t, errors.ErrUnsupported)
		}
		listers[i] = l
	}
	stopped := false
	for _, l := range listers {
		err := l.Keys(ctx, func(key string) bool {
			stopped = !fn(key)
			return !stopped
		})
		if err != nil || stopped {
			return err
		}
	}
	return nil
}

// Stats sums the tiers' bytes, budgets and evictions. Entries is the
// largest tier's count: writes go through to every tier, so an entry in a
// fast tier is usually in the slower one too and must not count twice.
func (s *Store) Stats() store.Stats {
	var sum store.Stats
	for _, t := range s.tiers {
		st := t.Stats()
		sum.Entries = max(sum.Entries, st.Entries)
		sum.Bytes += st.Bytes
		sum.Capacity += st.Capacity
		sum.Evictions += st.Evictions
	}
	return sum
}

// Close closes every tier.
func (s *Store) Close() error {
	var firstErr error
	for _, t := range s.tiers {
		if err := t.Close(); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// writer writes through to one writer per tier. A tier that refuses the
// object (too large for it) drops out; the write fails only when every
// tier has dropped out.
type writer struct {
	mu     sync.Mutex
	ws     []store.Writer // live tier writers, fastest first
	limits []int64        // their tiers' MaxObjectSize
}

func (w *writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var lastErr error
	live, limits := w.ws[:0], w.limits[:0]
	for i, tw := range w.ws {
		if _, err := tw.Write(p); err != nil {
			tw.Abort()
			lastErr = err
			continue
		}
		live, limits = append(live, tw), append(limits, w.limits[i])
	}
	w.ws, w.limits = live, limits
	if len(w.ws) == 0 {
		if lastErr == nil {
			lastErr = store.ErrAborted
		}
		return 0, lastErr
	}
	return len(p), nil
}

func (w *writer) Commit() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.ws) == 0 {
		return store.ErrAborted
	}
	var committed bool
	var firstErr error
	for _, tw := range w.ws {
		if err := tw.Commit(); err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		committed = true
	}
	if committed {
		return nil
	}
	return firstErr
}

func (w *writer) Abort() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, tw := range w.ws {
		tw.Abort()
	}
	w.ws = nil
}

// NewReader follows the tier still writing that accepts the largest
// objects (the slowest of those), since it is the least likely to refuse
// the object part-way. If the tier it follows drops the object anyway (it
// passed that tier's limit, or a shared tier is busy or went away), the
// reader goes on from the same offset with another tier still writing, so
// it is cut off only when every tier has dropped the object.
func (w *writer) NewReader() io.ReadCloser { return &follower{w: w} }

// next returns a reader of the tier writer, still writing, that accepts
// the largest objects and is not in tried, and that writer; nil when
// none is left.
func (w *writer) next(tried []store.Writer) (io.ReadCloser, store.Writer) {
	w.mu.Lock()
	defer w.mu.Unlock()
	best := -1
	for i, tw := range w.ws {
		if !slices.Contains(tried, tw) && (best < 0 || w.limits[i] >= w.limits[best]) {
			best = i
		}
	}
	if best < 0 {
		return nil, nil
	}
	return w.ws[best].NewReader(), w.ws[best]
}

// follower reads a tiered writer's body through one tier's reader at a
// time. Read and Close may run concurrently (Close wakes a waiting Read).
type follower struct {
	w *writer

	mu     sync.Mutex
	r      io.ReadCloser  // the tier reader followed now; nil before the first Read and after a failure
	tried  []store.Writer // tier writers followed so far
	off    int64          // body bytes returned so far
	err    error          // why the last tier reader failed
	closed bool
}

var errFollowerClosed = errors.New("tiered: reader closed")

func (f *follower) Read(p []byte) (int, error) {
	for {
		r, err := f.reader()
		if err != nil {
			return 0, err
		}
		n, err := r.Read(p)
		f.mu.Lock()
		f.off += int64(n)
		if err != nil && err != io.EOF && !f.closed {
			// This tier dropped the object: go on with another.
			f.err = err
			if f.r == r {
				f.r = nil
			}
			r.Close()
			err = nil
		}
		f.mu.Unlock()
		if n > 0 || err != nil {
			return n, err
		}
	}
}

// reader returns the tier reader to read next, opening one on another
// tier, past the bytes already returned, when there is none.
func (f *follower) reader() (io.ReadCloser, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for {
		switch {
		case f.closed:
			return nil, errFollowerClosed
		case f.r != nil:
			return f.r, nil
		}
		r, tw := f.w.next(f.tried)
		if r == nil {
			if f.err == nil {
				f.err = store.ErrAborted
			}
			return nil, f.err
		}
		f.tried = append(f.tried, tw)
		// Every tier still writing has had every byte written so far,
		// so skipping what was read does not wait on the origin.
		if _, err := io.CopyN(io.Discard, r, f.off); err != nil {
			r.Close()
			f.err = err
			continue
		}
		f.r = r
	}
}

func (f *follower) Close() error {
	f.mu.Lock()
	f.closed = true
	r := f.r
	f.r = nil
	f.mu.Unlock()
	if r != nil {
		r.Close()
	}
	return nil
}
