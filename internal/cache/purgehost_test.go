package cache_test

// PurgeHost (the admin action "purge a whole host"): removes every stored
// response of one host, across schemes, ports and variants, from every
// tier, while requests go on; other hosts' responses stay.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"sluice/internal/cache"
	"sluice/internal/cache/store"
	"sluice/internal/cache/store/disk"
	"sluice/internal/cache/store/mem"
	"sluice/internal/cache/store/tiered"
)

// purgeKinds are the stores PurgeHost is tested over: each tier alone,
// and memory over disk as the binary stacks them.
var purgeKinds = []string{"mem", "disk", "tiered"}

// purgeWorld is a Cache over a store in front of one real origin that
// answers for every host: its transport sends each request there
// whatever the URL, so a test can store responses of any scheme, host
// and port.
type purgeWorld struct {
	t      testing.TB
	cache  *cache.Cache
	store  store.Store
	origin *httptest.Server

	mu      sync.Mutex
	fetched map[string]int // requests that reached the origin, by URL as asked
}

// newPurgeStore returns a store of kind whose persistent part, if any,
// lives in dir. The caller closes it.
func newPurgeStore(t testing.TB, kind, dir string) store.Store {
	t.Helper()
	var m *mem.Store
	if kind == "mem" || kind == "tiered" {
		m = mem.New(mem.Options{Capacity: 64 << 20})
		if kind == "mem" {
			return m
		}
	}
	d, err := disk.Open(disk.Options{Dir: dir, Capacity: 64 << 20, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if kind == "disk" {
		return d
	}
	return tiered.New(m, d)
}

// newPurgeWorld starts an origin and a Cache over st. The world closes
// the cache and the origin when the test ends, not the store.
func newPurgeWorld(t testing.TB, st store.Store) *purgeWorld {
	t.Helper()
	w := &purgeWorld{t: t, store: st, fetched: map[string]int{}}
	w.origin = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		u := r.Header.Get("X-Test-URL")
		w.mu.Lock()
		w.fetched[u]++
		n := w.fetched[u]
		w.mu.Unlock()
		rw.Header().Set("Cache-Control", "max-age=3600")
		if strings.Contains(u, "/vary") {
			rw.Header().Set("Vary", "Accept-Language")
		}
		fmt.Fprintf(rw, "%s #%d %s", u, n, r.Header.Get("Accept-Language"))
	}))
	t.Cleanup(w.origin.Close)
	w.cache = cache.New(cache.Options{Store: st, Next: toOrigin{w.origin.Listener.Addr().String(), w.origin.Client().Transport}})
	t.Cleanup(w.cache.Close)
	return w
}

// toOrigin sends every request to the origin at addr, telling it the URL
// asked for in X-Test-URL.
type toOrigin struct {
	addr string
	rt   http.RoundTripper
}

func (o toOrigin) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Test-URL", r.URL.String())
	r.URL.Scheme, r.URL.Host, r.Host = "http", o.addr, ""
	return o.rt.RoundTrip(r)
}

// get requests u through the cache (with Accept-Language lang, if not
// empty) and reports whether the request reached the origin.
func (w *purgeWorld) get(u, lang string) (fetched bool) {
	w.t.Helper()
	fetched, err := w.try(u, lang)
	if err != nil {
		w.t.Fatal(err)
	}
	return fetched
}

// try is get for any goroutine: it returns what went wrong.
func (w *purgeWorld) try(u, lang string) (fetched bool, err error) {
	r, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return false, err
	}
	if lang != "" {
		r.Header.Set("Accept-Language", lang)
	}
	before := w.count(u)
	resp, err := w.cache.RoundTrip(r)
	if err != nil {
		return false, fmt.Errorf("GET %s: %w", u, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(b), u+" #") {
		return false, fmt.Errorf("GET %s: status %d, body %q, error %v", u, resp.StatusCode, b, err)
	}
	return w.count(u) > before, nil
}

func (w *purgeWorld) count(u string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.fetched[u]
}

// fill stores each of urls, failing if one was stored already.
func (w *purgeWorld) fill(urls ...string) {
	w.t.Helper()
	for _, u := range urls {
		if !w.get(u, "") {
			w.t.Fatalf("setup: GET %s was a hit, want a miss", u)
		}
		if w.get(u, "") {
			w.t.Fatalf("setup: GET %s again reached the origin, want a hit", u)
		}
	}
}

// keys lists the store's keys.
func (w *purgeWorld) keys() []string {
	w.t.Helper()
	var keys []string
	err := w.store.(store.Lister).Keys(context.Background(), func(k string) bool {
		keys = append(keys, k)
		return true
	})
	if err != nil {
		w.t.Fatalf("Keys: %v", err)
	}
	return keys
}

// purgeURLs are stored before each case of TestPurgeHost.
var purgeURLs = []string{
	"http://example.com/a",
	"http://example.com/b?q=1",
	"https://example.com/a",
	"https://example.com:443/explicit", // stored without the port
	"http://example.com:8080/a",
	"http://example.com:443/odd",
	"http://EXAMPLE.com./dot",
	"http://www.example.com/a",
	"http://example.org/a",
	"http://notexample.com/a",
	"http://[::1]:8080/v6",
	"http://[0:0::1]/v6-long",
	"http://127.0.0.1:8080/v4",
	"http://xn--bcher-kva.example/idn",
}

func TestPurgeHost(t *testing.T) {
	t.Parallel()
	cases := []struct {
		host   string
		purged []string // the rest of purgeURLs stays
	}{
		{"example.com", []string{"http://example.com/a", "http://example.com/b?q=1", "https://example.com/a",
			"https://example.com:443/explicit", "http://example.com:8080/a", "http://example.com:443/odd", "http://EXAMPLE.com./dot"}},
		{" Example.COM. ", []string{"http://example.com/a", "http://example.com/b?q=1", "https://example.com/a",
			"https://example.com:443/explicit", "http://example.com:8080/a", "http://example.com:443/odd", "http://EXAMPLE.com./dot"}},
		{"example.com:8080", []string{"http://example.com:8080/a"}},
		{"example.com:443", []string{"https://example.com/a", "https://example.com:443/explicit", "http://example.com:443/odd"}},
		{"example.com:80", []string{"http://example.com/a", "http://example.com/b?q=1", "http://EXAMPLE.com./dot"}},
		{"www.example.com", []string{"http://www.example.com/a"}},
		{"::1", []string{"http://[::1]:8080/v6", "http://[0:0::1]/v6-long"}},
		{"[::1]:8080", []string{"http://[::1]:8080/v6"}},
		{"[::1]", []string{"http://[::1]:8080/v6", "http://[0:0::1]/v6-long"}},
		{"127.0.0.1", []string{"http://127.0.0.1:8080/v4"}},
		{"bücher.example", []string{"http://xn--bcher-kva.example/idn"}},
		{"XN--BCHER-KVA.example", []string{"http://xn--bcher-kva.example/idn"}},
		{"nothing.example", nil},
	}
	for _, kind := range purgeKinds {
		for _, tc := range cases {
			t.Run(kind+"/"+tc.host, func(t *testing.T) {
				t.Parallel()
				st := newPurgeStore(t, kind, t.TempDir())
				defer st.Close()
				w := newPurgeWorld(t, st)
				w.fill(purgeURLs...)
				removed, err := w.cache.PurgeHost(context.Background(), tc.host)
				if err != nil {
					t.Fatalf("PurgeHost(%q): %v", tc.host, err)
				}
				if removed != len(tc.purged) {
					t.Errorf("PurgeHost(%q) removed %d entries, want %d", tc.host, removed, len(tc.purged))
				}
				for _, u := range purgeURLs {
					want := slices.Contains(tc.purged, u)
					if got := w.get(u, ""); got != want {
						t.Errorf("after PurgeHost(%q), GET %s reached the origin: %v, want %v", tc.host, u, got, want)
					}
				}
				if got := w.cache.Stats().Purges; got != 1 {
					t.Errorf("Stats().Purges = %d, want 1", got)
				}
			})
		}
	}
}

// TestPurgeHostVariants checks that a host purge removes every variant
// of a URL whose responses vary, and its Vary marker.
func TestPurgeHostVariants(t *testing.T) {
	t.Parallel()
	for _, kind := range purgeKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			st := newPurgeStore(t, kind, t.TempDir())
			defer st.Close()
			w := newPurgeWorld(t, st)
			langs := []string{"en", "de", "fr"}
			for _, u := range []string{"http://a.example/vary", "http://b.example/vary"} {
				for _, lang := range langs {
					if !w.get(u, lang) || w.get(u, lang) {
						t.Fatalf("setup: %s in %s was not stored", u, lang)
					}
				}
			}
			removed, err := w.cache.PurgeHost(context.Background(), "a.example")
			if err != nil {
				t.Fatal(err)
			}
			if want := 1 + len(langs); removed != want { // the marker and each variant
				t.Errorf("PurgeHost removed %d entries, want %d", removed, want)
			}
			for _, lang := range langs {
				if !w.get("http://a.example/vary", lang) {
					t.Errorf("variant %s of the purged host survived", lang)
				}
				if w.get("http://b.example/vary", lang) {
					t.Errorf("variant %s of the other host was purged", lang)
				}
			}
		})
	}
}

// TestPurgeHostAfterRestart checks that entries stored before a restart
// are purged, even before the disk tier has finished indexing them.
func TestPurgeHostAfterRestart(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"disk", "tiered"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			var a, b []string
			for i := range 50 {
				a = append(a, fmt.Sprintf("http://a.example/%d", i))
				b = append(b, fmt.Sprintf("http://b.example:8080/%d", i))
			}
			st := newPurgeStore(t, kind, dir)
			w := newPurgeWorld(t, st)
			w.fill(a...)
			w.fill(b...)
			w.cache.Close()
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}

			st = newPurgeStore(t, kind, dir) // a new memory tier: empty
			defer st.Close()
			w = newPurgeWorld(t, st)
			removed, err := w.cache.PurgeHost(context.Background(), "A.example")
			if err != nil {
				t.Fatal(err)
			}
			if removed != len(a) {
				t.Errorf("PurgeHost after a restart removed %d entries, want %d", removed, len(a))
			}
			for _, u := range a {
				if !w.get(u, "") {
					t.Errorf("GET %s after PurgeHost was a hit, want a miss", u)
				}
			}
			for _, u := range b {
				if w.get(u, "") {
					t.Errorf("GET %s (another host) reached the origin, want a hit from before the restart", u)
				}
			}
		})
	}
}

// TestPurgeHostConcurrent purges a host again and again while other
// goroutines request its URLs and another host's: under the race
// detector, no request fails, and a last purge with nothing running
// leaves none of the host's entries.
func TestPurgeHostConcurrent(t *testing.T) {
	t.Parallel()
	for _, kind := range purgeKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			st := newPurgeStore(t, kind, t.TempDir())
			defer st.Close()
			w := newPurgeWorld(t, st)
			var other []string
			for i := range 20 {
				other = append(other, fmt.Sprintf("http://b.example/%d", i))
			}
			w.fill(other...)

			var stop atomic.Bool
			var reqs atomic.Int64
			var wg sync.WaitGroup
			for g := range 4 {
				wg.Go(func() {
					for i := 0; !stop.Load(); i++ {
						reqs.Add(1)
						var err error
						switch i % 3 {
						case 0:
							_, err = w.try(fmt.Sprintf("http://a.example/%d", (g*7+i)%30), "")
						case 1:
							_, err = w.try(fmt.Sprintf("http://a.example:8080/vary%d", i%5), []string{"en", "de"}[i%2])
						case 2:
							_, err = w.try(other[i%len(other)], "")
						}
						if err != nil {
							t.Error(err)
						}
					}
				})
			}
			purges := 0
			for ; purges < 10 || reqs.Load() < 200; purges++ {
				if _, err := w.cache.PurgeHost(context.Background(), "a.example"); err != nil {
					t.Errorf("PurgeHost under load: %v", err)
					break
				}
			}
			stop.Store(true)
			wg.Wait()
			t.Logf("%d purges during %d requests", purges, reqs.Load())

			if _, err := w.cache.PurgeHost(context.Background(), "a.example"); err != nil {
				t.Fatal(err)
			}
			for _, k := range w.keys() {
				if strings.Contains(k, "a.example") {
					t.Errorf("key %q left after the last purge", k)
				}
			}
			for _, u := range other {
				if w.get(u, "") {
					t.Errorf("GET %s (another host) reached the origin, want a hit", u)
				}
			}
		})
	}
}

// TestPurgeHostCancel checks that a purge with a done context stops
// with its error.
func TestPurgeHostCancel(t *testing.T) {
	t.Parallel()
	for _, kind := range purgeKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			st := newPurgeStore(t, kind, t.TempDir())
			defer st.Close()
			w := newPurgeWorld(t, st)
			w.fill("http://a.example/1", "http://a.example/2")
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			removed, err := w.cache.PurgeHost(ctx, "a.example")
			if !errors.Is(err, context.Canceled) || removed != 0 {
				t.Errorf("PurgeHost with a cancelled context: removed %d, error %v; want 0, context.Canceled", removed, err)
			}
			if w.get("http://a.example/1", "") {
				t.Errorf("a cancelled purge removed an entry")
			}
		})
	}
}

// TestPurgeHostCancelMidway cancels a purge after its first deletion:
// it stops there, reporting that one.
func TestPurgeHostCancelMidway(t *testing.T) {
	t.Parallel()
	for _, kind := range purgeKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			st := newPurgeStore(t, kind, t.TempDir())
			defer st.Close()
			w := newPurgeWorld(t, cancelOnDelete{st, cancel})
			var urls []string
			for i := range 20 {
				urls = append(urls, fmt.Sprintf("http://a.example/%d", i))
			}
			w.fill(urls...)
			removed, err := w.cache.PurgeHost(ctx, "a.example")
			if !errors.Is(err, context.Canceled) || removed != 1 {
				t.Errorf("PurgeHost cancelled at its first deletion: removed %d, error %v; want 1, context.Canceled", removed, err)
			}
			left := 0
			for _, u := range urls {
				if !w.get(u, "") {
					left++
				}
			}
			if left != len(urls)-1 {
				t.Errorf("%d entries left after a purge cancelled at its first deletion, want %d", left, len(urls)-1)
			}
		})
	}
}

// cancelOnDelete calls cancel at each Delete.
type cancelOnDelete struct {
	store.Store
	cancel func()
}

func (s cancelOnDelete) Delete(ctx context.Context, key string) error {
	defer s.cancel()
	return s.Store.Delete(ctx, key)
}

func (s cancelOnDelete) Keys(ctx context.Context, fn func(string) bool) error {
	return s.Store.(store.Lister).Keys(ctx, fn)
}

// failDelete fails Delete for the keys in fail, with errSick, and
// counts the Deletes tried.
type failDelete struct {
	store.Store
	fail  map[string]bool
	tried *atomic.Int64
}

var errSick = errors.New("test: sick tier")

func (s failDelete) Delete(ctx context.Context, key string) error {
	s.tried.Add(1)
	if s.fail[key] {
		return errSick
	}
	return s.Store.Delete(ctx, key)
}

func (s failDelete) Keys(ctx context.Context, fn func(string) bool) error {
	return s.Store.(store.Lister).Keys(ctx, fn)
}

// TestPurgeHostKeepsGoing checks that a Delete that fails does not stop
// a host purge: every other entry of the host is removed, and the first
// failure is reported. Both through the cache and over a store alone
// (PurgeStoreHost, as for a peer's purge).
func TestPurgeHostKeepsGoing(t *testing.T) {
	t.Parallel()
	for _, kind := range purgeKinds {
		for _, via := range []string{"cache", "store"} {
			t.Run(kind+"/"+via, func(t *testing.T) {
				t.Parallel()
				st := newPurgeStore(t, kind, t.TempDir())
				defer st.Close()
				var a, b []string
				for i := range 10 {
					a = append(a, fmt.Sprintf("http://a.example/%d", i))
					b = append(b, fmt.Sprintf("http://b.example/%d", i))
				}
				sick := map[string]bool{}
				for _, u := range []string{a[0], a[5]} {
					pu, _ := url.Parse(u)
					sick[cache.Key(pu)] = true
				}
				var tried atomic.Int64
				w := newPurgeWorld(t, failDelete{st, sick, &tried})
				w.fill(a...)
				w.fill(b...)
				var removed int
				var err error
				if via == "cache" {
					removed, err = w.cache.PurgeHost(context.Background(), "a.example")
				} else {
					removed, err = cache.PurgeStoreHost(context.Background(), w.cache.Store(), "a.example")
				}
				if !errors.Is(err, errSick) {
					t.Errorf("PurgeHost with failing Deletes: error %v, want %v", err, errSick)
				}
				if want := len(a) - len(sick); removed != want {
					t.Errorf("PurgeHost with failing Deletes: removed %d, want %d", removed, want)
				}
				if got := tried.Load(); got < int64(len(a)) {
					t.Errorf("PurgeHost tried %d Deletes, want at least %d (every entry of the host)", got, len(a))
				}
				for _, u := range a {
					pu, _ := url.Parse(u)
					if got, want := w.get(u, ""), !sick[cache.Key(pu)]; got != want {
						t.Errorf("after the purge, GET %s reached the origin: %v, want %v", u, got, want)
					}
				}
				for _, u := range b {
					if w.get(u, "") {
						t.Errorf("GET %s (another host) reached the origin, want a hit", u)
					}
				}
			})
		}
	}
}

// unlisted hides a store's Keys.
type unlisted struct{ store.Store }

// TestPurgeHostUnsupported checks that a store that cannot list its keys
// fails the purge with errors.ErrUnsupported, and removes nothing.
func TestPurgeHostUnsupported(t *testing.T) {
	t.Parallel()
	for name, st := range map[string]store.Store{
		"store": unlisted{mem.New(mem.Options{Capacity: 8 << 20})},
		"tier":  tiered.New(mem.New(mem.Options{Capacity: 8 << 20}), unlisted{mem.New(mem.Options{Capacity: 8 << 20})}),
	} {
		t.Run(name, func(t *testing.T) {
			defer st.Close()
			w := newPurgeWorld(t, st)
			w.fill("http://a.example/1")
			removed, err := w.cache.PurgeHost(context.Background(), "a.example")
			if !errors.Is(err, errors.ErrUnsupported) || removed != 0 {
				t.Errorf("PurgeHost over %T: removed %d, error %v; want 0, errors.ErrUnsupported", st, removed, err)
			}
			if w.get("http://a.example/1", "") {
				t.Errorf("a failed purge removed an entry")
			}
		})
	}
}

// TestPurgeHostBadHost checks that what is not host[:port] is refused
// before anything is removed.
func TestPurgeHostBadHost(t *testing.T) {
	t.Parallel()
	st := mem.New(mem.Options{Capacity: 8 << 20})
	defer st.Close()
	w := newPurgeWorld(t, st)
	w.fill("http://a.example/1", "http://[::1]/2")
	for _, host := range []string{
		"", " ", ".", ":80", "a.example:", "a.example:0", "a.example:65536", "a.example:http",
		"http://a.example", "a.example/1", "a.example?", "user@a.example", "a example", "*.example",
		"[::1", "[::1]x", "[a.example]", "::1%eth0", "1::2::3", "a.example%2f",
	} {
		removed, err := w.cache.PurgeHost(context.Background(), host)
		if err == nil || removed != 0 {
			t.Errorf("PurgeHost(%q): removed %d, error %v; want an error", host, removed, err)
		}
	}
	if w.get("http://a.example/1", "") || w.get("http://[::1]/2", "") {
		t.Errorf("a refused purge removed an entry")
	}
}

// BenchmarkPurgeHost measures a host purge over a store of 10,000
// entries of 100 hosts: "scan" purges a host with nothing stored (the
// cost of listing and matching every key), "100" one with 100 entries,
// put back between iterations outside the timer.
func BenchmarkPurgeHost(b *testing.B) {
	for _, kind := range purgeKinds {
		b.Run(kind, func(b *testing.B) { benchmarkPurgeHost(b, kind) })
	}
}

func benchmarkPurgeHost(b *testing.B, kind string) {
	const entries, hosts = 10_000, 100
	st := newPurgeStore(b, kind, b.TempDir())
	defer st.Close()
	c := cache.New(cache.Options{Store: st, Next: http.DefaultTransport})
	defer c.Close()
	ctx := context.Background()
	meta := &store.Meta{Status: 200, Header: http.Header{"Cache-Control": {"max-age=3600"}}}
	body := make([]byte, 1024)
	put := func(i int) {
		u := &url.URL{Scheme: "http", Host: fmt.Sprintf("host%d.example", i%hosts), Path: fmt.Sprintf("/%d", i)}
		w, err := st.Create(ctx, cache.Key(u), meta.Clone())
		if err != nil {
			b.Fatal(err)
		}
		w.Write(body)
		if err := w.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	for i := range entries {
		put(i)
	}
	b.Run("scan", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if n, err := c.PurgeHost(ctx, "absent.example"); err != nil || n != 0 {
				b.Fatalf("PurgeHost: %d, %v", n, err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/entries, "ns/key")
	})
	b.Run("100", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if n, err := c.PurgeHost(ctx, "host7.example"); err != nil || n != entries/hosts {
				b.Fatalf("PurgeHost: %d, %v", n, err)
			}
			b.StopTimer()
			for i := 7; i < entries; i += hosts {
				put(i)
			}
			b.StartTimer()
		}
	})
}
