package limit

import (
	"sync"
	"time"
)

// burst is a run of refusals for one client (or for the global cap). It
// is logged as one warning when it begins and one summary when it ends:
// when quiet has passed without a refusal. A burst that does not end is
// summarised every reportEvery. Refusals in between are only counted, so
// the log grows with the number of bursts, never with the number of
// refused requests.
//
// A burst's fields are guarded by its owner's lock (the entry's shard
// lock, or the limiter's gmu); its timer's function takes that lock.
type burst struct {
	who   string    // the client as logged
	start time.Time // the first refusal; zero when no burst is running
	since time.Time // the first refusal counted below
	last  time.Time // the latest refusal
	conns int64     // connections refused since since
	reqs  int64     // requests refused since since
	timer *time.Timer
}

// refused counts a refusal at now and reports whether it began a burst.
func (b *burst) refused(now time.Time, conn bool) (began bool) {
	if conn {
		b.conns++
	} else {
		b.reqs++
	}
	b.last = now
	if !b.start.IsZero() {
		return false
	}
	b.start, b.since = now, now
	return true
}

// refused counts a refusal of e's client; when it began a burst, it names
// the client and arms the burst's check, and the caller logs the warning.
// The caller holds e's shard lock.
func (l *Limiter) refused(e *entry, now time.Time, conn bool) (began bool) {
	if !e.b.refused(now, conn) {
		return false
	}
	if e == l.overflow {
		e.b.who = "clients beyond the full table (sharing one limit)"
	} else {
		e.b.who = clientName(e.key)
	}
	l.watch(&e.sh.mu, &e.b)
	return true
}

// watch arms b's check for quiet from now. The caller holds mu, b's lock.
func (l *Limiter) watch(mu *sync.Mutex, b *burst) {
	b.timer = time.AfterFunc(quiet, func() { l.check(mu, b) })
}

// check runs from b's timer. It ends the burst and logs its summary when
// quiet has passed since the last refusal; otherwise it logs an interim
// summary if one is due and checks again when the burst could next end.
func (l *Limiter) check(mu *sync.Mutex, b *burst) {
	mu.Lock()
	now := time.Now()
	who, conns, reqs, over := b.who, b.conns, b.reqs, b.last.Sub(b.since)
	ended := now.Sub(b.last) >= quiet
	report := ended || now.Sub(b.since) >= reportEvery
	if ended {
		*b = burst{}
	} else {
		if report {
			b.since, b.conns, b.reqs = now, 0, 0
		}
		b.timer.Reset(quiet - now.Sub(b.last))
	}
	mu.Unlock()
	if !report {
		return
	}
	msg := "limit: refusals ended"
	if !ended {
		msg = "limit: still refusing"
	}
	l.log.Info(msg, "client", who, "refused_requests", reqs, "refused_conns", conns, "over", over.Round(time.Millisecond))
}
