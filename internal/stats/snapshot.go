package stats

import (
	"net"
	"time"
	"unicode/utf8"
)

// Snapshot is the JSON object /api/stats serves. Its field names and
// shapes are a contract with the status page's JavaScript: change them
// together. Times are RFC 3339 UTC with whole seconds, durations are
// seconds, lists are never null.
type Snapshot struct {
	Version       string            `json:"version"`
	Started       time.Time         `json:"started"`
	UptimeSeconds float64           `json:"uptime_seconds"`
	Now           time.Time         `json:"now"`
	Config        map[string]string `json:"config"` // a summary for a table; encoding/json sorts the keys
	Totals        Totals            `json:"totals"`
	HitRatio      float64           `json:"hit_ratio"` // hits / (hits + misses); 0 before the first lookup
	Active        Active            `json:"active"`
	Cache         []CacheTier       `json:"cache"`
	Series        Series            `json:"series"`
	TopHosts      []HostCount       `json:"top_hosts"`     // at most 10, most requests first
	TopBlocked    []BlockedHost     `json:"top_blocked"`   // at most 10, most blocks first
	Tunnels       []Tunnel          `json:"tunnels"`       // open tunnels, at most 50, oldest first
	RecentErrors  []RecentError     `json:"recent_errors"` // at most 20, newest first
}

// Totals are counts since start; see [Stats.Observe] for what counts.
type Totals struct {
	Requests       int64 `json:"requests"`
	Hits           int64 `json:"hits"`
	Misses         int64 `json:"misses"`
	Tunnels        int64 `json:"tunnels"`
	Blocked        int64 `json:"blocked"`
	Denied         int64 `json:"denied"`
	Errors         int64 `json:"errors"`
	BytesIn        int64 `json:"bytes_in"`
	BytesOut       int64 `json:"bytes_out"`
	BytesFromCache int64 `json:"bytes_from_cache"`
}

// Active counts what is open now.
type Active struct {
	Connections int64 `json:"connections"`
	Tunnels     int64 `json:"tunnels"`
}

// CacheTier is one cache tier's state.
type CacheTier struct {
	Tier     string `json:"tier"` // "memory", "disk", "redis"
	Bytes    int64  `json:"bytes"`
	Objects  int64  `json:"objects"`
	Capacity int64  `json:"capacity"`
	// State is "up" or "down" for a shared tier (down: the proxy stopped
	// calling it after failures), empty for a local one.
	State string `json:"state,omitempty"`
}

// Series is the recent traffic, one point per interval, oldest first:
// the complete intervals of the window (180 at 5 s over 15 minutes; fewer
// just after start). The interval under way is left out until it ends.
type Series struct {
	IntervalSeconds float64   `json:"interval_seconds"`
	End             time.Time `json:"end"` // the end of the last point
	Requests        []int64   `json:"requests"`
	Hits            []int64   `json:"hits"`
	BytesOut        []int64   `json:"bytes_out"`
	BytesFromCache  []int64   `json:"bytes_from_cache"`
	Blocked         []int64   `json:"blocked"`
	Errors          []int64   `json:"errors"`
}

// HostCount is one of the busiest hosts. Requests is an estimate that
// may exceed the truth for hosts near the bottom of a long tail; Bytes
// counts both ways since the host entered the table.
type HostCount struct {
	Host     string `json:"host"`
	Requests int64  `json:"requests"`
	Bytes    int64  `json:"bytes"`
}

// BlockedHost is one of the most blocked hosts, with the latest rule that
// blocked it.
type BlockedHost struct {
	Host  string `json:"host"`
	Count int64  `json:"count"`
	Rule  string `json:"rule"`
}

// Tunnel is an open CONNECT tunnel.
type Tunnel struct {
	Host   string    `json:"host"` // the CONNECT target, "example.com:443"
	Client string    `json:"client"`
	User   string    `json:"user"`
	Since  time.Time `json:"since"`
}

// RecentError is a request that failed; see [outcome.IsError].
type RecentError struct {
	Time   time.Time `json:"time"`
	Client string    `json:"client"`
	Method string    `json:"method"`
	URL    string    `json:"url"` // cut to 1024 bytes
	Status int       `json:"status"`
	Error  string    `json:"error"`
}

// Extra is what a Snapshot shows that Stats does not count itself; the
// caller gathers it from the rest of the proxy.
type Extra struct {
	Version string
	Started time.Time // when the proxy started; zero means when the Stats was made
	Config  map[string]string
	Active  Active
	Cache   []CacheTier
}

// Snapshot returns the current numbers with extra. The result is the
// caller's; it shares nothing with s but the strings of extra.
func (s *Stats) Snapshot(extra Extra) *Snapshot {
	now := s.now()
	started := extra.Started
	if started.IsZero() {
		started = s.start
	}
	snap := &Snapshot{
		Version:       extra.Version,
		Started:       utc(started),
		UptimeSeconds: max(now.Sub(started).Seconds(), 0),
		Now:           utc(now),
		Config:        make(map[string]string, len(extra.Config)),
		Active:        extra.Active,
		Cache:         append(make([]CacheTier, 0, len(extra.Cache)), extra.Cache...),
	}
	for k, v := range extra.Config {
		snap.Config[k] = v
	}

	s.mu.Lock()
	snap.Totals = s.totals
	pts, end := s.series.window(now)
	hosts := s.hosts.top(shownTop)
	blocked := s.blocked.top(shownTop)
	snap.Tunnels = s.tunnels.oldest(shownTunnels)
	errs := make([]errorEntry, 0, s.errLen)
	for i := 1; i <= s.errLen; i++ { // newest first
		errs = append(errs, s.errs[(s.errNext-i+recentErrors)%recentErrors])
	}
	s.mu.Unlock()

	if lookups := snap.Totals.Hits + snap.Totals.Misses; lookups > 0 {
		snap.HitRatio = float64(snap.Totals.Hits) / float64(lookups)
	}
	sr := Series{
		IntervalSeconds: s.series.interval.Seconds(),
		End:             utc(end),
		Requests:        make([]int64, len(pts)),
		Hits:            make([]int64, len(pts)),
		BytesOut:        make([]int64, len(pts)),
		BytesFromCache:  make([]int64, len(pts)),
		Blocked:         make([]int64, len(pts)),
		Errors:          make([]int64, len(pts)),
	}
	for i, p := range pts {
		sr.Requests[i], sr.Hits[i], sr.BytesOut[i] = p.requests, p.hits, p.bytesOut
		sr.BytesFromCache[i], sr.Blocked[i], sr.Errors[i] = p.bytesFromCache, p.blocked, p.errors
	}
	snap.Series = sr
	snap.TopHosts = make([]HostCount, len(hosts))
	for i, e := range hosts {
		snap.TopHosts[i] = HostCount{Host: e.key, Requests: e.count, Bytes: e.bytes}
	}
	snap.TopBlocked = make([]BlockedHost, len(blocked))
	for i, e := range blocked {
		snap.TopBlocked[i] = BlockedHost{Host: e.key, Count: e.count, Rule: e.rule}
	}
	snap.RecentErrors = make([]RecentError, len(errs))
	for i, e := range errs {
		client := e.client
		if h, _, err := net.SplitHostPort(client); err == nil {
			client = h
		}
		snap.RecentErrors[i] = RecentError{Time: utc(e.time), Client: client, Method: e.method,
			URL: cut(e.url, maxURLLen), Status: e.status, Error: e.err}
	}
	return snap
}

// utc returns t in UTC to the whole second, as the page shows it.
func utc(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }

// cut returns s cut to at most n bytes, on a UTF-8 boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
