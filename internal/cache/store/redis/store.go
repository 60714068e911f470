// Package redisstore is the shared tier of sluice's cache: a store.Store
// kept in Redis (or Valkey, or a Redis Cluster), so that a fleet of
// instances fetches an object from the origin once.
//
// Each object is one Redis string holding its metadata and its body (see
// value.go), written by one SET at Commit, rewritten by a script on
// Update, and read by one GETRANGE (a large one by a second that reads it
// whole again), so a reader always gets a whole object, old or new, even
// while other instances replace it or Redis evicts it. Writers buffer the
// body in memory and send nothing before Commit; what the buffers and the
// queue below hold together is bounded (Options.MaxBuffered), and a
// writer that would exceed it is aborted with ErrBusy. Every value
// expires (Options.TTL), so Redis drops what nobody can use.
//
// With Options.AsyncCommit, Commit queues the value and returns, and a few
// background workers send the SETs, in order for each key (queue.go). The
// instance that committed reads its queued values back at once; other
// instances see them when they land. A Delete cancels a queued value of
// its key and waits for one being sent; an Update waits for both.
//
// Redis is a helper, never a dependency: every call is bounded by
// Options.Timeout, and after a few consecutive failures a circuit breaker
// stops calling Redis and fails at once with ErrUnavailable, probing in
// the background until Redis answers again. Deletes are the exception:
// one that cannot reach Redis is remembered and sent when Redis answers,
// before the breaker closes (pending.go), so a purge made during an
// outage is not undone by the objects coming back.
//
// It does not build or close the Redis client (the caller does, with its
// addresses, TLS, credentials and database), does not bound Redis's memory
// (that is Redis's maxmemory), does not keep values queued or deletes
// remembered across a restart, and does not tell other instances to drop
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
	// AsyncCommit takes Redis off the request path: Commit queues the
	// value for a background worker and returns nil at once, without
	// waiting for the SET (followers reach io.EOF as always). Values are
	// sent in order for each key; a value still waiting when a newer one
	// of its key is committed is replaced by it. This Store's Get returns
	// its queued values at once, Delete cancels them, and the updates and
	// Keys wait for them; other instances see them once sent. While the
	// breaker is open, queued values are dropped (Dropped counts them)
	// and Commit fails at once. Flush waits for the queue; Close sends
	// what it holds, within a bound. Without AsyncCommit, Commit returns
	// once Redis has stored the value or failed to.
	AsyncCommit bool
	// MaxBuffered bounds the bytes this Store holds in memory: the
	// buffers of open writers (each up to MaxObjectSize) and the values
	// queued by AsyncCommit; default 64 MiB (DefaultMaxBuffered). Create
	// and Write fail with ErrBusy, aborting the writer, when they would
	// exceed it: the object then stays in the local tiers only. It should
	// be several times MaxObjectSize.
	MaxBuffered int64
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
	DefaultMaxBuffered   = 64 << 20
)

// ErrUnavailable is returned, at once, while the breaker is open; errors
// of calls that failed on the way to Redis (timeouts, refused
// connections) wrap it too. Errors Redis itself answered do not. Delete
// does not return it: it remembers the key instead.
var ErrUnavailable = errors.New("redis: unavailable")

// ErrBusy is returned by Create and Writer.Write, which aborts the
// writer, when the bodies this Store holds in memory would exceed
// Options.MaxBuffered. It says nothing about the object: the same one may
// be stored when fewer fills are under way. (store.ErrTooLarge would: it
// means the object can never be stored here.)
var ErrBusy = errors.New("redis: too many bytes buffered for Redis")

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
	reads      reads         // Gets' first reads, pipelined

	breaker
	deletes deleteSet // remembered while Redis could not be reached
	buffers budget
	q       *queue // AsyncCommit's; nil without it

	// Activity of this instance, for Stats.
	entries atomic.Int64
	bytes   atomic.Int64
	dropped atomic.Int64 // queued values never stored

	beforeSend func(rkey string) // for tests: called by a worker before each queued value

	closed atomic.Bool
	done   chan struct{} // closed by Close: the prober exits
	mu     sync.Mutex    // orders starting the prober against Close; guards the breaker's backoffs
	wg     sync.WaitGroup
}

var (
	_ store.Store       = (*Store)(nil)
	_ store.Lister      = (*Store)(nil)
	_ store.Limiter     = (*Store)(nil)
	_ store.FuncUpdater = (*Store)(nil)
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
	s.buffers.max = o.MaxBuffered
	if s.buffers.max <= 0 {
		s.buffers.max = DefaultMaxBuffered
	}
	s.deletes.keys = map[string]uint64{}
	s.deletes.limit = maxPendingDeletes
	s.breaker.init()
	s.reads.s = s
	if !contextTimeouts(o.Client) {
		s.log.Warn("redis: the client does not have ContextTimeoutEnabled: calls may wait for its ReadTimeout, not the store's Timeout")
	}
	if o.AsyncCommit {
		s.startWorkers()
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
//
// Before asking Redis it looks at what this Store knows better: a value
// of the key it has queued (AsyncCommit) and not yet seen stored is
// returned, and a key whose DEL it remembers is missing.
func (s *Store) Get(ctx context.Context, key string) (store.Entry, error) {
	if err := s.admit(); err != nil {
		return nil, fmt.Errorf("redis: get: %w", err)
	}
	rkey := s.prefix + key
	if e, ok := s.queuedEntry(rkey); ok {
		if e == nil {
			return nil, store.ErrNotFound
		}
		return e, nil
	}
	if s.deletes.has(rkey) {
		return nil, store.ErrNotFound
	}
	first := min(firstRead, s.maxValue())
	v, err := s.reads.get(ctx, rkey, first, s.timeout)
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
	if e, ok := decodeValue(v, s.maxObject); ok {
		return e, nil
	}
	return nil, store.ErrNotFound
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
// It fails with ErrBusy when even the metadata does not fit in the
// budget of buffered bytes.
func (s *Store) Create(ctx context.Context, key string, meta *store.Meta) (store.Writer, error) {
	if err := s.admit(); err != nil {
		return nil, fmt.Errorf("redis: create: %w", err)
	}
	size := headerSize + store.MetaSize(meta)
	if !s.buffers.reserve(int64(size)) {
		return nil, fmt.Errorf("redis: create: %w", ErrBusy)
	}
	buf := make([]byte, headerSize, size)
	buf = store.AppendMeta(buf, meta)
	metaLen := len(buf) - headerSize
	if metaLen > maxMetaSize {
		s.buffers.release(int64(size))
		return nil, fmt.Errorf("redis: metadata of %d bytes: %w", metaLen, store.ErrTooLarge)
	}
	appendHeader(buf[:0], newGeneration(), metaLen)
	w := &writer{s: s, ctx: context.WithoutCancel(ctx), key: s.prefix + key, meta: meta, buf: buf, bodyOff: len(buf), held: int64(size)}
	w.cond.L = &w.mu
	return w, nil
}

// commit stores the finished value v of an object with metadata meta
// under rkey: at once, or with AsyncCommit by queueing it. held is the
// part of the budget v holds; commit returns it, or hands it on to the
// queue.
func (s *Store) commit(ctx context.Context, rkey string, v []byte, meta *store.Meta, held int64) error {
	if err := s.admit(); err != nil {
		s.buffers.release(held)
		return fmt.Errorf("redis: commit: %w", err)
	}
	ttl := s.ttl(meta)
	if s.q == nil {
		defer s.buffers.release(held)
		if err := s.set(ctx, rkey, v, ttl); err != nil {
			return fmt.Errorf("redis: commit: %w", err)
		}
		return nil
	}
	if err := s.enqueue(&job{ctx: ctx, rkey: rkey, v: v, ttl: ttl, held: held}); err != nil {
		s.buffers.release(held)
		return fmt.Errorf("redis: commit: %w", err)
	}
	return nil
}

// set stores v under rkey, replacing any value there, to expire after
// ttl, or deletes rkey when ttl ≤ 0 (the object is useless).
func (s *Store) set(ctx context.Context, rkey string, v []byte, ttl time.Duration) error {
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
		return err
	}
	s.deletes.forget(rkey)
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
// copies and stay readable. With AsyncCommit, it first cancels this
// Store's queued value of the key and waits for one being sent, so that
// no SET of this Store undoes it.
//
// When Redis cannot be reached (the breaker is open, or the DEL fails on
// the way) it remembers the key and returns nil: the DEL is sent before
// this Store reads the key from Redis again (pending.go), and meanwhile
// this Store reads the key as deleted (while the breaker is open every
// Get fails at once anyway). It remembers up to 100,000 keys; deletes
// beyond that are lost, with a warning when Redis answers again.
func (s *Store) Delete(ctx context.Context, key string) error {
	if s.closed.Load() {
		return fmt.Errorf("redis: delete: %w", errClosed)
	}
	rkey := s.prefix + key
	if err := s.cancelWrites(ctx, rkey); err != nil {
		return fmt.Errorf("redis: delete: %w", err)
	}
	if s.deferDelete(rkey) {
		return nil
	}
	err := s.del(ctx, rkey)
	if errors.Is(err, ErrUnavailable) {
		s.rememberDelete(rkey)
		return nil
	}
	if err != nil {
		return fmt.Errorf("redis: delete: %w", err)
	}
	return nil
}

// del deletes rkey in Redis.
func (s *Store) del(ctx context.Context, rkey string) error {
	cctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	pipe := s.client.TxPipeline()
	old := pipe.StrLen(cctx, rkey)
	del := pipe.Del(cctx, rkey)
	pipe.Exec(cctx) // each command keeps its own error
	if err := s.observe(ctx, del.Err()); err != nil {
		return err
	}
	s.deletes.forget(rkey) // a DEL this Store remembered is done too
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
// Evictions are Redis's to count. Values queued by AsyncCommit count once
// stored (after Flush, all of them), and remembered deletes once sent.
func (s *Store) Stats() store.Stats {
	return store.Stats{Entries: max(0, s.entries.Load()), Bytes: max(0, s.bytes.Load())}
}

// Dropped returns how many values AsyncCommit queued that were never
// stored: dropped while the breaker was open or after Close stopped
// waiting, or refused by Redis. Values replaced by a newer one of their
// key, or cancelled by a Delete, are not counted.
func (s *Store) Dropped() int64 { return s.dropped.Load() }

// Close stops the store: later calls fail, the queued values are sent
// (waiting at most the time to send MaxBuffered at Throughput, then
// dropping the rest), and the background probe, if any, ends. Deletes
// still remembered are lost, with a warning. It does not close the
// client.
func (s *Store) Close() error {
	s.mu.Lock()
	first := !s.closed.Swap(true)
	if first {
		close(s.done)
	}
	s.mu.Unlock()
	s.drain()
	s.wg.Wait()
	if !first {
		return nil
	}
	if n := s.deletes.n.Load(); n > 0 {
		s.log.Warn("redis: deletes not sent before Close: those objects may be served until they expire", "pending", n)
	}
	s.reportLost()
	return nil
}
