package stats

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"sluice/internal/accesslog"
)

// clock is a fake clock that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(s string) *clock {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return &clock{t: t}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func get(url string) *accesslog.Record {
	return &accesslog.Record{Method: "GET", URL: url, Status: 200, Result: "TCP_MISS", BytesOut: 100}
}

func TestSeries(t *testing.T) {
	c := newClock("2026-11-26T04:00:02Z") // the first bucket is [04:00:00, 04:00:05)
	s := New(Options{Now: c.Now, Window: 30 * time.Second, Interval: 5 * time.Second})

	snap := s.Snapshot(Extra{})
	if n := len(snap.Series.Requests); n != 0 {
		t.Errorf("just after start: got %d points, want 0 (the first interval is not over)", n)
	}
	if got, want := snap.Series.End, time.Date(2026, 11, 26, 4, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("end just after start: got %v, want %v", got, want)
	}

	s.Observe(get("http://a.example/")) // bucket 0
	c.Advance(5 * time.Second)          // 04:00:07, bucket 1
	s.Observe(get("http://a.example/"))
	hit := &accesslog.Record{Method: "GET", URL: "http://a.example/", Status: 200, Result: "TCP_HIT", BytesOut: 40}
	s.Observe(hit)
	c.Advance(15 * time.Second) // 04:00:22, bucket 4: buckets 2 and 3 stay empty
	s.Observe(&accesslog.Record{Method: "GET", URL: "http://ads.example/", Status: 403, Result: "TCP_DENIED", Rule: "l:1: ads"})
	s.Observe(&accesslog.Record{Method: "GET", URL: "http://x.example/", Status: 502, Result: "NONE", Error: "Cannot connect"})
	c.Advance(3 * time.Second) // 04:00:25, bucket 5 begins

	snap = s.Snapshot(Extra{})
	sr := snap.Series
	want := Series{
		IntervalSeconds: 5,
		End:             time.Date(2026, 11, 26, 4, 0, 25, 0, time.UTC),
		Requests:        []int64{1, 2, 0, 0, 2},
		Hits:            []int64{0, 1, 0, 0, 0},
		BytesOut:        []int64{100, 140, 0, 0, 0},
		BytesFromCache:  []int64{0, 40, 0, 0, 0},
		Blocked:         []int64{0, 0, 0, 0, 1},
		Errors:          []int64{0, 0, 0, 0, 1},
	}
	if !reflect.DeepEqual(sr, want) {
		t.Errorf("series:\n got %+v\nwant %+v", sr, want)
	}

	// Two more intervals: the window holds 6 points, so the oldest rolls off.
	c.Advance(10 * time.Second) // 04:00:35
	sr = s.Snapshot(Extra{}).Series
	if got, want := sr.Requests, []int64{2, 0, 0, 2, 0, 0}; !slices.Equal(got, want) {
		t.Errorf("requests after rolling: got %v, want %v", got, want)
	}
	if got, want := sr.End, time.Date(2026, 11, 26, 4, 0, 35, 0, time.UTC); !got.Equal(want) {
		t.Errorf("end after rolling: got %v, want %v", got, want)
	}

	// A gap longer than the window leaves only zeros, and new points land
	// in the right place.
	c.Advance(time.Hour)
	s.Observe(get("http://a.example/"))
	c.Advance(5 * time.Second)
	sr = s.Snapshot(Extra{}).Series
	if got, want := sr.Requests, []int64{0, 0, 0, 0, 0, 1}; !slices.Equal(got, want) {
		t.Errorf("requests after an hour's gap: got %v, want %v", got, want)
	}
	if got := snap.Totals.Requests; got != 5 {
		t.Errorf("totals at the first snapshot: got %d requests, want 5", got)
	}
}

func TestSeriesDefaults(t *testing.T) {
	c := newClock("2026-11-26T04:00:00Z")
	s := New(Options{Now: c.Now})
	for range 200 {
		s.Observe(get("http://a.example/"))
		c.Advance(5 * time.Second)
	}
	sr := s.Snapshot(Extra{}).Series
	if len(sr.Requests) != 180 || sr.IntervalSeconds != 5 {
		t.Errorf("default series: got %d points of %v s, want 180 of 5 s", len(sr.Requests), sr.IntervalSeconds)
	}
	for i, n := range sr.Requests {
		if n != 1 {
			t.Fatalf("point %d: got %d requests, want 1", i, n)
		}
	}
}

func TestSeriesClockBack(t *testing.T) {
	c := newClock("2026-11-26T04:00:00Z")
	s := New(Options{Now: c.Now, Window: time.Minute, Interval: 10 * time.Second})
	c.Advance(25 * time.Second)
	s.Observe(get("http://a.example/")) // bucket 2
	c.Advance(-20 * time.Second)
	s.Observe(get("http://a.example/")) // the clock went back: still bucket 2
	c.Advance(25 * time.Second)         // 04:00:30
	if got, want := s.Snapshot(Extra{}).Series.Requests, []int64{0, 0, 2}; !slices.Equal(got, want) {
		t.Errorf("requests: got %v, want %v", got, want)
	}
}

func TestTotals(t *testing.T) {
	c := newClock("2026-11-26T04:00:00Z")
	s := New(Options{Now: c.Now})
	recs := []accesslog.Record{
		{Method: "GET", URL: "http://a.example/", Status: 200, Result: "TCP_MISS", BytesOut: 1000},
		{Method: "GET", URL: "http://a.example/", Status: 200, Result: "TCP_MEM_HIT", BytesOut: 1000},
		{Method: "GET", URL: "http://a.example/", Status: 304, Result: "TCP_REFRESH_UNMODIFIED", BytesOut: 0},
		{Method: "GET", URL: "http://a.example/", Status: 200, Result: "TCP_REFRESH_FAIL_OLD", BytesOut: 500},
		{Method: "POST", URL: "http://b.example/", Status: 200, Result: "TCP_MISS", BytesIn: 300, BytesOut: 20},
		{Method: "CONNECT", URL: "b.example:443", Status: 200, Result: "TCP_TUNNEL", BytesIn: 700, BytesOut: 9000},
		{Method: "GET", URL: "http://ads.example/", Status: 403, Result: "TCP_DENIED", Rule: "easylist.txt:1: ||ads.example^", BytesOut: 200},
		{Method: "GET", URL: "http://c.example/", Status: 407, Result: "TCP_DENIED", Error: "Proxy authentication required", BytesOut: 200},
		{Method: "GET", URL: "http://d.example/", Status: 502, Result: "NONE", Error: "Cannot connect", BytesOut: 100},
		{Method: "GET", URL: "http://e.example/", Status: 0, Result: "TCP_MISS_ABORTED", Error: "client went away"},
	}
	for i := range recs {
		s.Observe(&recs[i])
	}
	c.Advance(90 * time.Minute)
	snap := s.Snapshot(Extra{})
	want := Totals{Requests: 10, Hits: 3, Misses: 3, Tunnels: 1, Blocked: 1, Denied: 1, Errors: 1,
		BytesIn: 1000, BytesOut: 12020, BytesFromCache: 1500}
	if snap.Totals != want {
		t.Errorf("totals:\n got %+v\nwant %+v", snap.Totals, want)
	}
	if snap.HitRatio != 0.5 {
		t.Errorf("hit ratio: got %v, want 0.5", snap.HitRatio)
	}
	if snap.UptimeSeconds != 5400 {
		t.Errorf("uptime: got %v, want 5400", snap.UptimeSeconds)
	}
	if got := New(Options{Now: c.Now}).Snapshot(Extra{}).HitRatio; got != 0 {
		t.Errorf("hit ratio without lookups: got %v, want 0", got)
	}
}

func TestTopHostsSkewed(t *testing.T) {
	s := New(Options{})
	rng := rand.New(rand.NewPCG(7, 7))
	zipf := rand.NewZipf(rng, 1.3, 1, 4999)
	truth := map[string]int64{}
	const n = 100_000
	for range n {
		h := fmt.Sprintf("h%d.example", zipf.Uint64())
		truth[h]++
		s.Observe(get("http://" + h + ":8080/path?q"))
	}
	var hosts []string
	for h := range truth {
		hosts = append(hosts, h)
	}
	slices.SortFunc(hosts, func(a, b string) int {
		if truth[a] != truth[b] {
			return int(truth[b] - truth[a])
		}
		return strings.Compare(a, b)
	})

	top := s.Snapshot(Extra{}).TopHosts
	if len(top) != shownTop {
		t.Fatalf("top hosts: got %d, want %d", len(top), shownTop)
	}
	for i, e := range top {
		if e.Host != hosts[i] {
			t.Errorf("top %d: got %s (%d), want %s (%d)", i, e.Host, e.Requests, hosts[i], truth[hosts[i]])
		}
		// Space-Saving never underestimates, and overestimates by at most n/k.
		if e.Requests < truth[e.Host] || e.Requests > truth[e.Host]+n/trackedHosts {
			t.Errorf("%s: got %d requests, true count %d", e.Host, e.Requests, truth[e.Host])
		}
	}
	if top[0].Bytes != top[0].Requests*100 {
		t.Errorf("%s bytes: got %d, want %d", top[0].Host, top[0].Bytes, top[0].Requests*100)
	}
}

func TestTopHostsBounded(t *testing.T) {
	s := New(Options{})
	heavy := get("http://heavy.example/")
	for i := range 100_000 {
		s.Observe(get(fmt.Sprintf("http://h%d.example/", i)))
		if i%10 == 0 {
			s.Observe(heavy)
		}
	}
	if n := len(s.hosts.index); n > trackedHosts {
		t.Errorf("host table: got %d entries, want at most %d", n, trackedHosts)
	}
	if n := len(s.hosts.heap); n != trackedHosts {
		t.Errorf("host heap: got %d entries, want %d", n, trackedHosts)
	}
	for _, e := range s.hosts.heap {
		if s.hosts.index[e.key] != e {
			t.Fatalf("index and heap disagree on %q", e.key)
		}
	}
	top := s.Snapshot(Extra{}).TopHosts
	if top[0].Host != "heavy.example" || top[0].Requests < 10_000 {
		t.Errorf("top host: got %+v, want heavy.example with at least 10000 requests", top[0])
	}
}

func TestTopBlocked(t *testing.T) {
	s := New(Options{})
	block := func(host, rule string) {
		s.Observe(&accesslog.Record{Method: "GET", URL: "http://" + host + "/ad.js", Status: 403, Result: "TCP_DENIED", Rule: rule, Error: "Blocked"})
	}
	for range 3 {
		block("ads.example", "easylist.txt:1: ||ads.example^")
	}
	block("ads.example", "easylist.txt:9: /ad.js")
	block("track.example", "privacy.txt:2: ||track.example^")
	s.Observe(&accesslog.Record{Method: "CONNECT", URL: "pixel.example:443", Status: 403, Result: "TCP_DENIED", Rule: "easylist.txt:5: ||pixel.example^"})
	// Denied without a rule, and a rule in report-only mode: not blocks.
	s.Observe(&accesslog.Record{Method: "GET", URL: "http://auth.example/", Status: 407, Result: "TCP_DENIED"})
	s.Observe(&accesslog.Record{Method: "GET", URL: "http://report.example/", Status: 200, Result: "TCP_MISS", Rule: "easylist.txt:7: ||report.example^"})

	snap := s.Snapshot(Extra{})
	want := []BlockedHost{
		{Host: "ads.example", Count: 4, Rule: "easylist.txt:9: /ad.js"},
		{Host: "pixel.example", Count: 1, Rule: "easylist.txt:5: ||pixel.example^"},
		{Host: "track.example", Count: 1, Rule: "privacy.txt:2: ||track.example^"},
	}
	if !reflect.DeepEqual(snap.TopBlocked, want) {
		t.Errorf("top blocked:\n got %+v\nwant %+v", snap.TopBlocked, want)
	}
	for _, h := range snap.TopHosts {
		if h.Host != "report.example" {
			t.Errorf("top hosts has %q: refused requests do not count there", h.Host)
		}
	}
}

func TestTunnels(t *testing.T) {
	c := newClock("2026-11-26T04:00:00Z")
	s := New(Options{Now: c.Now})
	closeA := s.TunnelOpened("a.example:443", "127.0.0.1:50000", "")
	c.Advance(time.Second)
	closeB := s.TunnelOpened("b.example:443", "[::1]:50001", "alice")
	c.Advance(time.Second)
	s.TunnelOpened("c.example:443", "192.0.2.1", "")

	closeB()
	closeB() // a second call does nothing
	want := []Tunnel{
		{Host: "a.example:443", Client: "127.0.0.1", Since: time.Date(2026, 11, 26, 4, 0, 0, 0, time.UTC)},
		{Host: "c.example:443", Client: "192.0.2.1", Since: time.Date(2026, 11, 26, 4, 0, 2, 0, time.UTC)},
	}
	if got := s.Snapshot(Extra{}).Tunnels; !reflect.DeepEqual(got, want) {
		t.Errorf("tunnels:\n got %+v\nwant %+v", got, want)
	}
	if got := s.OpenTunnels(); got != 2 {
		t.Errorf("open tunnels: got %d, want 2", got)
	}
	closeA()

	var closers []func()
	for i := range 60 {
		closers = append(closers, s.TunnelOpened(fmt.Sprintf("t%d.example:443", i), "127.0.0.1:1", ""))
	}
	got := s.Snapshot(Extra{}).Tunnels
	if len(got) != shownTunnels || got[0].Host != "c.example:443" || got[1].Host != "t0.example:443" {
		t.Errorf("tunnels with 61 open: got %d, first %v; want %d, oldest first", len(got), got[:2], shownTunnels)
	}
	for _, f := range closers {
		f()
	}
	if got := s.OpenTunnels(); got != 1 {
		t.Errorf("open tunnels after closing: got %d, want 1", got)
	}
}

func TestTunnelsBounded(t *testing.T) {
	s := New(Options{})
	var closers []func()
	for range trackedTunnels + 10 {
		closers = append(closers, s.TunnelOpened("x.example:443", "127.0.0.1:1", ""))
	}
	if got := s.OpenTunnels(); got != trackedTunnels {
		t.Errorf("tracked tunnels: got %d, want %d", got, trackedTunnels)
	}
	for _, f := range closers {
		f()
	}
	if got := s.OpenTunnels(); got != 0 {
		t.Errorf("tracked tunnels after closing all: got %d, want 0", got)
	}
}

func TestRecentErrors(t *testing.T) {
	c := newClock("2026-11-26T04:00:00Z")
	s := New(Options{Now: c.Now})
	for i := range 25 {
		s.Observe(&accesslog.Record{Client: "127.0.0.1:4000", Method: "GET", URL: fmt.Sprintf("http://bad%d.example/", i),
			Status: 502, Result: "NONE", Error: "Cannot connect"})
		s.Observe(get("http://fine.example/")) // not an error
		c.Advance(time.Second)
	}
	long := "http://long.example/" + strings.Repeat("é", 2000)
	s.Observe(&accesslog.Record{Client: "[2001:db8::1]:4000", Method: "POST", URL: long, Status: 413, Result: "NONE", Error: "Request body too large"})

	errs := s.Snapshot(Extra{}).RecentErrors
	if len(errs) != recentErrors {
		t.Fatalf("recent errors: got %d, want %d", len(errs), recentErrors)
	}
	first := errs[0]
	if first.Client != "2001:db8::1" || first.Method != "POST" || first.Status != 413 || first.Error != "Request body too large" {
		t.Errorf("newest error: got %+v", first)
	}
	if len(first.URL) > maxURLLen || !strings.HasPrefix(long, first.URL) || !utf8Valid(first.URL) {
		t.Errorf("long URL: got %d bytes, want a valid prefix of at most %d", len(first.URL), maxURLLen)
	}
	for i, e := range errs[1:] {
		n := 24 - i // newest first: bad24, bad23, …
		want := RecentError{Time: time.Date(2026, 11, 26, 4, 0, n, 0, time.UTC), Client: "127.0.0.1", Method: "GET",
			URL: fmt.Sprintf("http://bad%d.example/", n), Status: 502, Error: "Cannot connect"}
		if e != want {
			t.Errorf("error %d:\n got %+v\nwant %+v", i+1, e, want)
		}
	}
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

func TestHostOf(t *testing.T) {
	tests := []struct {
		url     string
		connect bool
		want    string
	}{
		{"http://example.com/", false, "example.com"},
		{"http://Example.COM:8080/x?y#z", false, "example.com"},
		{"https://user:pw@example.com:443/", false, "example.com"},
		{"http://example.com", false, "example.com"},
		{"http://example.com?q", false, "example.com"},
		{"http://[2001:db8::1]:8080/", false, "2001:db8::1"},
		{"http://[2001:db8::1]/", false, "2001:db8::1"},
		{"http://192.0.2.1/", false, "192.0.2.1"},
		{"example.com:443", true, "example.com"},
		{"[2001:db8::1]:443", true, "2001:db8::1"},
		{"example.com", true, "example.com"},
		{"/relative", false, ""},
		{"", false, ""},
		{"http://" + strings.Repeat("a", 300) + "/", false, strings.Repeat("a", maxHostLen)},
	}
	for _, tt := range tests {
		if got := hostOf(tt.url, tt.connect); got != tt.want {
			t.Errorf("hostOf(%q, %v): got %q, want %q", tt.url, tt.connect, got, tt.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { hostOf("http://user@example.com:8080/a/b?c", false) }); n != 0 {
		t.Errorf("hostOf allocates %v times, want 0", n)
	}
}

func FuzzHostOf(f *testing.F) {
	for _, s := range []string{"http://example.com/", "http://[::1]:80/", "a:1", "http://u@h:1/?#", "[", "http://["} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, url string, connect bool) {
		h := hostOf(url, connect)
		if len(h) > maxHostLen {
			t.Fatalf("hostOf(%q) = %q: longer than %d", url, h, maxHostLen)
		}
		if !strings.Contains(lowerASCII(url), h) {
			t.Fatalf("hostOf(%q) = %q: not in the URL", url, h)
		}
	})
}

func TestObserveAllocs(t *testing.T) {
	s := New(Options{})
	recs := []*accesslog.Record{
		get("http://example.com/a"),
		{Method: "CONNECT", URL: "example.com:443", Status: 200, Result: "TCP_TUNNEL", BytesOut: 10},
		{Method: "GET", URL: "http://ads.example/", Status: 403, Result: "TCP_DENIED", Rule: "l:1: x"},
		{Method: "GET", URL: "http://example.com/", Status: 502, Result: "NONE", Error: "Cannot connect"},
	}
	for _, r := range recs {
		s.Observe(r) // the hosts enter the tables
	}
	if n := testing.AllocsPerRun(100, func() {
		for _, r := range recs {
			s.Observe(r)
		}
	}); n != 0 {
		t.Errorf("Observe allocates %v times per %d records, want 0", n, len(recs))
	}
}

func TestConcurrent(t *testing.T) {
	s := New(Options{})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 2000 {
				s.Observe(get(fmt.Sprintf("http://h%d.example/", i%50)))
				if i%100 == 0 {
					s.TunnelOpened("t.example:443", "127.0.0.1:1", "")()
				}
			}
		})
		wg.Go(func() {
			for range 50 {
				if _, err := json.Marshal(s.Snapshot(Extra{Version: fmt.Sprint(g)})); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	snap := s.Snapshot(Extra{})
	if snap.Totals.Requests != 8000 || len(snap.Tunnels) != 0 {
		t.Errorf("after concurrent use: got %d requests and %d tunnels, want 8000 and 0", snap.Totals.Requests, len(snap.Tunnels))
	}
	var sum int64
	for _, n := range snap.Series.Requests {
		sum += n
	}
	// The series holds complete intervals only; the test ran within one or two.
	if sum > 8000 {
		t.Errorf("series counts %d requests, more than the 8000 observed", sum)
	}
}

func BenchmarkObserve(b *testing.B) {
	s := New(Options{})
	rec := get("http://example.com/some/path?q=1")
	b.ReportAllocs()
	for b.Loop() {
		s.Observe(rec)
	}
}

func BenchmarkObserveManyHosts(b *testing.B) {
	s := New(Options{})
	recs := make([]*accesslog.Record, 500)
	for i := range recs {
		recs[i] = get(fmt.Sprintf("http://h%d.example/a", i))
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s.Observe(recs[i%len(recs)])
		i++
	}
}

func BenchmarkObserveParallel(b *testing.B) {
	s := New(Options{})
	recs := make([]*accesslog.Record, 64)
	for i := range recs {
		recs[i] = get(fmt.Sprintf("http://h%d.example/a", i))
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			s.Observe(recs[i%len(recs)])
			i++
		}
	})
}

func BenchmarkSnapshot(b *testing.B) {
	s := New(Options{})
	for i := range 5000 {
		s.Observe(get(fmt.Sprintf("http://h%d.example/a", i)))
	}
	b.ReportAllocs()
	for b.Loop() {
		json.Marshal(s.Snapshot(Extra{}))
	}
}

func BenchmarkSnapshotOnly(b *testing.B) {
	s := New(Options{})
	for i := range 5000 {
		s.Observe(get(fmt.Sprintf("http://h%d.example/a", i)))
	}
	b.ReportAllocs()
	for b.Loop() {
		s.Snapshot(Extra{})
	}
}

func TestTopOrder(t *testing.T) {
	k := newTopK(8)
	for _, h := range []string{"c", "b", "a", "b", "d", "c", "b"} {
		k.add(h, 1, "")
	}
	var got []string
	for _, e := range k.top(3) {
		got = append(got, fmt.Sprintf("%s=%d", e.key, e.count))
	}
	if want := []string{"b=3", "c=2", "a=1"}; !slices.Equal(got, want) { // a before d: ties in key order
		t.Errorf("top 3: got %v, want %v", got, want)
	}
	if n := len(k.top(100)); n != 4 {
		t.Errorf("top 100 of 4 keys: got %d entries, want 4", n)
	}
	if n := len(k.top(0)); n != 0 {
		t.Errorf("top 0: got %d entries, want 0", n)
	}
}
