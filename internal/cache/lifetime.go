package cache

import (
	"math"
	"time"

	"sluice/internal/cache/semantics"
	"sluice/internal/cache/store"
)

// MaxLifetime caps Lifetime: no stored entry is worth keeping longer
// than this from the time it is written, whatever its freshness says.
const MaxLifetime = 7 * 24 * time.Hour

// Bounds of the revalidation window Lifetime adds for a response with a
// validator.
const (
	minRevalidationWindow = time.Minute
	maxRevalidationWindow = 24 * time.Hour
)

// Lifetime returns how long from now the stored response m can still be
// of use to anyone, for a store that expires entries (the Redis tier's
// TTL, evaluated when an entry is committed or updated); ≤ 0 means it is
// of no use any more. rules are the cache's heuristic freshness rules
// (Options.Rules) and now the current time. It is the sum of:
//
//   - the remaining freshness lifetime: freshness_lifetime minus
//     current_age (RFC 9111 §4.2, with rules for heuristic freshness),
//     negative once the response is stale;
//   - the longer of stale-while-revalidate and stale-if-error (RFC 5861
//     §3, §4), during which the cache may still serve it stale, unless
//     the response forbids stale use (RFC 9111 §4.2.4: must-revalidate,
//     proxy-revalidate, s-maxage, no-cache);
//   - when the response has a validator (a valid ETag or Last-Modified),
//     a revalidation window after that, however stale it is by then: a
//     304 can still confirm it and save fetching its body again. The
//     window is the freshness lifetime, at least a minute and at most
//     24 hours, counted from now when the response is already past what
//     the first two allow.
//
// A response with an unqualified no-cache (RFC 9111 §5.2.2.4) is never
// used without a revalidation, so only the last part counts for it. The
// total is capped at MaxLifetime.
//
// A request may accept a response staler than this (max-stale, a
// request's stale-if-error); Lifetime does not wait for such requests.
//
// A Vary marker (the entry under a URL's primary key that names the
// fields its responses vary on and leads to the variants) gets
// MaxLifetime: each variant is reachable only through it and may live
// that long. The cache writes a marker when it stores the first variant
// of a URL (or its Vary changes) and does not rewrite it as variants are
// stored, so its expiry is not renewed; once it expires, the next request
// for the URL is a miss that writes a new marker, and the variants
// stored under the old one go unused until they expire too.
func Lifetime(m *store.Meta, rules semantics.Options, now time.Time) time.Duration {
	if m == nil {
		return 0
	}
	if m.Status == markerStatus {
		return MaxLifetime
	}
	life, _ := semantics.FreshnessLifetime(m.Status, m.Header, m.ResponseTime, rules)
	rcc := semantics.ParseResponseDirectives(m.Header)
	var usable time.Duration // how long it may still be served without a 304
	if !rcc.NoCache {
		// Both are ≥ 0, so the difference does not overflow.
		usable = life - semantics.CurrentAge(m.Header, m.RequestTime, m.ResponseTime, now)
		if semantics.MayServeStale(rcc) {
			usable = addSat(usable, max(rcc.StaleWhileRevalidate.Duration(), rcc.StaleIfError.Duration()))
		}
	}
	if len(semantics.ValidatorHeaders(m.Header)) > 0 {
		usable = addSat(max(usable, 0), min(max(life, minRevalidationWindow), maxRevalidationWindow))
	}
	return min(usable, MaxLifetime)
}

// addSat returns a+b for b ≥ 0, saturating instead of overflowing (an
// Expires centuries after Date makes a lifetime of the largest
// duration).
func addSat(a, b time.Duration) time.Duration {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// Lifetime is the package's Lifetime with the cache's rules and clock.
func (c *Cache) Lifetime(m *store.Meta) time.Duration {
	return Lifetime(m, c.rules, c.now())
}
