package redisstore

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Breaker settings: after failThreshold consecutive failed calls the
// store stops calling Redis for minBackoff, doubling up to maxBackoff
// while Redis does not answer.
const (
	failThreshold = 3
	minBackoff    = time.Second
	maxBackoff    = 30 * time.Second
)

// breaker is the circuit breaker's state.
//
// Closed, calls go to Redis and failures counts the consecutive ones that
// failed on the way (timeouts, refused or broken connections; an error
// Redis answers is an answer). The call that makes it failThreshold opens
// the breaker and starts the prober; while open, calls fail at once with
// ErrUnavailable (a Delete is remembered instead: pending.go) and no
// request waits on Redis. The prober alone decides when to close: it
// PINGs after each backoff and, on the first answer, sends the DELs
// remembered meanwhile and closes, so recovery needs no traffic, no
// request pays for a probe, and no Get finds an object deleted while
// Redis was away.
// It is also the only caller of OnStateChange, which therefore sees
// false, true, false … in order.
type breaker struct {
	failures atomic.Int32
	open     atomic.Bool

	// Guarded by Store.mu.
	minBackoff, maxBackoff time.Duration
	lastBackoff            time.Duration // the prober's last wait
	closedAt               time.Time     // when the prober last closed
}

func (b *breaker) init() {
	b.minBackoff, b.maxBackoff = minBackoff, maxBackoff
}

// observe classifies the result of a call made on behalf of a caller
// whose context is ctx, and returns err, wrapping ErrUnavailable when the
// call failed on the way to Redis.
func (s *Store) observe(ctx context.Context, err error) error {
	if err == nil {
		s.succeeded()
		return nil
	}
	if _, ok := errors.AsType[redis.Error](err); ok {
		s.succeeded() // Redis answered
		return err
	}
	if ctx.Err() != nil {
		return err // the caller gave up: that says nothing about Redis
	}
	s.failed(err)
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

func (s *Store) succeeded() {
	if s.failures.Load() != 0 { // no write, so no shared cache line, on the usual path
		s.failures.Store(0)
	}
}

func (s *Store) failed(err error) {
	s.log.Debug("redis: call failed", "err", err)
	if s.failures.Add(1) < failThreshold || !s.open.CompareAndSwap(false, true) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return
	}
	// Reopened soon after closing: Redis is flapping, so wait longer than
	// last time instead of starting over.
	wait := s.minBackoff
	if !s.closedAt.IsZero() && time.Since(s.closedAt) < s.maxBackoff {
		wait = min(2*s.lastBackoff, s.maxBackoff)
	}
	s.wg.Add(1)
	go s.probe(wait)
}

// probe runs while the breaker is open: it reports the opening, PINGs
// Redis after each wait until it answers, sends the DELs remembered
// meanwhile, then closes the breaker and reports that. It returns early
// when the store closes.
func (s *Store) probe(wait time.Duration) {
	defer s.wg.Done()
	s.notify(false)
	for {
		if !s.pause(wait) {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
		err := s.client.Ping(ctx).Err()
		cancel()
		if err == nil {
			if err = s.catchUp(wait); err == nil {
				break
			}
		}
		wait = s.backoff(wait)
		s.log.Debug("redis: still unavailable", "err", err, "retry_in", wait)
	}
	s.reportLost()
	s.notify(true)
}

// catchUp sends the remembered DELs and closes the breaker once none is
// left, so that no Get reads an object deleted while Redis was away. It
// returns the error of a batch that failed, leaving the breaker open.
func (s *Store) catchUp(wait time.Duration) error {
	for {
		if err := s.sendDeletes(); err != nil {
			return err
		}
		if s.closeBreaker(wait) {
			return nil
		}
	}
}

// closeBreaker closes the breaker unless a Delete remembered a key since
// the last batch, and reports whether it did. It checks and closes under
// deletes.mu, under which a Delete sees the breaker open and remembers
// its key (deferDelete), so every key remembered is sent first.
func (s *Store) closeBreaker(wait time.Duration) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deletes.mu.Lock()
	defer s.deletes.mu.Unlock()
	if len(s.deletes.keys) > 0 {
		return false
	}
	s.lastBackoff, s.closedAt = wait, time.Now()
	s.failures.Store(0)
	s.open.Store(false)
	return true
}

func (s *Store) notify(up bool) {
	if s.onChange != nil {
		s.onChange(up)
	}
}

// pause waits d; it reports false, at once, if the store closes first.
func (s *Store) pause(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-s.done:
		return false
	case <-t.C:
		return true
	}
}

// backoff is the wait after one of wait: doubled, up to the store's
// longest.
func (s *Store) backoff(wait time.Duration) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return min(2*wait, s.maxBackoff)
}
