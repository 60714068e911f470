package redisstore

import (
	"context"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// Writes off the request path (Options.AsyncCommit).
//
// Commit hands the finished value to one of commitWorkers goroutines,
// chosen by a hash of the key, and returns. Each worker sends its values
// one at a time in the order they were queued, so two commits of one key
// reach Redis in the order they were made. A value queued for a key that
// already has one waiting (not yet started) takes its place in the queue:
// only the newer would survive anyway.
//
// Invariants of a shard, under its mu: queued holds at most one job per
// key, each of them also in fifo; the running job is in neither; jobs
// finish in seq order (a cancelled one when the worker passes it), so
// finished ≥ n means every job queued up to n was sent, dropped or
// cancelled.

// commitWorkers is how many goroutines send queued values: enough that
// one large value does not hold up every other, few enough that the
// queue does not flood Redis's connection pool.
const commitWorkers = 4

// queue is the shared state of the workers.
type queue struct {
	seed   maphash.Seed
	shards [commitWorkers]shard
	jobs   atomic.Int64   // queued or being sent, so Get skips the lookup when there are none
	drop   atomic.Bool    // set by Close when it stops waiting: workers drop what is left
	wg     sync.WaitGroup // the workers
}

// shard is one worker's queue.
type shard struct {
	mu       sync.Mutex
	ready    sync.Cond // signalled when fifo grows or the shard closes
	fifo     []*job
	queued   map[string]*job // by Redis key: the jobs of fifo not cancelled
	running  *job
	seq      uint64        // of the last job queued
	finished uint64        // seq of the last job finished
	wake     chan struct{} // closed when finished advances; made by the first waiter
	closing  bool          // no more jobs; the worker exits once fifo is empty
}

// job is a committed value waiting to be sent.
type job struct {
	ctx       context.Context // Create's, without its cancellation
	rkey      string
	v         []byte
	ttl       time.Duration // TTL(meta) at Commit
	held      int64         // bytes of the budget held until the job ends
	seq       uint64
	cancelled bool
}

// startWorkers starts the workers of AsyncCommit.
func (s *Store) startWorkers() {
	q := &queue{seed: maphash.MakeSeed()}
	s.q = q
	for i := range q.shards {
		sh := &q.shards[i]
		sh.ready.L = &sh.mu
		sh.queued = map[string]*job{}
		q.wg.Add(1)
		go s.work(sh)
	}
}

func (q *queue) shard(rkey string) *shard {
	return &q.shards[maphash.String(q.seed, rkey)%commitWorkers]
}

// enqueue queues j, or puts its value in the place of the one queued for
// its key and not yet started. It fails once Close has begun.
func (s *Store) enqueue(j *job) error {
	sh := s.q.shard(j.rkey)
	sh.mu.Lock()
	if sh.closing {
		sh.mu.Unlock()
		return errClosed
	}
	if old := sh.queued[j.rkey]; old != nil {
		old.ctx, old.v, old.ttl = j.ctx, j.v, j.ttl
		old.held, j.held = j.held, old.held
		sh.mu.Unlock()
		s.buffers.release(j.held) // the replaced value's
		return nil
	}
	sh.seq++
	j.seq = sh.seq
	sh.fifo = append(sh.fifo, j)
	sh.queued[j.rkey] = j
	s.q.jobs.Add(1)
	sh.mu.Unlock()
	sh.ready.Signal()
	return nil
}

// work is a worker: it sends its shard's jobs in order until the shard
// closes and is empty.
func (s *Store) work(sh *shard) {
	defer s.q.wg.Done()
	for {
		j := sh.next()
		if j == nil {
			return
		}
		s.send(j)
		// Give the bytes back before finishing, so that whoever Flush
		// wakes finds them free.
		s.q.jobs.Add(-1)
		s.buffers.release(j.held)
		sh.finish(j)
	}
}

// send stores a queued value, or drops it while the breaker is open or
// once Close has stopped waiting. Nobody waits for the outcome, so a
// failure is only counted and logged.
func (s *Store) send(j *job) {
	if s.beforeSend != nil {
		s.beforeSend(j.rkey)
	}
	if s.open.Load() || s.q.drop.Load() {
		s.dropped.Add(1)
		return
	}
	if err := s.set(j.ctx, j.rkey, j.v, j.ttl); err != nil {
		s.dropped.Add(1)
		s.log.Debug("redis: queued commit not stored", "key", j.rkey, "err", err)
	}
}

// next returns the next job to send, marked running, or nil when the
// shard has closed and is empty.
func (sh *shard) next() *job {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	for {
		for len(sh.fifo) > 0 {
			j := sh.fifo[0]
			sh.fifo[0] = nil
			sh.fifo = sh.fifo[1:]
			if j.cancelled {
				sh.advance(j.seq)
				continue
			}
			delete(sh.queued, j.rkey)
			sh.running = j
			return j
		}
		if sh.closing {
			return nil
		}
		sh.ready.Wait()
	}
}

func (sh *shard) finish(j *job) {
	sh.mu.Lock()
	sh.running = nil
	sh.advance(j.seq)
	sh.mu.Unlock()
}

// advance records that the jobs up to seq have finished and wakes their
// waiters; sh.mu is held.
func (sh *shard) advance(seq uint64) {
	sh.finished = seq
	if sh.wake != nil {
		close(sh.wake)
		sh.wake = nil
	}
}

// wait waits until the jobs up to seq have finished, or ctx is done.
func (sh *shard) wait(ctx context.Context, seq uint64) error {
	for {
		sh.mu.Lock()
		if sh.finished >= seq {
			sh.mu.Unlock()
			return nil
		}
		if sh.wake == nil {
			sh.wake = make(chan struct{})
		}
		wake := sh.wake
		sh.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Flush waits until the values this Store queued (Options.AsyncCommit)
// before the call have been sent to Redis or dropped, for an orderly
// shutdown or a test that reads them from another instance; it returns
// ctx.Err() if ctx ends first. Without AsyncCommit it returns at once.
func (s *Store) Flush(ctx context.Context) error {
	if s.q == nil {
		return nil
	}
	for i := range s.q.shards {
		sh := &s.q.shards[i]
		sh.mu.Lock()
		seq := sh.seq
		sh.mu.Unlock()
		if err := sh.wait(ctx, seq); err != nil {
			return err
		}
	}
	return nil
}

// queuedEntry looks for a value of rkey this Store queued and has not
// finished sending. It reports false when there is none; otherwise the
// newest such value decides, and the entry is nil when that value's TTL
// said it is useless (its SET will delete the key).
func (s *Store) queuedEntry(rkey string) (*entry, bool) {
	if s.q == nil || s.q.jobs.Load() == 0 {
		return nil, false
	}
	sh := s.q.shard(rkey)
	sh.mu.Lock()
	j := sh.queued[rkey]
	if j == nil && sh.running != nil && sh.running.rkey == rkey {
		j = sh.running
	}
	var v []byte
	var ttl time.Duration
	if j != nil {
		v, ttl = j.v, j.ttl
	}
	sh.mu.Unlock()
	switch {
	case j == nil:
		return nil, false
	case ttl <= 0:
		return nil, true
	}
	h, _ := parseHeader(v)
	return &entry{v: v, bodyOff: headerSize + int(h.metaLen), gen: h.gen}, true
}

// cancelWrites prepares a Delete of rkey: it cancels the value queued for
// rkey, and waits for one being sent, so that neither lands after the
// DEL. The wait is bounded by the time the SET is allowed; should the SET
// take longer still (a client without ContextTimeoutEnabled), the DEL
// goes ahead. It fails only when ctx ends.
func (s *Store) cancelWrites(ctx context.Context, rkey string) error {
	if s.q == nil || s.q.jobs.Load() == 0 {
		return nil
	}
	sh := s.q.shard(rkey)
	sh.mu.Lock()
	var held int64
	if j := sh.queued[rkey]; j != nil {
		delete(sh.queued, rkey)
		j.cancelled, j.v = true, nil
		held, j.held = j.held, 0
		s.q.jobs.Add(-1)
	}
	var seq uint64
	var n int
	if r := sh.running; r != nil && r.rkey == rkey {
		seq, n = r.seq, len(r.v)
	}
	sh.mu.Unlock()
	s.buffers.release(held)
	if seq == 0 {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, s.opTimeout(int64(n))+s.timeout)
	defer cancel()
	sh.wait(wctx, seq)
	return ctx.Err()
}

// awaitWrites waits until the values of rkey this Store queued or is
// sending have been sent or dropped, so that an Update applies to the
// object the last Commit stored (the one Get returns) rather than to an
// older one that the queued SET would then replace. It waits at most
// drainTimeout: Redis that slow counts as unavailable.
func (s *Store) awaitWrites(ctx context.Context, rkey string) error {
	if s.q == nil || s.q.jobs.Load() == 0 {
		return nil
	}
	sh := s.q.shard(rkey)
	sh.mu.Lock()
	var seq uint64
	if j := sh.queued[rkey]; j != nil {
		seq = j.seq
	} else if r := sh.running; r != nil && r.rkey == rkey {
		seq = r.seq
	}
	sh.mu.Unlock()
	if seq == 0 {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, s.drainTimeout())
	defer cancel()
	if err := sh.wait(wctx, seq); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w: the queued commit of the key was not sent within %v", ErrUnavailable, s.drainTimeout())
	}
	return nil
}

// drainTimeout is how long Close waits for the queue, and an Update for
// a queued value of its key: the time to send the whole budget.
func (s *Store) drainTimeout() time.Duration { return s.opTimeout(s.buffers.max) }

// drain closes the queue and waits until the workers have sent what it
// holds, at most drainTimeout; then they drop the rest.
func (s *Store) drain() {
	if s.q == nil {
		return
	}
	for i := range s.q.shards {
		sh := &s.q.shards[i]
		sh.mu.Lock()
		sh.closing = true
		sh.mu.Unlock()
		sh.ready.Broadcast()
	}
	done := make(chan struct{})
	go func() {
		s.q.wg.Wait()
		close(done)
	}()
	t := time.NewTimer(s.drainTimeout())
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		s.q.drop.Store(true)
		<-done
	}
}
