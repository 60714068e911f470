package redisstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"sluice/internal/cache/store"
	"sluice/internal/redistest"
)

// TestBatchedReads: many concurrent Gets share pipelines, and each gets
// its own object, whole; absent keys are misses among hits.
func TestBatchedReads(t *testing.T) {
	srv := redistest.Start(t)
	s := New(Options{Client: srv.Client(t), Timeout: 2 * time.Second})
	defer s.Close()
	ctx := context.Background()
	const n = 300
	for i := range n {
		w, err := s.Create(ctx, fmt.Sprint("k", i), &store.Meta{Status: 200, Header: http.Header{"X-I": {fmt.Sprint(i)}}})
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(w, "body %d %0*d", i, i%50, 0)
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for round := range 3 {
		for i := range n + 50 {
			wg.Go(func() {
				key := fmt.Sprint("k", i)
				e, err := s.Get(ctx, key)
				if i >= n {
					if !errors.Is(err, store.ErrNotFound) {
						errs <- fmt.Errorf("round %d: absent %s: %v", round, key, err)
					}
					return
				}
				if err != nil {
					errs <- fmt.Errorf("round %d: %s: %v", round, key, err)
					return
				}
				defer e.Close()
				b, _ := io.ReadAll(io.NewSectionReader(e, 0, e.Size()))
				if want := fmt.Sprintf("body %d %0*d", i, i%50, 0); string(b) != want || e.Meta().Header.Get("X-I") != fmt.Sprint(i) {
					errs <- fmt.Errorf("round %d: %s: body %q header %q, want %q", round, key, b, e.Meta().Header.Get("X-I"), want)
				}
			})
		}
		wg.Wait()
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestBatchedReadsTimeout: with Redis frozen, Gets queued behind a stuck
// pipeline still return within about the timeout, as failures.
func TestBatchedReadsTimeout(t *testing.T) {
	srv := redistest.Start(t)
	const timeout = 50 * time.Millisecond
	s := New(Options{Client: srv.Client(t), Timeout: workTimeout})
	defer s.Close()
	if _, err := s.Get(context.Background(), "warm"); !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
	setTimeout(s, timeout) // not before: a loaded machine may take longer to warm up
	srv.Pause()
	defer srv.Resume()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var slowest time.Duration
	for i := range 40 {
		wg.Go(func() {
			start := time.Now()
			_, err := s.Get(context.Background(), fmt.Sprint("k", i))
			d := time.Since(start)
			if err == nil || errors.Is(err, store.ErrNotFound) {
				t.Errorf("Get with Redis frozen: %v, want a failure", err)
			}
			mu.Lock()
			slowest = max(slowest, d)
			mu.Unlock()
		})
	}
	wg.Wait()
	// Each waits at most its own timeout; the bound leaves room for a
	// loaded machine (a call was seen to return half a second late) but
	// not for the 40 waiting behind each other's pipelines.
	if slowest > 20*timeout {
		t.Errorf("slowest Get with Redis frozen took %s, timeout %s", slowest, timeout)
	}
}
