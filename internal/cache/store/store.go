// Package store defines where sluice's HTTP cache keeps responses: one
// Store interface with streaming bodies, implemented by tiers (mem/, disk/,
// and a Redis tier for fleets), and one conformance suite (storetest/)
// that every implementation passes.
//
// A Store is a map from an opaque key to a committed entry: metadata (the
// stored response's status, header fields and the two timestamps RFC 9111
// §4.2.3 needs) and a body of known size. Entries are written through a
// Writer, which becomes visible atomically at Commit; until then readers of
// the key keep seeing the previous entry, and readers attached to the
// Writer (NewReader) follow the body as it is written, so concurrent misses
// can share one origin response while it arrives.
//
// It does not know HTTP caching rules: what may be stored, for how long,
// under which key and with which variants is decided by package cache.
// Keys and Meta are serialisable (AppendMeta, DecodeMeta) and bodies are
// addressed by offset, so a remote store can hold them as chunks.
package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// ErrNotFound is returned by Get, Update and UpdateFunc when no committed
// entry is stored under the key.
var ErrNotFound = errors.New("store: not found")

// ErrRefused is returned by UpdateFunc when fn refused the stored entry:
// it is not the response the caller meant to update. It wraps
// ErrNotFound, since the entry meant is not stored any more.
var ErrRefused = fmt.Errorf("store: stored entry is not the one meant, not updated: %w", ErrNotFound)

// ErrAborted is returned by a reader following a Writer (Writer.NewReader)
// when the writer aborted before committing.
var ErrAborted = errors.New("store: write aborted")

// ErrTooLarge is returned by Writer.Write when the body would exceed the
// store's maximum object size; the writer is aborted.
var ErrTooLarge = errors.New("store: object larger than the maximum object size")

// Meta is what is stored about a response besides its body.
type Meta struct {
	// Status is the response's status code.
	Status int
	// Header holds the stored response's header fields (hop-by-hop fields
	// already removed by the caller). Keys are canonical.
	Header http.Header
	// RequestTime is when the request that produced this response was
	// sent (RFC 9111 §4.2.3 request_time).
	RequestTime time.Time
	// ResponseTime is when the response was received (RFC 9111 §4.2.3
	// response_time).
	ResponseTime time.Time
}

// Clone returns a deep copy of m.
func (m *Meta) Clone() *Meta {
	c := *m
	c.Header = m.Header.Clone()
	if c.Header == nil {
		c.Header = http.Header{}
	}
	return &c
}

// Store keeps cache entries. All methods are safe for concurrent use.
type Store interface {
	// Get returns the committed entry under key, or ErrNotFound. The
	// entry stays readable until the caller closes it, even if it is
	// replaced, deleted or evicted meanwhile.
	Get(ctx context.Context, key string) (Entry, error)
	// Create starts a new entry under key with the given metadata. The
	// store may keep meta; the caller must not modify it afterwards.
	// Nothing is visible to Get until Commit.
	Create(ctx context.Context, key string, meta *Meta) (Writer, error)
	// Update replaces the metadata of the committed entry under key and
	// keeps its body (a 304 refreshing a stored response, RFC 9111
	// §4.3.4). It returns ErrNotFound when there is no such entry.
	Update(ctx context.Context, key string, meta *Meta) error
	// Delete removes the entry under key, if any. Readers that already
	// hold the entry may finish.
	Delete(ctx context.Context, key string) error
	// Stats reports the store's current size and activity.
	Stats() Stats
	// Close releases the store's resources. Entries and writers still
	// open may fail afterwards.
	Close() error
}

// Entry is a committed entry being read. Close it when done.
type Entry interface {
	// Meta returns the entry's metadata. The caller owns the returned
	// value and may modify it.
	Meta() *Meta
	// Size is the body's length in bytes.
	Size() int64
	// ReadAt reads the body; it supports concurrent and ranged reads.
	io.ReaderAt
	// Tier names the store that holds the entry ("mem", "disk", …), for
	// result codes and counters.
	Tier() string
	// Close releases the entry.
	io.Closer
}

// MetaBytes is implemented by entries that can show their metadata in
// its encoded form (AppendMeta's) without decoding it, so that a caller
// can recognise metadata it has decoded before. The slice is valid until
// the entry is closed and must not be modified.
type MetaBytes interface {
	MetaBytes() []byte
}

// Writer fills a new entry. Exactly one of Commit or Abort ends it; Abort
// after Commit does nothing, so `defer w.Abort()` is safe.
type Writer interface {
	// Write appends to the body. It returns ErrTooLarge (and aborts)
	// when the body would exceed the store's maximum object size.
	io.Writer
	// Commit completes the entry and makes it visible under its key,
	// replacing any previous entry atomically.
	Commit() error
	// Abort discards the entry; nothing of it becomes visible.
	Abort()
	// NewReader returns a reader of the body from its first byte that
	// follows the writer: it blocks for bytes not yet written, returns
	// io.EOF after the last byte once committed, and ErrAborted if the
	// writer aborts. It stays readable after Commit until closed.
	NewReader() io.ReadCloser
}

// Limiter is implemented by stores that refuse bodies above a size, so a
// caller can avoid starting an entry that would fail part-way.
type Limiter interface {
	// MaxObjectSize returns the largest body the store accepts.
	MaxObjectSize() int64
}

// FuncUpdater is implemented by stores that can update an entry's
// metadata from what is stored now rather than from a copy the caller
// read earlier, which in a store shared by several instances may describe
// another response by now (another instance replaced the entry).
type FuncUpdater interface {
	// UpdateFunc calls fn with the metadata of the committed entry under
	// key, as stored now. fn owns stored and may modify it; it returns
	// the replacement (which the store may keep: fn must not modify it
	// afterwards) and whether to update at all. When fn returns true,
	// UpdateFunc replaces the entry's metadata with the replacement and
	// keeps its body, on condition that the entry is still the one fn
	// was given; it never puts metadata fn derived from one entry on
	// another's body.
	//
	// It returns an error wrapping ErrNotFound when there is no entry
	// under key, when fn refused it, or when the entry was replaced
	// before the update could be made; in each case nothing changed.
	// fn may be called more than once (a tiered store calls it once per
	// tier), so it should only compute.
	UpdateFunc(ctx context.Context, key string, fn func(stored *Meta) (*Meta, bool)) error
}

// UpdateFunc updates the metadata of the entry under key in s with fn
// (see FuncUpdater): with s's own UpdateFunc when s has one, otherwise by
// Get, fn(the entry's Meta) and Update. That fallback is not atomic: an
// entry committed under key between the Get and the Update gets the
// metadata fn derived from the one before it. It suits a store that only
// this process writes to, where that window is short; a store shared by
// several processes should implement FuncUpdater. When fn refuses, it
// returns ErrRefused.
func UpdateFunc(ctx context.Context, s Store, key string, fn func(stored *Meta) (*Meta, bool)) error {
	if u, ok := s.(FuncUpdater); ok {
		return u.UpdateFunc(ctx, key, fn)
	}
	e, err := s.Get(ctx, key)
	if err != nil {
		return err
	}
	stored := e.Meta()
	e.Close()
	m, ok := fn(stored)
	if !ok || m == nil {
		return ErrRefused
	}
	return s.Update(ctx, key, m)
}

// Lister is implemented by stores that can enumerate their keys, so that
// entries can be found by what their keys say (every response of one
// host, for a purge) and not only looked up by key.
type Lister interface {
	// Keys calls fn with the key of each committed entry until fn
	// returns false; it returns nil then, or once every key is listed.
	// When ctx is done it stops, without calling fn again, and returns
	// ctx.Err(); when the store fails it returns the store's error.
	//
	// Keys holds no lock while fn runs, so fn may call the store's
	// methods (a purge deletes the keys it is given), and it keeps a
	// bounded number of keys in memory whatever the store's size.
	// Entries committed, replaced or deleted while Keys runs may or may
	// not be listed; every other entry is listed. A key may be listed
	// more than once: when its entry is replaced while Keys runs, and,
	// in a tiered store, once per tier that still holds it when that
	// tier's turn comes (so a caller that deletes each key it is given
	// sees it once).
	Keys(ctx context.Context, fn func(key string) bool) error
}

// Stats is a store's size and activity; counters only grow.
type Stats struct {
	Entries   int64 // committed entries held
	Bytes     int64 // bytes held, bodies and metadata
	Capacity  int64 // budget in bytes
	Evictions int64 // entries removed to stay within Capacity
}
