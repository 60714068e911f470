package metrics

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"sluice/internal/accesslog"
)

// traffic is a small mixed workload with known totals.
var traffic = []accesslog.Record{
	{Method: "GET", URL: "http://a.example/", Status: 200, Result: "TCP_MISS", BytesOut: 1000},
	{Method: "GET", URL: "http://a.example/", Status: 200, Result: "TCP_MEM_HIT", BytesOut: 1000},
	{Method: "GET", URL: "http://a.example/", Status: 200, Result: "TCP_HIT", BytesOut: 1000},
	{Method: "GET", URL: "http://a.example/x", Status: 304, Result: "TCP_REFRESH_UNMODIFIED"},
	{Method: "POST", URL: "http://b.example/form", Status: 303, Result: "TCP_MISS", BytesIn: 50, BytesOut: 10},
	{Method: "CONNECT", URL: "b.example:443", Status: 200, Result: "TCP_TUNNEL", BytesIn: 700, BytesOut: 9000},
	{Method: "GET", URL: "http://ads.example/", Status: 403, Result: "TCP_DENIED", Rule: "easylist.txt:12: ||ads.example^", Error: "Blocked", BytesOut: 300},
	{Method: "GET", URL: "http://ads.example/2", Status: 403, Result: "TCP_DENIED", Rule: "easylist.txt:12: ||ads.example^", Error: "Blocked", BytesOut: 300},
	{Method: "CONNECT", URL: "intranet:443", Status: 403, Result: "TCP_DENIED", Rule: "access.rules[2] (line 14)", Error: "Access denied"},
	{Method: "GET", URL: "http://c.example/", Status: 407, Result: "TCP_DENIED", Error: "Proxy authentication required"},
	{Method: "GET", URL: "http://c.example/", Status: 407, Result: "TCP_DENIED", Error: "Wrong user name or password"},
	{Method: "GET", URL: "http://c.example/", Status: 404, Result: "TCP_DENIED", Error: "Not authenticated (probe resistance)"},
	{Method: "BREW", URL: "http://d.example/", Status: 502, Result: "NONE", Error: "Cannot connect"},
	{Method: "GET", URL: "http://e.example/", Status: 0, Result: "TCP_MISS_ABORTED", Error: "client went away"},
}

func observeAll(m *Metrics, recs []accesslog.Record) {
	for i := range recs {
		m.Observe(&recs[i])
	}
}

func TestObserveCounters(t *testing.T) {
	m := New(Options{Version: "v1.2.3"})
	observeAll(m, traffic)

	want := `
# HELP sluice_requests_total Requests handled, by method, status class (1xx…5xx, none when no answer was sent) and cache result (hit, revalidated, miss, tunnel, denied, none, other).
# TYPE sluice_requests_total counter
sluice_requests_total{method="CONNECT",result="denied",status_class="4xx"} 1
sluice_requests_total{method="CONNECT",result="tunnel",status_class="2xx"} 1
sluice_requests_total{method="GET",result="denied",status_class="4xx"} 5
sluice_requests_total{method="GET",result="hit",status_class="2xx"} 2
sluice_requests_total{method="GET",result="miss",status_class="2xx"} 1
sluice_requests_total{method="GET",result="miss",status_class="none"} 1
sluice_requests_total{method="GET",result="revalidated",status_class="3xx"} 1
sluice_requests_total{method="POST",result="miss",status_class="3xx"} 1
sluice_requests_total{method="other",result="none",status_class="5xx"} 1
# HELP sluice_blocked_requests_total Requests denied by a rule of a configured list, by list: a filter list's name, or "access" for the access rules. At most 64 lists; blocks by further lists count as "other".
# TYPE sluice_blocked_requests_total counter
sluice_blocked_requests_total{list="access"} 1
sluice_blocked_requests_total{list="easylist.txt"} 2
# HELP sluice_auth_failures_total Requests refused for proxy authentication, by reason: no_credentials (a 407 challenge, also every browser's first try), wrong_credentials (a 407 to credentials not accepted), probe_resistance (answered as a plain web server).
# TYPE sluice_auth_failures_total counter
sluice_auth_failures_total{reason="no_credentials"} 1
sluice_auth_failures_total{reason="probe_resistance"} 1
sluice_auth_failures_total{reason="wrong_credentials"} 1
# HELP sluice_build_info Always 1; the version label says which sluice is running.
# TYPE sluice_build_info gauge
sluice_build_info{version="v1.2.3"} 1
`
	names := []string{"sluice_requests_total", "sluice_blocked_requests_total", "sluice_auth_failures_total", "sluice_build_info"}
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}

	for _, tt := range []struct {
		name string
		got  float64
		want float64
	}{
		{"client received bytes", testutil.ToFloat64(m.bytesIn), 750},
		{"client sent bytes", testutil.ToFloat64(m.bytesOut), 12610},
		{"cache served bytes", testutil.ToFloat64(m.fromCache), 2000}, // two hits of 1000, the 304 had no body
		{"hit ratio", gauge(t, m, "sluice_cache_hit_ratio"), 3.0 / 6}, // hit, hit, revalidated over those and three misses (the aborted one included)
	} {
		if tt.got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

// gauge gathers m and returns the value of the unlabelled gauge name.
func gauge(t *testing.T, m *Metrics, name string) float64 {
	t.Helper()
	mf := family(t, m, name)
	if mf == nil || len(mf.Metric) != 1 {
		t.Fatalf("%s: not exported once: %v", name, mf)
	}
	return mf.Metric[0].GetGauge().GetValue()
}

func family(t *testing.T, m *Metrics, name string) *dto.MetricFamily {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf
		}
	}
	return nil
}

func TestHitRatioBeforeLookups(t *testing.T) {
	m := New(Options{})
	m.Observe(&accesslog.Record{Method: "CONNECT", Status: 200, Result: "TCP_TUNNEL"})
	if got := gauge(t, m, "sluice_cache_hit_ratio"); got != 0 {
		t.Errorf("hit ratio without lookups: got %v, want 0", got)
	}
}

func TestOptionsGauges(t *testing.T) {
	var mu sync.Mutex
	tiers := []Tier{
		{Name: "memory", Bytes: 1000, Objects: 10, Capacity: 1 << 28, Hits: 3},
		{Name: "disk", Bytes: 5000, Objects: 20, Capacity: 10 << 30, Hits: 1},
	}
	m := New(Options{
		OpenConns:   func() int64 { return 12 },
		OpenTunnels: func() int64 { return 3 },
		CacheTiers: func() []Tier {
			mu.Lock()
			defer mu.Unlock()
			return append([]Tier(nil), tiers...)
		},
	})
	for range 4 {
		m.Observe(&accesslog.Record{Method: "GET", Status: 200, Result: "TCP_HIT"})
	}
	for range 4 {
		m.Observe(&accesslog.Record{Method: "GET", Status: 200, Result: "TCP_MISS"})
	}
	want := `
# HELP sluice_active_client_connections Client connections open now.
# TYPE sluice_active_client_connections gauge
sluice_active_client_connections 12
# HELP sluice_active_tunnels CONNECT tunnels and upgraded (WebSocket) connections open now.
# TYPE sluice_active_tunnels gauge
sluice_active_tunnels 3
# HELP sluice_cache_size_bytes Bytes held by the cache tier, bodies and metadata.
# TYPE sluice_cache_size_bytes gauge
sluice_cache_size_bytes{tier="disk"} 5000
sluice_cache_size_bytes{tier="memory"} 1000
# HELP sluice_cache_objects Responses held by the cache tier.
# TYPE sluice_cache_objects gauge
sluice_cache_objects{tier="disk"} 20
sluice_cache_objects{tier="memory"} 10
# HELP sluice_cache_capacity_bytes Capacity of the cache tier in bytes; 0 when unbounded.
# TYPE sluice_cache_capacity_bytes gauge
sluice_cache_capacity_bytes{tier="disk"} 1.073741824e+10
sluice_cache_capacity_bytes{tier="memory"} 2.68435456e+08
# HELP sluice_cache_tier_hits_total Responses the cache tier served without contacting the origin.
# TYPE sluice_cache_tier_hits_total counter
sluice_cache_tier_hits_total{tier="disk"} 1
sluice_cache_tier_hits_total{tier="memory"} 3
# HELP sluice_cache_tier_hit_ratio Share of cache lookups since start served by the tier without contacting the origin (0 before the first lookup).
# TYPE sluice_cache_tier_hit_ratio gauge
sluice_cache_tier_hit_ratio{tier="disk"} 0.125
sluice_cache_tier_hit_ratio{tier="memory"} 0.375
`
	names := []string{"sluice_active_client_connections", "sluice_active_tunnels", "sluice_cache_size_bytes",
		"sluice_cache_objects", "sluice_cache_capacity_bytes", "sluice_cache_tier_hits_total", "sluice_cache_tier_hit_ratio"}
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}

	// The tiers are read at scrape time.
	mu.Lock()
	tiers[0].Bytes = 4242
	mu.Unlock()
	mf := family(t, m, "sluice_cache_size_bytes")
	var got float64
	for _, mt := range mf.GetMetric() {
		if mt.GetLabel()[0].GetValue() == "memory" {
			got = mt.GetGauge().GetValue()
		}
	}
	if got != 4242 {
		t.Errorf("memory tier bytes after a change: got %v, want 4242", got)
	}
}

func TestOptionalGaugesLeftOut(t *testing.T) {
	m := New(Options{})
	for _, name := range []string{"sluice_active_client_connections", "sluice_active_tunnels", "sluice_cache_size_bytes"} {
		if mf := family(t, m, name); mf != nil {
			t.Errorf("%s exported without its Options function", name)
		}
	}
	if got := testutil.ToFloat64(m.bytesIn); got != 0 {
		t.Errorf("fresh bytes counter: got %v, want 0", got)
	}
	// The build info says "unknown" rather than an empty label.
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(`
# HELP sluice_build_info Always 1; the version label says which sluice is running.
# TYPE sluice_build_info gauge
sluice_build_info{version="unknown"} 1
`), "sluice_build_info"); err != nil {
		t.Error(err)
	}
}

func TestUpstream(t *testing.T) {
	m := New(Options{})
	m.UpstreamConnect(3*time.Millisecond, nil)
	m.UpstreamConnect(40*time.Second, nil) // past the last bucket: +Inf
	m.UpstreamFirstByte(200 * time.Millisecond)

	connect := family(t, m, "sluice_upstream_connect_duration_seconds").GetMetric()[0].GetHistogram()
	if got := connect.GetSampleCount(); got != 2 {
		t.Errorf("connect samples: got %d, want 2", got)
	}
	if got, want := connect.GetSampleSum(), 40.003; got < want-1e-9 || got > want+1e-9 {
		t.Errorf("connect sum: got %v, want %v", got, want)
	}
	for _, b := range connect.GetBucket() {
		var want uint64
		switch {
		case b.GetUpperBound() >= 0.005 && b.GetUpperBound() < 30:
			want = 1 // 3 ms lands in the 5 ms bucket and every one after
		case b.GetUpperBound() < 0.005:
			want = 0
		default:
			want = 1 // 30 s bucket: 40 s is beyond it
		}
		if b.GetCumulativeCount() != want {
			t.Errorf("connect bucket le=%v: got %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
		}
	}
	if got := family(t, m, "sluice_upstream_first_byte_duration_seconds").GetMetric()[0].GetHistogram().GetSampleCount(); got != 1 {
		t.Errorf("first-byte samples: got %d, want 1", got)
	}
	first, last := connect.GetBucket()[0].GetUpperBound(), connect.GetBucket()[len(connect.GetBucket())-1].GetUpperBound()
	if first != 0.001 || last != 30 {
		t.Errorf("buckets span %v…%v s, want 0.001…30", first, last)
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestUpstreamConnectErrors(t *testing.T) {
	opErr := func(err error) error {
		return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", err)}
	}
	tests := []struct {
		err  error
		want string // "" for not counted
	}{
		{&net.DNSError{Err: "no such host", Name: "x.invalid", IsNotFound: true}, "dns"},
		{fmt.Errorf("resolve: %w", &net.DNSError{Err: "server misbehaving", IsTimeout: true}), "dns"},
		{opErr(syscall.ECONNREFUSED), "refused"},
		{opErr(syscall.EHOSTUNREACH), "unreachable"},
		{opErr(syscall.ENETUNREACH), "unreachable"},
		{&net.OpError{Op: "dial", Err: timeoutErr{}}, "timeout"},
		{context.DeadlineExceeded, "timeout"},
		{fmt.Errorf("handshake: %w", tls.AlertError(42)), "tls"},
		{&tls.CertificateVerificationError{Err: errors.New("expired")}, "tls"},
		{errors.New("something else"), "other"},
		{context.Canceled, ""},
		{fmt.Errorf("dial: %w", context.Canceled), ""},
	}
	for _, tt := range tests {
		m := New(Options{})
		m.UpstreamConnect(time.Second, tt.err)
		for _, r := range connectReasons {
			want := 0.0
			if r == tt.want {
				want = 1
			}
			if got := testutil.ToFloat64(m.connectError[r]); got != want {
				t.Errorf("%v: reason %s: got %v, want %v", tt.err, r, got, want)
			}
		}
		if n := family(t, m, "sluice_upstream_connect_duration_seconds").GetMetric()[0].GetHistogram().GetSampleCount(); n != 0 {
			t.Errorf("%v: a failed connect was observed as a duration", tt.err)
		}
	}
}

// TestLabelsBounded feeds requests with random methods, statuses, results
// and rules: the series stay within their bounds.
func TestLabelsBounded(t *testing.T) {
	m := New(Options{})
	rng := rand.New(rand.NewPCG(1, 2))
	codes := []string{"TCP_MISS", "TCP_HIT", "TCP_DENIED", "TCP_TUNNEL", "NONE", "TCP_REFRESH_UNMODIFIED", "X_WHATEVER"}
	for i := range 10_000 {
		rec := accesslog.Record{
			Method: fmt.Sprintf("M%d", rng.IntN(1_000_000)),
			Status: rng.IntN(1000),
			Result: codes[i%len(codes)],
		}
		if i%2 == 0 {
			rec.Result = "TCP_DENIED"
			rec.Rule = fmt.Sprintf("list-%d.txt:%d: rule", rng.IntN(1_000_000), i)
		}
		m.Observe(&rec)
	}
	counts := map[string]int{}
	var total float64
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		counts[mf.GetName()] = len(mf.GetMetric())
		if mf.GetName() == "sluice_blocked_requests_total" {
			for _, mt := range mf.GetMetric() {
				total += mt.GetCounter().GetValue()
			}
		}
	}
	if got := counts["sluice_requests_total"]; got > numMethods*numClasses*7 || got == 0 {
		t.Errorf("sluice_requests_total series: got %d, want 1…%d", got, numMethods*numClasses*7)
	}
	// Only "other" among methods: every random method folds into it.
	if got, want := counts["sluice_requests_total"], numClasses*7; got > want {
		t.Errorf("sluice_requests_total series with one method label: got %d, want at most %d", got, want)
	}
	if got, want := counts["sluice_blocked_requests_total"], maxLists+1; got != want {
		t.Errorf("sluice_blocked_requests_total series: got %d, want %d (64 lists and other)", got, want)
	}
	if total != 5000 {
		t.Errorf("blocks counted: got %v, want 5000", total)
	}
}

func TestLint(t *testing.T) {
	m := New(Options{
		OpenConns:   func() int64 { return 1 },
		OpenTunnels: func() int64 { return 1 },
		CacheTiers:  func() []Tier { return []Tier{{Name: "memory", Bytes: 1, Objects: 1, Capacity: 2}} },
		Version:     "v0",
	})
	observeAll(m, traffic)
	m.UpstreamConnect(time.Millisecond, nil)
	m.UpstreamConnect(time.Millisecond, errors.New("x"))
	m.UpstreamFirstByte(time.Millisecond)
	problems, err := testutil.GatherAndLint(m.Registry())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

// TestHandler scrapes the handler as Prometheus would and checks that
// counters move with traffic.
func TestHandler(t *testing.T) {
	m := New(Options{Version: "v9"})
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()

	scrape := func() string {
		t.Helper()
		resp, err := http.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status: got %d, want 200", resp.StatusCode)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
			t.Errorf("Content-Type: got %q, want the Prometheus text format", ct)
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	const line = `sluice_requests_total{method="GET",result="miss",status_class="2xx"} `
	if body := scrape(); strings.Contains(body, line) {
		t.Errorf("before traffic the scrape has %q", line)
	}
	for range 3 {
		m.Observe(&accesslog.Record{Method: "GET", Status: 200, Result: "TCP_MISS", BytesOut: 10})
	}
	body := scrape()
	for _, want := range []string{
		line + "3\n",
		"sluice_client_sent_bytes_total 30\n",
		`sluice_build_info{version="v9"} 1` + "\n",
		"go_goroutines ",
		"process_start_time_seconds ", // Linux: the process collector works
		"promhttp_metric_handler_requests_total",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
}

func TestObserveConcurrent(t *testing.T) {
	m := New(Options{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range 1000 {
				rec := traffic[i%len(traffic)]
				m.Observe(&rec)
			}
		})
	}
	wg.Wait()
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(`
# HELP sluice_blocked_requests_total Requests denied by a rule of a configured list, by list: a filter list's name, or "access" for the access rules. At most 64 lists; blocks by further lists count as "other".
# TYPE sluice_blocked_requests_total counter
sluice_blocked_requests_total{list="access"} 568
sluice_blocked_requests_total{list="easylist.txt"} 1136
`), "sluice_blocked_requests_total"); err != nil {
		t.Error(err)
	}
}

func TestObserveAllocs(t *testing.T) {
	m := New(Options{})
	observeAll(m, traffic) // the first block by a list registers it
	if n := testing.AllocsPerRun(100, func() { observeAll(m, traffic) }); n != 0 {
		t.Errorf("Observe allocates %v times per %d records, want 0", n, len(traffic))
	}
}

func BenchmarkObserve(b *testing.B) {
	m := New(Options{})
	rec := &accesslog.Record{Method: "GET", URL: "http://example.com/a", Status: 200, Result: "TCP_MISS", BytesOut: 5000}
	b.ReportAllocs()
	for b.Loop() {
		m.Observe(rec)
	}
}

func BenchmarkObserveBlocked(b *testing.B) {
	m := New(Options{})
	rec := &accesslog.Record{Method: "GET", URL: "http://ads.example/a", Status: 403, Result: "TCP_DENIED", BytesOut: 300,
		Rule: "/etc/sluice/lists/easylist.txt:12345: ||ads.example^$third-party", Error: "Blocked"}
	b.ReportAllocs()
	for b.Loop() {
		m.Observe(rec)
	}
}

func BenchmarkObserveParallel(b *testing.B) {
	m := New(Options{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			m.Observe(&traffic[i%len(traffic)])
			i++
		}
	})
}

func TestShared(t *testing.T) {
	var mu sync.Mutex
	state, on := Shared{Up: true, Following: true, StateChanges: 2, Sent: 5, Received: 7}, false
	m := New(Options{Shared: func() (Shared, bool) {
		mu.Lock()
		defer mu.Unlock()
		return state, on
	}})
	names := []string{"sluice_cache_shared_up", "sluice_fleet_invalidations_following",
		"sluice_cache_shared_state_changes_total", "sluice_fleet_invalidations_total"}
	for _, n := range names {
		if family(t, m, n) != nil {
			t.Errorf("%s exported without a shared tier", n)
		}
	}
	mu.Lock()
	on = true
	mu.Unlock()
	want := `
# HELP sluice_cache_shared_state_changes_total Times the shared tier went down or came back.
# TYPE sluice_cache_shared_state_changes_total counter
sluice_cache_shared_state_changes_total 2
# HELP sluice_fleet_invalidations_total Invalidations (PURGE, unsafe methods, host purges) passed between the fleet's instances: sent by this one, received from others and applied to the local tiers, or dropped because too many waited while Redis was away.
# TYPE sluice_fleet_invalidations_total counter
sluice_fleet_invalidations_total{direction="dropped"} 0
sluice_fleet_invalidations_total{direction="received"} 7
sluice_fleet_invalidations_total{direction="sent"} 5
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), names[2:]...); err != nil {
		t.Error(err)
	}
	for _, tc := range []struct {
		up   bool
		want float64
	}{{true, 1}, {false, 0}} {
		mu.Lock()
		state.Up = tc.up
		mu.Unlock()
		if got := family(t, m, "sluice_cache_shared_up").GetMetric()[0].GetGauge().GetValue(); got != tc.want {
			t.Errorf("up=%v: sluice_cache_shared_up = %v, want %v", tc.up, got, tc.want)
		}
	}
}

// TestDocumented keeps docs/operations.md's metric table complete: every
// sluice_ series that can be exported has a row.
func TestDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	m := New(Options{
		OpenConns: func() int64 { return 0 }, OpenTunnels: func() int64 { return 0 },
		CacheTiers: func() []Tier { return []Tier{{Name: "memory"}} },
		Shared:     func() (Shared, bool) { return Shared{}, true },
	})
	observeAll(m, traffic)
	m.UpstreamConnect(time.Millisecond, nil)
	m.UpstreamFirstByte(time.Millisecond)
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, mf := range mfs {
		name := mf.GetName()
		if !strings.HasPrefix(name, "sluice_") {
			continue
		}
		n++
		if !strings.Contains(string(doc), "| `"+name+"` |") {
			t.Errorf("docs/operations.md has no row for %s", name)
		}
	}
	if n < 20 {
		t.Errorf("only %d sluice_ metrics gathered", n)
	}
}
