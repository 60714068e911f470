package limit

import (
	"context"
	"errors"
	"hash/maphash"
	"log/slog"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// recorder is a slog.Handler that keeps every record, so tests can count
// the lines a limiter logs.
type recorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *recorder) WithGroup(string) slog.Handler            { return r }

func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec.Clone())
	return nil
}

// lines returns the records logged at level.
func (r *recorder) lines(level slog.Level) []slog.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []slog.Record
	for _, rec := range r.recs {
		if rec.Level == level {
			out = append(out, rec)
		}
	}
	return out
}

// attr returns rec's attribute key, or the zero Value.
func attr(rec slog.Record, key string) slog.Value {
	var v slog.Value
	rec.Attrs(func(a slog.Attr) bool {
		if a.Key == key {
			v = a.Value
			return false
		}
		return true
	})
	return v
}

func newRecorded(o Options) (*Limiter, *recorder) {
	rec := new(recorder)
	o.Logger = slog.New(rec)
	return New(o), rec
}

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

// v4 returns the i-th address of 10.0.0.0/8.
func v4(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
}

func TestConnCaps(t *testing.T) {
	tests := []struct {
		name    string
		opt     Options
		clients []string // connection attempts in order, all held open
		want    []error
	}{
		{"no caps", Options{}, []string{"192.0.2.1", "192.0.2.1", "192.0.2.1"}, []error{nil, nil, nil}},
		{"per client", Options{MaxConnsPerClient: 2},
			[]string{"192.0.2.1", "192.0.2.1", "192.0.2.1", "192.0.2.2"},
			[]error{nil, nil, ErrClientConns, nil}},
		{"global", Options{MaxConns: 2},
			[]string{"192.0.2.1", "192.0.2.2", "192.0.2.3"},
			[]error{nil, nil, ErrOverloaded}},
		{"global before per client", Options{MaxConns: 1, MaxConnsPerClient: 1},
			[]string{"192.0.2.1", "192.0.2.1"},
			[]error{nil, ErrOverloaded}},
		{"IPv6 /64 is one client", Options{MaxConnsPerClient: 1},
			[]string{"2001:db8:1:2::1", "2001:db8:1:2:ffff::9", "2001:db8:1:3::1", "fe80::1%eth0", "fe80::2%eth1"},
			[]error{nil, ErrClientConns, nil, nil, ErrClientConns}},
		{"IPv4-mapped is IPv4", Options{MaxConnsPerClient: 1},
			[]string{"192.0.2.1", "::ffff:192.0.2.1"},
			[]error{nil, ErrClientConns}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, _ := newRecorded(tt.opt)
			slots := make([]Slot, len(tt.clients))
			admitted := 0
			for i, c := range tt.clients {
				err := l.Conn(ip(c), &slots[i])
				if !errors.Is(err, tt.want[i]) || (err == nil) != (tt.want[i] == nil) {
					t.Errorf("connection %d from %s: got %v, want %v", i, c, err, tt.want[i])
				}
				if err == nil {
					admitted++
				}
			}
			if n := l.OpenConns(); n != int64(admitted) {
				t.Errorf("OpenConns: got %d, want %d", n, admitted)
			}
			for i := range slots {
				slots[i].Release()
			}
			if n := l.OpenConns(); n != 0 {
				t.Errorf("OpenConns after releasing all: got %d, want 0", n)
			}
		})
	}
}

// TestRelease: a released place can be taken again, and releasing twice
// (or a slot that was refused, or the zero Slot) gives nothing back twice.
func TestRelease(t *testing.T) {
	l, _ := newRecorded(Options{MaxConns: 3, MaxConnsPerClient: 1})
	a := ip("192.0.2.1")
	var s1, s2, refused, zero Slot
	if err := l.Conn(a, &s1); err != nil {
		t.Fatal(err)
	}
	if err := l.Conn(a, &refused); !errors.Is(err, ErrClientConns) {
		t.Fatalf("second connection: got %v, want ErrClientConns", err)
	}
	refused.Release()
	zero.Release()
	s1.Release()
	s1.Release()
	if n := l.OpenConns(); n != 0 {
		t.Fatalf("OpenConns: got %d, want 0", n)
	}
	if err := l.Conn(a, &s2); err != nil {
		t.Fatalf("after release: got %v, want nil", err)
	}
	s1.Release() // a stale release must not free s2's place
	if err := l.Conn(a, &refused); !errors.Is(err, ErrClientConns) {
		t.Errorf("after a stale release: got %v, want ErrClientConns", err)
	}
	s2.Release()
}

func TestNilLimiter(t *testing.T) {
	var l *Limiter
	var s Slot
	if err := l.Conn(ip("192.0.2.1"), &s); err != nil {
		t.Errorf("Conn: got %v, want nil", err)
	}
	s.Release()
	if ok, _ := l.Request(ip("192.0.2.1")); !ok {
		t.Error("Request: got refused, want allowed")
	}
}

func TestRequestRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, _ := newRecorded(Options{Rate: 10, Burst: 5})
		a, b := ip("192.0.2.1"), ip("192.0.2.2")
		for i := range 5 {
			if ok, _ := l.Request(a); !ok {
				t.Fatalf("request %d of the burst: refused", i)
			}
		}
		ok, retry := l.Request(a)
		if ok {
			t.Fatal("request past the burst: allowed, want refused")
		}
		if retry != 100*time.Millisecond {
			t.Errorf("retryAfter: got %v, want 100ms", retry)
		}
		if ok, _ := l.Request(b); !ok {
			t.Error("another client: refused, want allowed")
		}
		time.Sleep(retry)
		if ok, _ := l.Request(a); !ok {
			t.Error("after retryAfter: refused, want allowed")
		}
		if ok, _ := l.Request(a); ok {
			t.Error("the refilled token spent: allowed, want refused")
		}
	})
}

// TestSlotRequest: a connection's requests spend its client's bucket,
// the same one Limiter.Request spends.
func TestSlotRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, _ := newRecorded(Options{Rate: 1, Burst: 2})
		a := ip("192.0.2.1")
		var s Slot
		if err := l.Conn(a, &s); err != nil {
			t.Fatal(err)
		}
		defer s.Release()
		if ok, _ := s.Request(); !ok {
			t.Fatal("first request: refused")
		}
		if ok, _ := l.Request(a); !ok {
			t.Fatal("second request: refused")
		}
		ok, retry := s.Request()
		if ok || retry != time.Second {
			t.Errorf("third request: got %v, retry after %v; want refused, 1s", ok, retry)
		}
		var none Slot
		if ok, _ := none.Request(); !ok {
			t.Error("the zero Slot: refused, want allowed")
		}
		time.Sleep(quiet)
		synctest.Wait()
	})
}

func TestDefaultBurst(t *testing.T) {
	for _, tt := range []struct {
		rate float64
		want int
	}{{0.1, 10}, {1, 10}, {2.5, 10}, {5.5, 11}, {50, 100}} {
		if got := New(Options{Rate: tt.rate}).burst; got != tt.want {
			t.Errorf("Rate %v: got burst %d, want %d", tt.rate, got, tt.want)
		}
	}
}

// TestBurstLogging: ten thousand refusals log one warning when they begin
// and one summary, with the count, when the client has been quiet.
func TestBurstLogging(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, rec := newRecorded(Options{Rate: 1, Burst: 1})
		a := ip("2001:db8::1")
		l.Request(a)
		start := time.Now()
		for range 10000 {
			if ok, _ := l.Request(a); ok {
				t.Fatal("a refusal was allowed")
			}
			time.Sleep(100 * time.Microsecond) // 10,000 refusals over a second
		}
		elapsed := time.Since(start)
		if n := len(rec.lines(slog.LevelWarn)); n != 1 {
			t.Fatalf("warnings during the burst: got %d, want 1", n)
		}
		if n := len(rec.lines(slog.LevelInfo)); n != 0 {
			t.Fatalf("summaries during the burst: got %d, want 0", n)
		}
		time.Sleep(quiet)
		synctest.Wait()
		warn, info := rec.lines(slog.LevelWarn), rec.lines(slog.LevelInfo)
		if len(warn) != 1 || len(info) != 1 {
			t.Fatalf("got %d warnings and %d summaries, want 1 and 1", len(warn), len(info))
		}
		if got := attr(warn[0], "client").String(); got != "2001:db8::/64" {
			t.Errorf("client: got %q, want %q", got, "2001:db8::/64")
		}
		if got := attr(info[0], "refused_requests").Int64(); got != 10000 {
			t.Errorf("refused_requests: got %d, want 10000", got)
		}
		if got, want := attr(info[0], "over").Duration(), elapsed-100*time.Microsecond; got != want.Round(time.Millisecond) {
			t.Errorf("over: got %v, want %v", got, want.Round(time.Millisecond))
		}

		// A later burst is a new one: one more warning, one more summary.
		time.Sleep(time.Second)
		l.Request(a)
		l.Request(a)
		time.Sleep(quiet)
		synctest.Wait()
		if w, i := len(rec.lines(slog.LevelWarn)), len(rec.lines(slog.LevelInfo)); w != 2 || i != 2 {
			t.Errorf("after a second burst: got %d warnings and %d summaries, want 2 and 2", w, i)
		}
	})
}

// TestBurstThatGoesOn: a client refused without pause is summarised once
// a minute, and once more when it stops.
func TestBurstThatGoesOn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, rec := newRecorded(Options{MaxConnsPerClient: 1})
		a := ip("192.0.2.7")
		var held, s Slot
		if err := l.Conn(a, &held); err != nil {
			t.Fatal(err)
		}
		for range 150 * 10 { // two and a half minutes at 10 a second
			if err := l.Conn(a, &s); !errors.Is(err, ErrClientConns) {
				t.Fatalf("got %v, want ErrClientConns", err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		time.Sleep(quiet)
		synctest.Wait()
		if n := len(rec.lines(slog.LevelWarn)); n != 1 {
			t.Errorf("warnings: got %d, want 1", n)
		}
		info := rec.lines(slog.LevelInfo)
		var total int64
		for _, r := range info {
			total += attr(r, "refused_conns").Int64()
		}
		if len(info) != 3 || total != 1500 {
			t.Errorf("got %d summaries counting %d refusals, want 3 (2 interim, 1 final) counting 1500", len(info), total)
		}
		if got := info[len(info)-1].Message; len(info) > 0 && got != "limit: refusals ended" {
			t.Errorf("last summary: got %q, want %q", got, "limit: refusals ended")
		}
		held.Release()
	})
}

func TestGlobalBurstLogging(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, rec := newRecorded(Options{MaxConns: 1})
		var held, s Slot
		if err := l.Conn(ip("192.0.2.1"), &held); err != nil {
			t.Fatal(err)
		}
		for i := range 1000 {
			if err := l.Conn(v4(i), &s); !errors.Is(err, ErrOverloaded) {
				t.Fatalf("got %v, want ErrOverloaded", err)
			}
		}
		time.Sleep(quiet)
		synctest.Wait()
		warn, info := rec.lines(slog.LevelWarn), rec.lines(slog.LevelInfo)
		if len(warn) != 1 || len(info) != 1 {
			t.Fatalf("got %d warnings and %d summaries, want 1 and 1", len(warn), len(info))
		}
		if got := attr(info[0], "refused_conns").Int64(); got != 1000 {
			t.Errorf("refused_conns: got %d, want 1000", got)
		}
		held.Release()
	})
}

// TestTableBound: the table never holds more than MaxClients entries;
// newcomers to a full table share the overflow entry; an entry whose
// bucket has refilled is dropped for a newcomer.
func TestTableBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, rec := newRecorded(Options{Rate: 1, Burst: 1, MaxClients: shardCount})
		// perShard is 1: find three clients of one shard.
		want := l.shardIndex(v4(0))
		var same []netip.Addr
		for i := 0; len(same) < 3; i++ {
			if l.shardIndex(v4(i)) == want {
				same = append(same, v4(i))
			}
		}
		a, b, c := same[0], same[1], same[2]
		if ok, _ := l.Request(a); !ok {
			t.Fatal("first request of a: refused")
		}
		// The shard is full and a's bucket is empty: b and c share the
		// overflow bucket, which holds one token.
		if ok, _ := l.Request(b); !ok {
			t.Fatal("b, first in the overflow: refused")
		}
		if ok, _ := l.Request(c); ok {
			t.Error("c, second in the overflow: allowed, want refused")
		}
		if n := len(rec.lines(slog.LevelWarn)); n < 1 {
			t.Error("no warning that the table is full")
		}
		for i := range 10000 {
			l.Request(v4(1<<20 + i)) // others, not a, b or c
		}
		if n := l.entries(); n > shardCount {
			t.Errorf("entries: got %d, want at most %d", n, shardCount)
		}
		// Once a's bucket is full again, a is dropped for c.
		time.Sleep(time.Second)
		if ok, _ := l.Request(c); !ok {
			t.Error("c after a's bucket refilled: refused, want allowed")
		}
		sh := &l.shards[want]
		sh.mu.Lock()
		_, hasC := sh.m[keyOf(c)]
		_, hasA := sh.m[keyOf(a)]
		sh.mu.Unlock()
		if !hasC || hasA {
			t.Errorf("shard holds a: %v, c: %v; want c only", hasA, hasC)
		}
		time.Sleep(quiet)
		synctest.Wait()
	})
}

// TestIdleEntriesDropped: without a rate limit, a client's entry goes when
// its last connection does.
func TestIdleEntriesDropped(t *testing.T) {
	l, _ := newRecorded(Options{MaxConnsPerClient: 4})
	slots := make([]Slot, 100)
	for i := range slots {
		if err := l.Conn(v4(i), &slots[i]); err != nil {
			t.Fatal(err)
		}
	}
	if n := l.entries(); n != 100 {
		t.Fatalf("entries with connections open: got %d, want 100", n)
	}
	for i := range slots {
		slots[i].Release()
	}
	if n := l.entries(); n != 0 {
		t.Errorf("entries after all closed: got %d, want 0", n)
	}
}

// TestConcurrent hammers one limiter from many goroutines (run with
// -race): a client never holds more than its cap, and everything is
// released in the end.
func TestConcurrent(t *testing.T) {
	const perClient, clients = 3, 8
	l, _ := newRecorded(Options{MaxConns: 20, MaxConnsPerClient: perClient, Rate: 1000, MaxClients: 4})
	var held [clients]atomic.Int32
	var admitted, over atomic.Int64
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 2000 {
				c := (g + i) % clients
				a := ip("2001:db8:" + strconv.Itoa(c) + "::1")
				var s Slot
				if err := l.Conn(a, &s); err != nil {
					continue
				}
				admitted.Add(1)
				if n := held[c].Add(1); n > perClient {
					over.Add(1)
				}
				l.Request(a)
				held[c].Add(-1)
				s.Release()
				s.Release()
			}
		})
	}
	wg.Wait()
	if n := over.Load(); n != 0 {
		t.Errorf("a client held more than its cap %d times", n)
	}
	if admitted.Load() == 0 {
		t.Error("no connection was admitted")
	}
	if n := l.OpenConns(); n != 0 {
		t.Errorf("OpenConns: got %d, want 0", n)
	}
}

func TestMaxConnsFor(t *testing.T) {
	for _, tt := range []struct {
		nofile uint64
		want   int
	}{{0, 64}, {100, 64}, {1024, 480}, {65536, 32736}, {1<<64 - 1, (1<<24 - 64) / 2}} {
		if got := maxConnsFor(tt.nofile); got != tt.want {
			t.Errorf("maxConnsFor(%d): got %d, want %d", tt.nofile, got, tt.want)
		}
	}
	if n := DefaultMaxConns(); n < 64 {
		t.Errorf("DefaultMaxConns: got %d, want at least 64", n)
	}
}

// shardIndex is the shard a's client is kept in.
func (l *Limiter) shardIndex(a netip.Addr) uint64 {
	k := keyOf(a)
	return maphash.Bytes(l.seed, k[:]) & (shardCount - 1)
}

// entries counts the clients in the table.
func (l *Limiter) entries() int {
	n := 0
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}

// BenchmarkConn admits and releases a connection of a client that holds
// another one open (a browser's connections come and go that way).
func BenchmarkConn(b *testing.B) {
	l := New(Options{MaxConns: 1 << 20, MaxConnsPerClient: 64})
	a := ip("192.0.2.1")
	var held, s Slot
	if err := l.Conn(a, &held); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := l.Conn(a, &s); err != nil {
			b.Fatal(err)
		}
		s.Release()
	}
}

// BenchmarkRequest is the per-request check of a known client within its
// rate.
func BenchmarkRequest(b *testing.B) {
	l := New(Options{Rate: 1e12})
	a := ip("2001:db8::1")
	b.ReportAllocs()
	for b.Loop() {
		if ok, _ := l.Request(a); !ok {
			b.Fatal("refused")
		}
	}
}

// BenchmarkRequestParallel is Request from many clients at once: the
// shards keep them from contending for one lock.
func BenchmarkRequestParallel(b *testing.B) {
	l := New(Options{Rate: 1e12})
	var next atomic.Int32
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		a := v4(int(next.Add(1)))
		for pb.Next() {
			if ok, _ := l.Request(a); !ok {
				b.Error("refused")
				return
			}
		}
	})
}

// BenchmarkSlotRequest is the per-request check through the connection's
// slot, which skips the table lookup.
func BenchmarkSlotRequest(b *testing.B) {
	l := New(Options{Rate: 1e12})
	var s Slot
	if err := l.Conn(ip("2001:db8::1"), &s); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if ok, _ := s.Request(); !ok {
			b.Fatal("refused")
		}
	}
}
