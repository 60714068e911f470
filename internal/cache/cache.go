// Package cache is sluice's shared HTTP cache (RFC 9111): an
// http.RoundTripper in front of the upstream transport that answers from
// a store.Store what it may, revalidates what it must, stores what it is
// allowed to, and makes concurrent misses for one URL share one origin
// response while it arrives (collapsed forwarding).
//
// The caching rules themselves are pure functions in package semantics;
// this package applies them to requests, responses and stored entries.
// It does not strip hop-by-hop fields from what it returns, add Via, or
// check who may PURGE: the proxy handler does that around it.
package cache

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"sluice/internal/accesslog"
	"sluice/internal/cache/semantics"
	"sluice/internal/cache/store"
)

// Options configure a Cache.
type Options struct {
	// Store holds the entries. Required.
	Store store.Store
	// Next carries requests the cache cannot answer to origins. Required.
	Next http.RoundTripper
	// Rules tunes heuristic freshness; zero values mean the defaults.
	Rules semantics.Options
	// MaxObjectSize is the largest body stored, checked against a
	// response's Content-Length before storing; bodies of unknown length
	// are bounded by the store's own limit. Zero means no limit here.
	MaxObjectSize int64
	// RevalidateTimeout bounds a background revalidation
	// (stale-while-revalidate). Zero means 30 s.
	RevalidateTimeout time.Duration
	// Logger receives diagnostics; nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock; nil means time.Now. Tests set it.
	Now func() time.Time
}

// Cache is an RFC 9111 shared cache. It is safe for concurrent use.
type Cache struct {
	store    store.Store
	next     http.RoundTripper
	rules    semantics.Options
	maxObj   int64
	revalTO  time.Duration
	log      *slog.Logger
	now      func() time.Time
	ctx      context.Context // cancelled by Close; background work uses it
	cancel   context.CancelFunc
	bg       sync.WaitGroup
	mu       sync.Mutex
	inflight map[string]*fill     // primary key → miss being fetched
	reval    map[string]bool      // store keys being revalidated in the background
	pass     map[string]time.Time // primary keys recently found uncacheable → until
	stats    counters
	memo     *memo
}

var _ http.RoundTripper = (*Cache)(nil)

// passFor is how long a URL whose response was not storable skips
// collapsed forwarding: concurrent requests for an uncacheable URL must
// not queue behind each other (Varnish's hit-for-pass).
const passFor = 30 * time.Second

// New returns a Cache over o.Store in front of o.Next.
func New(o Options) *Cache {
	c := &Cache{
		store:    o.Store,
		next:     o.Next,
		rules:    o.Rules,
		maxObj:   o.MaxObjectSize,
		revalTO:  o.RevalidateTimeout,
		log:      o.Logger,
		now:      o.Now,
		inflight: make(map[string]*fill),
		reval:    make(map[string]bool),
		pass:     make(map[string]time.Time),
		memo:     newMemo(),
	}
	if c.revalTO <= 0 {
		c.revalTO = 30 * time.Second
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.now == nil {
		c.now = time.Now
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c
}

// Close stops background revalidations and fills and waits for them. It
// does not close the store.
func (c *Cache) Close() {
	c.cancel()
	c.bg.Wait()
}

// Store returns the cache's store.
func (c *Cache) Store() store.Store { return c.store }

// RoundTrip implements http.RoundTripper.
func (c *Cache) RoundTrip(r *http.Request) (*http.Response, error) {
	return c.RoundTripRecord(r, nil, nil)
}

// Key returns the primary cache key of an absolute URL (RFC 9111 §2):
// scheme and host lower-cased, the default port dropped, the fragment
// left out, an empty path read as "/".
func Key(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	ipv6 := strings.Contains(host, ":")
	var b strings.Builder
	b.Grow(len(scheme) + 3 + len(host) + 2 + 1 + len(port) + len(path) + 1 + len(u.RawQuery))
	b.WriteString(scheme)
	b.WriteString("://")
	if ipv6 {
		b.WriteByte('[')
	}
	b.WriteString(host)
	if ipv6 {
		b.WriteByte(']')
	}
	if port != "" {
		b.WriteByte(':')
		b.WriteString(port)
	}
	b.WriteString(path)
	if u.RawQuery != "" || u.ForceQuery {
		b.WriteByte('?')
		b.WriteString(u.RawQuery)
	}
	return b.String()
}

// Purge removes the response stored for rawURL and makes all of its
// variants unreachable. It reports whether anything was stored.
func (c *Cache) Purge(ctx context.Context, rawURL string) (bool, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return false, errors.New("cache: purge needs an absolute URL")
	}
	key := Key(u)
	found := false
	if e, err := c.store.Get(ctx, key); err == nil {
		found = true
		e.Close()
	}
	if err := c.store.Delete(ctx, key); err != nil {
		return found, err
	}
	c.stats.purges.Add(1)
	return found, nil
}

// record sets the access-log result and hierarchy codes, if there is a
// record.
func record(rec *accesslog.Record, result, hier string) {
	if rec != nil {
		rec.Result, rec.Hierarchy = result, hier
	}
}

// Stats are the cache's counters since start; they only grow.
type Stats struct {
	MemHits, DiskHits     int64 // responses served from the memory / disk tier without contacting the origin
	SharedHits            int64 // responses served from the shared (Redis) tier without contacting the origin
	Misses                int64 // requests forwarded because nothing usable was stored
	Revalidated           int64 // stored responses confirmed by a 304
	Refreshed             int64 // stored responses replaced after revalidation
	StaleServed           int64 // stale responses served (stale-while-revalidate, stale-if-error, max-stale)
	Stored                int64 // responses stored
	Collapsed             int64 // requests that shared another request's origin response
	Invalidations, Purges int64
	BytesMem, BytesDisk   int64 // body bytes served from each tier
	BytesShared           int64
}

type counters struct {
	memHits, diskHits, sharedHits, misses, revalidated, refreshed, stale, stored, collapsed, invalidations, purges atomic.Int64
	bytesMem, bytesDisk, bytesShared                                                                               atomic.Int64
}

// Stats returns the cache's counters.
func (c *Cache) Stats() Stats {
	s := &c.stats
	return Stats{
		MemHits: s.memHits.Load(), DiskHits: s.diskHits.Load(), SharedHits: s.sharedHits.Load(), Misses: s.misses.Load(),
		Revalidated: s.revalidated.Load(), Refreshed: s.refreshed.Load(), StaleServed: s.stale.Load(),
		Stored: s.stored.Load(), Collapsed: s.collapsed.Load(), Invalidations: s.invalidations.Load(),
		Purges: s.purges.Load(), BytesMem: s.bytesMem.Load(), BytesDisk: s.bytesDisk.Load(), BytesShared: s.bytesShared.Load(),
	}
}
