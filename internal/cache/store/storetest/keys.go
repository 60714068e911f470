package storetest

// Listing keys (store.Lister), for the stores that implement it: what is
// listed, stopping, cancellation, deleting from fn, listing under load,
// and, for persistent stores, after reopening.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"sluice/internal/cache/store"
)

// lister returns s as a store.Lister, or skips the test.
func lister(t *testing.T, s store.Store) store.Lister {
	t.Helper()
	l, ok := s.(store.Lister)
	if !ok {
		t.Skipf("%T does not implement store.Lister", s)
	}
	return l
}

// listKeys lists l's keys and counts how often each is listed.
func listKeys(t *testing.T, l store.Lister) map[string]int {
	t.Helper()
	got := map[string]int{}
	if err := l.Keys(context.Background(), func(k string) bool {
		got[k]++
		return true
	}); err != nil {
		t.Fatalf("Keys: %v", err)
	}
	return got
}

// sameKeys reports how the keys listed differ from want, or "".
func sameKeys(got map[string]int, want []string) string {
	var missing, extra []string
	for _, k := range want {
		if got[k] == 0 {
			missing = append(missing, clip(k))
		}
	}
	for k := range got {
		if !slices.Contains(want, k) {
			extra = append(extra, clip(k))
		}
	}
	if missing == nil && extra == nil {
		return ""
	}
	slices.Sort(missing)
	slices.Sort(extra)
	return fmt.Sprintf("missing %q, unexpected %q", missing, extra)
}

func clip(k string) string {
	if len(k) > 40 {
		return fmt.Sprintf("%s…(%d bytes)", k[:40], len(k))
	}
	return k
}

func testKeys(t *testing.T, f Factory) {
	s := open(t, f, f.bigCapacity())
	l := lister(t, s)
	ctx := context.Background()
	if got := listKeys(t, l); len(got) != 0 {
		t.Fatalf("Keys of an empty store listed %q", slices.Collect(maps.Keys(got)))
	}
	want := []string{
		"http://example.com/",
		"https://example.com:8443/a?b=c",
		"http://example.com/v\x00gen\x00accept-language=en",  // a Vary variant
		"http://example.com/" + strings.Repeat("long/", 600), // longer than a first read
		"http://example.com/big",                             // a body over a page
		"replaced",
		"updated",
	}
	for i, k := range want {
		n := 100 * i
		if k == "http://example.com/big" {
			n = 600_000
		}
		b := body(n, uint64(i))
		put(t, s, k, newMeta(b, "k"), b)
	}
	b := body(10, 9)
	put(t, s, "replaced", newMeta(b, "second"), b)
	if err := s.Update(ctx, "updated", newMeta(body(100*6, 6), "updated")); err != nil {
		t.Fatal(err)
	}
	put(t, s, "deleted", newMeta(b, "d"), b)
	if err := s.Delete(ctx, "deleted"); err != nil {
		t.Fatal(err)
	}
	pending, err := s.Create(ctx, "pending", newMeta(b, "p"))
	if err != nil {
		t.Fatal(err)
	}
	defer pending.Abort()
	pending.Write(b)
	aborted, err := s.Create(ctx, "aborted", newMeta(b, "a"))
	if err != nil {
		t.Fatal(err)
	}
	aborted.Write(b)
	aborted.Abort()

	if d := sameKeys(listKeys(t, l), want); d != "" {
		t.Errorf("Keys: %s", d)
	}
	if err := pending.Commit(); err != nil {
		t.Fatal(err)
	}
	if d := sameKeys(listKeys(t, l), append(want, "pending")); d != "" {
		t.Errorf("Keys after a Commit: %s", d)
	}
}

// testKeysDelete deletes every key as it is listed, as a purge does:
// each is listed once (a tiered store too), and none is left.
func testKeysDelete(t *testing.T, f Factory) {
	s := open(t, f, f.bigCapacity())
	l := lister(t, s)
	ctx := context.Background()
	const n = 700 // several batches of any sensible size
	var want []string
	for i := range n {
		k := fmt.Sprintf("http://h%d.example/%d", i%7, i)
		b := body(i%300, uint64(i))
		put(t, s, k, newMeta(b, "k"), b)
		want = append(want, k)
	}
	got := map[string]int{}
	err := l.Keys(ctx, func(k string) bool {
		got[k]++
		if err := s.Delete(ctx, k); err != nil {
			t.Errorf("Delete(%q) from fn: %v", k, err)
		}
		return true
	})
	if err != nil {
		t.Fatalf("Keys: %v", err)
	}
	if d := sameKeys(got, want); d != "" {
		t.Errorf("Keys deleting as it goes: %s", d)
	}
	for k, c := range got {
		if c != 1 {
			t.Errorf("Keys deleting as it goes listed %q %d times, want once", k, c)
		}
	}
	for _, k := range want {
		checkMissing(t, s, k)
	}
	if got := listKeys(t, l); len(got) != 0 {
		t.Errorf("Keys after deleting every key listed %d keys", len(got))
	}
}

// testKeysStop checks that Keys stops when fn returns false, and when
// ctx is done.
func testKeysStop(t *testing.T, f Factory) {
	s := open(t, f, f.bigCapacity())
	l := lister(t, s)
	for i := range 300 {
		b := body(10, uint64(i))
		put(t, s, fmt.Sprint("k", i), newMeta(b, "k"), b)
	}

	calls := 0
	err := l.Keys(context.Background(), func(string) bool {
		calls++
		return calls < 3
	})
	if err != nil || calls != 3 {
		t.Errorf("Keys with fn false at the 3rd key: %d calls, error %v; want 3 calls, nil", calls, err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	calls = 0
	err = l.Keys(ctx, func(string) bool { calls++; return true })
	if !errors.Is(err, context.Canceled) || calls != 0 {
		t.Errorf("Keys with a cancelled context: %d calls, error %v; want 0 calls, context.Canceled", calls, err)
	}

	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	calls = 0
	err = l.Keys(ctx, func(string) bool {
		calls++
		cancel()
		return true
	})
	if !errors.Is(err, context.Canceled) || calls != 1 {
		t.Errorf("Keys cancelled from fn: %d calls, error %v; want 1 call, context.Canceled", calls, err)
	}
}

// testKeysConcurrent lists and deletes while other goroutines write,
// read, replace and delete: under the race detector, and every entry
// left alone meanwhile is listed.
func testKeysConcurrent(t *testing.T, f Factory) {
	s := open(t, f, f.bigCapacity())
	l := lister(t, s)
	ctx := context.Background()
	var stable []string
	for i := range 200 {
		k := fmt.Sprint("stable-", i)
		b := body(i*10, uint64(i))
		put(t, s, k, newMeta(b, "s"), b)
		stable = append(stable, k)
	}
	var stop atomic.Bool
	var ops atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for g := range 4 {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				ops.Add(1)
				k := fmt.Sprintf("churn-%d-%d", g, i%50)
				b := body(i%2000, uint64(i))
				switch i % 4 {
				case 0, 1:
					if err := write(ctx, s, k, b, true); err != nil {
						errs <- fmt.Errorf("write %s: %w", k, err)
						return
					}
				case 2:
					if e, err := s.Get(ctx, k); err == nil {
						e.Close()
					}
				case 3:
					s.Delete(ctx, k)
				}
			}
		})
	}
	// List until the others have done a good number of operations, so
	// that listings overlap them.
	for n := 0; n < 5 || ops.Load() < 2000; n++ {
		seen := map[string]int{}
		err := l.Keys(ctx, func(k string) bool {
			seen[k]++
			if strings.HasPrefix(k, "churn-") {
				s.Delete(ctx, k)
			}
			return true
		})
		if err != nil {
			t.Errorf("Keys under load: %v", err)
			break
		}
		for _, k := range stable {
			if seen[k] == 0 {
				t.Errorf("Keys under load did not list %q", k)
			}
		}
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// testKeysReopen checks that a persistent store lists the entries of an
// earlier run at once after reopening, before it may have indexed them.
func testKeysReopen(t *testing.T, f Factory) {
	if !f.Persistent {
		t.Skip("not persistent")
	}
	dir := t.TempDir()
	s := f.Open(t, dir, f.bigCapacity())
	lister(t, s)
	var want []string
	for i := range 300 {
		k := fmt.Sprintf("http://h%d.example/%d", i%3, i)
		b := body(i, uint64(i))
		put(t, s, k, newMeta(b, "k"), b)
		want = append(want, k)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = f.Open(t, dir, f.bigCapacity())
	defer s.Close()
	if d := sameKeys(listKeys(t, lister(t, s)), want); d != "" {
		t.Errorf("Keys after reopening: %s", d)
	}
}
