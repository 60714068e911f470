// Package mem is the memory tier of sluice's cache: a store.Store that
// keeps entries in memory mapped outside the Go heap.
//
// Entry bytes (key, encoded meta and body, one record each) live in
// anonymous private mappings cut into pages and managed by a slab
// allocator, memcached-style: each page serves one size class of chunks
// (multiples of 64 bytes up to 4 KiB, then growing by 1/8 up to a page),
// and records longer than a page are a chain of whole pages plus a chunk
// for the rest. The Go heap holds only a pointer-free index (key hash →
// slot), so the garbage collector neither scans nor doubles the cached
// bytes: the process grows by little more than what it caches.
//
// Keys are spread over shards by hash; each shard has its own lock, its
// share of the pages and its LRU lists (one per class). A hit takes the
// shard lock once to pin the slot and once to unpin it, and marks the
// entry referenced instead of moving it; eviction gives referenced and
// pinned entries a second chance. A pinned record is never reused: Delete,
// replacement and eviction unlink it, and the last reader frees it.
//
// It does not persist anything, and it does not share memory between
// processes.
package mem

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"math/bits"

	"sluice/internal/cache/store"
)

// Options configure a Store.
type Options struct {
	// Capacity is the byte budget for entries (metadata, bodies and
	// keys, counted in whole chunks); it must be positive. No more
	// memory than this is ever mapped.
	Capacity int64
	// MaxObjectSize is the largest body accepted; 0 means Capacity/8. It
	// is lowered to Capacity/2.
	MaxObjectSize int64
}

// Store is the memory tier. It implements store.Store.
type Store struct {
	shards    []*shard
	shift     uint // shard of a hash: hash >> shift
	seed      maphash.Seed
	capacity  int64
	maxObject int64
}

var _ store.Store = (*Store)(nil)

// tier is what Entry.Tier returns.
const tier = "mem"

var (
	errClosed      = errors.New("mem: store closed")
	errNoRoom      = errors.New("mem: no room (what is left is being read)")
	errCommitted   = errors.New("mem: writer already committed")
	errEntryClosed = errors.New("mem: entry closed")
)

// maxShards bounds the number of shards; fewer are used when the budget
// is small, so that each shard has pages for every class in use and for
// several objects of the maximum size.
const maxShards = 16

// New returns an empty store. It panics if o.Capacity is not positive.
func New(o Options) *Store {
	if o.Capacity <= 0 {
		panic("mem: Options.Capacity must be positive")
	}
	maxObject := o.MaxObjectSize
	if maxObject <= 0 {
		maxObject = o.Capacity / 8
	}
	maxObject = min(maxObject, o.Capacity/2)

	pageSize := pageSizeFor(o.Capacity)
	pages := int(o.Capacity / int64(pageSize))
	objectPages := int((maxObject + int64(pageSize) - 1) / int64(pageSize))
	n := maxShards
	for n > 1 && pages/n < max(minPages, 4*objectPages) {
		n /= 2
	}
	s := &Store{
		shards:    make([]*shard, n),
		shift:     uint(64 - bits.TrailingZeros(uint(n))),
		seed:      maphash.MakeSeed(),
		capacity:  o.Capacity,
		maxObject: maxObject,
	}
	for k := range s.shards {
		quota := pages / n
		if k < pages%n {
			quota++
		}
		s.shards[k] = newShard(pageSize, quota)
	}
	return s
}

func (s *Store) locate(key string) (uint64, *shard) {
	h := maphash.String(s.seed, key)
	return h, s.shards[h>>s.shift&uint64(len(s.shards)-1)]
}

// Get returns the entry under key, pinned until the caller closes it.
func (s *Store) Get(_ context.Context, key string) (store.Entry, error) {
	h, sh := s.locate(key)
	sh.mu.Lock()
	if sh.closed {
		sh.mu.Unlock()
		return nil, errClosed
	}
	i, ok := sh.index[h]
	if !ok {
		sh.mu.Unlock()
		return nil, store.ErrNotFound
	}
	sl := &sh.slots[i]
	sl.flags |= slotRef
	sl.atime = sh.tick
	sh.pin(i)
	rec := sh.record(i)
	sh.mu.Unlock()
	if !rec.hasKey(key) { // another key with the same hash
		sh.mu.Lock()
		sh.unpin(i)
		sh.mu.Unlock()
		return nil, store.ErrNotFound
	}
	return newEntry(sh, i, rec), nil
}

// Create starts an entry under key. The body is buffered on the Go heap
// until Commit copies the record into slab memory.
func (s *Store) Create(_ context.Context, key string, meta *store.Meta) (store.Writer, error) {
	h, sh := s.locate(key)
	sh.mu.Lock()
	closed := sh.closed
	sh.mu.Unlock()
	if closed {
		return nil, errClosed
	}
	m := store.AppendMeta(make([]byte, 0, store.MetaSize(meta)), meta)
	w := &writer{s: s, sh: sh, key: key, hash: h, meta: m}
	w.cond.L = &w.mu
	return w, nil
}

// Update writes a new record with meta and the stored body, and links it
// in place of the old one unless that was replaced or deleted meanwhile.
func (s *Store) Update(_ context.Context, key string, meta *store.Meta) error {
	h, sh := s.locate(key)
	sh.mu.Lock()
	if sh.closed {
		sh.mu.Unlock()
		return errClosed
	}
	old, ok := sh.index[h]
	if !ok {
		sh.mu.Unlock()
		return store.ErrNotFound
	}
	sh.pin(old)
	oldRec := sh.record(old)
	sh.mu.Unlock()
	defer func() {
		sh.mu.Lock()
		sh.unpin(old)
		sh.mu.Unlock()
	}()
	if !oldRec.hasKey(key) {
		return store.ErrNotFound
	}
	keyLen, metaLen := oldRec.header()
	bodyOff := recordHeader + keyLen + metaLen
	m := store.AppendMeta(nil, meta)
	n := recordLen(key, m, oldRec.n-bodyOff)

	sh.mu.Lock()
	if sh.closed {
		sh.mu.Unlock()
		return errClosed
	}
	i, ok := sh.alloc(n, h)
	if !ok {
		sh.mu.Unlock()
		return fmt.Errorf("update %d bytes: %w", n, errNoRoom)
	}
	rec := sh.record(i)
	sh.mu.Unlock()

	off := rec.writeHead(key, m)
	for src := bodyOff; src < oldRec.n; {
		b := oldRec.at(src)
		rec.writeAt(b, off)
		src += int64(len(b))
		off += int64(len(b))
	}

	sh.mu.Lock()
	defer sh.mu.Unlock()
	switch {
	case sh.closed:
		sh.unpin(i)
		return errClosed
	case sh.slots[old].flags&slotLinked == 0:
		// Deleted, evicted or replaced meanwhile. A replacement is newer
		// than this update; a deletion is reported as such.
		sh.unpin(i)
		if _, ok := sh.index[h]; ok {
			return nil
		}
		return store.ErrNotFound
	}
	sh.link(i)
	sh.unpin(i)
	return nil
}

// Delete unlinks the entry under key; readers holding it may finish.
func (s *Store) Delete(_ context.Context, key string) error {
	h, sh := s.locate(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.closed {
		return errClosed
	}
	if i, ok := sh.index[h]; ok {
		if rec := sh.record(i); rec.hasKey(key) {
			sh.unlink(i)
		}
	}
	return nil
}

// Stats sums the shards' counters. Bytes counts whole chunks and pages,
// including records unlinked but still being read.
func (s *Store) Stats() store.Stats {
	st := store.Stats{Capacity: s.capacity}
	for _, sh := range s.shards {
		sh.mu.Lock()
		st.Entries += sh.entries
		st.Evictions += sh.evictions
		if !sh.closed {
			st.Bytes += sh.slab.bytes
		}
		sh.mu.Unlock()
	}
	return st
}

// Close drops every entry. Memory is unmapped at once, or, in a shard
// where entries are still open, when the last of them is closed; until
// then those entries stay readable.
func (s *Store) Close() error {
	for _, sh := range s.shards {
		sh.mu.Lock()
		sh.close()
		sh.mu.Unlock()
	}
	return nil
}

// MaxObjectSize returns the largest body the store accepts.
func (s *Store) MaxObjectSize() int64 { return s.maxObject }
