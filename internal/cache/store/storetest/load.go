package storetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"testing"

	"sluice/internal/cache/store"
)

func testEviction(t *testing.T, f Factory) {
	s := open(t, f, smallCapacity)
	const size = 60_000
	last := ""
	var lastBody []byte
	for i := range 4 * smallCapacity / size {
		last = fmt.Sprintf("http://example.com/evict/%d", i)
		lastBody = body(size+i, uint64(i))
		put(t, s, last, newMeta(lastBody, "e"), lastBody)
		if st := s.Stats(); st.Bytes > smallCapacity {
			t.Fatalf("after %d entries: Stats().Bytes %d exceeds the capacity %d", i+1, st.Bytes, int64(smallCapacity))
		}
	}
	st := s.Stats()
	if st.Evictions == 0 {
		t.Errorf("writing 4× the capacity: Stats().Evictions is 0")
	}
	if st.Entries <= 0 || st.Entries*size > smallCapacity {
		t.Errorf("Stats().Entries: got %d, want between 1 and %d", st.Entries, smallCapacity/size)
	}
	check(t, s, last, newMeta(lastBody, "e"), lastBody)
}

func testRecentlyUsedSurvives(t *testing.T, f Factory) {
	s := open(t, f, smallCapacity)
	ctx := context.Background()
	// Entries of a twentieth of the capacity, less metadata and slack.
	size := smallCapacity/20 - 4096
	hot := body(size, 50)
	put(t, s, "hot", newMeta(hot, "hot"), hot)
	for i := range 40 { // 2× the capacity
		e, err := s.Get(ctx, "hot")
		if err != nil {
			t.Fatalf("the entry read between every write was gone after %d writes of other entries (%+v)", i, s.Stats())
		}
		if err := verify(e); err != nil {
			t.Fatalf("hot entry after %d writes: %v", i, err)
		}
		e.Close()
		b := body(size, uint64(51+i))
		put(t, s, fmt.Sprint("cold", i), newMeta(b, "cold"), b)
	}
	check(t, s, "hot", newMeta(hot, "hot"), hot)
	if s.Stats().Evictions == 0 {
		t.Errorf("writing 2× the capacity evicted nothing")
	}
}

// testConcurrent runs goroutines that write, read, delete and abort on a
// small set of keys under a budget that forces evictions, and checks that
// every body read matches the checksum in the meta read with it.
func testConcurrent(t *testing.T, f Factory) {
	const (
		workers = 8
		ops     = 200
		keys    = 128    // × maxBody/2 ≈ the budget: some eviction
		maxBody = 64_000 // several size ranges, each below the budget/64
	)
	s := open(t, f, smallCapacity)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 99))
			errs <- worker(ctx, s, rng, g, ops, keys, maxBody)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	st := s.Stats()
	t.Logf("after the load: %+v", st)
	if st.Bytes > smallCapacity || st.Entries < 0 || st.Entries > keys {
		t.Errorf("Stats() after the load: %+v", st)
	}
	// Every entry left is whole.
	for k := range keys {
		key := fmt.Sprint("k", k)
		e, err := s.Get(ctx, key)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			t.Fatalf("Get(%q): %v", key, err)
		}
		if err := verify(e); err != nil {
			t.Errorf("Get(%q): %v", key, err)
		}
		e.Close()
	}
}

func worker(ctx context.Context, s store.Store, rng *rand.Rand, g, ops, keys, maxBody int) error {
	var held []store.Entry // entries kept open across other operations
	defer func() {
		for _, e := range held {
			e.Close()
		}
	}()
	for i := range ops {
		key := fmt.Sprint("k", rng.IntN(keys))
		switch op := rng.IntN(10); {
		case op < 3: // write and commit
			b := body(rng.IntN(maxBody), rng.Uint64())
			if err := write(ctx, s, key, b, true); err != nil {
				return fmt.Errorf("worker %d op %d: %w", g, i, err)
			}
		case op < 4: // write and abort
			b := body(rng.IntN(maxBody), rng.Uint64())
			if err := write(ctx, s, key, b, false); err != nil {
				return fmt.Errorf("worker %d op %d: %w", g, i, err)
			}
		case op < 5:
			if err := s.Delete(ctx, key); err != nil {
				return fmt.Errorf("worker %d op %d: Delete(%q): %w", g, i, key, err)
			}
		default: // read, sometimes holding the entry for later
			e, err := s.Get(ctx, key)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return fmt.Errorf("worker %d op %d: Get(%q): %w", g, i, key, err)
			}
			if err := verify(e); err != nil {
				e.Close()
				return fmt.Errorf("worker %d op %d: Get(%q): %w", g, i, key, err)
			}
			held = append(held, e)
			if len(held) > 2 || rng.IntN(2) == 0 {
				old := held[0]
				held = held[1:]
				// Read it again: replaced, deleted or evicted meanwhile,
				// it is still the same entry.
				if err := verify(old); err != nil {
					return fmt.Errorf("worker %d op %d: held entry: %w", g, i, err)
				}
				old.Close()
			}
		}
	}
	return nil
}

// write writes b under key in uneven pieces, with a follower reading
// along, and commits or aborts.
func write(ctx context.Context, s store.Store, key string, b []byte, commit bool) error {
	w, err := s.Create(ctx, key, newMeta(b, "c"))
	if err != nil {
		return fmt.Errorf("Create(%q): %w", key, err)
	}
	defer w.Abort()
	r := w.NewReader()
	defer r.Close()
	for rest := b; len(rest) > 0; {
		n := min(len(rest), 1+len(rest)/3)
		if _, err := w.Write(rest[:n]); err != nil {
			return fmt.Errorf("Write(%q): %w", key, err)
		}
		rest = rest[n:]
	}
	if !commit {
		w.Abort()
		if _, err := io.Copy(io.Discard, r); !errors.Is(err, store.ErrAborted) {
			return fmt.Errorf("follower of an aborted writer: got %v, want store.ErrAborted", err)
		}
		return nil
	}
	if err := w.Commit(); err != nil {
		return fmt.Errorf("Commit(%q): %w", key, err)
	}
	got, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("follower: %w", err)
	}
	if len(got) != len(b) {
		return fmt.Errorf("follower: got %d bytes, want %d", len(got), len(b))
	}
	return nil
}
