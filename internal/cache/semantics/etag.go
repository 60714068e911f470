package semantics

import (
	"net/http"

	"sluice/internal/wire"
)

// etag is a parsed entity-tag (RFC 9110 §8.8.3): opaque is the
// opaque-tag with its quotes.
type etag struct {
	opaque string
	weak   bool
}

// parseETag parses a whole field value as one entity-tag:
// [ %s"W/" ] DQUOTE *etagc DQUOTE.
func parseETag(s string) (etag, bool) {
	t, rest, ok := cutETag(wire.TrimOWS(s))
	if !ok || rest != "" {
		return etag{}, false
	}
	return t, true
}

// cutETag parses the entity-tag at the start of s and returns what
// follows it. etagc is %x21 / %x23-7E / obs-text: anything visible but a
// DQUOTE, so a comma may appear inside.
func cutETag(s string) (t etag, rest string, ok bool) {
	if len(s) >= 2 && s[0] == 'W' && s[1] == '/' {
		t.weak = true
		s = s[2:]
	}
	if len(s) < 2 || s[0] != '"' {
		return etag{}, s, false
	}
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			t.opaque = s[:i+1]
			return t, s[i+1:], true
		case c < 0x21 || c == 0x7f:
			return etag{}, s, false
		}
	}
	return etag{}, s, false
}

// strongMatch is the strong comparison of RFC 9110 §8.8.3.2: both strong
// and their opaque-tags identical.
func strongMatch(a, b etag) bool {
	return !a.weak && !b.weak && a.opaque == b.opaque
}

// weakMatch is the weak comparison of RFC 9110 §8.8.3.2: the opaque-tags
// identical, whether either is weak or not.
func weakMatch(a, b etag) bool {
	return a.opaque == b.opaque
}

// storedETag returns the stored response's ETag, if it has a valid one.
func storedETag(h http.Header) (etag, bool) {
	v := h["Etag"]
	if len(v) == 0 {
		return etag{}, false
	}
	return parseETag(v[0])
}

// hasValidator reports whether h carries a usable validator: a valid ETag
// or a valid Last-Modified (RFC 9110 §8.8).
func hasValidator(h http.Header) bool {
	if _, ok := storedETag(h); ok {
		return true
	}
	_, ok := headerDate(h["Last-Modified"])
	return ok
}

// matchETagList reports whether the If-None-Match style list in vals
// ("*" or #entity-tag) matches stored by weak comparison. "*" matches any
// stored response. ok is false when the list is malformed.
func matchETagList(vals []string, stored etag, haveStored bool) (match, ok bool) {
	for _, v := range vals {
		v = wire.TrimOWS(v)
		if v == "*" {
			match = true
			continue
		}
		for {
			for v != "" && (v[0] == ',' || v[0] == ' ' || v[0] == '\t') {
				v = v[1:]
			}
			if v == "" {
				break
			}
			var t etag
			var good bool
			t, v, good = cutETag(v)
			if !good {
				return false, false
			}
			if haveStored && weakMatch(t, stored) {
				match = true
			}
			v = wire.TrimOWS(v)
			if v != "" && v[0] != ',' {
				return false, false
			}
		}
	}
	return match, true
}
