package metrics

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"sluice/internal/metrics/outcome"
)

// methods are the request methods counted under their own name; any other
// is counted as "other", so a client cannot grow the label set.
var methods = [...]string{"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE", "other"}

const numMethods = len(methods)

// methodIndex returns m's index in methods.
func methodIndex(m string) int {
	switch m {
	case "GET":
		return 0
	case "HEAD":
		return 1
	case "POST":
		return 2
	case "PUT":
		return 3
	case "DELETE":
		return 4
	case "PATCH":
		return 5
	case "OPTIONS":
		return 6
	case "CONNECT":
		return 7
	case "TRACE":
		return 8
	}
	return numMethods - 1
}

// classes are the status classes: "none" for no status sent (0), "other"
// for a status outside 100–599.
var classes = [...]string{"none", "1xx", "2xx", "3xx", "4xx", "5xx", "other"}

const numClasses = len(classes)

// classIndex returns status's index in classes.
func classIndex(status int) int {
	switch {
	case status == 0:
		return 0
	case status >= 100 && status < 600:
		return status / 100
	}
	return numClasses - 1
}

// requestCounter counts requests by method, status class and result in a
// fixed array, so that counting one costs one atomic add and no lookup.
// It exports only the combinations that occurred: of the 490 possible,
// most never do (a CONNECT is never a cache hit).
type requestCounter struct {
	desc   *prometheus.Desc
	counts [numMethods][numClasses][outcome.NumResults]atomic.Uint64
}

var _ prometheus.Collector = (*requestCounter)(nil)

func newRequestCounter() *requestCounter {
	return &requestCounter{desc: prometheus.NewDesc("sluice_requests_total",
		"Requests handled, by method, status class (1xx…5xx, none when no answer was sent) and cache result (hit, revalidated, miss, tunnel, denied, none, other).",
		[]string{"method", "status_class", "result"}, nil)}
}

func (c *requestCounter) inc(method, status int, r outcome.Result) {
	c.counts[method][status][r].Add(1)
}

// Describe implements prometheus.Collector.
func (c *requestCounter) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector.
func (c *requestCounter) Collect(ch chan<- prometheus.Metric) {
	for m := range c.counts {
		for s := range c.counts[m] {
			for r := range c.counts[m][s] {
				if n := c.counts[m][s][r].Load(); n > 0 {
					ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(n),
						methods[m], classes[s], outcome.Result(r).String())
				}
			}
		}
	}
}

// lookups returns the cache lookups counted so far: the requests served
// from the cache (hits and revalidated) and all lookups (those and misses).
func (c *requestCounter) lookups() (fromCache, all uint64) {
	for m := range c.counts {
		for s := range c.counts[m] {
			h := c.counts[m][s][outcome.Hit].Load() + c.counts[m][s][outcome.Revalidated].Load()
			fromCache += h
			all += h + c.counts[m][s][outcome.Miss].Load()
		}
	}
	return fromCache, all
}
