package stats

import (
	"slices"
	"strings"
)

// topK estimates the most frequent keys of a stream in a table of fixed
// size, with the Space-Saving algorithm (Metwally, Agrawal, El Abbadi,
// "Efficient Computation of Frequent and Top-k Elements in Data Streams",
// 2005): a key not in a full table replaces the one with the smallest
// count and inherits that count plus one. Every key whose true count
// exceeds (stream length)/(table size) is in the table, and a count
// overestimates the truth by at most the count it inherited.
//
// The table is a min-heap by count over a fixed slab of entries, indexed
// by key: counting a key already in the table costs a map lookup and a
// short sift, and allocates nothing.
type topK struct {
	index map[string]*topEntry
	heap  []*topEntry // min-heap by count
	slab  []topEntry  // the entries, allocated once; len grows to cap
}

type topEntry struct {
	key   string
	count int64  // estimated count: an upper bound of the true one
	bytes int64  // bytes counted since the key entered the table
	rule  string // latest rule, for blocked hosts
	pos   int    // index in heap
}

func newTopK(size int) *topK {
	return &topK{
		index: make(map[string]*topEntry, size),
		heap:  make([]*topEntry, 0, size),
		slab:  make([]topEntry, 0, size),
	}
}

// add counts one occurrence of key with bytes and, when not "", rule. It
// copies key when the key enters the table, so the caller may pass a
// substring of a larger string.
func (t *topK) add(key string, bytes int64, rule string) {
	if e, ok := t.index[key]; ok {
		e.count++
		e.bytes += bytes
		if rule != "" {
			e.rule = rule
		}
		t.down(e.pos)
		return
	}
	var e *topEntry
	if len(t.slab) < cap(t.slab) {
		t.slab = t.slab[:len(t.slab)+1]
		e = &t.slab[len(t.slab)-1]
		*e = topEntry{count: 1, bytes: bytes, rule: rule, pos: len(t.heap)}
		t.heap = append(t.heap, e)
		t.up(e.pos)
	} else {
		e = t.heap[0]
		delete(t.index, e.key)
		e.count++
		e.bytes, e.rule = bytes, rule
		t.down(0)
	}
	e.key = strings.Clone(key)
	t.index[e.key] = e
}

// top returns copies of the n entries with the highest counts, highest
// first; ties in key order. It selects rather than sorts (n is small), in
// a few microseconds for a full table.
func (t *topK) top(n int) []topEntry {
	if n <= 0 {
		return nil
	}
	best := make([]topEntry, 0, n+1)
	for i := range t.slab {
		e := &t.slab[i]
		if len(best) == n && !before(e, &best[n-1]) {
			continue
		}
		j, _ := slices.BinarySearchFunc(best, e, func(a topEntry, e *topEntry) int {
			if before(&a, e) {
				return -1
			}
			return 1
		})
		best = slices.Insert(best, j, *e)
		if len(best) > n {
			best = best[:n]
		}
	}
	return best
}

// before reports whether a ranks before b: a higher count, or the same
// count and a lower key.
func before(a, b *topEntry) bool {
	if a.count != b.count {
		return a.count > b.count
	}
	return a.key < b.key
}

func (t *topK) less(i, j int) bool { return t.heap[i].count < t.heap[j].count }

func (t *topK) swap(i, j int) {
	t.heap[i], t.heap[j] = t.heap[j], t.heap[i]
	t.heap[i].pos = i
	t.heap[j].pos = j
}

func (t *topK) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !t.less(i, p) {
			return
		}
		t.swap(i, p)
		i = p
	}
}

func (t *topK) down(i int) {
	n := len(t.heap)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		c := l
		if r := l + 1; r < n && t.less(r, l) {
			c = r
		}
		if !t.less(c, i) {
			return
		}
		t.swap(i, c)
		i = c
	}
}
