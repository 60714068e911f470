package fleet

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"sluice/internal/cache/store"
	"sluice/internal/cache/store/mem"
	"sluice/internal/redistest"
	"sluice/internal/testwait"
)

// instance is one member of a test fleet: its local tier and its Bus.
type instance struct {
	local *mem.Store
	bus   *Bus

	mu     sync.Mutex
	purged []string // hosts peers asked it to purge
}

func newInstance(t *testing.T, srv *redistest.Server) *instance {
	t.Helper()
	in := &instance{local: mem.New(mem.Options{Capacity: 1 << 20, MaxObjectSize: 1 << 16})}
	in.bus = New(Options{
		Client: srv.Client(t),
		Stream: "test:invalidate",
		Local:  in.local,
		PurgeHost: func(_ context.Context, host string) (int, error) {
			in.mu.Lock()
			in.purged = append(in.purged, host)
			in.mu.Unlock()
			return 1, nil
		},
		Timeout: 200 * time.Millisecond,
	})
	t.Cleanup(func() { in.bus.Close(); in.local.Close() })
	waitFor(t, "the bus to subscribe", in.bus.Subscribed)
	return in
}

func (in *instance) put(t *testing.T, key string) {
	t.Helper()
	w, err := in.local.Create(context.Background(), key, &store.Meta{Status: 200, Header: http.Header{}})
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("body of " + key))
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
}

func (in *instance) has(key string) bool {
	e, err := in.local.Get(context.Background(), key)
	if err != nil {
		return false
	}
	e.Close()
	return true
}

func (in *instance) purgedHosts() []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]string(nil), in.purged...)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testwait.Until(t, what, 10*time.Second, cond)
}

func TestInvalidationReachesPeers(t *testing.T) {
	srv := redistest.Start(t)
	a, b, c := newInstance(t, srv), newInstance(t, srv), newInstance(t, srv)
	const key = "http://example.com/page"
	for _, in := range []*instance{a, b, c} {
		in.put(t, key)
		in.put(t, "http://example.com/other")
	}
	a.bus.Invalidated(key)
	waitFor(t, "b and c to drop the key", func() bool { return !b.has(key) && !c.has(key) })
	// Each counter moves just after its side's work: b may drop the key
	// before a has counted the message sent, and before b has counted it
	// received. (Checked before readPast adds messages.)
	waitFor(t, "a to count the message sent", func() bool { return a.bus.Stats().Sent >= 1 })
	waitFor(t, "b to count the message received", func() bool { return b.bus.Stats().Received >= 1 })
	if got := a.bus.Stats().Sent; got != 1 {
		t.Errorf("a sent %d, want 1", got)
	}
	if got := b.bus.Stats().Received; got != 1 {
		t.Errorf("b received %d, want 1", got)
	}
	// The sender's own message is not applied to it (it deletes its own
	// copy through the cache), and other keys stay.
	readPast(t, c, a)
	if !a.has(key) {
		t.Error("the announcing instance applied its own message")
	}
	for _, in := range []*instance{a, b, c} {
		if !in.has("http://example.com/other") {
			t.Error("a key that was not announced was dropped")
		}
	}

	b.bus.PurgedHost("example.com")
	waitFor(t, "a and c to purge the host", func() bool {
		return len(a.purgedHosts()) == 1 && len(c.purgedHosts()) == 1
	})
	if got := a.purgedHosts()[0]; got != "example.com" {
		t.Errorf("a purged %q, want example.com", got)
	}
	readPast(t, a, b)
	if got := b.purgedHosts(); len(got) != 0 {
		t.Errorf("b applied its own host purge: %v", got)
	}
}

// readPast waits until to has read every message published before now:
// from announces a key that only to holds, and to drops it. The stream is
// read in order, so to has then also passed over its own messages.
func readPast(t *testing.T, from, to *instance) {
	t.Helper()
	marker := "http://marker.example/" + t.Name()
	to.put(t, marker)
	from.bus.Invalidated(marker)
	waitFor(t, "a later message to be applied", func() bool { return !to.has(marker) })
}

// TestHeldWhileRedisIsAway kills Redis, announces, restarts it: the
// announcement is published once Redis answers and the peer, once
// resubscribed, applies it.
func TestHeldWhileRedisIsAway(t *testing.T) {
	srv := redistest.Start(t)
	a, b := newInstance(t, srv), newInstance(t, srv)
	const key = "http://example.com/held"
	b.put(t, key)

	srv.Kill()
	waitFor(t, "b to notice Redis is gone", func() bool { return !b.bus.Subscribed() })
	a.bus.Invalidated(key)
	time.Sleep(300 * time.Millisecond) // a's first attempt fails
	if got := a.bus.Stats().Sent; got != 0 {
		t.Fatalf("sent %d with Redis down", got)
	}
	srv.Restart()
	waitFor(t, "b to resubscribe", b.bus.Subscribed)
	waitFor(t, "a to publish", func() bool { return a.bus.Stats().Sent == 1 })
	waitFor(t, "b to apply the held invalidation", func() bool { return !b.has(key) })
}

func TestDroppedWhenTooManyWait(t *testing.T) {
	srv := redistest.Start(t)
	a := newInstance(t, srv)
	srv.Kill()
	for i := 0; i < maxPendingKeys+10; i++ {
		a.bus.Invalidated("k")
	}
	a.bus.PurgedHost("example.com") // hosts have their own room
	if got := a.bus.Stats().Dropped; got < 10 {
		t.Errorf("dropped %d, want at least 10", got)
	}
	a.bus.mu.Lock()
	n, keys := len(a.bus.pending), a.bus.keys
	a.bus.mu.Unlock()
	if keys > maxPendingKeys || n-keys != 1 {
		t.Errorf("pending %d of which %d keys; want at most %d keys and the host", n, keys, maxPendingKeys)
	}
}

func TestStoreAnnouncesDeletes(t *testing.T) {
	srv := redistest.Start(t)
	a, b := newInstance(t, srv), newInstance(t, srv)
	const key = "http://example.com/x"
	a.put(t, key)
	b.put(t, key)
	s := Announcing(a.local, a.bus)
	if err := s.Delete(context.Background(), key); err != nil {
		t.Fatal(err)
	}
	if a.has(key) {
		t.Error("Delete left the entry in the wrapped store")
	}
	waitFor(t, "b to drop the key", func() bool { return !b.has(key) })
	if err := s.Keys(context.Background(), func(string) bool { return true }); errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Keys of a listing store: %v", err)
	}
}
