package cache

import (
	"bytes"
	"hash/maphash"
	"net/http"
	"sync/atomic"
	"time"

	"sluice/internal/cache/semantics"
	"sluice/internal/cache/store"
)

// parsed is what the cache derives from a stored entry's metadata: the
// decoded meta and everything about it that does not depend on the request
// or the clock. It is shared by concurrent requests and never modified.
type parsed struct {
	meta       *store.Meta
	header     http.Header // meta.Header with room for what serve adds, values clipped
	rcc        semantics.ResponseDirectives
	life       time.Duration // freshness lifetime (RFC 9111 §4.2.1)
	initialAge time.Duration // corrected_initial_age (§4.2.3)

	// For a Vary marker (meta.Status == markerStatus): the fields it
	// names and its generation.
	fields []string
	gen    string

	raw []byte // the encoded meta this was parsed from; nil if unknown
}

// age returns the stored response's current age at now.
func (p *parsed) age(now time.Time) time.Duration {
	return semantics.AgeAt(p.initialAge, p.meta.ResponseTime, now)
}

// memoSlots is the size of the parse memo: enough for the objects that
// make up most hits, small enough (a few MiB at most) not to matter.
const memoSlots = 4096

// memo remembers recent parses by their encoded metadata, so a hit on a
// popular object does not decode and re-derive the same fields each time
// (that was a third of the cache's share of a memory hit). It is
// direct-mapped and lock-free: a slot holds the last parse that hashed to
// it, and is used only when its bytes equal the entry's, so it can never
// answer with another entry's metadata, and needs no invalidation: a
// replaced or updated entry has different bytes.
type memo struct {
	seed  maphash.Seed
	slots [memoSlots]atomic.Pointer[parsed]
}

func newMemo() *memo { return &memo{seed: maphash.MakeSeed()} }

// parse returns e's parsed metadata, from the memo when e can show its
// encoded metadata and it has been parsed before.
func (c *Cache) parse(e store.Entry) *parsed {
	mb, ok := e.(store.MetaBytes)
	if !ok {
		return c.derive(e.Meta(), nil)
	}
	raw := mb.MetaBytes()
	slot := &c.memo.slots[maphash.Bytes(c.memo.seed, raw)&(memoSlots-1)]
	if p := slot.Load(); p != nil && bytes.Equal(p.raw, raw) {
		return p
	}
	m, err := store.DecodeMeta(raw)
	if err != nil {
		return c.derive(e.Meta(), nil)
	}
	p := c.derive(m, bytes.Clone(raw))
	slot.Store(p)
	return p
}

// derive computes the request-independent facts about m.
func (c *Cache) derive(m *store.Meta, raw []byte) *parsed {
	p := &parsed{meta: m, raw: raw}
	if m.Status == markerStatus {
		p.fields, p.gen = parseMarker(m)
		return p
	}
	// A response's header is a clone of this one, which has room for
	// the fields serve and the proxy add (cloning a map is faster than
	// filling one). Values are clipped so that appending to one copies.
	p.header = make(http.Header, len(m.Header)+4)
	for k, v := range m.Header {
		p.header[k] = v[:len(v):len(v)]
	}
	p.rcc = semantics.ParseResponseDirectives(m.Header)
	p.life, _ = semantics.FreshnessLifetime(m.Status, m.Header, m.ResponseTime, c.rules)
	p.initialAge = semantics.InitialAge(m.Header, m.RequestTime, m.ResponseTime)
	return p
}
