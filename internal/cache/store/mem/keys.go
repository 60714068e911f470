package mem

import (
	"context"

	"sluice/internal/cache/store"
)

var _ store.Lister = (*Store)(nil)

// keysBatch is how many keys Keys copies under a shard's lock at a time,
// and keysScan how many slots it looks at: enough to make the lock's cost
// vanish, few enough that a hit waiting for the lock waits microseconds.
const (
	keysBatch = 128
	keysScan  = 4096
)

// Keys lists the keys of the entries linked in each shard, shard by
// shard. It copies a batch of keys out of slab memory under the shard's
// lock, releases the lock and calls fn for each, then goes on from the
// next slot; a slot keeps its index while linked, so an entry left alone
// while Keys runs is listed exactly once.
func (s *Store) Keys(ctx context.Context, fn func(key string) bool) error {
	batch := make([]string, 0, keysBatch)
	for _, sh := range s.shards {
		for next := int32(0); next >= 0; {
			if err := ctx.Err(); err != nil {
				return err
			}
			sh.mu.Lock()
			if sh.closed {
				sh.mu.Unlock()
				return errClosed
			}
			batch, next = sh.keys(batch[:0], next)
			sh.mu.Unlock()
			for _, k := range batch {
				if err := ctx.Err(); err != nil {
					return err
				}
				if !fn(k) {
					return nil
				}
			}
		}
	}
	return nil
}

// keys appends to dst the keys of the linked slots from slot i on, up to
// keysBatch of them among keysScan slots, and returns the slot to go on
// from, or -1 after the last.
func (sh *shard) keys(dst []string, i int32) ([]string, int32) {
	for end := i + keysScan; int(i) < len(sh.slots); i++ {
		if len(dst) == keysBatch || i == end {
			return dst, i
		}
		if sh.slots[i].flags&slotLinked != 0 {
			rec := sh.record(i)
			dst = append(dst, rec.key())
		}
	}
	return dst, -1
}
