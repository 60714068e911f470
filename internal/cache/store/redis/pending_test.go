package redisstore

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"sluice/internal/cache/store"
	"sluice/internal/redistest"
)

// startDurableRedis starts a redis-server that keeps its data across a
// kill (an append-only file synced on every write), so a test can tell
// whether a DEL made while it was down reached it after the restart.
func startDurableRedis(t *testing.T) *redistest.Server {
	return redistest.Start(t, "--appendonly", "yes", "--appendfsync", "always")
}

// exists reports which of keys Redis holds.
func exists(t *testing.T, c *redis.Client, keys ...string) []string {
	t.Helper()
	var held []string
	for _, k := range keys {
		n, err := c.Exists(context.Background(), k).Result()
		if err != nil {
			t.Errorf("EXISTS %s: %v", k, err)
		}
		if n > 0 {
			held = append(held, k)
		}
	}
	return held
}

// logRecorder is a slog.Handler that keeps the records.
type logRecorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecorder) WithGroup(string) slog.Handler            { return l }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.recs = append(l.recs, r.Clone())
	l.mu.Unlock()
	return nil
}

// warnings returns the warnings logged, each with its attributes.
func (l *logRecorder) warnings() []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var w []map[string]any
	for _, r := range l.recs {
		if r.Level != slog.LevelWarn {
			continue
		}
		attrs := map[string]any{"msg": r.Message}
		r.Attrs(func(a slog.Attr) bool {
			attrs[a.Key] = a.Value.Any()
			return true
		})
		w = append(w, attrs)
	}
	return w
}

// TestDeleteDown deletes while Redis is down and the breaker open: the
// deletes succeed, and when Redis is back every one of them, also one
// made while the remembered ones were being sent, has reached it before
// the breaker closes.
func TestDeleteDown(t *testing.T) {
	srv := startDurableRedis(t)
	raw := srv.Client(t)
	ctx := context.Background()
	var atClose []string // keys Redis held when the breaker closed
	changes := make(states, 10)
	// The default Timeout: Redis is killed, not frozen, so calls fail at
	// once, and the calls made while it works must not fail for a slow
	// machine.
	s := newStore(t, srv, Options{OnStateChange: func(up bool) {
		if up {
			atClose = exists(t, raw, "sluice:k1", "sluice:k2", "sluice:late", "sluice:kept")
		}
		changes <- up
	}})
	s.mu.Lock()
	s.minBackoff = 50 * time.Millisecond
	s.mu.Unlock()
	for _, k := range []string{"k1", "k2", "late", "kept"} {
		put(t, s, k, hashedMeta(nil, k), nil)
	}
	var once sync.Once
	s.deletes.afterBatch = func() { // a Delete while the remembered ones are sent
		once.Do(func() {
			if err := s.Delete(ctx, "late"); err != nil {
				t.Errorf("Delete while the remembered deletes are sent: %v", err)
			}
		})
	}

	srv.Kill()
	tripBreaker(t, s)
	changes.expect(t, false, 5*time.Second)
	for _, k := range []string{"k1", "k2"} {
		start := time.Now()
		if err := s.Delete(ctx, k); err != nil {
			t.Errorf("Delete(%q) with the breaker open: got %v, want nil", k, err)
		}
		if took := time.Since(start); took > atOnce {
			t.Errorf("Delete(%q) with the breaker open took %v, want at most %v", k, took, atOnce)
		}
	}
	if n := s.deletes.n.Load(); n != 2 {
		t.Errorf("deletes remembered: got %d, want 2", n)
	}
	if _, err := s.Get(ctx, "k1"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Get of a deleted key with the breaker open: got %v, want ErrUnavailable", err)
	}

	srv.Restart()
	changes.expect(t, true, 10*time.Second)
	if !slices.Equal(atClose, []string{"sluice:kept"}) {
		t.Errorf("Redis held %q when the breaker closed, want only sluice:kept", atClose)
	}
	if n := s.deletes.n.Load(); n != 0 {
		t.Errorf("deletes remembered after recovery: got %d, want 0", n)
	}
	checkMissing(t, s, "k1")
	get(t, s, "kept")
	if st := s.Stats(); st.Entries != 1 {
		t.Errorf("Stats after the remembered deletes: got %+v, want 1 entry", st)
	}
}

// TestDeleteFailsOnTheWay has a DEL fail while the breaker stays closed:
// the key reads as deleted here at once, and the DEL is sent again once
// Redis answers, without the breaker opening.
func TestDeleteFailsOnTheWay(t *testing.T) {
	srv := startDurableRedis(t)
	raw := srv.Client(t)
	ctx := context.Background()
	changes := make(states, 10)
	// The default Timeout: the retry must not fail for a slow machine
	// (that would be the third failure, which opens the breaker).
	s := newStore(t, srv, Options{OnStateChange: func(up bool) { changes <- up }})
	s.mu.Lock()
	s.minBackoff = time.Second // time to restart Redis, on a loaded machine too, before the retry
	s.mu.Unlock()
	put(t, s, "gone", hashedMeta(nil, "g"), nil)
	put(t, s, "kept", hashedMeta(nil, "k"), nil)

	srv.Kill()
	if err := s.Delete(ctx, "gone"); err != nil {
		t.Fatalf("Delete with Redis down: got %v, want nil", err)
	}
	if !s.Healthy() {
		t.Fatalf("one failed Delete opened the breaker")
	}
	checkMissing(t, s, "gone") // without asking Redis
	srv.Restart()
	if got := exists(t, raw, "sluice:gone"); len(got) != 1 {
		t.Fatalf("Redis restarted without the key: the test cannot tell whether the DEL is sent again")
	}
	for deadline := time.Now().Add(10 * time.Second); s.deletes.n.Load() != 0; {
		if time.Now().After(deadline) {
			t.Fatalf("the remembered delete was not sent")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := exists(t, raw, "sluice:gone", "sluice:kept"); !slices.Equal(got, []string{"sluice:kept"}) {
		t.Errorf("Redis holds %q after the retry, want only sluice:kept", got)
	}
	changes.expectNone(t)
}

// TestDeleteRemembered checks what this instance makes of a key whose
// DEL it remembers while Redis still holds the value: it is missing to
// Get, Update, UpdateFunc and Keys, until a Commit replaces it.
func TestDeleteRemembered(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	s := newStore(t, srv, Options{})
	other := newStore(t, srv, Options{})
	body := []byte("body")
	put(t, s, "k", hashedMeta(body, "k"), body)
	s.deletes.mu.Lock()
	s.deletes.add("sluice:k") // as if its DEL had failed, with no drainer to send it
	s.deletes.mu.Unlock()
	get(t, other, "k") // still in Redis

	tests := []struct {
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
		{"Update", func() error { return s.Update(ctx, "k", hashedMeta(body, "u")) }},
		{"UpdateFunc", func() error {
			return s.UpdateFunc(ctx, "k", func(m *store.Meta) (*store.Meta, bool) { return m, true })
		}},
		{"Keys", func() error {
			var keys []string
			s.Keys(ctx, func(k string) bool { keys = append(keys, k); return true })
			if len(keys) > 0 {
				return errors.New("listed")
			}
			return store.ErrNotFound
		}},
	}
	for _, tt := range tests {
		if err := tt.do(); !errors.Is(err, store.ErrNotFound) || errors.Is(err, ErrReplaced) {
			t.Errorf("%s of a key whose DEL is remembered: got %v, want store.ErrNotFound", tt.name, err)
		}
	}
	put(t, s, "k", hashedMeta(body, "new"), body)
	if got := get(t, s, "k").Meta().Header.Get("Etag"); got != `"new"` {
		t.Errorf("Get after a Commit replaced the remembered key: ETag %s, want \"new\"", got)
	}
	if n := s.deletes.n.Load(); n != 0 {
		t.Errorf("deletes remembered after the Commit: got %d, want 0", n)
	}
}

// TestDeleteOverflow remembers more deletes than there is room for: the
// rest are lost, with one warning giving their number when Redis is
// back.
func TestDeleteOverflow(t *testing.T) {
	srv := startDurableRedis(t)
	raw := srv.Client(t)
	ctx := context.Background()
	logs := &logRecorder{}
	changes := make(states, 10)
	s := newStore(t, srv, Options{Logger: slog.New(logs), OnStateChange: func(up bool) { changes <- up }})
	s.mu.Lock()
	s.minBackoff = 50 * time.Millisecond
	s.mu.Unlock()
	s.deletes.limit = 2
	keys := []string{"k1", "k2", "k3", "k4", "k5"}
	for _, k := range keys {
		put(t, s, k, hashedMeta(nil, k), nil)
	}
	srv.Kill()
	tripBreaker(t, s)
	changes.expect(t, false, 5*time.Second)
	for _, k := range keys {
		if err := s.Delete(ctx, k); err != nil {
			t.Errorf("Delete(%q): got %v, want nil", k, err)
		}
	}
	s.Delete(ctx, "k1") // remembered already: takes no room
	if n := s.deletes.n.Load(); n != 2 {
		t.Errorf("deletes remembered: got %d, want 2", n)
	}
	srv.Restart()
	changes.expect(t, true, 10*time.Second)
	if got := exists(t, raw, "sluice:k1", "sluice:k2", "sluice:k3", "sluice:k4", "sluice:k5"); !slices.Equal(got, []string{"sluice:k3", "sluice:k4", "sluice:k5"}) {
		t.Errorf("Redis holds %q, want the three deletes not remembered", got)
	}
	var lost []any
	for _, w := range logs.warnings() {
		if n, ok := w["lost"]; ok {
			lost = append(lost, n)
		}
	}
	if len(lost) != 1 || lost[0] != int64(3) {
		t.Errorf("warnings with the number of deletes lost: got %v, want one, of 3", lost)
	}
}
