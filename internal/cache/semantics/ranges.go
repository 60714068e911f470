package semantics

import (
	"math"
	"net/http"
	"strings"
	"time"

	"sluice/internal/wire"
)

// RangeKind is how to answer a Range request from a stored representation.
type RangeKind int

const (
	// RangeNone: ignore the Range field and serve the whole
	// representation with 200.
	RangeNone RangeKind = iota
	// RangeOK: serve 206 with the bytes start through end, inclusive.
	RangeOK
	// RangeUnsatisfiable: serve 416 with Content-Range: bytes */size.
	RangeUnsatisfiable
)

// ParseRange parses the value of a Range field (RFC 9110 §14.2) for a
// representation of size bytes. Only a single byte range is served from
// the cache; as RFC 9110 §14.2 lets a server, everything else is ignored
// (RangeNone): a malformed value, a unit other than bytes, several ranges,
// or a range whose last-pos is below its first-pos (invalid, §14.1.1).
//
// "bytes=a-b" covers a through b, clamped to the last byte; "bytes=a-" runs
// to the end; "bytes=-n" is the last n bytes (all of them when n ≥ size).
// A range is unsatisfiable when a ≥ size, or for "bytes=-0" (§14.1.1). The
// unit is case-insensitive and whitespace around the range is allowed.
// For an empty representation a suffix range is ignored, since no 206 can
// describe zero bytes. For RangeOK, 0 ≤ start ≤ end < size.
func ParseRange(value string, size int64) (kind RangeKind, start, end int64) {
	unit, set, ok := strings.Cut(wire.TrimOWS(value), "=")
	if !ok || !strings.EqualFold(unit, "bytes") || size < 0 {
		return RangeNone, 0, 0
	}
	// range-set = 1#range-spec; empty elements are ignored (RFC 9110
	// §5.6.1). Exactly one range-spec is served.
	var spec string
	for set != "" {
		var e string
		e, set = wire.NextElement(set)
		if e == "" {
			continue
		}
		if spec != "" {
			return RangeNone, 0, 0
		}
		spec = e
	}
	first, last, ok := strings.Cut(spec, "-")
	if !ok {
		return RangeNone, 0, 0
	}
	if first == "" {
		// suffix-byte-range-spec = "-" suffix-length
		n, ok := parsePos(last)
		switch {
		case !ok:
			return RangeNone, 0, 0
		case n == 0:
			return RangeUnsatisfiable, 0, 0
		case size == 0:
			return RangeNone, 0, 0
		}
		return RangeOK, max(size-n, 0), size - 1
	}
	a, ok := parsePos(first)
	if !ok {
		return RangeNone, 0, 0
	}
	b := int64(math.MaxInt64)
	if last != "" {
		if b, ok = parsePos(last); !ok || b < a {
			return RangeNone, 0, 0
		}
	}
	if a >= size {
		return RangeUnsatisfiable, 0, 0
	}
	return RangeOK, a, min(b, size-1)
}

// parsePos parses 1*DIGIT, saturating at the largest int64.
func parsePos(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if n > (math.MaxInt64-d)/10 {
			n = math.MaxInt64
			continue
		}
		n = n*10 + d
	}
	return n, true
}

// IfRangeAllows reports whether a Range request with If-Range value
// ifRange may be answered with a part of the stored response with header
// stored (RFC 9110 §13.1.5). It is true when ifRange is empty, when it is
// an entity-tag that strongly matches the stored ETag, or when it is an
// HTTP-date exactly equal to the stored Last-Modified and that
// Last-Modified is a strong validator: the stored Date is at least one
// second later (RFC 9110 §8.8.2.2). Otherwise the whole representation is
// served with 200.
func IfRangeAllows(ifRange string, stored http.Header) bool {
	ifRange = wire.TrimOWS(ifRange)
	if ifRange == "" {
		return true
	}
	// RFC 9110 §13.1.5: an entity-tag is told from an HTTP-date by a
	// DQUOTE in the first three characters.
	if strings.Contains(ifRange[:min(3, len(ifRange))], `"`) {
		t, ok := parseETag(ifRange)
		if !ok {
			return false
		}
		st, ok := storedETag(stored)
		return ok && strongMatch(t, st)
	}
	d, ok := ParseDate(ifRange)
	if !ok {
		return false
	}
	lm, ok := headerDate(stored["Last-Modified"])
	if !ok || !lm.Equal(d) {
		return false
	}
	date, ok := headerDate(stored["Date"])
	return ok && date.Sub(lm) >= time.Second
}
