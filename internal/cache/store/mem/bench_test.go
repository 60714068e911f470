package mem

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
)

// benchStore returns a store holding n entries of 1 KiB with a realistic
// header, and their keys.
func benchStore(b *testing.B, n int) (*Store, []string) {
	s := New(Options{Capacity: 256 << 20, MaxObjectSize: 1 << 20})
	b.Cleanup(func() { s.Close() })
	keys := make([]string, n)
	body := make([]byte, 1024)
	meta := realisticMeta()
	for i := range keys {
		keys[i] = "http://127.0.0.1:18080/obj/" + strconv.Itoa(i)
		w, err := s.Create(context.Background(), keys[i], meta)
		if err != nil {
			b.Fatal(err)
		}
		w.Write(body)
		if err := w.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	return s, keys
}

// BenchmarkGetHit is a cache hit: Get, read the 1 KiB body, Close. It
// does not decode the meta (a caller does that once per response).
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
	b.Run("parallel", func(b *testing.B) {
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
	})
}

// BenchmarkCommit1K stores 1 KiB objects over a key space that keeps
// replacing entries.
func BenchmarkCommit1K(b *testing.B) {
	s := New(Options{Capacity: 256 << 20, MaxObjectSize: 1 << 20})
	defer s.Close()
	keys := make([]string, 50_000)
	for i := range keys {
		keys[i] = "http://127.0.0.1:18080/obj/" + strconv.Itoa(i)
	}
	body := make([]byte, 1024)
	meta := realisticMeta()
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		w, err := s.Create(ctx, keys[i%len(keys)], meta)
		if err != nil {
			b.Fatal(err)
		}
		w.Write(body)
		if err := w.Commit(); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkCommit1KEvicting stores 1 KiB objects into a full store.
func BenchmarkCommit1KEvicting(b *testing.B) {
	s := New(Options{Capacity: 16 << 20, MaxObjectSize: 1 << 20})
	defer s.Close()
	body := make([]byte, 1024)
	meta := realisticMeta()
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		w, err := s.Create(ctx, "http://127.0.0.1:18080/obj/"+strconv.Itoa(i), meta)
		if err != nil {
			b.Fatal(err)
		}
		w.Write(body)
		if err := w.Commit(); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
