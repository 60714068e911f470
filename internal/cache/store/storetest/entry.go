package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"sluice/internal/cache/store"
)

func testGetMissing(t *testing.T, f Factory) {
	s := open(t, f, f.bigCapacity())
	checkMissing(t, s, "http://example.com/missing")
	put(t, s, "http://example.com/a", newMeta(nil, "a"), nil)
	checkMissing(t, s, "http://example.com/b")
	checkMissing(t, s, "")
}

func testRoundTrip(t *testing.T, f Factory) {
	s := open(t, f, f.bigCapacity())
	ctx := context.Background()
	b := body(10_000, 1)
	meta := newMeta(b, "v1")
	want := meta.Clone()
	put(t, s, "k", meta, b)
	for i := range 2 {
		e, err := s.Get(ctx, "k")
		if err != nil {
			t.Fatalf("Get #%d: %v", i, err)
		}
		checkEntry(t, e, "k", want, b)
		if got := e.Meta().Header.Values("Set-Cookie"); len(got) != 2 {
			t.Errorf("Get #%d: Set-Cookie values: got %q, want two", i, got)
		}
		if e.Tier() == "" {
			t.Errorf("Get #%d: Tier() is empty", i)
		}
		// The caller owns the returned meta: changing it changes nothing
		// stored.
		m := e.Meta()
		m.Status = 500
		m.Header.Set("Etag", `"changed"`)
		m.Header["Set-Cookie"][0] = "changed"
		if err := e.Close(); err != nil {
			t.Errorf("Entry.Close: %v", err)
		}
	}
}

func testReadAt(t *testing.T, f Factory) {
	s := open(t, f, f.bigCapacity())
	const size = 100_003
	b := body(size, 2)
	put(t, s, "k", newMeta(b, "v"), b)
	e, err := s.Get(context.Background(), "k")
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if e.Size() != size {
		t.Fatalf("Size: got %d, want %d", e.Size(), size)
	}
	cases := []struct {
		off, n int64
	}{
		{0, 1}, {1, 1}, {0, 4096}, {4095, 2}, {12345, 54321},
		{size - 10, 10}, // ends exactly at the end: err is nil or io.EOF
		{size - 1, 1},
		{size - 10, 20}, // runs past the end: n = 10, io.EOF
		{size, 1},       // starts at the end: 0, io.EOF
		{size + 100, 5}, // starts past the end: 0, io.EOF
		{0, size + 1},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%d+%d", c.off, c.n), func(t *testing.T) {
			p := make([]byte, c.n)
			n, err := e.ReadAt(p, c.off)
			wantN := max(0, min(c.n, size-c.off))
			if int64(n) != wantN {
				t.Fatalf("ReadAt(%d bytes, %d): got n %d, want %d (err %v)", c.n, c.off, n, wantN, err)
			}
			switch {
			case wantN < c.n && err != io.EOF:
				t.Errorf("ReadAt(%d bytes, %d): got err %v, want io.EOF", c.n, c.off, err)
			case wantN == c.n && err != nil && err != io.EOF:
				t.Errorf("ReadAt(%d bytes, %d): %v", c.n, c.off, err)
			}
			if wantN > 0 && !bytes.Equal(p[:n], b[c.off:c.off+wantN]) {
				t.Errorf("ReadAt(%d bytes, %d): wrong bytes", c.n, c.off)
			}
		})
	}
	if n, err := e.ReadAt(make([]byte, 1), -1); err == nil {
		t.Errorf("ReadAt at -1: got n %d and no error", n)
	}
}

func testInvisibleBeforeCommit(t *testing.T, f Factory) {
	s := open(t, f, f.bigCapacity())
	ctx := context.Background()
	b := body(5000, 3)
	w, err := s.Create(ctx, "new", newMeta(b, "new"))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	checkMissing(t, s, "new")

	old := body(300, 4)
	oldMeta := newMeta(old, "old")
	put(t, s, "old", oldMeta, old)
	w2, err := s.Create(ctx, "old", newMeta(b, "replacement"))
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Abort()
	if _, err := w2.Write(b); err != nil {
		t.Fatal(err)
	}
	check(t, s, "old", oldMeta, old)

	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	check(t, s, "new", newMeta(b, "new"), b)
	check(t, s, "old", oldMeta, old)
	if st := s.Stats(); st.Entries != 2 {
		t.Errorf("Stats().Entries: got %d, want 2", st.Entries)
	}
}

func testAbort(t *testing.T, f Factory) {
	s := open(t, f, f.bigCapacity())
	ctx := context.Background()
	b := body(7000, 5)

	w, err := s.Create(ctx, "fresh", newMeta(b, "x"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	w.Abort()
	w.Abort() // a second Abort does nothing
	checkMissing(t, s, "fresh")

	old := body(2000, 6)
	oldMeta := newMeta(old, "old")
	put(t, s, "kept", oldMeta, old)
	w, err = s.Create(ctx, "kept", newMeta(b, "new"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	w.Abort()
	check(t, s, "kept", oldMeta, old)
	if st := s.Stats(); st.Entries != 1 {
		t.Errorf("Stats().Entries after aborts: got %d, want 1", st.Entries)
	}

	// Abort after Commit does nothing.
	w, err = s.Create(ctx, "committed", newMeta(b, "c"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	w.Abort()
	check(t, s, "committed", newMeta(b, "c"), b)
}

func testReplace(t *testing.T, f Factory) {
	s := open(t, f, f.bigCapacity())
	ctx := context.Background()
	v1, v2 := body(40_000, 7), body(900, 8)
	m1, m2 := newMeta(v1, "v1"), newMeta(v2, "v2")
	put(t, s, "k", m1, v1)
	old, err := s.Get(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	put(t, s, "k", m2, v2)
	check(t, s, "k", m2, v2)
	checkEntry(t, old, "k (held before the replacement)", newMeta(v1, "v1"), v1)
	if st := s.Stats(); st.Entries != 1 {
		t.Errorf("Stats().Entries after replacement: got %d, want 1", st.Entries)
	}
	// Replace again while the first reader still holds the oldest body.
	v3 := body(40_000, 9)
	put(t, s, "k", newMeta(v3, "v3"), v3)
	check(t, s, "k", newMeta(v3, "v3"), v3)
	checkEntry(t, old, "k (held before two replacements)", newMeta(v1, "v1"), v1)
}

func testReaderOutlivesDelete(t *testing.T, f Factory) {
	s := open(t, f, f.bigCapacity())
	ctx := context.Background()
	b := body(70_000, 10)
	put(t, s, "k", newMeta(b, "v"), b)
	e, err := s.Get(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := s.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	checkMissing(t, s, "k")
	// New entries must not reuse the space the held entry still reads.
	for i := range 20 {
		o := body(70_000, uint64(100+i))
		put(t, s, fmt.Sprintf("other%d", i), newMeta(o, "o"), o)
	}
	checkEntry(t, e, "k (held across Delete)", newMeta(b, "v"), b)
}

func testReaderOutlivesEviction(t *testing.T, f Factory) {
	s := open(t, f, smallCapacity)
	ctx := context.Background()
	b := body(64<<10, 11)
	put(t, s, "held", newMeta(b, "held"), b)
	e, err := s.Get(ctx, "held")
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	evictionsBefore := s.Stats().Evictions
	for i := range 4 * smallCapacity / len(b) {
		o := body(len(b), uint64(1000+i))
		put(t, s, fmt.Sprintf("filler%d", i), newMeta(o, "f"), o)
	}
	if s.Stats().Evictions == evictionsBefore {
		t.Fatalf("writing 4× the capacity evicted nothing")
	}
	checkEntry(t, e, "held (held across eviction)", newMeta(b, "held"), b)
}

func testUpdate(t *testing.T, f Factory) {
	s := open(t, f, f.bigCapacity())
	ctx := context.Background()
	b := body(30_000, 12)
	put(t, s, "k", newMeta(b, "v1"), b)
	m2 := newMeta(b, "v1")
	m2.Status = 203
	m2.Header.Set("Age", "0")
	m2.Header.Add("Set-Cookie", "c=3")
	m2.RequestTime = m2.RequestTime.Add(3600e9 + 5)
	m2.ResponseTime = m2.ResponseTime.Add(3601e9 + 7)
	want := m2.Clone()
	if err := s.Update(ctx, "k", m2); err != nil {
		t.Fatalf("Update: %v", err)
	}
	check(t, s, "k", want, b)
	if st := s.Stats(); st.Entries != 1 {
		t.Errorf("Stats().Entries after Update: got %d, want 1", st.Entries)
	}
	if err := s.Update(ctx, "missing", newMeta(nil, "m")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Update of a missing key: got %v, want store.ErrNotFound", err)
	}
	checkMissing(t, s, "missing")
	if err := s.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, "k", newMeta(b, "v3")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Update of a deleted key: got %v, want store.ErrNotFound", err)
	}
}

func testDelete(t *testing.T, f Factory) {
	s := open(t, f, f.bigCapacity())
	ctx := context.Background()
	b := body(1000, 13)
	put(t, s, "a", newMeta(b, "a"), b)
	put(t, s, "b", newMeta(b, "b"), b)
	if err := s.Delete(ctx, "a"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	checkMissing(t, s, "a")
	check(t, s, "b", newMeta(b, "b"), b)
	if err := s.Delete(ctx, "a"); err != nil {
		t.Errorf("Delete of a deleted key: %v", err)
	}
	if err := s.Delete(ctx, "never"); err != nil {
		t.Errorf("Delete of a missing key: %v", err)
	}
	if st := s.Stats(); st.Entries != 1 {
		t.Errorf("Stats().Entries after Delete: got %d, want 1", st.Entries)
	}
	put(t, s, "a", newMeta(nil, "again"), nil)
	check(t, s, "a", newMeta(nil, "again"), nil)
}

func testEmptyBody(t *testing.T, f Factory) {
	s := open(t, f, f.bigCapacity())
	ctx := context.Background()
	w, err := s.Create(ctx, "empty", newMeta(nil, "e"))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil { // no Write at all
		t.Fatal(err)
	}
	put(t, s, "empty-write", newMeta(nil, "e"), []byte{})
	for _, key := range []string{"empty", "empty-write"} {
		e, err := s.Get(ctx, key)
		if err != nil {
			t.Fatalf("Get(%q): %v", key, err)
		}
		if e.Size() != 0 {
			t.Errorf("Get(%q).Size(): got %d, want 0", key, e.Size())
		}
		if d := sameMeta(e.Meta(), newMeta(nil, "e")); d != "" {
			t.Errorf("Get(%q) %s", key, d)
		}
		if n, err := e.ReadAt(make([]byte, 10), 0); n != 0 || err != io.EOF {
			t.Errorf("Get(%q).ReadAt: got %d, %v, want 0, io.EOF", key, n, err)
		}
		e.Close()
	}
}

func testLargeBody(t *testing.T, f Factory) {
	s := open(t, f, f.bigCapacity())
	size := min(5<<20+777, f.MaxObjectSize)
	b := body(int(size), 14)
	w, err := s.Create(context.Background(), "large", newMeta(b, "large"))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	// Odd-sized chunks that straddle every power-of-two boundary.
	sizes := []int{1, 7, 4093, 65537, 13, 333_333, 100_003}
	for rest, i := b, 0; len(rest) > 0; i++ {
		n := min(sizes[i%len(sizes)], len(rest))
		if m, err := w.Write(rest[:n]); m != n || err != nil {
			t.Fatalf("Write(%d bytes): got %d, %v", n, m, err)
		}
		rest = rest[n:]
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	check(t, s, "large", newMeta(b, "large"), b)
	e, err := s.Get(context.Background(), "large")
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	// Ranges across the store's likely chunk boundaries.
	for _, off := range []int64{1<<20 - 3, 1<<20 + 1, 2<<20 - 100, size - 5000} {
		p := make([]byte, 4096)
		n, err := e.ReadAt(p, off)
		want := b[off:min(off+4096, size)]
		if n != len(want) || (err != nil && err != io.EOF) || !bytes.Equal(p[:n], want) {
			t.Errorf("ReadAt(4096, %d): got %d bytes, err %v; want %d bytes", off, n, err, len(want))
		}
	}
}

func testTooLarge(t *testing.T, f Factory) {
	s := open(t, f, f.bigCapacity())
	ctx := context.Background()
	old := body(100, 15)
	put(t, s, "k", newMeta(old, "old"), old)

	// Exactly MaxObjectSize is accepted.
	b := body(int(f.MaxObjectSize)+1, 16)
	put(t, s, "max", newMeta(b[:f.MaxObjectSize], "max"), b[:f.MaxObjectSize])

	for _, key := range []string{"k", "fresh"} {
		w, err := s.Create(ctx, key, newMeta(b, "big"))
		if err != nil {
			t.Fatal(err)
		}
		var werr error
		for rest := b; len(rest) > 0 && werr == nil; {
			n := min(len(rest), 1<<16+1)
			_, werr = w.Write(rest[:n])
			rest = rest[n:]
		}
		if !errors.Is(werr, store.ErrTooLarge) {
			t.Errorf("writing %d bytes under %q with MaxObjectSize %d: got %v, want store.ErrTooLarge", len(b), key, f.MaxObjectSize, werr)
		}
		if err := w.Commit(); err == nil {
			t.Errorf("Commit after ErrTooLarge succeeded")
		}
		w.Abort()
	}
	check(t, s, "k", newMeta(old, "old"), old)
	checkMissing(t, s, "fresh")
	if st := s.Stats(); st.Entries != 2 {
		t.Errorf("Stats().Entries: got %d, want 2", st.Entries)
	}
}

func testStats(t *testing.T, f Factory) {
	capacity := f.bigCapacity()
	s := open(t, f, capacity)
	ctx := context.Background()
	st := s.Stats()
	if st.Entries != 0 || st.Bytes != 0 || st.Evictions != 0 {
		t.Errorf("Stats() of an empty store: got %+v", st)
	}
	if st.Capacity != capacity {
		t.Errorf("Stats().Capacity: got %d, want %d", st.Capacity, capacity)
	}
	b := body(10_000, 17)
	for i := range 5 {
		put(t, s, fmt.Sprint("k", i), newMeta(b, "s"), b)
	}
	st = s.Stats()
	if st.Entries != 5 {
		t.Errorf("Stats().Entries: got %d, want 5", st.Entries)
	}
	if st.Bytes < 5*int64(len(b)) || st.Bytes > capacity {
		t.Errorf("Stats().Bytes: got %d, want between %d and %d", st.Bytes, 5*len(b), capacity)
	}
	put(t, s, "k0", newMeta(b, "s2"), b)
	if got := s.Stats().Entries; got != 5 {
		t.Errorf("Stats().Entries after replacing: got %d, want 5", got)
	}
	s.Delete(ctx, "k1")
	s.Delete(ctx, "k2")
	if got := s.Stats().Entries; got != 3 {
		t.Errorf("Stats().Entries after two Deletes: got %d, want 3", got)
	}
	for i := range 5 {
		s.Delete(ctx, fmt.Sprint("k", i))
	}
	if st := s.Stats(); st.Entries != 0 || st.Bytes != 0 {
		t.Errorf("Stats() after deleting everything: got %+v, want no entries and no bytes", st)
	}
}

func testCloseWithOpenEntry(t *testing.T, f Factory) {
	s := f.Open(t, t.TempDir(), f.bigCapacity())
	ctx := context.Background()
	b := body(20_000, 18)
	put(t, s, "k", newMeta(b, "v"), b)
	e, err := s.Get(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	w, err := s.Create(ctx, "w", newMeta(b, "w"))
	if err != nil {
		t.Fatal(err)
	}
	w.Write(b[:100])
	r := w.NewReader()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// What these return is up to the store; they must not crash or hang.
	e.ReadAt(make([]byte, 100), 0)
	e.Close()
	w.Write(b[100:])
	w.Abort()
	r.Read(make([]byte, 200))
	r.Close()
}

func testReopen(t *testing.T, f Factory) {
	dir := t.TempDir()
	capacity := f.bigCapacity()
	ctx := context.Background()
	s := f.Open(t, dir, capacity)

	type kept struct {
		meta *store.Meta
		body []byte
	}
	want := map[string]kept{}
	for i, n := range []int{0, 1, 4095, 4096, 70_000, 1<<20 + 3} {
		key := fmt.Sprintf("http://example.com/%d?q=%d", i, n)
		b := body(n, uint64(20+i))
		put(t, s, key, newMeta(b, key), b)
		want[key] = kept{newMeta(b, key), b}
	}
	// Replaced, updated, deleted and aborted entries.
	r := body(500, 30)
	put(t, s, "replaced", newMeta(body(800, 31), "first"), body(800, 31))
	put(t, s, "replaced", newMeta(r, "second"), r)
	want["replaced"] = kept{newMeta(r, "second"), r}
	um := newMeta(r, "updated")
	um.Status = 299
	put(t, s, "updated", newMeta(r, "before"), r)
	if err := s.Update(ctx, "updated", um.Clone()); err != nil {
		t.Fatal(err)
	}
	want["updated"] = kept{um, r}
	put(t, s, "deleted", newMeta(r, "d"), r)
	if err := s.Delete(ctx, "deleted"); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"aborted", "replaced"} {
		w, err := s.Create(ctx, key, newMeta(body(900, 32), "aborted"))
		if err != nil {
			t.Fatal(err)
		}
		w.Write(body(900, 32))
		w.Abort()
	}
	// A writer still open at Close never becomes visible.
	open, err := s.Create(ctx, "open-at-close", newMeta(r, "o"))
	if err != nil {
		t.Fatal(err)
	}
	open.Write(r)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	open.Commit()
	open.Abort()
	if !f.Persistent {
		return
	}

	s = f.Open(t, dir, capacity)
	defer func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close after reopening: %v", err)
		}
	}()
	for key, k := range want {
		check(t, s, key, k.meta, k.body)
	}
	for _, key := range []string{"deleted", "aborted", "open-at-close"} {
		checkMissing(t, s, key)
	}
	if got := s.Stats().Entries; got != int64(len(want)) {
		t.Errorf("Stats().Entries after reopening: got %d, want %d", got, len(want))
	}
}
