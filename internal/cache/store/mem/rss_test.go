package mem

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"sluice/internal/cache/store"
)

// The memory bound: 100,000 objects of 1 KiB body with a realistic header
// grow the process by at most 1.5× their body bytes.
const (
	rssObjects  = 100_000
	rssBodySize = 1024
	rssMaxRatio = 1.5
)

func TestRSS100k(t *testing.T) {
	if raceEnabled {
		t.Skip("memory use means nothing under the race detector")
	}
	if testing.Short() {
		t.Skip("fills 100,000 objects")
	}
	ratio, growth, payload := measureRSS100k(t)
	t.Logf("rss growth = %.1f MiB for %.1f MiB payload = %.2f×", growth, payload, ratio)
	if ratio > rssMaxRatio {
		t.Errorf("rss growth is %.2f× the payload, want at most %.2f×", ratio, rssMaxRatio)
	}
}

func BenchmarkRSS100k(b *testing.B) {
	if raceEnabled {
		b.Skip("memory use means nothing under the race detector")
	}
	var ratio float64
	for i := 0; b.Loop(); i++ {
		if i == 0 {
			ratio, _, _ = measureRSS100k(b)
		}
	}
	b.ReportMetric(ratio, "rss/payload")
}

// measureRSS100k fills a store and returns the growth in resident memory
// over the payload, the growth and the payload in MiB.
func measureRSS100k(tb testing.TB) (ratio, growthMiB, payloadMiB float64) {
	s := New(Options{Capacity: 256 << 20, MaxObjectSize: 1 << 20})
	defer s.Close()
	meta := realisticMeta()
	body := make([]byte, rssBodySize)
	for i := range body {
		body[i] = byte(i * 7)
	}
	ctx := context.Background()

	before := rss(tb)
	for i := range rssObjects {
		w, err := s.Create(ctx, "http://127.0.0.1:18080/obj/"+strconv.Itoa(i), meta)
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := w.Write(body); err != nil {
			tb.Fatal(err)
		}
		if err := w.Commit(); err != nil {
			tb.Fatal(err)
		}
	}
	after := rss(tb)
	if st := s.Stats(); st.Entries != rssObjects {
		tb.Fatalf("Stats().Entries = %d, want %d (%+v)", st.Entries, rssObjects, st)
	}
	payload := float64(rssObjects * rssBodySize)
	growth := float64(after - before)
	return growth / payload, growth / (1 << 20), payload / (1 << 20)
}

// realisticMeta is a meta of about 200 header bytes, as an origin server
// sends for a small static object.
func realisticMeta() *store.Meta {
	now := time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)
	h := http.Header{}
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Date", now.Format(http.TimeFormat))
	h.Set("Last-Modified", now.Add(-24*time.Hour).Format(http.TimeFormat))
	h.Set("Etag", `"5f3c1a2b-400"`)
	h.Set("Cache-Control", "public, max-age=3600")
	h.Set("Accept-Ranges", "bytes")
	h.Set("Server", "origin/1.0")
	return &store.Meta{Status: 200, Header: h, RequestTime: now, ResponseTime: now.Add(3 * time.Millisecond)}
}

// rss returns the resident set size after collecting garbage and
// returning free heap memory to the system.
func rss(tb testing.TB) int64 {
	runtime.GC()
	debug.FreeOSMemory()
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		tb.Skipf("no /proc/self/statm: %v", err)
	}
	fields := strings.Fields(string(b))
	if len(fields) < 2 {
		tb.Fatalf("unexpected /proc/self/statm: %q", b)
	}
	pages, err := strconv.ParseInt(fields[1], 10, 64)
	if err != nil {
		tb.Fatalf("unexpected /proc/self/statm: %q", b)
	}
	return pages * int64(os.Getpagesize())
}

func TestRealisticMetaSize(t *testing.T) {
	m := realisticMeta()
	n := 0
	for k, v := range m.Header {
		n += len(k) + len(strings.Join(v, ""))
	}
	if n < 180 || n > 240 {
		t.Errorf("header bytes: got %d, want about 200", n)
	}
	t.Log(fmt.Sprintf("header %d bytes, encoded meta %d bytes", n, len(store.AppendMeta(nil, m))))
}
