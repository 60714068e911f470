package semantics

import (
	"math"
	"net/http"
	"time"

	"sluice/internal/wire"
)

// CurrentAge returns the age of a stored response with header h, for which
// the request was sent at requestTime and the response received at
// responseTime, at the moment now (RFC 9111 §4.2.3):
//
//	apparent_age = max(0, response_time - date_value)
//	response_delay = response_time - request_time
//	corrected_age_value = age_value + response_delay
//	corrected_initial_age = max(apparent_age, corrected_age_value)
//	resident_time = now - response_time
//	current_age = corrected_initial_age + resident_time
//
// age_value is the Age field (the first member if it is a list; an
// invalid one is ignored, RFC 9111 §5.1; values above 2^31 seconds
// saturate, §1.2.2). A missing or invalid Date counts as responseTime.
// Negative delays and residencies, which only clock trouble produces,
// count as 0, and the sum saturates instead of overflowing.
func CurrentAge(h http.Header, requestTime, responseTime, now time.Time) time.Duration {
	return AgeAt(InitialAge(h, requestTime, responseTime), responseTime, now)
}

// InitialAge returns corrected_initial_age (RFC 9111 §4.2.3): the part of
// CurrentAge that depends only on what is stored, so a cache can compute
// it once per stored response.
func InitialAge(h http.Header, requestTime, responseTime time.Time) time.Duration {
	date, ok := headerDate(h["Date"])
	if !ok {
		date = responseTime
	}
	apparent := max(responseTime.Sub(date), 0)
	delay := max(responseTime.Sub(requestTime), 0)
	corrected := addSat(ageValue(h["Age"]), delay)
	return max(apparent, corrected)
}

// AgeAt returns current_age at now from corrected_initial_age (InitialAge)
// and response_time: the initial age plus the resident time.
func AgeAt(initial time.Duration, responseTime, now time.Time) time.Duration {
	return addSat(initial, max(now.Sub(responseTime), 0))
}

// ageValue parses the Age field (RFC 9111 §5.1): a delta-seconds, 0 when
// absent or invalid.
func ageValue(vals []string) time.Duration {
	if len(vals) == 0 {
		return 0
	}
	first, _ := wire.NextElement(vals[0])
	n, ok := parseDelta(first)
	if !ok {
		return 0
	}
	return time.Duration(n) * time.Second
}

// addSat adds two non-negative durations, saturating at the largest
// duration.
func addSat(a, b time.Duration) time.Duration {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}
