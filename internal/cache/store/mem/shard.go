package mem

import "sync"

// A shard is an independent part of the store: its own lock, index, slab
// pages (a share of the budget) and LRU lists. Keys go to shards by hash.
//
// Every method of shard is called with mu held.
type shard struct {
	mu     sync.Mutex
	slab   *slab
	index  map[uint64]int32 // key hash → slot
	slots  []slot
	free   int32     // first free slot (linked through next), or -1
	lists  []list    // one per size class, then one for chained records
	chains [][]int32 // pages of chained records, by slot.chain
	// freeChains are indexes of chains no longer used.
	freeChains []int32
	tick       uint32 // counts links; slot.atime is a tick
	entries    int64
	evictions  int64
	pins       int64 // pins held on slots: open entries and records being filled
	closed     bool
	_          [64]byte // keep neighbouring shards' locks off this cache line
}

// A slot describes a record. It holds no pointers, so the index costs
// the garbage collector nothing to scan.
type slot struct {
	hash       uint64
	n          int64  // record length
	page       int32  // page of the record's chunk, or -1 (chain of whole pages only)
	off        uint32 // offset of the chunk in page
	chain      int32  // index in shard.chains, or -1
	prev, next int32  // LRU links; next also links free slots
	refs       int32  // pins: readers, and the writer while it fills the record
	atime      uint32 // tick of the last link or hit
	list       uint8  // LRU list the slot is on when linked
	flags      uint8
}

const (
	slotUsed   = 1 << iota // allocated, not on the free list
	slotLinked             // in the index and on an LRU list
	slotRef                // read since the eviction scan last passed it
)

type list struct {
	head, tail int32
	n          int32
}

func newShard(pageSize, maxPages int) *shard {
	sh := &shard{
		slab:  newSlab(pageSize, maxPages),
		index: make(map[uint64]int32),
		free:  -1,
	}
	sh.lists = make([]list, len(sh.slab.sizes)+1)
	for l := range sh.lists {
		sh.lists[l] = list{head: -1, tail: -1}
	}
	return sh
}

// chainList is the LRU list of records longer than a page.
func (sh *shard) chainList() int { return len(sh.lists) - 1 }

// alloc allocates a record of n bytes, evicting as needed, and returns
// its slot pinned and unlinked. It fails when nothing more can be
// evicted (what is left is pinned).
func (sh *shard) alloc(n int64, hash uint64) (int32, bool) {
	a := sh.slab
	ps := int64(a.pageSize)
	var chain []int32
	if full := n / ps; full > 0 {
		chain = make([]int32, 0, full)
		for int64(len(chain)) < full {
			if p := a.takeChainPage(); p >= 0 {
				chain = append(chain, p)
			} else if !sh.evictFor(sh.chainList()) {
				sh.freeChain(chain)
				return -1, false
			}
		}
	}
	page, off := int32(-1), uint32(0)
	if tail := n % ps; tail > 0 {
		c := a.classOf(int(tail))
		for {
			p, o, ok := a.allocChunk(c)
			if ok {
				page, off = p, o
				break
			}
			if !sh.evictFor(c) {
				sh.freeChain(chain)
				return -1, false
			}
		}
	}
	i := sh.newSlot()
	s := &sh.slots[i]
	*s = slot{hash: hash, n: n, page: page, off: off, chain: -1, prev: -1, next: -1, refs: 1, flags: slotUsed}
	if chain != nil {
		s.list = uint8(sh.chainList())
		if k := len(sh.freeChains); k > 0 {
			s.chain = sh.freeChains[k-1]
			sh.freeChains = sh.freeChains[:k-1]
			sh.chains[s.chain] = chain
		} else {
			s.chain = int32(len(sh.chains))
			sh.chains = append(sh.chains, chain)
		}
	} else {
		s.list = uint8(a.pages[page].class)
	}
	sh.pins++
	return i, true
}

func (sh *shard) freeChain(chain []int32) {
	for _, p := range chain {
		sh.slab.freeChainPage(p)
	}
}

func (sh *shard) newSlot() int32 {
	if i := sh.free; i >= 0 {
		sh.free = sh.slots[i].next
		return i
	}
	sh.slots = append(sh.slots, slot{})
	return int32(len(sh.slots) - 1)
}

// record returns the address of slot i's bytes.
func (sh *shard) record(i int32) record {
	s := &sh.slots[i]
	r := record{n: s.n}
	if s.chain >= 0 {
		chain := sh.chains[s.chain]
		r.pages = make([][]byte, len(chain))
		for k, p := range chain {
			r.pages[k] = sh.slab.pages[p].mem
		}
	}
	if s.page >= 0 {
		start := int64(s.off)
		end := start + s.n - int64(len(r.pages))*int64(sh.slab.pageSize)
		r.tail = sh.slab.pages[s.page].mem[start:end:end]
	}
	return r
}

// link makes the filled slot i the entry under its hash, replacing the
// one there (in the rare case of another key with the same hash, that
// entry is dropped: this is a cache).
func (sh *shard) link(i int32) {
	s := &sh.slots[i]
	if old, ok := sh.index[s.hash]; ok {
		sh.unlink(old)
	}
	sh.index[s.hash] = i
	sh.pushHead(int(s.list), i)
	s.flags |= slotLinked
	sh.tick++
	s.atime = sh.tick
	sh.entries++
}

// unlink removes slot i from the index and its LRU list, and frees its
// record unless it is pinned; then the last unpin frees it.
func (sh *shard) unlink(i int32) {
	s := &sh.slots[i]
	if j, ok := sh.index[s.hash]; ok && j == i {
		delete(sh.index, s.hash)
	}
	sh.remove(int(s.list), i)
	s.flags &^= slotLinked | slotRef
	sh.entries--
	if s.refs == 0 {
		sh.release(i)
	}
}

// release frees slot i and its record.
func (sh *shard) release(i int32) {
	s := &sh.slots[i]
	if s.chain >= 0 {
		sh.freeChain(sh.chains[s.chain])
		sh.chains[s.chain] = nil
		sh.freeChains = append(sh.freeChains, s.chain)
	}
	if s.page >= 0 {
		sh.slab.freeChunk(s.page, s.off)
	}
	*s = slot{next: sh.free}
	sh.free = i
}

// pin keeps slot i's record in place until unpin.
func (sh *shard) pin(i int32) {
	sh.slots[i].refs++
	sh.pins++
}

func (sh *shard) unpin(i int32) {
	sh.pins--
	if sh.closed {
		if sh.pins == 0 {
			sh.slab.unmapAll()
		}
		return
	}
	s := &sh.slots[i]
	s.refs--
	if s.refs == 0 && s.flags&slotLinked == 0 {
		sh.release(i)
	}
}

// close drops the index; the pages are unmapped when the last pin goes.
func (sh *shard) close() {
	if sh.closed {
		return
	}
	sh.closed = true
	sh.index = nil
	sh.entries = 0
	if sh.pins == 0 {
		sh.slab.unmapAll()
	}
}

// evictFor evicts one entry to make room for a record of list want (a
// class, or chainList). It evicts from want's own list unless another
// list's least recently used entry is more than twice as old, so pages
// drift to the classes in use. It reports false when nothing could be
// evicted.
func (sh *shard) evictFor(want int) bool {
	oldest, oldestAge := -1, uint32(0)
	for l := range sh.lists {
		if sh.lists[l].n == 0 {
			continue
		}
		if age := sh.tick - sh.slots[sh.lists[l].tail].atime; oldest < 0 || age > oldestAge {
			oldest, oldestAge = l, age
		}
	}
	if oldest < 0 {
		return false
	}
	first := oldest
	if own := &sh.lists[want]; own.n > 0 && 2*uint64(sh.tick-sh.slots[own.tail].atime) >= uint64(oldestAge) {
		first = want
	}
	if sh.evictOne(first) {
		return true
	}
	// Everything on that list is pinned: any other will do.
	for l := range sh.lists {
		if l != first && sh.lists[l].n > 0 && sh.evictOne(l) {
			return true
		}
	}
	return false
}

// evictOne evicts the least recently used entry of list l that is
// neither pinned nor read since the scan last passed it (second chance:
// those go back to the head).
func (sh *shard) evictOne(l int) bool {
	lst := &sh.lists[l]
	for tries := 2 * lst.n; tries > 0 && lst.n > 0; tries-- {
		i := lst.tail
		s := &sh.slots[i]
		if s.refs > 0 || s.flags&slotRef != 0 {
			s.flags &^= slotRef
			sh.remove(l, i)
			sh.pushHead(l, i)
			continue
		}
		sh.unlink(i)
		sh.evictions++
		return true
	}
	return false
}

func (sh *shard) pushHead(l int, i int32) {
	lst := &sh.lists[l]
	s := &sh.slots[i]
	s.prev, s.next = -1, lst.head
	if lst.head >= 0 {
		sh.slots[lst.head].prev = i
	} else {
		lst.tail = i
	}
	lst.head = i
	lst.n++
}

func (sh *shard) remove(l int, i int32) {
	lst := &sh.lists[l]
	s := &sh.slots[i]
	if s.prev >= 0 {
		sh.slots[s.prev].next = s.next
	} else {
		lst.head = s.next
	}
	if s.next >= 0 {
		sh.slots[s.next].prev = s.prev
	} else {
		lst.tail = s.prev
	}
	s.prev, s.next = -1, -1
	lst.n--
}
