package mem

import (
	"encoding/binary"
	"slices"
)

// Page and chunk geometry. A store maps pages of pageSize bytes (1 MiB,
// smaller for small budgets so that a store has at least minPages of
// them) and cuts each page into chunks of one size class.
const (
	maxPageSize = 1 << 20
	minPageSize = 4 << 10
	minPages    = 64
	chunkAlign  = 64      // small classes are multiples of this
	smallLimit  = 4 << 10 // above it, classes grow by 1/8
)

// Page states besides a class index.
const (
	pageFree  = -1 // mapped, on slab.freePages
	pageChain = -2 // a whole page of a chained record
)

// pageSizeFor returns the page size for a budget: 1 MiB, or the largest
// power of two that still gives minPages pages, but at least minPageSize.
func pageSizeFor(capacity int64) int {
	ps := maxPageSize
	for ps > minPageSize && capacity/int64(ps) < minPages {
		ps /= 2
	}
	return ps
}

// classSizes returns the chunk sizes for pages of pageSize bytes:
// multiples of 64 up to 4 KiB, then growing by 1/8 (rounded up to 64),
// the last one a whole page.
func classSizes(pageSize int) []uint32 {
	var s []uint32
	for n := chunkAlign; n <= min(smallLimit, pageSize); n += chunkAlign {
		s = append(s, uint32(n))
	}
	for n := int(s[len(s)-1]); n < pageSize; {
		n += n / 8
		n = (n + chunkAlign - 1) / chunkAlign * chunkAlign
		n = min(n, pageSize)
		s = append(s, uint32(n))
	}
	return s
}

// slab allocates chunks from pages it maps, at most maxPages of them. It
// knows nothing of entries: when it has no room, its owner evicts and
// asks again. It is not safe for concurrent use.
//
// A class owns the pages assigned to it; pages with a free chunk are on
// the class's partial list. Free chunks of a page form a list threaded
// through the chunks themselves (the first 4 bytes of a free chunk hold
// the offset+1 of the next), so the bookkeeping on the Go heap is a few
// words per page.
type slab struct {
	pageSize   int
	sizes      []uint32
	maxPages   int
	pages      []page
	freePages  []int32 // mapped pages in no class
	classes    []class
	emptyPages int   // pages in a class with no chunk in use
	scan       int   // where the next search for an empty page starts
	bytes      int64 // chunk and chain-page bytes in use

	mmap   func(n int) ([]byte, error)
	munmap func([]byte) error
}

type page struct {
	mem        []byte
	class      int16 // class index, pageFree or pageChain
	inPartial  bool
	used       int32 // chunks in use
	free       int32 // offset+1 of the first free chunk; 0: none
	bump       int32 // offset of the first chunk never handed out
	next, prev int32 // partial list links
}

type class struct {
	size    uint32
	pages   int32 // pages assigned
	partial int32 // first page with a free chunk, or -1
}

func newSlab(pageSize, maxPages int) *slab {
	a := &slab{
		pageSize: pageSize,
		sizes:    classSizes(pageSize),
		maxPages: maxPages,
		mmap:     mapPage,
		munmap:   unmapPage,
	}
	a.classes = make([]class, len(a.sizes))
	for c, size := range a.sizes {
		a.classes[c] = class{size: size, partial: -1}
	}
	return a
}

// classOf returns the smallest class whose chunks hold n bytes; n must
// be at most the page size.
func (a *slab) classOf(n int) int {
	if n <= smallLimit {
		return max(0, (n+chunkAlign-1)/chunkAlign-1)
	}
	c, _ := slices.BinarySearch(a.sizes, uint32(n))
	return c
}

// allocChunk returns a chunk of class c, assigning the class a page if
// it has no free chunk. It fails when every page is mapped and in use.
func (a *slab) allocChunk(c int) (p int32, off uint32, ok bool) {
	cl := &a.classes[c]
	if cl.partial < 0 {
		p := a.takePage()
		if p < 0 {
			return 0, 0, false
		}
		a.assign(p, c)
	}
	p = cl.partial
	pg := &a.pages[p]
	size := int32(cl.size)
	var o int32
	if pg.free > 0 {
		o = pg.free - 1
		pg.free = int32(binary.LittleEndian.Uint32(pg.mem[o:]))
	} else {
		o = pg.bump
		pg.bump += size
	}
	if pg.used == 0 {
		a.emptyPages--
	}
	pg.used++
	if pg.free == 0 && int(pg.bump+size) > a.pageSize {
		a.unlinkPartial(p)
	}
	a.bytes += int64(size)
	return p, uint32(o), true
}

// freeChunk returns a chunk that allocChunk handed out.
func (a *slab) freeChunk(p int32, off uint32) {
	pg := &a.pages[p]
	cl := &a.classes[pg.class]
	binary.LittleEndian.PutUint32(pg.mem[off:], uint32(pg.free))
	pg.free = int32(off) + 1
	pg.used--
	if pg.used == 0 {
		a.emptyPages++
	}
	if !pg.inPartial {
		a.linkPartial(p)
	}
	a.bytes -= int64(cl.size)
}

// takePage returns a page in no class: a free one, a newly mapped one
// while the budget allows, or an empty page taken from its class. It
// returns -1 when there is none.
func (a *slab) takePage() int32 {
	if n := len(a.freePages); n > 0 {
		p := a.freePages[n-1]
		a.freePages = a.freePages[:n-1]
		return p
	}
	if len(a.pages) < a.maxPages {
		mem, err := a.mmap(a.pageSize)
		if err == nil {
			a.pages = append(a.pages, page{mem: mem, class: pageFree})
			return int32(len(a.pages) - 1)
		}
	}
	if a.emptyPages == 0 {
		return -1
	}
	for range a.pages {
		p := int32(a.scan)
		a.scan = (a.scan + 1) % len(a.pages)
		if pg := &a.pages[p]; pg.class >= 0 && pg.used == 0 {
			a.unlinkPartial(p)
			a.classes[pg.class].pages--
			a.emptyPages--
			*pg = page{mem: pg.mem, class: pageFree}
			return p
		}
	}
	panic("mem: slab lost count of its empty pages")
}

// takeChainPage returns a whole page for a chained record, or -1.
func (a *slab) takeChainPage() int32 {
	p := a.takePage()
	if p >= 0 {
		a.pages[p].class = pageChain
		a.bytes += int64(a.pageSize)
	}
	return p
}

// freeChainPage returns a page that takeChainPage handed out.
func (a *slab) freeChainPage(p int32) {
	a.pages[p].class = pageFree
	a.freePages = append(a.freePages, p)
	a.bytes -= int64(a.pageSize)
}

// assign gives free page p to class c.
func (a *slab) assign(p int32, c int) {
	a.pages[p] = page{mem: a.pages[p].mem, class: int16(c)}
	a.classes[c].pages++
	a.emptyPages++
	a.linkPartial(p)
}

func (a *slab) linkPartial(p int32) {
	pg := &a.pages[p]
	cl := &a.classes[pg.class]
	pg.inPartial, pg.prev, pg.next = true, -1, cl.partial
	if cl.partial >= 0 {
		a.pages[cl.partial].prev = p
	}
	cl.partial = p
}

func (a *slab) unlinkPartial(p int32) {
	pg := &a.pages[p]
	if !pg.inPartial {
		return
	}
	if pg.prev >= 0 {
		a.pages[pg.prev].next = pg.next
	} else {
		a.classes[pg.class].partial = pg.next
	}
	if pg.next >= 0 {
		a.pages[pg.next].prev = pg.prev
	}
	pg.inPartial, pg.next, pg.prev = false, -1, -1
}

// unmapAll releases every page. The slab must not be used afterwards.
func (a *slab) unmapAll() {
	for i := range a.pages {
		a.munmap(a.pages[i].mem)
		a.pages[i].mem = nil
	}
	a.pages, a.freePages = nil, nil
}
