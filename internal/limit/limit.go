// Package limit keeps each client of the proxy within its share: a global
// cap on open client connections, a cap per client, and a request rate
// per client (token buckets from golang.org/x/time/rate). Refusals are
// logged once per burst, not once per refusal, so a client over its
// limit cannot flood the log either.
//
// A client is an IPv4 address, or an IPv6 /64: one IPv6 host usually
// holds a whole /64, and keying on full addresses would hand it 2^64
// separate allowances.
//
// Clients are remembered in a bounded table (Options.MaxClients), split
// into shards so that clients do not contend for one lock. An entry is
// dropped once its client has no open connection, a full bucket and no
// burst of refusals being logged. When the table is full and nothing in
// it can be dropped, clients not in it share one overflow entry, with
// the limits of a single client: memory stays bounded and clients
// already known keep their service, while newcomers are limited together
// until entries age out. The global cap protects the process either way.
//
// It does not decide what a refusal looks like (a closed connection, a
// 429): the server does. It does not limit bandwidth, and it does not
// know users: limits by proxy user would need the request, which comes
// later than the connection.
package limit

import (
	"errors"
	"hash/maphash"
	"log/slog"
	"math"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Options configure a Limiter. The zero value limits nothing.
type Options struct {
	// MaxConns caps the client connections open at once across all
	// clients; 0 means no cap. DefaultMaxConns suggests one.
	MaxConns int
	// MaxConnsPerClient caps the connections one client may hold open;
	// 0 means no cap.
	MaxConnsPerClient int
	// Rate is the requests per second one client may make, on average;
	// 0 means no limit.
	Rate float64
	// Burst is how many requests a client may make at once after a quiet
	// spell (the token bucket's size); 0 means two seconds' worth of
	// Rate, at least 10 (a page load's worth of parallel requests).
	Burst int
	// MaxClients bounds the clients remembered at once (rounded up to a
	// multiple of 64, the number of shards); 0 means 65,536. A client
	// with a rate limit takes about 300 bytes: 20 MB for 65,536.
	MaxClients int
	// Logger receives the warning when a burst of refusals begins and the
	// summary when it ends; nil means slog.Default().
	Logger *slog.Logger
}

// ErrOverloaded is Conn's error when the global connection cap is
// reached: the process holds as many connections as it can afford.
var ErrOverloaded = errors.New("too many open connections")

// ErrClientConns is Conn's error when the client already holds its cap of
// open connections.
var ErrClientConns = errors.New("too many open connections from this client")

const (
	shardCount = 64 // a power of two

	// quiet is how long a client must go without a refusal for its burst
	// to end (and be summarised).
	quiet = 2 * time.Second
	// reportEvery is how often a burst that does not end is summarised.
	reportEvery = time.Minute
	// rescanAfter is how long a full shard in which nothing could be
	// dropped is not scanned again, so that a crowd of newcomers does not
	// rescan it for each one.
	rescanAfter = 100 * time.Millisecond
)

// Limiter enforces Options. It is safe for concurrent use. A nil *Limiter
// limits nothing.
type Limiter struct {
	maxConns   int64
	perClient  int
	rate       rate.Limit // 0: no rate limit
	burst      int
	maxClients int
	perShard   int
	log        *slog.Logger
	seed       maphash.Seed

	open   atomic.Int64
	shards [shardCount]shard

	// over holds the overflow entry, under its own lock.
	over     shard
	overflow *entry

	// gmu guards the global cap's burst log.
	gmu    sync.Mutex
	global burst

	fullWarned atomic.Int64 // unix ns of the last "table full" warning
}

// New returns a Limiter for o.
func New(o Options) *Limiter {
	l := &Limiter{
		maxConns:   int64(max(o.MaxConns, 0)),
		perClient:  max(o.MaxConnsPerClient, 0),
		maxClients: o.MaxClients,
		log:        o.Logger,
		seed:       maphash.MakeSeed(),
	}
	if o.Rate > 0 && !math.IsInf(o.Rate, 1) {
		l.rate = rate.Limit(o.Rate)
		l.burst = o.Burst
		if l.burst <= 0 {
			l.burst = int(min(max(math.Ceil(2*o.Rate), 10), math.MaxInt32))
		}
	}
	if l.maxClients <= 0 {
		l.maxClients = 1 << 16
	}
	l.perShard = max((l.maxClients+shardCount-1)/shardCount, 1)
	if l.log == nil {
		l.log = slog.Default()
	}
	for i := range l.shards {
		l.shards[i].m = make(map[[16]byte]*entry)
	}
	l.overflow = l.newEntry(&l.over, [16]byte{})
	return l
}

// OpenConns reports the connections admitted by Conn and not yet
// released.
func (l *Limiter) OpenConns() int64 {
	if l == nil {
		return 0
	}
	return l.open.Load()
}

// A Slot is one admitted connection's place under the connection caps.
// Conn fills it; Release gives the place back. The zero Slot holds
// nothing. A Slot must not be copied once filled.
type Slot struct {
	l    *Limiter
	e    *entry // nil when no per-client cap applies
	held atomic.Bool
}

// Release gives the slot's place back. It may be called more than once
// and from any goroutine; only the first call after Conn counts.
func (s *Slot) Release() {
	if !s.held.CompareAndSwap(true, false) {
		return
	}
	l := s.l
	if e := s.e; e != nil {
		sh := e.sh
		sh.mu.Lock()
		e.open--
		// Without a bucket there is nothing to remember about an idle
		// client; with one, the entry waits for the bucket to refill.
		if e.open == 0 && e.lim == nil && e.b.start.IsZero() && e != l.overflow {
			delete(sh.m, e.key)
		}
		sh.mu.Unlock()
	}
	l.open.Add(-1)
}

// Conn admits a new connection from ip, filling s, or refuses it with
// ErrOverloaded (the global cap) or ErrClientConns (the client's cap). An
// admitted connection must have s.Release called when it closes. Conn is
// meant for the accept loop: for a client already known it takes one
// shard lock and allocates nothing.
func (l *Limiter) Conn(ip netip.Addr, s *Slot) error {
	if l == nil {
		return nil
	}
	if n := l.open.Add(1); l.maxConns > 0 && n > l.maxConns {
		l.open.Add(-1)
		l.refuseGlobal()
		return ErrOverloaded
	}
	s.l, s.e = l, nil
	if l.perClient > 0 || l.rate > 0 {
		e := l.lookup(keyOf(ip), time.Time{})
		if l.perClient > 0 && e.open >= l.perClient {
			began := l.refused(e, time.Now(), true)
			who := e.b.who
			e.sh.mu.Unlock()
			l.open.Add(-1)
			if began {
				l.log.Warn("limit: client holds its cap of open connections; refusing more", "client", who, "max_conns_per_client", l.perClient)
			}
			return ErrClientConns
		}
		e.open++
		e.sh.mu.Unlock()
		s.e = e
	}
	s.held.Store(true)
	return nil
}

// refuseGlobal records a refusal by the global cap.
func (l *Limiter) refuseGlobal() {
	l.gmu.Lock()
	began := l.global.refused(time.Now(), true)
	if began {
		l.global.who = "all clients"
		l.watch(&l.gmu, &l.global)
	}
	l.gmu.Unlock()
	if began {
		l.log.Warn("limit: global connection cap reached; closing new connections", "max_conns", l.maxConns)
	}
}

// Request reports whether ip may make a request now. When it may not,
// retryAfter is how long until its bucket holds a token again. For a
// client already known it takes one shard lock and allocates nothing.
func (l *Limiter) Request(ip netip.Addr) (ok bool, retryAfter time.Duration) {
	if l == nil || l.rate == 0 {
		return true, 0
	}
	now := time.Now()
	return l.allow(l.lookup(keyOf(ip), now), now)
}

// Request is Limiter.Request for the slot's client, without looking the
// client up: a connection's requests are checked against the entry it
// was admitted under (the overflow entry, if the table was full then).
// It must be called only while the slot is held.
func (s *Slot) Request() (ok bool, retryAfter time.Duration) {
	if s.e == nil || s.l.rate == 0 {
		return true, 0
	}
	s.e.sh.mu.Lock()
	return s.l.allow(s.e, time.Now())
}

// allow spends a token of e's bucket at now, or counts a refusal. The
// caller holds e's shard lock; allow releases it.
func (l *Limiter) allow(e *entry, now time.Time) (ok bool, retryAfter time.Duration) {
	if e.lim.AllowN(now, 1) {
		e.sh.mu.Unlock()
		return true, 0
	}
	retryAfter = time.Duration((1 - e.lim.TokensAt(now)) / float64(l.rate) * float64(time.Second))
	began := l.refused(e, now, false)
	who := e.b.who
	e.sh.mu.Unlock()
	if began {
		l.log.Warn("limit: client over its request rate; refusing requests", "client", who, "rate", float64(l.rate), "burst", l.burst)
	}
	return false, retryAfter
}

// keyOf is the table key of ip's client: the IPv4 address, or the IPv6
// /64 (with any zone dropped), as 16 bytes.
func keyOf(ip netip.Addr) [16]byte {
	k := ip.As16() // IPv4 as IPv4-mapped, zone dropped
	if !ip.Is4() && !ip.Is4In6() {
		clear(k[8:])
	}
	return k
}

// clientName is how a key's client is shown in the log.
func clientName(k [16]byte) string {
	a := netip.AddrFrom16(k)
	if a.Is4In6() {
		return a.Unmap().String()
	}
	return netip.PrefixFrom(a, 64).String()
}
