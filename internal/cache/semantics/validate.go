package semantics

import "net/http"

// ValidatorHeaders returns the conditional header fields to send to the
// origin to revalidate a stored response with header stored (RFC 9111
// §4.3.1): If-None-Match with the stored ETag, and If-Modified-Since with
// the stored Last-Modified (not its Date), each only when the stored
// value is valid. The result is empty when there is nothing to validate
// with.
func ValidatorHeaders(stored http.Header) http.Header {
	h := http.Header{}
	if t, ok := storedETag(stored); ok {
		h["If-None-Match"] = []string{t.String()}
	}
	if lm := stored["Last-Modified"]; len(lm) > 0 {
		if _, ok := ParseDate(lm[0]); ok {
			h["If-Modified-Since"] = []string{lm[0]}
		}
	}
	return h
}

// String returns the entity-tag as it is written in a field.
func (t etag) String() string {
	if t.weak {
		return "W/" + t.opaque
	}
	return t.opaque
}

// EvaluateConditional answers a client's conditional request with method
// and header req from a stored response with header stored (RFC 9110
// §13.1.2, §13.1.3, §13.2.2; RFC 9111 §4.3.2). Ask it only about a stored
// 200 response (RFC 9111 §4.3.2): for other statuses preconditions are
// ignored (RFC 9110 §13.2.1) and the stored response is served as is.
//
// notModified means answer 304 (see NotModifiedHeader). passOn means the
// cache cannot evaluate the request and forwards it to the origin: If-Match
// or If-Unmodified-Since is present, If-None-Match is malformed, or the
// method is neither GET nor HEAD while a precondition is present. With
// neither, serve the stored response.
//
// If-None-Match uses weak comparison and "*" matches the stored response.
// When If-None-Match is present, If-Modified-Since is ignored. Otherwise
// If-Modified-Since (a single valid HTTP-date; anything else is ignored,
// RFC 9110 §13.1.3) is compared with the stored Last-Modified or, without
// one, the stored Date (RFC 9111 §4.3.2): not modified when that is at or
// before the given date.
func EvaluateConditional(method string, req http.Header, stored http.Header) (notModified bool, passOn bool) {
	inm, hasINM := req["If-None-Match"]
	ims, hasIMS := req["If-Modified-Since"]
	_, hasIM := req["If-Match"]
	_, hasIUS := req["If-Unmodified-Since"]
	if hasIM || hasIUS {
		return false, true
	}
	if !hasINM && !hasIMS {
		return false, false
	}
	if method != http.MethodGet && method != http.MethodHead {
		return false, true
	}
	if hasINM {
		t, have := storedETag(stored)
		match, ok := matchETagList(inm, t, have)
		if !ok {
			return false, true
		}
		// RFC 9110 §13.1.2: a GET or HEAD whose If-None-Match matches
		// is answered 304.
		return match, false
	}
	if len(ims) != 1 {
		return false, false
	}
	since, ok := ParseDate(ims[0])
	if !ok {
		return false, false
	}
	last, ok := headerDate(stored["Last-Modified"])
	if !ok {
		if last, ok = headerDate(stored["Date"]); !ok {
			return false, false
		}
	}
	return !last.After(since), false
}

// notModifiedFields are the fields a 304 carries from the stored response
// (RFC 9110 §15.4.5): those a 200 would have carried among Cache-Control,
// Content-Location, Date, ETag, Expires and Vary, and Last-Modified, which
// guides cache updates when there is no ETag. Age is the caller's.
var notModifiedFields = [...]string{"Cache-Control", "Content-Location", "Date", "Etag", "Expires", "Last-Modified", "Vary"}

// NotModifiedHeader returns the header fields of a 304 response sent from
// the cache for a stored response with header stored (RFC 9110 §15.4.5).
// The caller adds Age.
func NotModifiedHeader(stored http.Header) http.Header {
	h := make(http.Header, len(notModifiedFields)+1)
	for _, k := range notModifiedFields {
		if v := stored[k]; len(v) > 0 {
			h[k] = append([]string(nil), v...)
		}
	}
	return h
}

// Matching304 reports whether a 304 response with header notModified,
// received while revalidating, applies to the stored response with header
// stored (RFC 9111 §4.3.4), considering that one stored response only:
//
//   - a strong ETag in the 304 must equal the stored ETag by strong
//     comparison;
//   - otherwise a Last-Modified in the 304 must equal the stored one;
//   - otherwise a weak ETag in the 304 must match the stored ETag by weak
//     comparison;
//   - a 304 with no validator applies only to a stored response that has
//     none either.
func Matching304(stored, notModified http.Header) bool {
	st, haveStored := storedETag(stored)
	nt, haveNew := storedETag(notModified)
	if haveNew && !nt.weak {
		return haveStored && strongMatch(nt, st)
	}
	if lm := notModified["Last-Modified"]; len(lm) > 0 {
		slm := stored["Last-Modified"]
		if len(slm) == 0 {
			return false
		}
		a, ok1 := ParseDate(lm[0])
		b, ok2 := ParseDate(slm[0])
		if ok1 && ok2 {
			return a.Equal(b)
		}
		return lm[0] == slm[0]
	}
	if haveNew {
		return haveStored && weakMatch(nt, st)
	}
	// RFC 9111 §4.3.4: "If the new response does not include any form of
	// validator …, and there is only one stored response, and that stored
	// response also lacks a validator, then that stored response is
	// identified for update."
	return !haveStored && len(stored["Last-Modified"]) == 0
}
