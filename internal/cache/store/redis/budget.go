package redisstore

import "sync/atomic"

// budget bounds the bytes a Store holds in memory for Redis: the buffers
// of open writers and the values queued by AsyncCommit
// (Options.MaxBuffered). Each writer holds the capacity of its buffer,
// which a Commit hands on to the queue; the bytes return when the writer
// aborts or its value has been sent, dropped, cancelled or replaced.
type budget struct {
	max  int64
	used atomic.Int64
}

// reserve takes n bytes, and reports false, taking nothing, when that
// would exceed the budget.
func (b *budget) reserve(n int64) bool {
	for {
		u := b.used.Load()
		if u+n > b.max {
			return false
		}
		if b.used.CompareAndSwap(u, u+n) {
			return true
		}
	}
}

// release returns n bytes.
func (b *budget) release(n int64) {
	if n != 0 {
		b.used.Add(-n)
	}
}
