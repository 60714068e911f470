package mem

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"sluice/internal/cache/store"
)

func TestPageSizeFor(t *testing.T) {
	for _, tt := range []struct {
		capacity int64
		want     int
	}{
		{1 << 30, 1 << 20},
		{64 << 20, 1 << 20},
		{64<<20 - 1, 512 << 10},
		{4 << 20, 64 << 10},
		{1 << 20, 16 << 10},
		{1000, 4 << 10},
	} {
		if got := pageSizeFor(tt.capacity); got != tt.want {
			t.Errorf("pageSizeFor(%d): got %d, want %d", tt.capacity, got, tt.want)
		}
	}
}

func TestClassSizes(t *testing.T) {
	for _, ps := range []int{4 << 10, 64 << 10, 1 << 20} {
		sizes := classSizes(ps)
		if sizes[0] != chunkAlign || int(sizes[len(sizes)-1]) != ps {
			t.Errorf("page %d: classes from %d to %d, want %d to %d", ps, sizes[0], sizes[len(sizes)-1], chunkAlign, ps)
		}
		if len(sizes) > 255 {
			t.Errorf("page %d: %d classes do not fit slot.list", ps, len(sizes))
		}
		for c := 1; c < len(sizes); c++ {
			prev, size := sizes[c-1], sizes[c]
			if size <= prev || size%chunkAlign != 0 {
				t.Errorf("page %d: class %d is %d after %d", ps, c, size, prev)
			}
			if prev >= smallLimit && float64(size) > float64(prev)*1.125+chunkAlign {
				t.Errorf("page %d: class %d grows from %d to %d, more than 1/8", ps, c, prev, size)
			}
		}
	}
}

func TestClassOf(t *testing.T) {
	for _, ps := range []int{4 << 10, 64 << 10, 1 << 20} {
		a := newSlab(ps, 1)
		step := 1
		if ps > 64<<10 {
			step = 61
		}
		for n := 1; n <= ps; n += step {
			c := a.classOf(n)
			if int(a.sizes[c]) < n || (c > 0 && int(a.sizes[c-1]) >= n) {
				t.Fatalf("page %d: classOf(%d) = %d of size %d; previous %d", ps, n, c, a.sizes[c], a.sizes[max(c-1, 0)])
			}
		}
		if c := a.classOf(ps); c != len(a.sizes)-1 {
			t.Errorf("page %d: classOf(page) = %d, want the last class %d", ps, c, len(a.sizes)-1)
		}
	}
}

// heapSlab is a slab whose pages are on the Go heap, for tests.
func heapSlab(pageSize, maxPages int) *slab {
	a := newSlab(pageSize, maxPages)
	a.mmap = func(n int) ([]byte, error) { return make([]byte, n), nil }
	a.munmap = func([]byte) error { return nil }
	return a
}

func TestSlabReassignsEmptyPages(t *testing.T) {
	const ps = 4 << 10
	a := heapSlab(ps, 2)
	small, big := a.classOf(64), a.classOf(1024)

	// Two pages of small chunks use the whole budget.
	var chunks [][2]uint32
	for {
		p, off, ok := a.allocChunk(small)
		if !ok {
			break
		}
		chunks = append(chunks, [2]uint32{uint32(p), off})
	}
	if len(chunks) != 2*ps/64 {
		t.Fatalf("got %d chunks of 64 bytes in two pages of %d, want %d", len(chunks), ps, 2*ps/64)
	}
	if a.bytes != 2*ps {
		t.Errorf("bytes: got %d, want %d", a.bytes, 2*ps)
	}
	if _, _, ok := a.allocChunk(big); ok {
		t.Fatal("allocated a 1 KiB chunk with every page in use")
	}
	// Free all but one chunk of the first page: still no room.
	first := chunks[0][0]
	var onFirst [][2]uint32
	for _, c := range chunks {
		if c[0] == first {
			onFirst = append(onFirst, c)
		}
	}
	for _, c := range onFirst[1:] {
		a.freeChunk(int32(c[0]), c[1])
	}
	if _, _, ok := a.allocChunk(big); ok {
		t.Fatal("allocated a 1 KiB chunk while both pages still hold a chunk")
	}
	// The last one empties the page, which moves to the other class.
	a.freeChunk(int32(onFirst[0][0]), onFirst[0][1])
	if a.emptyPages != 1 {
		t.Errorf("emptyPages: got %d, want 1", a.emptyPages)
	}
	p, _, ok := a.allocChunk(big)
	if !ok || uint32(p) != first {
		t.Fatalf("allocChunk(1 KiB) after emptying page %d: got page %d, %v", first, p, ok)
	}
	if a.classes[small].pages != 1 || a.classes[big].pages != 1 || a.emptyPages != 0 {
		t.Errorf("pages per class: small %d, big %d, empty %d; want 1, 1, 0", a.classes[small].pages, a.classes[big].pages, a.emptyPages)
	}
	for i := 1; i < ps/1024; i++ {
		if _, _, ok := a.allocChunk(big); !ok {
			t.Fatalf("1 KiB chunk %d of the reassigned page: no room", i)
		}
	}
	if _, _, ok := a.allocChunk(big); ok {
		t.Error("allocated a fifth 1 KiB chunk in a 4 KiB page")
	}
	if len(a.pages) > 2 {
		t.Errorf("mapped %d pages, budget 2", len(a.pages))
	}
}

func TestSlabChainPages(t *testing.T) {
	a := heapSlab(4<<10, 3)
	p1, p2 := a.takeChainPage(), a.takeChainPage()
	if p1 < 0 || p2 < 0 || p1 == p2 {
		t.Fatalf("takeChainPage: %d, %d", p1, p2)
	}
	if _, _, ok := a.allocChunk(0); !ok {
		t.Fatal("no chunk in the third page")
	}
	if p := a.takeChainPage(); p >= 0 {
		t.Fatalf("took a fourth page, %d, with a budget of 3", p)
	}
	a.freeChainPage(p1)
	if p := a.takeChainPage(); p != p1 {
		t.Errorf("takeChainPage after freeing %d: got %d", p1, p)
	}
	if want := int64(2*4<<10 + 64); a.bytes != want {
		t.Errorf("bytes: got %d, want %d", a.bytes, want)
	}
}

func TestChainedRecord(t *testing.T) {
	s := New(Options{Capacity: 4 << 20, MaxObjectSize: 1 << 20})
	defer s.Close()
	sh := s.shards[0]
	ps := sh.slab.pageSize
	b := pattern(2*ps+ps/2, 7)
	put(t, s, "chained", b)
	e, err := s.Get(context.Background(), "chained")
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	rec := e.(*entry).rec
	if len(rec.pages) != 2 || len(rec.tail) == 0 {
		t.Errorf("record of %d bytes in pages of %d: got %d whole pages and a tail of %d", rec.n, ps, len(rec.pages), len(rec.tail))
	}
	tail := int(rec.n) - 2*ps
	want := int64(2*ps) + int64(sh.slab.sizes[sh.slab.classOf(tail)])
	if got := s.Stats().Bytes; got != want {
		t.Errorf("Stats().Bytes: got %d, want two pages and a chunk, %d", got, want)
	}
	got := make([]byte, len(b))
	if n, _ := e.ReadAt(got, 0); n != len(b) || string(got) != string(b) {
		t.Errorf("chained body differs")
	}
	// Reads across the page boundaries.
	for _, off := range []int{ps - 3, 2*ps - 100, len(b) - 10} {
		p := make([]byte, 200)
		n, _ := e.ReadAt(p, int64(off))
		if string(p[:n]) != string(b[off:min(off+200, len(b))]) {
			t.Errorf("ReadAt(200, %d) differs", off)
		}
	}
	e.Close()
	s.Delete(context.Background(), "chained")
	if st := s.Stats(); st.Bytes != 0 {
		t.Errorf("Stats().Bytes after deleting: got %d, want 0", st.Bytes)
	}
	if n := len(sh.slab.freePages); n != 2 {
		t.Errorf("free pages after deleting: got %d, want the chain's 2", n)
	}
}

// TestChurn stores, replaces, deletes and holds records of many sizes in
// a small store, checking that no two records overlap and that every
// record still holds what was written into it.
func TestChurn(t *testing.T) {
	const capacity = 2 << 20
	s := New(Options{Capacity: capacity, MaxObjectSize: 200 << 10})
	defer s.Close()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	bodies := map[string][]byte{} // what was last committed under a key
	type held struct {
		e    store.Entry
		body []byte
	}
	var holds []held
	sizes := []int{0, 1, 50, 1000, 3000, 5000, 20_000, 40_000, 70_000, 150_000}
	ops := 20_000
	if raceEnabled || testing.Short() {
		ops = 4_000
	}
	for i := range ops {
		key := fmt.Sprint("k", rng.IntN(400))
		switch op := rng.IntN(10); {
		case op < 6:
			n := sizes[rng.IntN(len(sizes))] + rng.IntN(100)
			b := pattern(n, uint64(i))
			put(t, s, key, b)
			bodies[key] = b
		case op < 7:
			s.Delete(ctx, key)
		default:
			e, err := s.Get(ctx, key)
			if err != nil {
				continue
			}
			holds = append(holds, held{e, bodies[key]})
			if len(holds) > 8 {
				h := holds[rng.IntN(len(holds))]
				checkBody(t, h.e, h.body)
				h.e.Close()
				holds = slices.DeleteFunc(holds, func(x held) bool { return x.e == h.e })
			}
		}
		if st := s.Stats(); st.Bytes > capacity {
			t.Fatalf("op %d: Stats().Bytes %d over the capacity", i, st.Bytes)
		}
		if i%1000 == 0 {
			checkLayout(t, s)
		}
	}
	checkLayout(t, s)
	for _, h := range holds {
		checkBody(t, h.e, h.body)
		h.e.Close()
	}
	found := 0
	for key, b := range bodies {
		e, err := s.Get(ctx, key)
		if err != nil {
			continue
		}
		found++
		checkBody(t, e, b)
		e.Close()
	}
	st := s.Stats()
	t.Logf("%d entries found at the end, %+v", found, st)
	if st.Evictions == 0 || found == 0 {
		t.Errorf("churn evicted %d and left %d entries", st.Evictions, found)
	}
}

// checkLayout checks that the live records of every shard lie in pages
// of their class, within bounds, without overlapping, and that the byte
// count matches.
func checkLayout(t *testing.T, s *Store) {
	t.Helper()
	for k, sh := range s.shards {
		sh.mu.Lock()
		a := sh.slab
		type span struct{ page, start, end int }
		var spans []span
		var bytes int64
		pageUse := map[int32]int{}
		for i := range sh.slots {
			sl := &sh.slots[i]
			if sl.flags&slotUsed == 0 {
				continue
			}
			if sl.chain >= 0 {
				for _, p := range sh.chains[sl.chain] {
					if a.pages[p].class != pageChain {
						t.Errorf("shard %d slot %d: chain page %d has class %d", k, i, p, a.pages[p].class)
					}
					spans = append(spans, span{int(p), 0, a.pageSize})
					bytes += int64(a.pageSize)
				}
			}
			if sl.page >= 0 {
				pg := &a.pages[sl.page]
				size := int(a.sizes[pg.class])
				tail := int(sl.n) - a.pageSize*len(sh.record(int32(i)).pages)
				if tail > size || int(sl.off)%size != 0 || int(sl.off)+size > a.pageSize {
					t.Errorf("shard %d slot %d: %d bytes at %d in a page of class %d", k, i, tail, sl.off, size)
				}
				spans = append(spans, span{int(sl.page), int(sl.off), int(sl.off) + size})
				bytes += int64(size)
				pageUse[sl.page]++
			}
		}
		slices.SortFunc(spans, func(x, y span) int {
			if x.page != y.page {
				return x.page - y.page
			}
			return x.start - y.start
		})
		for j := 1; j < len(spans); j++ {
			if p, q := spans[j-1], spans[j]; p.page == q.page && p.end > q.start {
				t.Fatalf("shard %d: records overlap in page %d: [%d,%d) and [%d,%d)", k, p.page, p.start, p.end, q.start, q.end)
			}
		}
		if bytes != a.bytes {
			t.Errorf("shard %d: records hold %d bytes, slab counts %d", k, bytes, a.bytes)
		}
		for p := range a.pages {
			if pg := &a.pages[p]; pg.class >= 0 && int(pg.used) != pageUse[int32(p)] {
				t.Errorf("shard %d page %d: used %d, records %d", k, p, pg.used, pageUse[int32(p)])
			}
		}
		if len(a.pages) > a.maxPages {
			t.Errorf("shard %d: %d pages mapped, budget %d", k, len(a.pages), a.maxPages)
		}
		sh.mu.Unlock()
	}
}

// TestClassesRebalance fills a store with small entries and then writes
// only larger ones: pages must move to the larger class.
func TestClassesRebalance(t *testing.T) {
	s := New(Options{Capacity: 4 << 20, MaxObjectSize: 1 << 20})
	defer s.Close()
	for i := range 2000 {
		put(t, s, fmt.Sprint("small", i), pattern(3000, uint64(i)))
	}
	const large = 300
	for i := range large {
		put(t, s, fmt.Sprint("large", i), pattern(20_000, uint64(i)))
	}
	found := 0
	for i := range large {
		if e, err := s.Get(context.Background(), fmt.Sprint("large", i)); err == nil {
			checkBody(t, e, pattern(20_000, uint64(i)))
			e.Close()
			found++
		}
	}
	// 4 MiB holds about 190 entries of 20 KB.
	t.Logf("%d of the last %d entries stored", found, large)
	if found < 100 {
		t.Errorf("%d of the %d larger entries written last are stored, want at least 100 (%+v)", found, large, s.Stats())
	}
}

func TestCloseDefersUnmap(t *testing.T) {
	s := New(Options{Capacity: 4 << 20})
	b := pattern(10_000, 3)
	put(t, s, "k", b)
	e, err := s.Get(context.Background(), "k")
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s.shards[0].slab.pages == nil {
		t.Fatal("pages unmapped while an entry is open")
	}
	checkBody(t, e, b) // still mapped, still intact
	if _, err := s.Get(context.Background(), "k"); err == nil {
		t.Error("Get after Close succeeded")
	}
	e.Close()
	if s.shards[0].slab.pages != nil {
		t.Error("pages still mapped after the last entry closed")
	}
	if n, err := e.ReadAt(make([]byte, 10), 0); err == nil {
		t.Errorf("ReadAt after Close: got %d bytes and no error", n)
	}
	e.Close()
}

func TestHashCollision(t *testing.T) {
	s := New(Options{Capacity: 4 << 20})
	defer s.Close()
	put(t, s, "a", pattern(100, 1))
	// Make "b" look up a's slot, as if the hashes collided.
	ha, sh := s.locate("a")
	// Pick a second key in the same shard, so the test never depends on
	// where the hash happens to send "b".
	other := "b"
	hb, shb := s.locate(other)
	for i := 0; shb != sh; i++ {
		other = fmt.Sprintf("b%d", i)
		hb, shb = s.locate(other)
	}
	sh.mu.Lock()
	sh.index[hb] = sh.index[ha]
	sh.mu.Unlock()
	if e, err := s.Get(context.Background(), other); err == nil {
		e.Close()
		t.Fatal("Get of another key with the same slot found an entry")
	}
	s.Delete(context.Background(), other)
	e, err := s.Get(context.Background(), "a")
	if err != nil {
		t.Fatalf("Delete of a colliding key removed the entry: %v", err)
	}
	e.Close()
}

func pattern(n int, seed uint64) []byte {
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], seed<<32|uint64(i))
	}
	return b
}

func put(t *testing.T, s *Store, key string, b []byte) {
	t.Helper()
	w, err := s.Create(context.Background(), key, &store.Meta{Status: 200})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(); err != nil {
		t.Fatalf("Commit(%q, %d bytes): %v", key, len(b), err)
	}
}

func checkBody(t *testing.T, e store.Entry, want []byte) {
	t.Helper()
	got := make([]byte, e.Size())
	n, _ := e.ReadAt(got, 0)
	if n != len(want) || string(got[:n]) != string(want) {
		t.Fatalf("body of %d bytes differs from the %d written", n, len(want))
	}
}
