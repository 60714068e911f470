package disk

import (
	"context"
	"strconv"
	"testing"
)

func BenchmarkGetHit1K(b *testing.B) {
	s := openStore(b, b.TempDir(), 1<<30)
	put(b, s, "http://example.com/a", meta("x"), body(1024, 1))
	p := make([]byte, 1024)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		e, err := s.Get(ctx, "http://example.com/a")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.ReadAt(p, 0); err != nil {
			b.Fatal(err)
		}
		e.Close()
	}
}

func BenchmarkCommit1K(b *testing.B) {
	s := openStore(b, b.TempDir(), 1<<30)
	p := body(1024, 1)
	m := meta("x")
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		w, err := s.Create(ctx, "http://example.com/"+strconv.Itoa(i%1000), m)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := w.Write(p); err != nil {
			b.Fatal(err)
		}
		if err := w.Commit(); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
