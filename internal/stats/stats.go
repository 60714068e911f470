// Package stats keeps the numbers behind sluice's live status page: totals
// since start, a short time series of traffic, the busiest and the most
// blocked hosts, the open tunnels and the latest errors. [Stats.Snapshot]
// returns them as the JSON object that /api/stats serves (the contract is
// the Snapshot type's field tags).
//
// The proxy hands every finished request's [accesslog.Record] to
// [Stats.Observe], the same record it logs. Everything is held in memory
// of a fixed size, whatever the traffic: the series is a ring of buckets
// advanced lazily by the clock (no goroutine), the top hosts are kept with
// the Space-Saving algorithm in a bounded table, the error list is a ring.
//
// The package deliberately keeps nothing across restarts, and exports
// nothing to Prometheus: long-term history is what internal/metrics and a
// Prometheus server are for. Requests are classified by
// internal/metrics/outcome, as the metrics are, so the page and Prometheus
// agree on what a hit, a block or an error is.
package stats

import (
	"strings"
	"sync"
	"time"

	"sluice/internal/accesslog"
	"sluice/internal/metrics/outcome"
)

// Options configures [New]. The zero value is ready to use.
type Options struct {
	// Now returns the current time; nil means time.Now. Tests pass a
	// fake clock.
	Now func() time.Time
	// Window is how much history the series keeps; 0 means 15 minutes.
	Window time.Duration
	// Interval is the width of one point of the series; 0 means 5 s.
	Interval time.Duration
}

// Bounds of what a Stats holds and shows.
const (
	trackedHosts   = 1000 // hosts counted for top_hosts (Space-Saving table size)
	trackedBlocked = 500  // hosts counted for top_blocked
	shownTop       = 10   // entries of top_hosts and top_blocked
	shownTunnels   = 50   // entries of tunnels
	trackedTunnels = 4096 // open tunnels remembered; more are not listed
	recentErrors   = 20   // entries of recent_errors
	maxHostLen     = 255  // longer host names are cut (DNS names have at most 253 bytes)
	maxURLLen      = 1024 // longer URLs are cut in recent_errors
)

// Stats accumulates request records for the status page. Its methods are
// safe for concurrent use.
type Stats struct {
	now   func() time.Time
	start time.Time

	mu      sync.Mutex // guards everything below
	totals  Totals
	series  series
	hosts   *topK
	blocked *topK
	errs    [recentErrors]errorEntry // ring; errs[errNext] is the oldest once full
	errNext int
	errLen  int
	tunnels tunnelList
}

// errorEntry is a recent error as recorded: the strings are the Record's
// own (no copy on the request path) and are cut only for display.
type errorEntry struct {
	time                time.Time
	client, method, url string
	status              int
	err                 string
}

// New returns an empty Stats whose clock starts now.
func New(o Options) *Stats {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	window, interval := o.Window, o.Interval
	if interval <= 0 {
		interval = 5 * time.Second
	}
	if window <= 0 {
		window = 15 * time.Minute
	}
	start := now()
	s := &Stats{
		now:     now,
		start:   start,
		series:  newSeries(start, window, interval),
		hosts:   newTopK(trackedHosts),
		blocked: newTopK(trackedBlocked),
	}
	s.tunnels.init()
	return s
}

// Observe counts a finished request. The proxy calls it exactly once per
// request, with the Record it logs. It holds a lock for well under a
// microsecond and allocates only when a host enters a top-k table.
//
// What counts where:
//   - requests: every record; hits and misses as [outcome.Result] says
//     (hits include revalidated responses); tunnels: CONNECT tunnels, when
//     they close.
//   - blocked: denied by a rule of a configured list, filter or access
//     rules (Record.Rule set); denied: any other refusal (authentication,
//     client limits, destination policy).
//   - errors: as [outcome.IsError] says; the last 20 are kept.
//   - bytes_in, bytes_out: Record.BytesIn, BytesOut; bytes_from_cache:
//     BytesOut of hits and revalidated responses.
//   - top_hosts: every request not refused, by the host of its URL (for
//     CONNECT, the target host), with bytes both ways; top_blocked: blocked
//     requests by host, with the latest rule that blocked each.
func (s *Stats) Observe(rec *accesslog.Record) {
	o := outcome.Of(rec)
	host := hostOf(rec.URL, rec.Method == "CONNECT")
	now := s.now()
	fromCache := o.Result.FromCache()

	s.mu.Lock()
	defer s.mu.Unlock()
	t := &s.totals
	p := s.series.at(now)
	t.Requests++
	p.requests++
	t.BytesIn += rec.BytesIn
	t.BytesOut += rec.BytesOut
	p.bytesOut += rec.BytesOut
	switch {
	case fromCache:
		t.Hits++
		p.hits++
		t.BytesFromCache += rec.BytesOut
		p.bytesFromCache += rec.BytesOut
	case o.Result == outcome.Miss:
		t.Misses++
	case o.Result == outcome.Tunnel:
		t.Tunnels++
	case o.Result == outcome.Denied:
		if !o.Blocked {
			t.Denied++
		}
	}
	if o.Blocked {
		t.Blocked++
		p.blocked++
		if host != "" {
			s.blocked.add(host, 0, rec.Rule)
		}
	} else if o.Result != outcome.Denied && host != "" {
		s.hosts.add(host, rec.BytesIn+rec.BytesOut, "")
	}
	if o.Error {
		t.Errors++
		p.errors++
		s.errs[s.errNext] = errorEntry{now, rec.Client, rec.Method, rec.URL, rec.Status, rec.Error}
		s.errNext = (s.errNext + 1) % recentErrors
		s.errLen = min(s.errLen+1, recentErrors)
	}
}

// hostOf returns the host of a Record's URL, lower case, without port or
// brackets: for an absolute URL ("http://user@Example.com:8080/x") its
// host, for a CONNECT target ("example.com:443") its host; "" for anything
// else (an origin-form target from a malformed request). It allocates only
// to lower the case of a host that has upper-case letters. A host longer
// than a DNS name can be is cut.
func hostOf(url string, connect bool) string {
	h := url
	if !connect {
		i := strings.Index(h, "://")
		if i < 0 {
			return ""
		}
		h = h[i+3:]
		for j := 0; j < len(h); j++ {
			if c := h[j]; c == '/' || c == '?' || c == '#' {
				h = h[:j]
				break
			}
		}
		if j := strings.LastIndexByte(h, '@'); j >= 0 {
			h = h[j+1:]
		}
	}
	if strings.HasPrefix(h, "[") {
		if j := strings.IndexByte(h, ']'); j >= 0 {
			h = h[1:j] // "[2001:db8::1]:443"
		}
	} else if j := strings.LastIndexByte(h, ':'); j >= 0 && strings.IndexByte(h[:j], ':') < 0 {
		h = h[:j] // one colon: host:port; more: a bare IPv6 address
	}
	return lowerASCII(cut(h, maxHostLen))
}

// lowerASCII returns s with ASCII letters in lower case, allocating only
// when s has upper-case ones. Host names are ASCII (IDNs travel in
// punycode); other bytes are left alone, so the length never changes.
func lowerASCII(s string) string {
	i := 0
	for i < len(s) && (s[i] < 'A' || s[i] > 'Z') {
		i++
	}
	if i == len(s) {
		return s
	}
	b := []byte(s)
	for ; i < len(b); i++ {
		if c := b[i]; c >= 'A' && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}
