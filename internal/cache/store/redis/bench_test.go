package redisstore

import (
	"context"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"sluice/internal/cache/store"
	"sluice/internal/redistest"
)

// realisticMeta is the header of a typical small object (the same as the
// mem tier's benchmarks use).
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

// benchStore returns a store on a fresh redis-server holding n entries of
// 1 KiB, and their keys.
func benchStore(b *testing.B, n int) (*Store, []string) {
	srv := redistest.Start(b)
	s := newStore(b, srv, Options{Timeout: time.Second})
	keys := make([]string, n)
	body := make([]byte, 1024)
	for i := range keys {
		keys[i] = "http://127.0.0.1:18080/obj/" + strconv.Itoa(i)
		put(b, s, keys[i], realisticMeta(), body)
	}
	return s, keys
}

// BenchmarkGetHit is a hit over loopback: Get, read the 1 KiB body,
// Close. It does not decode the meta (a caller does that once per
// response, or not at all when its memo knows the MetaBytes).
func BenchmarkGetHit(b *testing.B) {
	b.Run("serial", func(b *testing.B) {
		s, keys := benchStore(b, 1)
		ctx := context.Background()
		buf := make([]byte, 1024)
		b.ReportAllocs()
		for b.Loop() {
			e, err := s.Get(ctx, keys[0])
			if err != nil {
				b.Fatal(err)
			}
			if n, _ := e.ReadAt(buf, 0); n != len(buf) {
				b.Fatalf("read %d bytes", n)
			}
			e.Close()
		}
	})
	b.Run("parallel", func(b *testing.B) { getParallel(b, 1) })
	// 50 concurrent Gets, as under compare.sh's 50 clients.
	b.Run("parallel-50", func(b *testing.B) { getParallel(b, 25) })
}

func getParallel(b *testing.B, parallelism int) {
	b.SetParallelism(parallelism)
	s, keys := benchStore(b, 1024)
	ctx := context.Background()
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 1024)
		i := int(next.Add(1)) * 97
		for pb.Next() {
			i++
			e, err := s.Get(ctx, keys[i%len(keys)])
			if err != nil {
				b.Error(err)
				return
			}
			e.ReadAt(buf, 0)
			e.Close()
		}
	})
}

// BenchmarkCommit1K stores 1 KiB objects: Create, Write, Commit (one
// MULTI/STRLEN/SET/EXEC round trip). With AsyncCommit, the workers send
// the SETs and the loop flushes every 1,000 commits, so ns/op is the
// sustained rate and commit-ns/op the time a request waits in Commit.
func BenchmarkCommit1K(b *testing.B) {
	for _, async := range []bool{false, true} {
		name := "sync"
		if async {
			name = "async"
		}
		b.Run(name, func(b *testing.B) {
			srv := redistest.Start(b)
			s := newStore(b, srv, Options{Timeout: time.Second, AsyncCommit: async})
			body := make([]byte, 1024)
			meta := realisticMeta()
			ctx := context.Background()
			var inCommit time.Duration
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				w, err := s.Create(ctx, "http://127.0.0.1:18080/obj/"+strconv.Itoa(i%50_000), meta)
				if err != nil {
					b.Fatal(err)
				}
				w.Write(body)
				start := time.Now()
				if err := w.Commit(); err != nil {
					b.Fatal(err)
				}
				inCommit += time.Since(start)
				i++
				if i%1000 == 0 {
					s.Flush(ctx)
				}
			}
			s.Flush(ctx)
			b.ReportMetric(float64(inCommit.Nanoseconds())/float64(i), "commit-ns/op")
			if s.Dropped() != 0 {
				b.Errorf("%d values dropped", s.Dropped())
			}
		})
	}
}
