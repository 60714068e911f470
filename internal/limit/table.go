package limit

import (
	"hash/maphash"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// shard is one part of the client table, under its own lock.
type shard struct {
	mu     sync.Mutex
	m      map[[16]byte]*entry
	noScan time.Time // a scan for entries to drop found none; not again before this
	_      [24]byte  // pads the shard to a 64-byte cache line
}

// entry is what the limiter knows of one client. Its fields are guarded
// by its shard's lock.
type entry struct {
	sh   *shard
	key  [16]byte
	open int           // connections admitted and not released
	lim  *rate.Limiter // nil when there is no rate limit
	b    burst
}

func (l *Limiter) newEntry(sh *shard, k [16]byte) *entry {
	e := &entry{sh: sh, key: k}
	if l.rate > 0 {
		e.lim = rate.NewLimiter(l.rate, l.burst)
	}
	return e
}

// idle reports whether e can be dropped: its client holds no connection,
// its bucket is full again and no burst of refusals is being logged.
// Dropping it then forgets nothing that would change a decision.
func (e *entry) idle(now time.Time) bool {
	return e.open == 0 && e.b.start.IsZero() &&
		(e.lim == nil || e.lim.TokensAt(now) >= float64(e.lim.Burst()))
}

// lookup returns the entry for key k, added if new, with its shard's lock
// held: the caller unlocks e.sh.mu. When k's shard is full and nothing in
// it can be dropped, it returns the shared overflow entry instead. now may
// be zero; the clock is read only when needed.
func (l *Limiter) lookup(k [16]byte, now time.Time) *entry {
	sh := &l.shards[maphash.Bytes(l.seed, k[:])&(shardCount-1)]
	sh.mu.Lock()
	if e := sh.m[k]; e != nil {
		return e
	}
	if len(sh.m) >= l.perShard {
		if now.IsZero() {
			now = time.Now()
		}
		if !now.Before(sh.noScan) {
			for key, e := range sh.m {
				if e.idle(now) {
					delete(sh.m, key)
				}
			}
		}
		if len(sh.m) >= l.perShard {
			sh.noScan = now.Add(rescanAfter)
			sh.mu.Unlock()
			l.noteFull(now)
			l.over.mu.Lock()
			return l.overflow
		}
	}
	e := l.newEntry(sh, k)
	sh.m[k] = e
	return e
}

// noteFull warns, at most once a minute, that the table is full and
// newcomers share the overflow entry.
func (l *Limiter) noteFull(now time.Time) {
	last := l.fullWarned.Load()
	if now.UnixNano()-last < int64(time.Minute) || !l.fullWarned.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	l.log.Warn("limit: client table full; clients not in it share one limit until entries age out", "max_clients", l.maxClients)
}
