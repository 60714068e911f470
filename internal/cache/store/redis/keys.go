package redisstore

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// scanCount is the COUNT hint of each SCAN: about how many keys one call
// looks at, and so the most keys Keys holds at once.
const scanCount = 1000

// scanner is what SCAN needs: the client, or one node of a cluster.
type scanner interface {
	Scan(ctx context.Context, cursor uint64, match string, count int64) *redis.ScanCmd
}

// Keys lists the keys under the prefix with SCAN, on every master of a
// cluster in turn. SCAN lists every key present for the whole listing and
// may list one more than once; keys of other prefixes are not listed
// (the prefix's glob characters are escaped). With AsyncCommit it first
// waits for the values queued before the call (Flush), so that every
// entry committed before it is listed; keys whose DEL this Store
// remembers are not listed.
func (s *Store) Keys(ctx context.Context, fn func(key string) bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.admit(); err != nil {
		return fmt.Errorf("redis: keys: %w", err)
	}
	if err := s.Flush(ctx); err != nil {
		return err
	}
	nodes := []scanner{s.client}
	if cc, ok := s.client.(*redis.ClusterClient); ok {
		var mu sync.Mutex
		nodes = nodes[:0]
		cctx, cancel := context.WithTimeout(ctx, s.timeout)
		err := cc.ForEachMaster(cctx, func(_ context.Context, c *redis.Client) error {
			mu.Lock()
			nodes = append(nodes, c)
			mu.Unlock()
			return nil
		})
		cancel()
		if err := s.observe(ctx, err); err != nil {
			return fmt.Errorf("redis: keys: %w", err)
		}
	}
	match := globEscape(s.prefix) + "*"
	for _, n := range nodes {
		if more, err := s.scan(ctx, n, match, fn); err != nil || !more {
			return err
		}
	}
	return nil
}

// scan lists the matching keys of one node; it reports false when fn
// asked to stop.
func (s *Store) scan(ctx context.Context, n scanner, match string, fn func(string) bool) (bool, error) {
	var cursor uint64
	for {
		if err := s.admit(); err != nil {
			return false, fmt.Errorf("redis: keys: %w", err)
		}
		cctx, cancel := context.WithTimeout(ctx, s.timeout)
		keys, next, err := n.Scan(cctx, cursor, match, scanCount).Result()
		cancel()
		if err := ctx.Err(); err != nil {
			return false, err
		}
		if err := s.observe(ctx, err); err != nil {
			return false, fmt.Errorf("redis: keys: %w", err)
		}
		for _, k := range keys {
			if err := ctx.Err(); err != nil {
				return false, err
			}
			if s.deletes.has(k) {
				continue
			}
			if !fn(strings.TrimPrefix(k, s.prefix)) {
				return false, nil
			}
		}
		if next == 0 {
			return true, nil
		}
		cursor = next
	}
}

// globEscape quotes the characters SCAN's MATCH gives a meaning.
func globEscape(s string) string {
	if !strings.ContainsAny(s, `*?[]\^`) {
		return s
	}
	var b strings.Builder
	for _, c := range []byte(s) {
		switch c {
		case '*', '?', '[', ']', '\\', '^':
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String()
}
