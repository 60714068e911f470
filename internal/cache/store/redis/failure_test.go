package redisstore

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"sluice/internal/cache/store"
	"sluice/internal/redistest"
)

// Failure tests: a short Timeout, and how far past it a call may return
// (scheduling, and the race detector's slowness: on a loaded machine
// under -race, calls were seen to return half a second late). A call
// that ignored the Timeout would wait out the client's read timeout, 3s.
const (
	failTimeout = 50 * time.Millisecond
	slack       = time.Second
	// atOnce bounds a call that must fail without trying Redis: well
	// below failTimeout, and above a pause a loaded machine may add.
	atOnce = failTimeout / 2
	// workTimeout is the Timeout while Redis works: a loaded machine may
	// take longer than failTimeout to answer, which the failure tests do
	// not test.
	workTimeout = 2 * time.Second
)

// setTimeout sets s's Timeout, for a test that gives calls failTimeout
// only while Redis is broken. No call may be under way and no prober
// running.
func setTimeout(s *Store, d time.Duration) { s.timeout = d }

// states records OnStateChange calls.
type states chan bool

func (c states) expect(t *testing.T, want bool, within time.Duration) {
	t.Helper()
	select {
	case got := <-c:
		if got != want {
			t.Fatalf("OnStateChange(%v), want OnStateChange(%v)", got, want)
		}
	case <-time.After(within):
		t.Fatalf("no OnStateChange(%v) within %v", want, within)
	}
}

func (c states) expectNone(t *testing.T) {
	t.Helper()
	select {
	case got := <-c:
		t.Fatalf("unexpected OnStateChange(%v)", got)
	case <-time.After(100 * time.Millisecond):
	}
}

// operations returns one call of each kind on s, each returning its
// error; not Delete, which succeeds when Redis is down (TestDeleteDown).
func operations(s *Store) []struct {
	name string
	do   func() error
} {
	ctx := context.Background()
	m := hashedMeta([]byte("body"), "f")
	return []struct {
		name string
		do   func() error
	}{
		{"Get", func() error {
			e, err := s.Get(ctx, "k")
			if err == nil {
				e.Close()
			}
			return err
		}},
		{"Commit", func() error {
			w, err := s.Create(ctx, "k", m)
			if err != nil {
				return err
			}
			w.Write([]byte("body"))
			return w.Commit()
		}},
		{"Update", func() error { return s.Update(ctx, "k", m) }},
		{"Keys", func() error { return s.Keys(ctx, func(string) bool { return true }) }},
	}
}

// failUntilOpen runs operations against a broken Redis until the breaker
// opens: each fails, not with store.ErrNotFound, within the timeout.
func failUntilOpen(t *testing.T, s *Store) {
	t.Helper()
	ops := operations(s)
	for i := 0; s.Healthy(); i++ {
		if i == 3*failThreshold {
			t.Fatalf("breaker still closed after %d failed calls", i)
		}
		op := ops[i%len(ops)]
		start := time.Now()
		err := op.do()
		took := time.Since(start)
		if err == nil || errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s with Redis down: got %v, want an error other than store.ErrNotFound", op.name, err)
		}
		if !errors.Is(err, ErrUnavailable) {
			t.Errorf("%s with Redis down: %v does not wrap ErrUnavailable", op.name, err)
		}
		if took > failTimeout+slack {
			t.Errorf("%s with Redis down took %v, want at most %v + %v", op.name, took, failTimeout, slack)
		}
		t.Logf("%s failed after %v: %v", op.name, took.Round(time.Microsecond), err)
	}
	// Open: calls fail at once, without trying Redis.
	for _, op := range ops {
		start := time.Now()
		err := op.do()
		if took := time.Since(start); took > atOnce {
			t.Errorf("%s with the breaker open took %v, want at most %v", op.name, took, atOnce)
		}
		if !errors.Is(err, ErrUnavailable) {
			t.Errorf("%s with the breaker open: got %v, want ErrUnavailable", op.name, err)
		}
	}
	// A Delete is remembered instead, as fast.
	start := time.Now()
	if err := s.Delete(context.Background(), "k"); err != nil {
		t.Errorf("Delete with the breaker open: got %v, want nil", err)
	}
	if took := time.Since(start); took > atOnce {
		t.Errorf("Delete with the breaker open took %v, want at most %v", took, atOnce)
	}
}

// checkWorks stores, updates and reads an entry. (After a restart, the
// update finds its script gone from Redis and sends it again.)
func checkWorks(t *testing.T, s *Store) {
	t.Helper()
	b := []byte(fmt.Sprint("body at ", time.Now()))
	put(t, s, "works", hashedMeta(b, "w"), b)
	m := hashedMeta(b, "w")
	m.Header.Set("Age", "1")
	if err := s.Update(context.Background(), "works", m); err != nil {
		t.Fatal(err)
	}
	e := get(t, s, "works")
	if err := verify(e); err != nil {
		t.Fatal(err)
	}
	if got := e.Meta().Header.Get("Age"); got != "1" {
		t.Errorf("Age after Update: got %q, want %q", got, "1")
	}
}

// TestRedisKilled kills Redis under a working store, then restarts it on
// the same port: calls fail fast, the breaker opens once, and the store
// recovers by itself.
func TestRedisKilled(t *testing.T) {
	clients := map[string]func(srv *redistest.Server, t *testing.T) *redis.Client{
		"recommended": func(srv *redistest.Server, t *testing.T) *redis.Client { return srv.Client(t) },
		// go-redis's own retries: slower to fail, still within Timeout.
		"retrying": func(srv *redistest.Server, t *testing.T) *redis.Client {
			c := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true})
			t.Cleanup(func() { c.Close() })
			return c
		},
	}
	for name, client := range clients {
		t.Run(name, func(t *testing.T) {
			srv := redistest.Start(t)
			changes := make(states, 10)
			s := newStore(t, srv, Options{Client: client(srv, t), Timeout: workTimeout, OnStateChange: func(up bool) { changes <- up }})
			checkWorks(t, s)

			setTimeout(s, failTimeout)
			srv.Kill()
			failUntilOpen(t, s)
			changes.expect(t, false, 5*time.Second)

			srv.Restart()
			// The first probe is after a second; one that a loaded
			// machine made miss failTimeout is retried after two more.
			changes.expect(t, true, 10*time.Second)
			if !s.Healthy() {
				t.Errorf("Healthy() is false after OnStateChange(true)")
			}
			setTimeout(s, workTimeout)
			checkWorks(t, s)
			changes.expectNone(t)
		})
	}
}

// TestRedisPaused freezes Redis (connections accepted, nothing answered):
// calls time out within Timeout, the breaker opens, and closes again
// when Redis thaws.
func TestRedisPaused(t *testing.T) {
	srv := redistest.Start(t)
	changes := make(states, 10)
	s := newStore(t, srv, Options{Timeout: workTimeout, OnStateChange: func(up bool) { changes <- up }})
	checkWorks(t, s)

	setTimeout(s, failTimeout)
	srv.Pause()
	failUntilOpen(t, s)
	changes.expect(t, false, 5*time.Second)

	srv.Resume()
	changes.expect(t, true, 10*time.Second)
	setTimeout(s, workTimeout)
	checkWorks(t, s)
	changes.expectNone(t)
}

// TestCallerGivesUp checks that a caller's cancelled context fails the
// call without counting against Redis.
func TestCallerGivesUp(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, srv, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range 2 * failThreshold {
		if _, err := s.Get(ctx, "k"); err == nil || errors.Is(err, ErrUnavailable) {
			t.Fatalf("Get with a cancelled context: got %v, want an error that is not ErrUnavailable", err)
		}
	}
	if !s.Healthy() {
		t.Errorf("cancelled callers opened the breaker")
	}
}

// TestCloseStopsProbe checks that Close ends the prober of an open
// breaker and that calls after Close fail.
func TestCloseStopsProbe(t *testing.T) {
	srv := redistest.Start(t)
	s := New(Options{Client: srv.Client(t), Timeout: failTimeout})
	srv.Kill()
	failUntilOpen(t, s)
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return while the breaker was open")
	}
	if _, err := s.Get(context.Background(), "k"); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get after Close: got %v, want an error", err)
	}
	if s.Healthy() {
		t.Errorf("Healthy() after Close")
	}
}
