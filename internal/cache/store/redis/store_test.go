package redisstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"path"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"sluice/internal/cache/store"
	"sluice/internal/cache/store/storetest"
	"sluice/internal/redistest"
)

// notApplicable are the conformance subtests about a byte budget the
// store itself enforces. Redis's maxmemory is the budget of this tier,
// and Redis evicts; Stats cannot report a Capacity (TestStats covers
// what Stats does report).
var notApplicable = map[string]string{
	"Eviction":               "Redis, not the store, bounds memory and evicts",
	"RecentlyUsedSurvives":   "Redis, not the store, bounds memory and evicts",
	"ReaderOutlivesEviction": "Redis, not the store, bounds memory and evicts",
	"Stats":                  "Capacity is Redis's maxmemory, not the store's; see TestStats",
}

func TestConformance(t *testing.T) {
	srv := redistest.Start(t)
	conformance(t, func(t *testing.T) redis.UniversalClient { return srv.Client(t) }, false)
}

// TestConformanceAsync runs the suite with AsyncCommit: the store reads
// back what it queued, Delete cancels queued values, Update waits for
// them and Keys flushes them, so the suite's expectations hold as they
// do with a Commit that waits. Only Stats lags (it counts values Redis
// stored), so the suite's Stats flushes first.
func TestConformanceAsync(t *testing.T) {
	srv := redistest.Start(t)
	conformance(t, func(t *testing.T) redis.UniversalClient { return srv.Client(t) }, true)
}

// flushedStats is a Store whose Stats first waits for the queued values.
type flushedStats struct{ *Store }

func (s flushedStats) Stats() store.Stats {
	s.Flush(context.Background())
	return s.Store.Stats()
}

// TestConformanceCluster runs the suite on a Redis Cluster of one node
// holding every slot: commands, the update script and the transactions
// go through the cluster client, and Keys scans each master.
func TestConformanceCluster(t *testing.T) {
	srv := redistest.StartCluster(t)
	conformance(t, func(t *testing.T) redis.UniversalClient {
		cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{srv.Addr}, ContextTimeoutEnabled: true})
		t.Cleanup(func() { cc.Close() })
		return cc
	}, false)
}

// conformance runs the store suite on stores whose clients newClient
// returns, with AsyncCommit or without.
func conformance(t *testing.T, newClient func(t *testing.T) redis.UniversalClient, async bool) {
	const maxObject = 3 << 20
	var mu sync.Mutex
	prefixes := map[string]string{} // dir → prefix, so a reopened store finds its keys
	storetest.Run(t, storetest.Factory{
		Open: func(t *testing.T, dir string, capacity int64) store.Store {
			if why, ok := notApplicable[path.Base(t.Name())]; ok {
				t.Skip(why)
			}
			mu.Lock()
			p, ok := prefixes[dir]
			if !ok {
				p = fmt.Sprintf("conformance%d:", len(prefixes))
				prefixes[dir] = p
			}
			mu.Unlock()
			// A generous timeout: this is about semantics, and the
			// race detector is slow.
			s := New(Options{Client: newClient(t), Prefix: p, MaxObjectSize: maxObject, Timeout: 2 * time.Second, AsyncCommit: async})
			if async {
				return flushedStats{s}
			}
			return s
		},
		// Redis keeps entries across Close (TestShared reads one
		// instance's entries from another), but Stats counts only an
		// instance's own writes, so Reopen's count would be 0.
		Persistent:    false,
		MaxObjectSize: maxObject,
	})
}

// newStore returns a store on srv, closed when t ends.
func newStore(t testing.TB, srv *redistest.Server, o Options) *Store {
	t.Helper()
	if o.Client == nil {
		o.Client = srv.Client(t)
	}
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Second
	}
	s := New(o)
	t.Cleanup(func() { s.Close() })
	return s
}

const sumHeader = "X-Body-Sha256"

// hashedMeta returns a meta that carries a hash of body, so that a
// reader can tell whether the body it got belongs to the meta it got.
func hashedMeta(body []byte, tag string) *store.Meta {
	sum := sha256.Sum256(body)
	return &store.Meta{
		Status: 200,
		Header: http.Header{
			"Content-Type": {"application/octet-stream"},
			"Etag":         {`"` + tag + `"`},
			sumHeader:      {hex.EncodeToString(sum[:])},
		},
		RequestTime:  time.Unix(1700000000, 1),
		ResponseTime: time.Unix(1700000001, 2),
	}
}

// verify checks that e's body matches the hash in e's meta.
func verify(e store.Entry) error {
	b := make([]byte, e.Size())
	if n, err := e.ReadAt(b, 0); n != len(b) || (err != nil && err != io.EOF) {
		return fmt.Errorf("ReadAt: %d of %d bytes, %v", n, len(b), err)
	}
	sum := sha256.Sum256(b)
	if got, want := hex.EncodeToString(sum[:]), e.Meta().Header.Get(sumHeader); got != want {
		return fmt.Errorf("body of %d bytes hashes to %.12s, meta says %.12s", len(b), got, want)
	}
	return nil
}

func put(t testing.TB, s store.Store, key string, meta *store.Meta, body []byte) {
	t.Helper()
	w, err := s.Create(context.Background(), key, meta)
	if err != nil {
		t.Fatalf("Create(%q): %v", key, err)
	}
	defer w.Abort()
	if _, err := w.Write(body); err != nil {
		t.Fatalf("Write(%q): %v", key, err)
	}
	if err := w.Commit(); err != nil {
		t.Fatalf("Commit(%q): %v", key, err)
	}
}

func get(t testing.TB, s store.Store, key string) store.Entry {
	t.Helper()
	e, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func checkMissing(t testing.TB, s store.Store, key string) {
	t.Helper()
	if e, err := s.Get(context.Background(), key); !errors.Is(err, store.ErrNotFound) {
		if err == nil {
			e.Close()
		}
		t.Fatalf("Get(%q): got %v, want store.ErrNotFound", key, err)
	}
}

// randomBody returns n bytes drawn from rng.
func randomBody(rng *rand.Rand, n int) []byte {
	var seed [32]byte
	for i := range 4 {
		binary.LittleEndian.PutUint64(seed[8*i:], rng.Uint64())
	}
	b := make([]byte, n)
	rand.NewChaCha8(seed).Read(b)
	return b
}

// TestShared checks that two instances on one Redis share entries:
// what one commits, updates or deletes, the other sees.
func TestShared(t *testing.T) {
	srv := redistest.Start(t)
	a, b := newStore(t, srv, Options{}), newStore(t, srv, Options{})
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1000, firstRead - headerSize - 200, 300_000} { // one read, around the first read, two reads
		key := fmt.Sprintf("http://example.com/%d", n)
		body := randomBody(rng, n)
		put(t, a, key, hashedMeta(body, "a"), body)
		e := get(t, b, key)
		if err := verify(e); err != nil {
			t.Fatalf("%d bytes committed by a, read by b: %v", n, err)
		}
		if e.Tier() != "redis" {
			t.Errorf("Tier: got %q, want %q", e.Tier(), "redis")
		}
		m := hashedMeta(body, "a")
		m.Header.Set("Age", "7")
		if err := b.Update(ctx, key, m); err != nil {
			t.Fatalf("b.Update: %v", err)
		}
		if got := get(t, a, key).Meta().Header.Get("Age"); got != "7" {
			t.Errorf("a sees Age %q after b's Update, want %q", got, "7")
		}
		if err := b.Delete(ctx, key); err != nil {
			t.Fatal(err)
		}
		checkMissing(t, a, key)
		if err := verify(e); err != nil { // held across the other's Delete
			t.Errorf("entry held across Delete: %v", err)
		}
	}
	put(t, a, "listed", hashedMeta(nil, "l"), nil)
	var keys []string
	if err := b.Keys(ctx, func(k string) bool { keys = append(keys, k); return true }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(keys, []string{"listed"}) {
		t.Errorf("b.Keys: got %q, want [listed]", keys)
	}
}

// TestConcurrentFills has two instances fill one key at once with
// different bodies, while readers on both check that every body read
// belongs to the meta read with it. Some bodies need two reads, so a
// replacement between them is exercised too.
func TestConcurrentFills(t *testing.T) {
	srv := redistest.Start(t)
	stores := []*Store{newStore(t, srv, Options{}), newStore(t, srv, Options{})}
	ctx := context.Background()
	const key = "http://example.com/hot"
	var (
		wg, readers sync.WaitGroup
		stop        atomic.Bool
		reads, hits atomic.Int64
	)
	errs := make(chan error, 100)
	for i, s := range stores {
		for g := range 3 {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(i), uint64(g)))
				for j := range 150 {
					n := rng.IntN(3 * firstRead) // below and above the first read
					body := randomBody(rng, n)
					w, err := s.Create(ctx, key, hashedMeta(body, fmt.Sprint(i, g, j)))
					if err != nil {
						errs <- err
						return
					}
					w.Write(body)
					if err := w.Commit(); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		for range 3 {
			readers.Go(func() {
				for !stop.Load() {
					reads.Add(1)
					e, err := s.Get(ctx, key)
					if errors.Is(err, store.ErrNotFound) {
						continue
					}
					if err != nil {
						errs <- err
						return
					}
					hits.Add(1)
					err = verify(e)
					e.Close()
					if err != nil {
						errs <- err
						return
					}
				}
			})
		}
	}
	wg.Wait()
	stop.Store(true)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%d reads, %d hits", reads.Load(), hits.Load())
	if hits.Load() == 0 {
		t.Errorf("no read found an entry")
	}
}

// TestUpdateIf checks that a conditional Update lands only on the body
// the caller read.
func TestUpdateIf(t *testing.T) {
	srv := redistest.Start(t)
	a, b := newStore(t, srv, Options{}), newStore(t, srv, Options{})
	ctx := context.Background()
	v1, v2 := []byte("first body"), []byte("second, longer body")
	put(t, a, "k", hashedMeta(v1, "1"), v1)
	e1 := get(t, a, "k").(*entry)
	put(t, b, "k", hashedMeta(v2, "2"), v2) // another instance refills
	stale := hashedMeta(v1, "1")
	stale.Header.Set("Age", "1")
	if err := a.UpdateIf(ctx, "k", e1.Generation(), stale); !errors.Is(err, ErrReplaced) || !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("UpdateIf with the replaced body's generation: got %v, want ErrReplaced (a store.ErrNotFound)", err)
	}
	e2 := get(t, a, "k").(*entry)
	if err := verify(e2); err != nil {
		t.Fatalf("after a refused UpdateIf: %v", err)
	}
	fresh := hashedMeta(v2, "2")
	fresh.Header.Set("Age", "2")
	if err := a.UpdateIf(ctx, "k", e2.Generation(), fresh); err != nil {
		t.Fatalf("UpdateIf with the current generation: %v", err)
	}
	e3 := get(t, b, "k").(*entry)
	if err := verify(e3); err != nil {
		t.Fatal(err)
	}
	if got := e3.Meta().Header.Get("Age"); got != "2" {
		t.Errorf("Age after UpdateIf: got %q, want %q", got, "2")
	}
	if e3.Generation() != e2.Generation() {
		t.Errorf("UpdateIf changed the generation")
	}
	if err := a.UpdateIf(ctx, "missing", e3.Generation(), fresh); !errors.Is(err, store.ErrNotFound) || errors.Is(err, ErrReplaced) {
		t.Errorf("UpdateIf of a missing key: got %v, want store.ErrNotFound", err)
	}
}

// TestUpdateFunc checks that UpdateFunc hands fn the stored metadata
// and writes fn's result only onto the object and metadata fn saw.
func TestUpdateFunc(t *testing.T) {
	srv := redistest.Start(t)
	a, b := newStore(t, srv, Options{}), newStore(t, srv, Options{})
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(5, 6))
	v1, v2 := randomBody(rng, 100), randomBody(rng, 2*firstRead) // v2's meta needs no second read; its body does
	bigMeta := hashedMeta(v1, "big")
	bigMeta.Header.Set("X-Padding", string(bytes.Repeat([]byte("p"), firstRead))) // a meta beyond the first read
	age := func(n string) func(*store.Meta) (*store.Meta, bool) {
		return func(m *store.Meta) (*store.Meta, bool) {
			m.Header.Set("Age", n)
			return m, true
		}
	}
	for _, m := range []*store.Meta{hashedMeta(v1, "1"), bigMeta} {
		put(t, a, "k", m, v1)
		var seen string
		err := a.UpdateFunc(ctx, "k", func(stored *store.Meta) (*store.Meta, bool) {
			seen = stored.Header.Get("Etag")
			stored.Header.Set("Age", "1")
			return stored, true
		})
		if err != nil {
			t.Fatalf("UpdateFunc: %v", err)
		}
		if want := m.Header.Get("Etag"); seen != want {
			t.Errorf("fn was given ETag %s, want %s", seen, want)
		}
		e := get(t, b, "k")
		if err := verify(e); err != nil {
			t.Fatal(err)
		}
		if got := e.Meta().Header.Get("Age"); got != "1" {
			t.Errorf("Age after UpdateFunc: got %q, want %q", got, "1")
		}
	}

	// The object is replaced, or only its metadata updated, while fn
	// runs: nothing is written.
	for name, meanwhile := range map[string]func(){
		"replaced": func() { put(t, b, "k", hashedMeta(v2, "2"), v2) },
		"updated": func() {
			m := hashedMeta(v1, "1")
			m.Header.Set("Age", "5")
			if err := b.Update(ctx, "k", m); err != nil {
				t.Fatal(err)
			}
		},
	} {
		put(t, a, "k", hashedMeta(v1, "1"), v1)
		err := a.UpdateFunc(ctx, "k", func(stored *store.Meta) (*store.Meta, bool) {
			meanwhile()
			return age("9")(stored)
		})
		if !errors.Is(err, ErrReplaced) {
			t.Errorf("UpdateFunc with the object %s meanwhile: got %v, want ErrReplaced", name, err)
		}
		e := get(t, a, "k")
		if err := verify(e); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := e.Meta().Header.Get("Age"); got == "9" {
			t.Errorf("%s meanwhile: UpdateFunc wrote anyway", name)
		}
	}

	if err := a.UpdateFunc(ctx, "k", func(*store.Meta) (*store.Meta, bool) { return nil, false }); !errors.Is(err, ErrReplaced) {
		t.Errorf("UpdateFunc with fn refusing: got %v, want ErrReplaced", err)
	}
	if err := a.UpdateFunc(ctx, "missing", age("1")); !errors.Is(err, store.ErrNotFound) || errors.Is(err, ErrReplaced) {
		t.Errorf("UpdateFunc of a missing key: got %v, want store.ErrNotFound", err)
	}
}

// TestUpdateRace revalidates on one instance (Get, then a conditional
// update with what it got) while another keeps replacing the entry with
// new bodies: every read finds a body matching its meta. (An
// unconditional Update fails this test: it puts the headers of one body
// on another.)
func TestUpdateRace(t *testing.T) {
	conditional := map[string]func(s *Store, e store.Entry) error{
		"UpdateIf": func(s *Store, e store.Entry) error {
			m := e.Meta() // a 304 refreshes what was read
			m.Header.Set("Age", "1")
			return s.UpdateIf(context.Background(), "k", e.(*entry).Generation(), m)
		},
		"UpdateFunc": func(s *Store, e store.Entry) error {
			etag := e.Meta().Header.Get("Etag")
			return s.UpdateFunc(context.Background(), "k", func(stored *store.Meta) (*store.Meta, bool) {
				if stored.Header.Get("Etag") != etag { // the 304's validator does not match
					return nil, false
				}
				stored.Header.Set("Age", "1")
				return stored, true
			})
		},
	}
	srv := redistest.Start(t)
	for name, update := range conditional {
		t.Run(name, func(t *testing.T) {
			a, b := newStore(t, srv, Options{}), newStore(t, srv, Options{})
			ctx := context.Background()
			const key = "k"
			put(t, a, key, hashedMeta(nil, "0"), nil)
			var stop atomic.Bool
			var wg sync.WaitGroup
			errs := make(chan error, 2) // one from each goroutine at most
			halt := func() {
				stop.Store(true)
				wg.Wait()
			}
			// Also when t.Fatal ends the test early.
			defer halt()
			wg.Go(func() { // replacer
				rng := rand.New(rand.NewPCG(3, 4))
				for i := 0; !stop.Load(); i++ {
					body := randomBody(rng, rng.IntN(20_000))
					w, err := b.Create(ctx, key, hashedMeta(body, strconv.Itoa(i)))
					if err != nil {
						errs <- err
						return
					}
					w.Write(body)
					if err := w.Commit(); err != nil {
						errs <- err
						return
					}
				}
			})
			wg.Go(func() { // reader
				for !stop.Load() {
					e, err := b.Get(ctx, key)
					if err != nil {
						errs <- err
						return
					}
					if err := verify(e); err != nil {
						errs <- err
						return
					}
				}
			})
			var updated, refused int
			for range 300 {
				e, err := a.Get(ctx, key)
				if err != nil {
					t.Fatal(err)
				}
				switch err := update(a, e); {
				case err == nil:
					updated++
				case errors.Is(err, ErrReplaced):
					refused++
				default:
					t.Fatal(err)
				}
			}
			halt()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			// How many apply while the replacer runs depends on the
			// scheduler (none on one CPU); with it stopped, one must.
			t.Logf("%d updates applied, %d refused as replaced", updated, refused)
			if err := update(a, get(t, a, key)); err != nil {
				t.Errorf("an update with nothing racing it: %v", err)
			}
			if err := verify(get(t, a, key)); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestExpiry checks that values expire after TTL(meta), that Update
// restarts the expiry, and that a TTL ≤ 0 removes the key.
func TestExpiry(t *testing.T) {
	srv := redistest.Start(t)
	client := srv.Client(t)
	ttl := func(m *store.Meta) time.Duration {
		d, _ := time.ParseDuration(m.Header.Get("X-Ttl"))
		return d
	}
	s := newStore(t, srv, Options{Client: client, Prefix: "exp:", TTL: ttl})
	ctx := context.Background()
	withTTL := func(d string) *store.Meta {
		m := hashedMeta([]byte("b"), "e")
		m.Header.Set("X-Ttl", d)
		return m
	}
	pttl := func() time.Duration {
		d, err := client.PTTL(ctx, "exp:k").Result()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	put(t, s, "k", withTTL("90s"), []byte("b"))
	if d := pttl(); d <= 80*time.Second || d > 90*time.Second {
		t.Errorf("PTTL after Commit with TTL 90s: got %v", d)
	}
	if err := s.Update(ctx, "k", withTTL("1h")); err != nil {
		t.Fatal(err)
	}
	if d := pttl(); d <= 59*time.Minute || d > time.Hour {
		t.Errorf("PTTL after Update with TTL 1h: got %v", d)
	}
	if err := s.Update(ctx, "k", withTTL("0s")); err != nil {
		t.Fatal(err)
	}
	checkMissing(t, s, "k")
	put(t, s, "k", withTTL("90s"), []byte("b"))
	put(t, s, "k", withTTL("-1s"), []byte("b")) // replaces, and is useless
	checkMissing(t, s, "k")
	if st := s.Stats(); st.Entries != 0 || st.Bytes != 0 {
		t.Errorf("Stats after useless objects: got %+v, want none", st)
	}

	d := newStore(t, srv, Options{Client: client, Prefix: "default:"})
	put(t, d, "k", withTTL("1s"), []byte("b"))
	if got, err := client.PTTL(ctx, "default:k").Result(); err != nil || got <= DefaultTTL-time.Minute || got > DefaultTTL {
		t.Errorf("PTTL with the default TTL: got %v, %v, want about %v", got, err, DefaultTTL)
	}
}

// TestKeysPrefix checks that Keys lists the keys under the store's
// prefix only, even when the prefix holds SCAN's glob characters.
func TestKeysPrefix(t *testing.T) {
	srv := redistest.Start(t)
	client := srv.Client(t)
	ctx := context.Background()
	s := newStore(t, srv, Options{Client: client, Prefix: `c*ch[e]\:`})
	other := newStore(t, srv, Options{Client: client})
	want := []string{"http://a.example/", "http://b.example/x?y", "k\x00variant", ""}
	for _, k := range want {
		put(t, s, k, hashedMeta(nil, "k"), nil)
	}
	put(t, other, "http://a.example/", hashedMeta(nil, "o"), nil)
	// Keys the unescaped pattern c*ch[e]\:* would match.
	for _, k := range []string{`cXche:1`, `c*che\:2`, `c*ch[e]\`, `c*ch[e]:3`} {
		if err := client.Set(ctx, k, "x", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	if err := s.Keys(ctx, func(k string) bool { got = append(got, k); return true }); err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("Keys: got %q, want %q", got, want)
	}
}

// TestNotAnEntry checks that values Get cannot use are misses: too large
// for this instance, not written by a store, truncated.
func TestNotAnEntry(t *testing.T) {
	srv := redistest.Start(t)
	client := srv.Client(t)
	ctx := context.Background()
	big := newStore(t, srv, Options{Client: client, MaxObjectSize: 4 << 20})
	small := newStore(t, srv, Options{Client: client, MaxObjectSize: 1 << 20})
	body := make([]byte, 2<<20)
	put(t, big, "big", hashedMeta(body, "b"), body)
	verify(get(t, big, "big"))
	checkMissing(t, small, "big") // not read: larger than small may hold

	put(t, big, "whole", hashedMeta(body[:100_000], "w"), body[:100_000])
	v, err := client.Get(ctx, "sluice:whole").Bytes()
	if err != nil {
		t.Fatal(err)
	}
	for name, value := range map[string][]byte{
		"foreign":     []byte("not an entry"),
		"empty":       {},
		"short":       v[:headerSize+10],
		"truncated":   v[:firstRead+10],
		"extra bytes": append(bytes.Clone(v), 0),
	} {
		if err := client.Set(ctx, "sluice:"+name, value, 0).Err(); err != nil {
			t.Fatal(err)
		}
		checkMissing(t, big, name)
		if err := big.Update(ctx, name, hashedMeta(nil, "u")); name == "foreign" && !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Update of a foreign value: got %v, want store.ErrNotFound", err)
		}
	}

	w, err := small.Create(ctx, "k", hashedMeta(nil, "big"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(body); !errors.Is(err, store.ErrTooLarge) {
		t.Errorf("Write of 2 MiB with MaxObjectSize 1 MiB: got %v, want store.ErrTooLarge", err)
	}
	huge := hashedMeta(nil, "h")
	huge.Header.Set("X-Huge", string(make([]byte, maxMetaSize)))
	if _, err := small.Create(ctx, "k", huge); !errors.Is(err, store.ErrTooLarge) {
		t.Errorf("Create with over 1 MiB of metadata: got %v, want store.ErrTooLarge", err)
	}
}

// TestStats checks Stats for an instance alone on its prefix: exact
// entries and bytes, no capacity.
func TestStats(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, srv, Options{})
	ctx := context.Background()
	if st := s.Stats(); st != (store.Stats{}) {
		t.Errorf("Stats of a new store: got %+v", st)
	}
	b := make([]byte, 10_000)
	m := hashedMeta(b, "s")
	for i := range 5 {
		put(t, s, fmt.Sprint("k", i), m, b)
	}
	valueLen := int64(headerSize + len(store.AppendMeta(nil, m)) + len(b))
	if st := s.Stats(); st.Entries != 5 || st.Bytes != 5*valueLen || st.Capacity != 0 || st.Evictions != 0 {
		t.Errorf("Stats after 5 commits: got %+v, want 5 entries, %d bytes", st, 5*valueLen)
	}
	put(t, s, "k0", m, b[:100]) // replaced
	if err := s.Update(ctx, "k1", m); err != nil {
		t.Fatal(err)
	}
	s.Delete(ctx, "k2")
	s.Delete(ctx, "k2")
	s.Delete(ctx, "never")
	if st := s.Stats(); st.Entries != 4 || st.Bytes != 4*valueLen-9900 {
		t.Errorf("Stats after replacing, updating, deleting: got %+v, want 4 entries, %d bytes", st, 4*valueLen-9900)
	}
	for i := range 5 {
		s.Delete(ctx, fmt.Sprint("k", i))
	}
	if st := s.Stats(); st != (store.Stats{}) {
		t.Errorf("Stats after deleting everything: got %+v", st)
	}
}

// TestFollowerSurvivesFailedCommit checks that readers following a
// writer get the whole body and io.EOF even when Redis refuses the
// value: sharing failed, the body did not.
func TestFollowerSurvivesFailedCommit(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, srv, Options{Timeout: 100 * time.Millisecond})
	body := bytes.Repeat([]byte("x"), 50_000)
	w, err := s.Create(context.Background(), "k", hashedMeta(body, "f"))
	if err != nil {
		t.Fatal(err)
	}
	r := w.NewReader()
	w.Write(body)
	srv.Kill()
	if err := w.Commit(); err == nil {
		t.Fatal("Commit with Redis killed succeeded")
	}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, body) {
		t.Errorf("follower of a failed Commit: %d bytes, %v; want %d bytes, no error", len(got), err, len(body))
	}
}
