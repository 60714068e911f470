// Package rewrite changes messages on their way through the proxy: header
// rules add, set, remove or edit fields of requests and responses, and
// HTML rules remove elements, inject snippets and replace text in HTML
// responses while they stream from the origin.
//
// HTML is rewritten token by token with golang.org/x/net/html's tokenizer,
// not parsed into a tree: output leaves as input arrives, the bytes no rule
// touches are copied exactly as the origin sent them, and the memory a
// response costs is a small constant (one input buffer, the tokenizer's
// buffer, bounded by maxToken, and the compression windows), never the
// whole body. Element extents follow a simplified form of the HTML
// parser's rules (nesting, void elements, implied end tags, scopes); see
// docs/rewrite.md for exactly what is supported.
//
// It does not block or filter requests, fetch or cache anything, or build
// a DOM. Responses it cannot rewrite faithfully pass through untouched:
// HEAD, 204, 206, 304, Cache-Control: no-transform (RFC 9110 §7.7,
// RFC 9111 §5.2), content codings other than gzip, deflate and br,
// charsets that are not ASCII-compatible (UTF-16, ISO-2022-JP), and
// anything that is not text/html or application/xhtml+xml.
package rewrite

import (
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"regexp"
	"strings"

	"sluice/internal/wire"
)

// Match selects the messages a rule applies to. Every field that is set
// must match; a Match with no fields matches everything.
type Match struct {
	// URL is a pattern over the whole request URL, written as
	// scheme://host/path?query with the scheme and host lower-cased and
	// an empty path as "/". Either a glob in which * matches any run of
	// characters (anchored at both ends), or a regular expression between
	// slashes, "/…/" (Go syntax, unanchored).
	URL string
	// Host is a host name without port: "example.com" matches that host
	// only, ".example.com" matches it and every subdomain.
	Host string
	// ContentType lists media types (type/subtype, "text/*" for any
	// subtype) compared, without parameters, with the response's
	// Content-Type as the origin sent it. Response rules only.
	ContentType []string
}

// HeaderRule edits one header field of requests or responses.
type HeaderRule struct {
	Match
	// Phase is "request" (applied by Rules.Request, before the request is
	// forwarded) or "response" (applied by Rules.Response).
	Phase string
	// Action is one of:
	//   - "add": append a field line Name: Value;
	//   - "set": replace every line of Name with one line Name: Value;
	//   - "remove": delete every line of Name;
	//   - "replace": in each line of Name, replace every match of Regex
	//     with Value ($1, ${name} expand submatches; $$ is a dollar).
	//     A line that becomes empty is deleted.
	Action string
	// Name is the field name; case does not matter.
	Name string
	// Value is the value for add and set, the replacement for replace.
	Value string
	// Regex is the regular expression (Go syntax) for replace.
	Regex string
}

// HTMLRule rewrites HTML responses. Several rules that match the same
// response combine: their selectors are all applied, their snippets are
// injected in rule order, and their replacements run in rule order.
type HTMLRule struct {
	Match
	// Remove lists selectors of elements to remove together with their
	// content: a compound CSS selector such as "div", "*", ".ad", "#banner",
	// "[data-ad]", "a[href^='https://track.']" or "div.ad[data-x]"; see
	// the Selector grammar in docs/rewrite.md.
	Remove []string
	// InjectHead is inserted right after the <head> start tag; without
	// one, before the first element or text that is not <html>, a
	// comment, a doctype or white space; in an empty document, at the end.
	InjectHead string
	// InjectBody is inserted right before the first </body> end tag;
	// without one, before </html>; without either, at the end.
	InjectBody string
	// Replace edits text: each regular expression is matched against the
	// text between tags as written in the page (character references such
	// as &amp; are not decoded) and every match is replaced, in order.
	// Never in attribute values, comments, or the raw text of script,
	// style and similar elements.
	Replace []TextReplace
}

// TextReplace is one replacement in text: every match of Regex (Go
// syntax) becomes With, in which $1 or ${name} expand submatches and $$ is
// a dollar. With is inserted as written, so it may contain markup or
// character references.
type TextReplace struct{ Regex, With string }

// Rules is a compiled set of header and HTML rules. It is immutable after
// Compile (apart from its pools of compressors) and safe for concurrent
// use; build one per configuration snapshot.
type Rules struct {
	request  []headerRule
	response []headerRule
	html     []*htmlRule
	pools    pools
}

// RuleError is a rule Compile rejected. Kind is "headers" or "html" and
// Index the rule's position in that slice, so a configuration loader can
// point at the right entry.
type RuleError struct {
	Kind  string
	Index int
	Err   error
}

func (e *RuleError) Error() string { return fmt.Sprintf("%s[%d]: %v", e.Kind, e.Index, e.Err) }
func (e *RuleError) Unwrap() error { return e.Err }

// Compile checks and compiles rules. Its error names the first rule that
// is wrong (a *RuleError) and what is wrong with it.
func Compile(headers []HeaderRule, html []HTMLRule) (*Rules, error) {
	rs := &Rules{}
	for i, h := range headers {
		hr, err := compileHeader(h)
		if err != nil {
			return nil, &RuleError{"headers", i, err}
		}
		if hr.phase == phaseRequest {
			rs.request = append(rs.request, hr)
		} else {
			rs.response = append(rs.response, hr)
		}
	}
	for i, h := range html {
		hr, err := compileHTML(h)
		if err != nil {
			return nil, &RuleError{"html", i, err}
		}
		rs.html = append(rs.html, hr)
	}
	return rs, nil
}

// Empty reports whether there are no rules at all, so the proxy can skip
// calling Request and Response.
func (rs *Rules) Empty() bool {
	return rs == nil || len(rs.request) == 0 && len(rs.response) == 0 && len(rs.html) == 0
}

// Request applies the request-phase header rules to r's header in place,
// in order. When an HTML rule may apply to r's URL, it also removes from
// Accept-Encoding the content codings the rewriter cannot decode (such as
// zstd), so that the origin answers with one it can. Call it before the
// request reaches the cache and the origin.
func (rs *Rules) Request(r *http.Request) {
	if rs == nil || r == nil {
		return
	}
	if r.Header == nil && len(rs.request) > 0 {
		r.Header = make(http.Header)
	}
	t := target{r: r}
	for i := range rs.request {
		if hr := &rs.request[i]; hr.match.matches(&t, false) {
			hr.apply(r.Header)
		}
	}
	for _, hr := range rs.html {
		if hr.match.matches(&t, true) {
			trimAcceptEncoding(r.Header)
			break
		}
	}
}

// Response rewrites resp, the response to req, in place. All matching
// uses the response as the origin sent it. First, when an HTML rule
// matches and the response can be rewritten, resp.Body is replaced by a
// streaming rewriter and the header is fixed to describe the new body:
// Content-Length removed (resp.ContentLength = -1), a strong ETag
// weakened, Content-MD5, digests and Accept-Ranges removed. Then the
// response-phase header rules run, in order, so they may adjust the
// result. Call it after the cache, so that the cache stores the origin's
// bytes, and once per response; the caller must Close resp.Body as usual.
// req may be nil, in which case resp.Request is used.
func (rs *Rules) Response(req *http.Request, resp *http.Response) {
	if rs == nil || resp == nil {
		return
	}
	if req == nil {
		req = resp.Request
	}
	if resp.Header == nil {
		resp.Header = make(http.Header)
	}
	t := target{r: req}
	t.mediaType, t.haveType = mediaType(first(resp.Header, "Content-Type")), true
	if len(rs.html) > 0 {
		rs.rewriteBody(req, resp, &t)
	}
	for i := range rs.response {
		if hr := &rs.response[i]; hr.match.matches(&t, false) {
			hr.apply(resp.Header)
		}
	}
}

func first(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

const (
	phaseRequest = iota
	phaseResponse
)

const (
	actionAdd = iota
	actionSet
	actionRemove
	actionReplace
)

// headerRule is a compiled HeaderRule.
type headerRule struct {
	match  matcher
	phase  int
	action int
	name   string // canonical
	value  string
	// values is value as a one-element slice, clipped so that appending
	// to it copies; set shares it between messages.
	values []string
	re     *regexp.Regexp
}

// framing lists fields a rule must not touch: they frame the message or
// belong to the connection (RFC 9110 §7.6.1), and the proxy manages them.
var framing = map[string]bool{
	"Content-Length":    true,
	"Transfer-Encoding": true,
	"Connection":        true,
	"Keep-Alive":        true,
	"Proxy-Connection":  true,
	"Te":                true,
	"Trailer":           true,
	"Upgrade":           true,
	"Host":              true,
}

func compileHeader(h HeaderRule) (headerRule, error) {
	var hr headerRule
	switch strings.ToLower(h.Phase) {
	case "request":
		hr.phase = phaseRequest
	case "response":
		hr.phase = phaseResponse
	default:
		return hr, fmt.Errorf("phase %q: want request or response", h.Phase)
	}
	switch strings.ToLower(h.Action) {
	case "add":
		hr.action = actionAdd
	case "set":
		hr.action = actionSet
	case "remove":
		hr.action = actionRemove
	case "replace":
		hr.action = actionReplace
	default:
		return hr, fmt.Errorf("action %q: want add, set, remove or replace", h.Action)
	}
	if _, ok := wire.CheckName(h.Name); !ok {
		return hr, fmt.Errorf("name %q is not a valid header field name", h.Name)
	}
	hr.name = textproto.CanonicalMIMEHeaderKey(h.Name)
	if framing[hr.name] {
		return hr, fmt.Errorf("name %s: the proxy manages this field; rules may not change it", hr.name)
	}
	if !wire.ValidValue(h.Value) {
		return hr, errors.New("value contains a control character (CR, LF, NUL…)")
	}
	switch hr.action {
	case actionRemove:
		if h.Value != "" {
			return hr, errors.New("remove takes no value")
		}
	case actionReplace:
		if h.Regex == "" {
			return hr, errors.New("replace needs a regex")
		}
		re, err := regexp.Compile(h.Regex)
		if err != nil {
			return hr, fmt.Errorf("regex: %v", err)
		}
		hr.re = re
	}
	if h.Regex != "" && hr.action != actionReplace {
		return hr, fmt.Errorf("regex is only for replace, not %s", strings.ToLower(h.Action))
	}
	hr.value = h.Value
	hr.values = []string{h.Value}[:1:1]
	m, err := compileMatch(h.Match)
	if err != nil {
		return hr, err
	}
	if hr.phase == phaseRequest && len(m.types) > 0 {
		return hr, errors.New("content_type only applies to response rules")
	}
	hr.match = m
	return hr, nil
}

// apply carries out the rule on h.
func (hr *headerRule) apply(h http.Header) {
	switch hr.action {
	case actionAdd:
		if vv := h[hr.name]; len(vv) > 0 {
			h[hr.name] = append(vv, hr.value)
		} else {
			h[hr.name] = hr.values
		}
	case actionSet:
		h[hr.name] = hr.values
	case actionRemove:
		delete(h, hr.name)
	case actionReplace:
		vv := h[hr.name]
		var out []string // nil until a value changes
		for i, v := range vv {
			nv := v
			if hr.re.MatchString(v) {
				nv = hr.re.ReplaceAllString(v, hr.value)
			}
			if out == nil {
				if nv == v {
					continue
				}
				out = append(make([]string, 0, len(vv)), vv[:i]...)
			}
			if nv == v || strings.TrimSpace(nv) != "" {
				out = append(out, nv) // a line the replacement emptied goes
			}
		}
		switch {
		case out == nil:
		case len(out) == 0:
			delete(h, hr.name)
		default:
			h[hr.name] = out
		}
	}
}

// trimAcceptEncoding leaves in Accept-Encoding only the codings the
// rewriter can decode (RFC 9110 §12.5.3), so the origin does not pick one
// that would make the response pass through unrewritten. If nothing is
// left, identity is asked for.
func trimAcceptEncoding(h http.Header) {
	vv := h["Accept-Encoding"]
	if len(vv) == 0 {
		return
	}
	drop := false
	for _, v := range vv {
		for v != "" {
			var e string
			e, v = wire.NextElement(v)
			if e != "" && !decodable(codingName(e)) {
				drop = true
			}
		}
	}
	if !drop {
		return
	}
	var keep []string
	for _, v := range vv {
		for v != "" {
			var e string
			e, v = wire.NextElement(v)
			if e != "" && decodable(codingName(e)) {
				keep = append(keep, e)
			}
		}
	}
	if len(keep) == 0 {
		keep = []string{"identity"}
	}
	h["Accept-Encoding"] = []string{strings.Join(keep, ", ")}
}

// codingName is the lower-cased coding of an Accept-Encoding element,
// without its weight.
func codingName(e string) string {
	if i := strings.IndexByte(e, ';'); i >= 0 {
		e = e[:i]
	}
	return strings.ToLower(wire.TrimOWS(e))
}

func decodable(c string) bool {
	switch c {
	case "gzip", "x-gzip", "deflate", "br", "identity", "*":
		return true
	}
	return false
}
