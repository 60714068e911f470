package redisstore

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// Deletes that could not reach Redis.
//
// A Delete that finds the breaker open, or whose DEL fails on the way,
// remembers the key and succeeds: otherwise a purge would stop part-way,
// and when Redis came back it would still hold the purged objects and
// hand them to every instance again. The remembered DELs are sent before
// anything else can read those keys again: by the prober before it closes
// the breaker (while the breaker is open, Get fails at once), or, when
// the breaker stayed closed, by a drainer that retries after each backoff
// (meanwhile Get, Update and Keys of this instance treat the keys as
// deleted). Other instances may read such an object until its DEL lands,
// as they could before the purge reached them.

// maxPendingDeletes bounds the keys remembered: at most some tens of MB
// for keys of a few hundred bytes, and more than most purges delete.
const maxPendingDeletes = 100_000

// deleteBatch is how many remembered DELs go in one pipeline.
const deleteBatch = 500

// deleteSet holds the remembered keys.
type deleteSet struct {
	mu       sync.Mutex
	keys     map[string]uint64 // Redis key → when (last) remembered, in seq
	seq      uint64
	limit    int          // maxPendingDeletes; tests lower it
	lost     int64        // deletes not remembered for want of room, since the last warning
	draining bool         // a drainer runs
	n        atomic.Int64 // len(keys), so that lookups skip mu while there are none
	sending  sync.Mutex   // held while DELs are sent: one sender at a time

	afterBatch func() // for tests: called after each batch is sent
}

// pendingKey is a remembered key as a batch takes it.
type pendingKey struct {
	rkey string
	seq  uint64
}

// add remembers rkey, or counts it lost when the set is full; d.mu is
// held.
func (d *deleteSet) add(rkey string) {
	if _, ok := d.keys[rkey]; !ok && len(d.keys) >= d.limit {
		d.lost++
		return
	}
	d.seq++
	d.keys[rkey] = d.seq
	d.n.Store(int64(len(d.keys)))
}

// has reports whether rkey is remembered.
func (d *deleteSet) has(rkey string) bool {
	if d.n.Load() == 0 {
		return false
	}
	d.mu.Lock()
	_, ok := d.keys[rkey]
	d.mu.Unlock()
	return ok
}

// forget drops rkey: a SET has replaced what its DEL was to remove.
func (d *deleteSet) forget(rkey string) {
	if d.n.Load() == 0 {
		return
	}
	d.mu.Lock()
	delete(d.keys, rkey)
	d.n.Store(int64(len(d.keys)))
	d.mu.Unlock()
}

// take returns up to n remembered keys; they stay remembered until done.
func (d *deleteSet) take(n int) []pendingKey {
	d.mu.Lock()
	defer d.mu.Unlock()
	batch := make([]pendingKey, 0, min(n, len(d.keys)))
	for k, seq := range d.keys {
		if len(batch) == n {
			break
		}
		batch = append(batch, pendingKey{k, seq})
	}
	return batch
}

// done forgets the keys whose DELs were sent, except those remembered
// again meanwhile: that Delete may have come after its DEL.
func (d *deleteSet) done(sent []pendingKey) {
	d.mu.Lock()
	for _, k := range sent {
		if d.keys[k.rkey] == k.seq {
			delete(d.keys, k.rkey)
		}
	}
	d.n.Store(int64(len(d.keys)))
	d.mu.Unlock()
}

// deferDelete remembers rkey if the breaker is open, and reports whether
// it was open. The check and the adding are one step under d.mu, as the
// prober's check for remembered keys and its closing are, so no key is
// left behind by a breaker that closes in between.
func (s *Store) deferDelete(rkey string) bool {
	d := &s.deletes
	d.mu.Lock()
	defer d.mu.Unlock()
	if !s.open.Load() {
		return false
	}
	d.add(rkey)
	return true
}

// rememberDelete remembers rkey after its DEL failed on the way. If the
// breaker is still closed no prober will send it, so a drainer does.
func (s *Store) rememberDelete(rkey string) {
	d := &s.deletes
	d.mu.Lock()
	d.add(rkey)
	start := !s.open.Load() && !d.draining
	d.draining = d.draining || start
	d.mu.Unlock()
	if !start {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return
	}
	s.wg.Add(1)
	go s.drainDeletes()
}

// drainDeletes sends the remembered DELs while the breaker is closed,
// retrying after each backoff, until none is left; it leaves them to the
// prober when the breaker opens, and ends when the store closes.
func (s *Store) drainDeletes() {
	defer s.wg.Done()
	d := &s.deletes
	s.mu.Lock()
	wait := s.minBackoff
	s.mu.Unlock()
	for {
		err := s.sendDeletes()
		s.observe(context.Background(), err)
		d.mu.Lock()
		empty, open := len(d.keys) == 0, s.open.Load()
		if empty || open {
			d.draining = false
		}
		d.mu.Unlock()
		switch {
		case empty:
			s.reportLost()
			return
		case open:
			return // the prober sends them
		case err == nil:
			continue // remembered while sending
		}
		if !s.pause(wait) {
			return
		}
		wait = s.backoff(wait)
	}
}

// sendDeletes sends the remembered DELs, deleteBatch in a pipeline, until
// none is left. A key remembered again while its DEL was on the way stays
// remembered, for the next batch. It returns the first error of a call
// that failed on the way; DELs that went through are done.
func (s *Store) sendDeletes() error {
	d := &s.deletes
	d.sending.Lock()
	defer d.sending.Unlock()
	for {
		batch := d.take(deleteBatch)
		if len(batch) == 0 {
			return nil
		}
		sent, err := s.delBatch(batch)
		d.done(sent)
		if d.afterBatch != nil {
			d.afterBatch()
		}
		if err != nil {
			return err
		}
	}
}

// delBatch sends the DELs of batch in one pipeline, each with a STRLEN
// for Stats, and returns the keys whose DEL Redis answered.
func (s *Store) delBatch(batch []pendingKey) ([]pendingKey, error) {
	var n int64
	for _, k := range batch {
		n += int64(len(k.rkey))
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.opTimeout(n))
	defer cancel()
	pipe := s.client.Pipeline()
	lens := make([]*redis.IntCmd, len(batch))
	dels := make([]*redis.IntCmd, len(batch))
	for i, k := range batch {
		lens[i] = pipe.StrLen(ctx, k.rkey)
		dels[i] = pipe.Del(ctx, k.rkey)
	}
	pipe.Exec(ctx) // each command keeps its own error
	sent := batch[:0:0]
	var firstErr error
	for i, k := range batch {
		err := dels[i].Err()
		if _, answered := errors.AsType[redis.Error](err); err != nil && !answered {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if err != nil {
			s.log.Debug("redis: remembered delete refused", "key", k.rkey, "err", err)
		} else if dels[i].Val() > 0 {
			s.entries.Add(-1)
			s.bytes.Add(-lens[i].Val())
		}
		sent = append(sent, k)
	}
	return sent, firstErr
}

// reportLost logs, once, how many deletes could not be remembered since
// the last report.
func (s *Store) reportLost() {
	d := &s.deletes
	d.mu.Lock()
	lost := d.lost
	d.lost = 0
	d.mu.Unlock()
	if lost > 0 {
		s.log.Warn("redis: deletes made while Redis was unavailable were lost: too many were pending; those objects may be served until they expire",
			"lost", lost, "limit", d.limit)
	}
}
