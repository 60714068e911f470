package rewrite

import (
	"net/http"
	"strings"

	"sluice/internal/cache/semantics"
)

// planFor returns what the HTML rules matching t do, or nil when none
// matches. With ignoreType, rules are matched on URL and host only.
func (rs *Rules) planFor(t *target, ignoreType bool) *plan {
	var p *plan
	merged := false
	for _, hr := range rs.html {
		if !hr.match.matches(t, ignoreType) {
			continue
		}
		switch {
		case p == nil:
			p = &hr.plan
		case !merged:
			m := &plan{}
			m.merge(p)
			m.merge(&hr.plan)
			p, merged = m, true
		default:
			p.merge(&hr.plan)
		}
	}
	return p
}

// rewriteBody wraps resp.Body in a rewriter when an HTML rule matches and
// the response may and can be rewritten, and fixes the header to match.
func (rs *Rules) rewriteBody(req *http.Request, resp *http.Response, t *target) {
	if resp.StatusCode == http.StatusNotModified {
		// The client's stored copy was rewritten, so its ETag is weak:
		// the validator a 304 updates it with must be weak too, or the
		// client could combine a range of the origin's bytes with it.
		if (t.mediaType == "" || isHTML(t.mediaType)) && rs.planFor(t, true) != nil && !noTransform(req, resp) {
			weakenETag(resp.Header)
		}
		return
	}
	if !isHTML(t.mediaType) || !rewritable(req, resp) {
		return
	}
	p := rs.planFor(t, false)
	if p == nil || noTransform(req, resp) {
		return
	}
	c, ok := contentCoding(resp.Header)
	if !ok {
		return // zstd, compress, several codings: pass through
	}
	ct := first(resp.Header, "Content-Type")
	if name := headerCharset(ct); name != "" && incompatible(name) {
		return
	}
	resp.Body = newBody(rs, resp, c, config{plan: p, contentType: ct, xhtml: t.mediaType == "application/xhtml+xml"})
	// The body is now a different representation of unknown length.
	resp.ContentLength = -1
	h := resp.Header
	delete(h, "Content-Length")
	weakenETag(h)
	dropDigests(h)
	// Ranges of the rewritten body are not served by anyone: a range
	// request reaches the origin and its bytes.
	delete(h, "Accept-Ranges")
}

// rewritable reports whether a response has a whole body the rewriter
// may change: a 2xx other than 204, 205 and 206 (a part of a
// representation is never rewritten), to a method other than HEAD.
func rewritable(req *http.Request, resp *http.Response) bool {
	if req != nil && req.Method == http.MethodHead {
		return false
	}
	switch s := resp.StatusCode; {
	case s < 200 || s > 299, s == http.StatusNoContent, s == http.StatusResetContent, s == http.StatusPartialContent:
		return false
	}
	if resp.Body == nil || resp.Body == http.NoBody || resp.ContentLength == 0 {
		return false
	}
	if _, ok := resp.Header["Content-Range"]; ok {
		return false
	}
	return true
}

// noTransform reports whether the response or the request forbids
// intermediaries to transform the content (RFC 9111 §5.2.2.6, §5.2.1.6;
// RFC 9110 §7.7).
func noTransform(req *http.Request, resp *http.Response) bool {
	if hasNoTransform(resp.Header) && semantics.ParseResponseDirectives(resp.Header).NoTransform {
		return true
	}
	return req != nil && hasNoTransform(req.Header) && semantics.ParseRequestDirectives(req.Header).NoTransform
}

// hasNoTransform is a quick check before parsing Cache-Control.
func hasNoTransform(h http.Header) bool {
	for _, v := range h["Cache-Control"] {
		if strings.Contains(strings.ToLower(v), "no-transform") {
			return true
		}
	}
	return false
}

// weakenETag turns a strong entity tag into a weak one (RFC 9110 §8.8.3):
// the rewritten body is not byte-for-byte the origin's, but weak
// comparison, which If-None-Match uses, still finds them equivalent, so
// revalidation keeps working. A malformed tag is dropped.
func weakenETag(h http.Header) {
	vv := h["Etag"]
	if len(vv) == 0 {
		return
	}
	v := strings.TrimSpace(vv[0])
	switch {
	case strings.HasPrefix(v, "W/"):
		if len(vv) > 1 {
			h["Etag"] = vv[:1]
		}
	case len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"':
		h["Etag"] = []string{"W/" + v}
	default:
		delete(h, "Etag")
	}
}
