package metrics

import (
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// maxLists bounds the list label of sluice_blocked_requests_total. Lists
// come from the operator's configuration, so the set is small; the bound
// holds even if a configuration (or a reload loop) names lists without end.
const maxLists = 64

// otherList is the list label for blocks past maxLists, or by a rule whose
// list has no name.
const otherList = "other"

// listCounter counts blocks by list. Lookups read an immutable map through
// an atomic pointer, without a lock; a list seen for the first time copies
// the map under mu (at most maxLists times in the process's life).
type listCounter struct {
	vec   *prometheus.CounterVec
	other prometheus.Counter

	m  atomic.Pointer[map[string]prometheus.Counter]
	mu sync.Mutex // serializes writers of m
}

func newListCounter() *listCounter {
	l := &listCounter{vec: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_blocked_requests_total",
		Help: `Requests denied by a rule of a configured list, by list: a filter list's name, or "access" for the access rules. At most 64 lists; blocks by further lists count as "other".`,
	}, []string{"list"})}
	l.m.Store(&map[string]prometheus.Counter{})
	return l
}

func (l *listCounter) inc(list string) {
	if c, ok := (*l.m.Load())[list]; ok {
		c.Inc()
		return
	}
	l.add(list).Inc()
}

// add returns the counter for a list not yet in l.m, adding it when there
// is room.
func (l *listCounter) add(list string) prometheus.Counter {
	l.mu.Lock()
	defer l.mu.Unlock()
	old := *l.m.Load()
	if c, ok := old[list]; ok {
		return c
	}
	if len(old) >= maxLists || list == "" || list == otherList {
		if l.other == nil {
			l.other = l.vec.WithLabelValues(otherList)
		}
		return l.other
	}
	// The name is a substring of a Record's Rule: copy it, so the map
	// does not keep the whole rule alive. Label values must be UTF-8.
	key := strings.Clone(list)
	c := l.vec.WithLabelValues(strings.ToValidUTF8(key, "\uFFFD"))
	m := make(map[string]prometheus.Counter, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[key] = c
	l.m.Store(&m)
	return c
}
