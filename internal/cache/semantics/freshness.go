package semantics

import (
	"net/http"
	"time"
)

// Options tune the heuristic freshness a cache may assign (RFC 9111
// §4.2.2). The zero value means the defaults.
type Options struct {
	// HeuristicFraction is the share of the time since Last-Modified that
	// a response without explicit freshness stays fresh. 0 means 0.1, the
	// "typical setting" of RFC 9111 §4.2.2; a negative value turns
	// heuristic freshness off.
	HeuristicFraction float64
	// HeuristicMax caps a heuristic lifetime. 0 means 24 hours.
	HeuristicMax time.Duration
}

func (o Options) fraction() float64 {
	if o.HeuristicFraction == 0 {
		return 0.1
	}
	return o.HeuristicFraction
}

func (o Options) heuristicMax() time.Duration {
	if o.HeuristicMax <= 0 {
		return 24 * time.Hour
	}
	return o.HeuristicMax
}

// FreshnessLifetime returns how long a response with status and header h,
// received at responseTime, stays fresh in a shared cache (RFC 9111
// §4.2.1), using the first of:
//
//   - s-maxage, then max-age; an invalid or conflicting value makes the
//     response stale (lifetime 0) rather than falling through (RFC 9111
//     §4.2.1: "consider responses that have invalid freshness information
//     … to be stale");
//   - Expires minus Date, with responseTime standing in for a missing or
//     invalid Date (RFC 9110 §6.6.1); an invalid Expires, such as "0",
//     means already expired (RFC 9111 §5.3), and so do several Expires
//     lines that disagree (§4.2.1);
//   - a heuristic (RFC 9111 §4.2.2), only for a status that is cacheable
//     by default or a response marked public: o's fraction of the time
//     between Last-Modified and Date, capped by o.HeuristicMax, and 0 when
//     Last-Modified is missing or not before Date.
//
// heuristic reports that the lifetime came from the heuristic.
func FreshnessLifetime(status int, h http.Header, responseTime time.Time, o Options) (lifetime time.Duration, heuristic bool) {
	d := ParseResponseDirectives(h)
	// RFC 9111 §4.2.1: "If the cache is shared and the s-maxage response
	// directive is present, use its value".
	if d.SMaxAge.Present {
		return d.SMaxAge.Duration(), false
	}
	if d.MaxAge.Present {
		return d.MaxAge.Duration(), false
	}
	date, ok := headerDate(h["Date"])
	if !ok {
		date = responseTime
	}
	if exp := h["Expires"]; len(exp) > 0 {
		for _, v := range exp[1:] {
			if v != exp[0] {
				return 0, false
			}
		}
		t, ok := ParseDate(exp[0])
		if !ok {
			return 0, false
		}
		return max(t.Sub(date), 0), false
	}
	return heuristicLifetime(status, d, h, date, o)
}

// heuristicLifetime implements RFC 9111 §4.2.2 for a response without
// explicit expiration.
func heuristicLifetime(status int, d ResponseDirectives, h http.Header, date time.Time, o Options) (time.Duration, bool) {
	f := o.fraction()
	if f < 0 || !CacheableByDefault(status) && !d.Public {
		return 0, false
	}
	lm, ok := headerDate(h["Last-Modified"])
	if !ok || !lm.Before(date) {
		return 0, false
	}
	life := min(time.Duration(float64(date.Sub(lm))*f), o.heuristicMax())
	if life <= 0 {
		return 0, false
	}
	return life, true
}

// MayServeStale reports whether the directives of a stored response allow
// serving it stale without revalidation (RFC 9111 §4.2.4): not when
// must-revalidate (§5.2.2.2), proxy-revalidate (§5.2.2.8) or s-maxage —
// which for a shared cache carries proxy-revalidate's meaning (§5.2.2.10) —
// is present, nor with an unqualified no-cache (§5.2.2.4). Whether the
// request accepts a stale response (max-stale, stale-if-error…) is the
// caller's to check.
func MayServeStale(resp ResponseDirectives) bool {
	return !resp.MustRevalidate && !resp.ProxyRevalidate && !resp.SMaxAge.Present && !resp.NoCache
}
