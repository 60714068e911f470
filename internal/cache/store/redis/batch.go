package redisstore

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// reads coalesces the first reads of concurrent Gets into pipelines:
// while one pipeline is out, the reads that arrive wait and go together in
// the next. Under load this sends tens of GETRANGEs per write and reply
// read instead of one, which saves system calls on both sides (Redis's
// single thread most of all); a lone Get goes out at once, in a pipeline
// of one. At most maxSenders pipelines are out at a time, so batches grow
// with the load instead of splitting it.
type reads struct {
	s *Store

	mu      sync.Mutex
	queue   []*read
	senders int // goroutines working through the queue
}

// maxSenders bounds the pipelines out at once. A few, not one: with only
// a handful of concurrent Gets, each would otherwise wait for the
// previous pipeline; with many, the queue fills while they are out and
// batches stay deep.
const maxSenders = 4

// read is one queued GETRANGE 0 n-1. done is closed when val and err are
// set; the caller may have stopped waiting by then.
type read struct {
	key  string
	n    int64
	done chan struct{}
	val  []byte
	err  error
}

// maxBatch bounds the reads sent in one pipeline; more wait for the next.
const maxBatch = 128

// get returns up to n bytes from the start of the value under rkey, like
// Store.getRange, through the next pipeline. It waits at most timeout.
func (r *reads) get(ctx context.Context, rkey string, n int64, timeout time.Duration) ([]byte, error) {
	rd := &read{key: rkey, n: n, done: make(chan struct{})}
	r.mu.Lock()
	r.queue = append(r.queue, rd)
	if r.senders < maxSenders {
		// Send now, from this goroutine: no hand-off when Redis is
		// not busy. What queues meanwhile goes with the next sender.
		r.senders++
		batch := r.take()
		r.mu.Unlock()
		r.pipeline(batch)
		r.mu.Lock()
		r.senders--
		if len(r.queue) > 0 && r.senders < maxSenders {
			r.senders++
			go r.send()
		}
	}
	r.mu.Unlock()
	t := time.NewTimer(timeout)
	defer t.Stop()
	var err error
	select {
	case <-rd.done:
		return rd.val, r.s.observe(ctx, rd.err)
	case <-ctx.Done():
		err = ctx.Err()
	case <-t.C:
		err = context.DeadlineExceeded
	}
	return nil, r.s.observe(ctx, err)
}

// send sends queued reads, a pipeline at a time, until none are left.
func (r *reads) send() {
	for {
		r.mu.Lock()
		batch := r.take()
		if len(batch) == 0 {
			r.senders--
			r.mu.Unlock()
			return
		}
		r.mu.Unlock()
		r.pipeline(batch)
	}
}

// take removes up to maxBatch reads from the front of the queue; r.mu is
// held.
func (r *reads) take() []*read {
	n := min(len(r.queue), maxBatch)
	if n == 0 {
		r.queue = nil // let a large backing array go
		return nil
	}
	batch := make([]*read, n)
	copy(batch, r.queue)
	r.queue = r.queue[:copy(r.queue, r.queue[n:])]
	return batch
}

func (r *reads) pipeline(batch []*read) {
	ctx, cancel := context.WithTimeout(context.Background(), r.s.timeout)
	defer cancel()
	if len(batch) == 1 {
		rd := batch[0]
		rd.val, rd.err = r.s.client.GetRange(ctx, rd.key, 0, rd.n-1).Bytes()
		close(rd.done)
		return
	}
	cmds := make([]*redis.StringCmd, len(batch))
	_, err := r.s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, rd := range batch {
			cmds[i] = p.GetRange(ctx, rd.key, 0, rd.n-1)
		}
		return nil
	})
	for i, rd := range batch {
		if cmds[i] != nil {
			rd.val, rd.err = cmds[i].Bytes()
		} else {
			rd.err = err
		}
		close(rd.done)
	}
}
