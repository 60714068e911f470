package redisstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"testing"
	"time"

	"sluice/internal/cache/store"
	"sluice/internal/redistest"
)

// gate holds a store's workers before they send a value of chosen keys,
// so that a test has a SET "in flight", or values queued behind one, for
// as long as it likes.
type gate struct {
	mu      sync.Mutex
	held    map[string]chan struct{} // Redis key → closed to let it through
	arrived chan string
}

// newGate installs a gate in s; call it before the first Commit.
func newGate(t *testing.T, s *Store) *gate {
	g := &gate{held: map[string]chan struct{}{}, arrived: make(chan string, 100)}
	s.beforeSend = g.pass
	t.Cleanup(g.releaseAll) // so that Close does not wait on the gate
	return g
}

func (g *gate) hold(rkey string) {
	g.mu.Lock()
	g.held[rkey] = make(chan struct{})
	g.mu.Unlock()
}

func (g *gate) release(rkey string) {
	g.mu.Lock()
	close(g.held[rkey])
	delete(g.held, rkey)
	g.mu.Unlock()
}

func (g *gate) releaseAll() {
	g.mu.Lock()
	for k, c := range g.held {
		close(c)
		delete(g.held, k)
	}
	g.mu.Unlock()
}

func (g *gate) pass(rkey string) {
	g.mu.Lock()
	c := g.held[rkey]
	g.mu.Unlock()
	if c != nil {
		g.arrived <- rkey
		<-c
	}
}

// await waits until a worker holds rkey at the gate.
func (g *gate) await(t *testing.T, rkey string) {
	t.Helper()
	select {
	case k := <-g.arrived:
		if k != rkey {
			t.Fatalf("%q reached the gate, want %q", k, rkey)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no worker reached the gate with %q", rkey)
	}
}

// sameShard returns n keys whose values one worker sends, in order.
func sameShard(s *Store, n int) []string {
	var keys []string
	want := s.q.shard(s.prefix + "k0")
	for i := 0; len(keys) < n; i++ {
		if k := "k" + strconv.Itoa(i); s.q.shard(s.prefix+k) == want {
			keys = append(keys, k)
		}
	}
	return keys
}

// commitAsync commits body under key and fails t unless Commit returns
// nil quickly: with AsyncCommit it never waits for Redis (which, where a
// test holds a SET, would be for ever).
func commitAsync(t *testing.T, s *Store, key string, meta *store.Meta, body []byte) {
	t.Helper()
	start := time.Now()
	put(t, s, key, meta, body)
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("Commit of %q with AsyncCommit took %v", key, took)
	}
}

// returnsWithin runs f and returns its error, failing t if it takes more
// than d.
func returnsWithin(t *testing.T, d time.Duration, what string, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		t.Fatalf("%s did not return within %v", what, d)
		return nil
	}
}

// TestAsyncCommit checks that Commit returns while its SET is held, that
// followers finish, that the committing instance reads the value back at
// once and another only once it is sent, and that Flush waits for it.
func TestAsyncCommit(t *testing.T) {
	srv := redistest.Start(t)
	a := newStore(t, srv, Options{AsyncCommit: true})
	b := newStore(t, srv, Options{})
	g := newGate(t, a)
	ctx := context.Background()
	body := bytes.Repeat([]byte("async "), 20_000)

	g.hold("sluice:k")
	w, err := a.Create(ctx, "k", hashedMeta(body, "a"))
	if err != nil {
		t.Fatal(err)
	}
	r := w.NewReader()
	w.Write(body)
	if err := returnsWithin(t, 5*time.Second, "Commit with its SET held", w.Commit); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, body) {
		t.Errorf("follower: %d bytes, %v; want %d bytes, no error", len(got), err, len(body))
	}
	g.await(t, "sluice:k")
	if err := verify(get(t, a, "k")); err != nil {
		t.Errorf("the committing instance reads its queued value: %v", err)
	}
	checkMissing(t, b, "k") // not sent yet

	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := a.Flush(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Flush with the SET held: got %v, want context.DeadlineExceeded", err)
	}
	g.release("sluice:k")
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := verify(get(t, b, "k")); err != nil {
		t.Errorf("another instance after Flush: %v", err)
	}
	if st := a.Stats(); st.Entries != 1 {
		t.Errorf("Stats after Flush: got %+v, want 1 entry", st)
	}
	if n := a.buffers.used.Load(); n != 0 {
		t.Errorf("budget in use after Flush: %d bytes, want 0", n)
	}
}

// TestAsyncOrder commits many versions of many keys at once, each key's
// in order from one goroutine: once flushed, Redis holds each key's last.
func TestAsyncOrder(t *testing.T) {
	srv := redistest.Start(t)
	a := newStore(t, srv, Options{AsyncCommit: true})
	b := newStore(t, srv, Options{})
	const keys, versions = 24, 40
	var wg sync.WaitGroup
	for k := range keys {
		wg.Go(func() {
			for v := range versions {
				body := []byte(fmt.Sprintf("key %d version %d", k, v))
				commitAsync(t, a, strconv.Itoa(k), hashedMeta(body, strconv.Itoa(v)), body)
			}
		})
	}
	wg.Wait()
	if err := a.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := `"` + strconv.Itoa(versions-1) + `"`
	for k := range keys {
		e := get(t, b, strconv.Itoa(k))
		if err := verify(e); err != nil {
			t.Fatal(err)
		}
		if got := e.Meta().Header.Get("Etag"); got != want {
			t.Errorf("key %d after Flush: version %s, want the last, %s", k, got, want)
		}
	}
	if st := a.Stats(); st.Entries != keys {
		t.Errorf("Stats: got %+v, want %d entries", st, keys)
	}
	if a.Dropped() != 0 {
		t.Errorf("Dropped: got %d, want 0", a.Dropped())
	}
}

// TestAsyncReplace queues three values of one key behind a held one:
// only the last is kept, and the budget holds only it.
func TestAsyncReplace(t *testing.T) {
	srv := redistest.Start(t)
	a := newStore(t, srv, Options{AsyncCommit: true})
	b := newStore(t, srv, Options{})
	g := newGate(t, a)
	keys := sameShard(a, 2)
	front, k := keys[0], keys[1]
	g.hold(a.prefix + front)
	commitAsync(t, a, front, hashedMeta(nil, "f"), nil)
	g.await(t, a.prefix+front)
	held := a.buffers.used.Load() // front's, until it is sent
	var last int64
	for i := range 3 {
		body := bytes.Repeat([]byte{byte('a' + i)}, 10_000*(i+1))
		w, err := a.Create(context.Background(), k, hashedMeta(body, strconv.Itoa(i)))
		if err != nil {
			t.Fatal(err)
		}
		w.Write(body)
		last = w.(*writer).held
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	if got := a.buffers.used.Load(); got != held+last {
		t.Errorf("budget with one value replaced twice: %d bytes, want %d held by the one in flight + %d by the last", got, held, last)
	}
	if got := get(t, a, k).Meta().Header.Get("Etag"); got != `"2"` {
		t.Errorf("queued value read back: version %s, want \"2\"", got)
	}
	g.release(a.prefix + front)
	if err := a.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	e := get(t, b, k)
	if got := e.Meta().Header.Get("Etag"); got != `"2"` || verify(e) != nil {
		t.Errorf("stored after Flush: version %s (%v), want \"2\"", got, verify(e))
	}
	if st := a.Stats(); st.Entries != 2 || a.Dropped() != 0 {
		t.Errorf("Stats: got %+v, Dropped %d; want 2 entries, none dropped", st, a.Dropped())
	}
}

// TestAsyncDelete checks that a Delete is not undone by a value of its
// key that was queued (it is cancelled) or being sent (Delete waits for
// it) when the Delete came.
func TestAsyncDelete(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	t.Run("queued", func(t *testing.T) {
		a := newStore(t, srv, Options{Prefix: "q:", AsyncCommit: true})
		b := newStore(t, srv, Options{Prefix: "q:"})
		g := newGate(t, a)
		keys := sameShard(a, 2)
		front, k := keys[0], keys[1]
		put(t, b, k, hashedMeta(nil, "old"), nil)
		g.hold(a.prefix + front)
		commitAsync(t, a, front, hashedMeta(nil, "f"), nil)
		g.await(t, a.prefix+front)
		commitAsync(t, a, k, hashedMeta([]byte("new"), "new"), []byte("new")) // queued behind front
		// Well below the 4s a Delete waiting for the queued value would take.
		if err := returnsWithin(t, 2*time.Second, "Delete of a queued key", func() error { return a.Delete(ctx, k) }); err != nil {
			t.Fatal(err)
		}
		checkMissing(t, a, k)
		checkMissing(t, b, k)
		g.release(a.prefix + front)
		if err := a.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		checkMissing(t, b, k)
		if n := a.buffers.used.Load(); n != 0 {
			t.Errorf("budget in use after Flush: %d bytes, want 0", n)
		}
		if a.Dropped() != 0 {
			t.Errorf("Dropped: got %d, want 0 (a cancelled value is not dropped)", a.Dropped())
		}
	})
	t.Run("in flight", func(t *testing.T) {
		a := newStore(t, srv, Options{Prefix: "f:", AsyncCommit: true})
		b := newStore(t, srv, Options{Prefix: "f:"})
		g := newGate(t, a)
		put(t, b, "k", hashedMeta(nil, "old"), nil)
		g.hold("f:k")
		commitAsync(t, a, "k", hashedMeta([]byte("new"), "new"), []byte("new"))
		g.await(t, "f:k")
		done := make(chan error, 1)
		go func() { done <- a.Delete(ctx, "k") }()
		select {
		case err := <-done:
			t.Fatalf("Delete returned (%v) while the SET of its key was in flight", err)
		case <-time.After(50 * time.Millisecond):
		}
		g.release("f:k")
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		checkMissing(t, b, "k") // the DEL came after the SET
		checkMissing(t, a, "k")
	})
	t.Run("in flight too long", func(t *testing.T) {
		a := newStore(t, srv, Options{Prefix: "l:", AsyncCommit: true, Timeout: failTimeout})
		g := newGate(t, a)
		g.hold("l:k")
		commitAsync(t, a, "k", hashedMeta(nil, "new"), nil)
		g.await(t, "l:k")
		start := time.Now()
		if err := returnsWithin(t, 5*time.Second, "Delete behind a stuck SET", func() error { return a.Delete(ctx, "k") }); err != nil {
			t.Fatal(err)
		}
		if took, bound := time.Since(start), 2*failTimeout; took < bound {
			t.Errorf("Delete behind a stuck SET returned after %v, before the SET's time ran out (%v)", took, bound)
		}
	})
}

// TestAsyncUpdate checks that the updates wait for the queued value of
// their key and then apply to it.
func TestAsyncUpdate(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	body := []byte("queued body")
	updates := []struct {
		name   string
		update func(s *Store, key string, m *store.Meta) error
	}{
		{"Update", func(s *Store, key string, m *store.Meta) error { return s.Update(ctx, key, m) }},
		{"UpdateIf", func(s *Store, key string, m *store.Meta) error {
			e, err := s.Get(ctx, key) // the queued value
			if err != nil {
				return err
			}
			return s.UpdateIf(ctx, key, e.(*entry).Generation(), m)
		}},
		{"UpdateFunc", func(s *Store, key string, m *store.Meta) error {
			return s.UpdateFunc(ctx, key, func(stored *store.Meta) (*store.Meta, bool) {
				if stored.Header.Get("Etag") != `"q"` {
					return nil, false
				}
				return m, true
			})
		}},
	}
	for _, u := range updates {
		t.Run(u.name, func(t *testing.T) {
			a := newStore(t, srv, Options{Prefix: u.name + ":", AsyncCommit: true})
			b := newStore(t, srv, Options{Prefix: u.name + ":"})
			g := newGate(t, a)
			g.hold(a.prefix + "k")
			commitAsync(t, a, "k", hashedMeta(body, "q"), body)
			g.await(t, a.prefix+"k")
			m := hashedMeta(body, "q")
			m.Header.Set("Age", "9")
			done := make(chan error, 1)
			go func() { done <- u.update(a, "k", m) }()
			select {
			case err := <-done:
				t.Fatalf("%s returned (%v) while the SET of its key was in flight", u.name, err)
			case <-time.After(50 * time.Millisecond):
			}
			g.release(a.prefix + "k")
			if err := <-done; err != nil {
				t.Fatalf("%s of a queued value: %v", u.name, err)
			}
			e := get(t, b, "k")
			if err := verify(e); err != nil {
				t.Fatal(err)
			}
			if got := e.Meta().Header.Get("Age"); got != "9" {
				t.Errorf("Age in Redis after %s: got %q, want %q", u.name, got, "9")
			}
		})
	}
}

// TestAsyncBreakerDrops checks that values queued when the breaker opens
// are dropped and counted, and that Commit fails at once while it is
// open.
func TestAsyncBreakerDrops(t *testing.T) {
	srv := redistest.Start(t)
	a := newStore(t, srv, Options{AsyncCommit: true, Timeout: failTimeout})
	g := newGate(t, a)
	keys := sameShard(a, 3)
	g.hold(a.prefix + keys[0])
	for _, k := range keys {
		commitAsync(t, a, k, hashedMeta([]byte(k), k), []byte(k))
	}
	g.await(t, a.prefix+keys[0])
	srv.Kill()
	tripBreaker(t, a)
	w, err := a.Create(context.Background(), "late", hashedMeta(nil, "l"))
	if err == nil {
		w.Abort()
	}
	if !errors.Is(err, ErrUnavailable) {
		t.Errorf("Create with the breaker open: got %v, want ErrUnavailable", err)
	}
	g.release(a.prefix + keys[0])
	if err := a.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := a.Dropped(); got != int64(len(keys)) {
		t.Errorf("Dropped: got %d, want %d", got, len(keys))
	}
	if n := a.buffers.used.Load(); n != 0 {
		t.Errorf("budget in use after the drops: %d bytes, want 0", n)
	}
}

// TestAsyncCommitBreakerOpen checks that a writer committed while the
// breaker is open fails at once instead of queueing.
func TestAsyncCommitBreakerOpen(t *testing.T) {
	srv := redistest.Start(t)
	a := newStore(t, srv, Options{AsyncCommit: true, Timeout: failTimeout})
	w, err := a.Create(context.Background(), "k", hashedMeta(nil, "k"))
	if err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	tripBreaker(t, a)
	if err := w.Commit(); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Commit with the breaker open: got %v, want ErrUnavailable", err)
	}
	if n := a.buffers.used.Load(); n != 0 {
		t.Errorf("budget in use after a failed Commit: %d bytes, want 0", n)
	}
}

// TestAsyncClose checks that Close sends what is queued, that a writer
// committed after Close fails, and that Close does not wait long on a
// Redis that does not answer.
func TestAsyncClose(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	t.Run("drains", func(t *testing.T) {
		a := New(Options{Client: srv.Client(t), Prefix: "c:", AsyncCommit: true, Timeout: 2 * time.Second})
		b := newStore(t, srv, Options{Prefix: "c:"})
		for i := range 50 {
			commitAsync(t, a, strconv.Itoa(i), hashedMeta(nil, "c"), nil)
		}
		open, err := a.Create(ctx, "after", hashedMeta(nil, "a"))
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		for i := range 50 {
			get(t, b, strconv.Itoa(i))
		}
		if err := open.Commit(); err == nil {
			t.Errorf("Commit after Close succeeded")
		}
		if n := a.buffers.used.Load(); n != 0 {
			t.Errorf("budget in use after Close: %d bytes, want 0", n)
		}
	})
	t.Run("bounded", func(t *testing.T) {
		a := New(Options{Client: srv.Client(t), Prefix: "p:", AsyncCommit: true, Timeout: failTimeout, MaxBuffered: 1 << 20})
		const n = 20
		for i := range n {
			commitAsync(t, a, strconv.Itoa(i), hashedMeta(nil, "p"), nil)
		}
		srv.Pause()
		defer srv.Resume()
		if err := returnsWithin(t, 2*time.Second, "Close with Redis paused", a.Close); err != nil {
			t.Fatal(err)
		}
		// Some may have been sent before the pause; the rest were
		// dropped.
		t.Logf("%d of %d dropped", a.Dropped(), n)
		if a.Stats().Entries+a.Dropped() != n {
			t.Errorf("stored %d and dropped %d of %d", a.Stats().Entries, a.Dropped(), n)
		}
	})
}

// tripBreaker makes Gets until the breaker opens; Redis must be down.
func tripBreaker(t *testing.T, s *Store) {
	t.Helper()
	for i := 0; s.Healthy(); i++ {
		if i == 3*failThreshold {
			t.Fatalf("breaker still closed after %d failed calls", i)
		}
		if _, err := s.Get(context.Background(), "trip"); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Get with Redis down: got %v, want ErrUnavailable", err)
		}
	}
}
