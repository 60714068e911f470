// Package redisstore is the shared tier of sluice's cache: a store.Store
// kept in Redis (or Valkey, or a Redis Cluster), so that a fleet of
// instances fetches an object from the origin once.
//
// Each object is one Redis string holding its metadata and its body (see
// value.go), written by one SET at Commit, rewritten by a script on
// Update, and read by one GETRANGE (a large one by a second that reads it
// whole again), so a reader always gets a whole object, old or new, even
// while other instances replace it or Redis evicts it. Writers buffer the
// body in memory and send nothing before Commit. Every value expires
// (Options.TTL), so Redis drops what nobody can use.
//
// Redis is a helper, never a dependency: every call is bounded by
// Options.Timeout, and after a few consecutive failures a circuit breaker
// stops calling Redis and fails at once with ErrUnavailable, probing in
// the background until Redis answers again.
//
// It does not build or close the Redis client (the caller does, with its
// addresses, TLS, credentials and database), does not bound Redis's memory
// (that is Redis's maxmemory), and does not tell other instances to drop
// their local copies of what it deletes.
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"sluice/internal/cache/store"
)

// Options configure a Store.
type Options struct {
	// Client talks to Redis. The caller builds it (single node,
	// Sentinel or Cluster; TLS, credentials, database) and closes it
	// after the Store. It must have ContextTimeoutEnabled set, so that
	// Timeout bounds every socket read and write (New logs a warning
	// otherwise). DialerRetries 1 and MaxRetries -1 are best: otherwise
	// go-redis retries a refused dial, with pauses, until the Timeout
	// where failing at once would do; the breaker does the retrying.
	Client redis.UniversalClient
	// Prefix is put before every key; default "sluice:". Instances that
	// share a cache use the same prefix; a prefix must not be the start
	// of another prefix used in the same database.
	Prefix string
	// MaxObjectSize is the largest body stored; default 8 MiB. Larger
	// bodies are refused with store.ErrTooLarge (they stay in the local
	// tiers), and a larger value found in Redis is a miss.
	MaxObjectSize int64
	// Timeout bounds each call to Redis; default 20ms (a loopback or LAN
	// Redis answers in well under a millisecond). A call that moves n
	// bytes of body is allowed Timeout plus n at Throughput.
	Timeout time.Duration
	// Throughput is the slowest rate, in bytes per second, at which a
	// healthy Redis and network move an object; default 100 MB/s.
	Throughput int64
	// TTL returns how long an object may be useful (its freshness plus
	// the windows in which it may be served stale or revalidated); the
	// value expires after that. It runs at Commit and at Update. A result
	// ≤ 0 means the object is useless: Commit and Update delete the key
	// instead. Nil means 24 hours for every object.
	TTL func(*store.Meta) time.Duration
	// OnStateChange is called with false when the breaker opens (Redis
	// stopped answering) and with true when it closes again: one call at
	// a time, in order, false first (a new store is taken to be up). It
	// must not block long.
	OnStateChange func(up bool)
	// Logger receives warnings and per-failure debug lines; nil discards.
	// State changes are left to OnStateChange.
	Logger *slog.Logger
}

// Defaults for Options.
const (
	DefaultPrefix        = "sluice:"
	DefaultMaxObjectSize = 8 << 20
	DefaultTimeout       = 20 * time.Millisecond
	DefaultThroughput    = 100_000_000
	DefaultTTL           = 24 * time.Hour
)

// ErrUnavailable is returned, at once, while the breaker is open; errors
// of calls that failed on the way to Redis (timeouts, refused
// connections) wrap it too. Errors Redis itself answered do not.
var ErrUnavailable = errors.New("redis: unavailable")

// ErrReplaced is returned by UpdateIf and UpdateFunc when the key no
// longer holds the object the caller meant. It wraps store.ErrNotFound.
var ErrReplaced = fmt.Errorf("redis: entry replaced since it was read: %w", store.ErrNotFound)

var errClosed = errors.New("redis: store closed")

// tier is what Entry.Tier returns.
const tier = "redis"

// Store is the Redis tier. It implements store.Store, store.Lister and
// store.Limiter.
type Store struct {
	client     redis.UniversalClient
	prefix     string
	maxObject  int64
	timeout    time.Duration
	throughput int64
	ttl        func(*store.Meta) time.Duration
	onChange   func(bool)
	log        *slog.Logger
	script     *redis.Script // updateSource

	breaker

	// Activity of this instance, for Stats.
	entries atomic.Int64
	bytes   atomic.Int64

	closed atomic.Bool
	done   chan struct{} // closed by Close: the prober exits
	mu     sync.Mutex    // orders starting the prober against Close; guards the breaker's backoffs
	wg     sync.WaitGroup
}

var (
	_ store.Store   = (*Store)(nil)
	_ store.Lister  = (*Store)(nil)
	_ store.Limiter = (*Store)(nil)
)

// New returns a Store on o.Client. It does not contact Redis.
func New(o Options) *Store {
	s := &Store{
		client:     o.Client,
		prefix:     o.Prefix,
		maxObject:  o.MaxObjectSize,
		timeout:    o.Timeout,
		throughput: o.Throughput,
		ttl:        o.TTL,
		onChange:   o.OnStateChange,
		log:        o.Logger,
		script:     redis.NewScript(updateSource),
		done:       make(chan struct{}),
	}
	if s.prefix == "" {
		s.prefix = DefaultPrefix
	}
	if s.maxObject <= 0 {
		s.maxObject = DefaultMaxObjectSize
	}
	if s.timeout <= 0 {
		s.timeout = DefaultTimeout
	}
	if s.throughput <= 0 {
		s.throughput = DefaultThroughput
	}
	if s.ttl == nil {
		s.ttl = func(*store.Meta) time.Duration { return DefaultTTL }
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.breaker.init()
	if !contextTimeouts(o.Client) {
		s.log.Warn("redis: the client does not have ContextTimeoutEnabled: calls may wait for its ReadTimeout, not the store's Timeout")
	}
	return s
}

// contextTimeouts reports whether c bounds socket I/O by the context's
// deadline, when it can tell.
func contextTimeouts(c redis.UniversalClient) bool {
	switch c := c.(type) {
	case *redis.Client:
		return c.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		return c.Options().ContextTimeoutEnabled
	}
	return true
}

// MaxObjectSize returns the largest body the store accepts.
func (s *Store) MaxObjectSize() int64 { return s.maxObject }

// Healthy reports whether the store is calling Redis: false while the
// breaker is open and after Close.
func (s *Store) Healthy() bool { return !s.closed.Load() && !s.open.Load() }

// maxValue is the longest value Get holds in memory.
func (s *Store) maxValue() int64 { return headerSize + maxMetaSize + s.maxObject }

// firstRead is how much of a value Get asks for first: small objects
// come whole in one round trip; larger ones tell their size.
const firstRead = 64 << 10

// opTimeout is the time allowed for a call moving n bytes.
func (s *Store) opTimeout(n int64) time.Duration {
	return s.timeout + time.Duration(n)*time.Second/time.Duration(s.throughput)
}

// admit returns the error a call fails with before reaching Redis.
func (s *Store) admit() error {
	if s.closed.Load() {
		return errClosed
	}
	if s.open.Load() {
		return ErrUnavailable
	}
	return nil
}

// Get reads the value under key: one GETRANGE for a value of up to
// firstRead bytes, and a second one, allowed time for its size, for a
// larger one. Each read is a snapshot of a whole value, so the entry's
// metadata and body always belong together. Redis trouble is an error
// other than store.ErrNotFound.
func (s *Store) Get(ctx context.Context, key string) (store.Entry, error) {
	if err := s.admit(); err != nil {
		return nil, fmt.Errorf("redis: get: %w", err)
	}
	rkey := s.prefix + key
	first := min(firstRead, s.maxValue())
	v, err := s.getRange(ctx, rkey, first, s.timeout)
	if err != nil {
		return nil, fmt.Errorf("redis: get: %w", err)
	}
	h, ok := parseHeader(v)
	if !ok || int64(h.metaLen) > maxMetaSize || h.bodyLen > uint64(s.maxObject) {
		return nil, store.ErrNotFound // absent, not an entry, or too large to hold
	}
	if total := h.total(); int64(len(v)) < total {
		if int64(len(v)) < first {
			return nil, store.ErrNotFound // shorter than it says: not an entry
		}
		// One byte more than the size found, to tell a larger
		// replacement (a miss) from the value expected.
		if v, err = s.getRange(ctx, rkey, total+1, s.opTimeout(total)); err != nil {
			return nil, fmt.Errorf("redis: get: %w", err)
		}
		if h, ok = parseHeader(v); !ok || int64(h.metaLen) > maxMetaSize || h.bodyLen > uint64(s.maxObject) {
			return nil, store.ErrNotFound
		}
	}
	if int64(len(v)) != h.total() {
		return nil, store.ErrNotFound
	}
	return &entry{v: v, bodyOff: headerSize + int(h.metaLen), gen: h.gen}, nil
}

// getRange returns up to n bytes from the start of the value under rkey
// (none when there is no such key).
func (s *Store) getRange(ctx context.Context, rkey string, n int64, timeout time.Duration) ([]byte, error) {
	cctx, cancel := context.WithTimeout(ctx, timeout)
	v, err := s.client.GetRange(cctx, rkey, 0, n-1).Bytes()
	cancel()
	return v, s.observe(ctx, err)
}

// Create starts an entry under key. Nothing reaches Redis before Commit.
func (s *Store) Create(ctx context.Context, key string, meta *store.Meta) (store.Writer, error) {
	if err := s.admit(); err != nil {
		return nil, fmt.Errorf("redis: create: %w", err)
	}
	buf := make([]byte, headerSize, headerSize+store.MetaSize(meta))
	buf = store.AppendMeta(buf, meta)
	metaLen := len(buf) - headerSize
	if metaLen > maxMetaSize {
		return nil, fmt.Errorf("redis: metadata of %d bytes: %w", metaLen, store.ErrTooLarge)
	}
	appendHeader(buf[:0], newGeneration(), metaLen)
	w := &writer{s: s, ctx: context.WithoutCancel(ctx), key: s.prefix + key, meta: meta, buf: buf, bodyOff: len(buf)}
	w.cond.L = &w.mu
	return w, nil
}

// put stores the value v of an object with metadata meta under rkey,
// replacing any value there, or deletes rkey when TTL says the object is
// useless.
func (s *Store) put(ctx context.Context, rkey string, v []byte, meta *store.Meta) error {
	if err := s.admit(); err != nil {
		return fmt.Errorf("redis: commit: %w", err)
	}
	ttl := s.ttl(meta)
	cctx, cancel := context.WithTimeout(ctx, s.opTimeout(int64(len(v))))
	defer cancel()
	// STRLEN in the same transaction tells what the SET replaced, for
	// Stats.
	pipe := s.client.TxPipeline()
	old := pipe.StrLen(cctx, rkey)
	var set redis.Cmder
	if ttl > 0 {
		set = pipe.Set(cctx, rkey, v, max(ttl, time.Millisecond))
	} else {
		set = pipe.Del(cctx, rkey)
	}
	pipe.Exec(cctx) // each command keeps its own error
	if err := s.observe(ctx, set.Err()); err != nil {
		return fmt.Errorf("redis: commit: %w", err)
	}
	n := old.Val()
	switch {
	case ttl <= 0 && n > 0:
		s.entries.Add(-1)
		s.bytes.Add(-n)
	case ttl > 0:
		if n == 0 {
			s.entries.Add(1)
		}
		s.bytes.Add(int64(len(v)) - n)
	}
	return nil
}

// Delete removes the value under key. Entries already read are whole
// copies and stay readable.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.admit(); err != nil {
		return fmt.Errorf("redis: delete: %w", err)
	}
	rkey := s.prefix + key
	cctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	pipe := s.client.TxPipeline()
	old := pipe.StrLen(cctx, rkey)
	del := pipe.Del(cctx, rkey)
	pipe.Exec(cctx) // each command keeps its own error
	if err := s.observe(ctx, del.Err()); err != nil {
		return fmt.Errorf("redis: delete: %w", err)
	}
	if del.Val() > 0 {
		s.entries.Add(-1)
		s.bytes.Add(-old.Val())
	}
	return nil
}

// Stats reports what this instance's own calls added and removed, as
// Redis answered them: exact for an instance that is alone on its prefix
// while nothing expires, an estimate otherwise (other instances' writes
// and deletions, expiry and Redis's evictions are not seen; Redis's INFO
// has the truth). Capacity is 0: Redis's maxmemory is the budget, and
// Evictions are Redis's to count.
func (s *Store) Stats() store.Stats {
	return store.Stats{Entries: max(0, s.entries.Load()), Bytes: max(0, s.bytes.Load())}
}

// Close stops the store: later calls fail, and the background probe, if
// any, ends. It does not close the client.
func (s *Store) Close() error {
	s.mu.Lock()
	if !s.closed.Swap(true) {
		close(s.done)
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}
