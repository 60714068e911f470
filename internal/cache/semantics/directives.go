package semantics

import (
	"net/http"
	"strings"
	"time"

	"sluice/internal/wire"
)

// maxDelta is the value a delta-seconds saturates at (RFC 9111 §1.2.2:
// "the cache MUST consider the value to be 2147483648 (2^31)").
const maxDelta = 1 << 31

// Seconds is the value of a directive whose argument is a delta-seconds
// (RFC 9111 §1.2.2).
type Seconds struct {
	// Present is true when the directive appears at all.
	Present bool
	// Invalid is true when the argument is missing or is not a
	// non-negative integer, or when the directive appears more than once
	// with different values (RFC 9111 §4.2.1). Value is then 0.
	Invalid bool
	// Any is true for a request's max-stale without an argument: a stale
	// response of any staleness is acceptable (RFC 9111 §5.2.1.2).
	Any bool
	// Value is the argument in seconds, saturated at 2^31.
	Value int64
}

// Duration returns s as a time.Duration: 0 when s is absent or invalid.
func (s Seconds) Duration() time.Duration {
	if !s.Present || s.Invalid {
		return 0
	}
	return time.Duration(s.Value) * time.Second
}

// set records one occurrence of a directive. A repeated directive with the
// same value is harmless; a different value makes it invalid (RFC 9111
// §4.2.1: "either the first occurrence should be used or the response
// should be considered stale" — a conflict is settled the stale way).
func (s *Seconds) set(v Seconds) {
	v.Present = true
	if s.Present && (s.Invalid || v.Invalid || s.Any != v.Any || s.Value != v.Value) {
		*s = Seconds{Present: true, Invalid: true}
		return
	}
	*s = v
}

// ResponseDirectives are the Cache-Control directives of a response
// (RFC 9111 §5.2.2, RFC 5861 for the stale-* extensions). Boolean fields
// are true when the directive is present; unknown directives are ignored.
type ResponseDirectives struct {
	// NoCache is the unqualified no-cache (RFC 9111 §5.2.2.4): the stored
	// response must be validated before every reuse. A malformed or empty
	// qualified form counts as unqualified.
	NoCache bool
	// Private is the unqualified private (RFC 9111 §5.2.2.7): a shared
	// cache must not store the response. A malformed or empty qualified
	// form counts as unqualified.
	Private         bool
	Public          bool
	MustRevalidate  bool
	ProxyRevalidate bool
	MustUnderstand  bool
	NoStore         bool
	NoTransform     bool
	Immutable       bool // RFC 8246

	// NoCacheFields lists the lower-cased field names of the qualified
	// form no-cache="a, b" (RFC 9111 §5.2.2.4): those fields must not be
	// sent in a response reused without validation.
	NoCacheFields []string
	// PrivateFields lists the lower-cased field names of the qualified
	// form private="a" (RFC 9111 §5.2.2.7): a shared cache stores the
	// response without those fields.
	PrivateFields []string

	MaxAge               Seconds // RFC 9111 §5.2.2.1
	SMaxAge              Seconds // RFC 9111 §5.2.2.10
	StaleWhileRevalidate Seconds // RFC 5861 §3
	StaleIfError         Seconds // RFC 5861 §4
}

// RequestDirectives are the Cache-Control directives of a request
// (RFC 9111 §5.2.1, RFC 5861 §4 for stale-if-error).
type RequestDirectives struct {
	// NoCache is set by the no-cache directive, or by Pragma: no-cache
	// when the request has no Cache-Control field (RFC 9111 §5.4).
	NoCache      bool
	NoStore      bool
	OnlyIfCached bool
	NoTransform  bool

	MaxAge       Seconds // RFC 9111 §5.2.1.1
	MinFresh     Seconds // RFC 9111 §5.2.1.3
	StaleIfError Seconds // RFC 5861 §4
	// MaxStale has Any set when max-stale has no argument: any staleness
	// is accepted (RFC 9111 §5.2.1.2).
	MaxStale Seconds
}

// ParseResponseDirectives parses the Cache-Control field lines of a
// response header. Directive names are case-insensitive and arguments may
// be tokens or quoted strings (RFC 9111 §5.2); all field lines form one
// list (RFC 9110 §5.3).
func ParseResponseDirectives(h http.Header) ResponseDirectives {
	var d ResponseDirectives
	for _, line := range h["Cache-Control"] {
		for line != "" {
			var dir directive
			dir, line = nextDirective(line)
			var name [maxDirectiveName]byte
			switch lowerName(&name, dir.name) {
			case "no-store":
				d.NoStore = true
			case "no-cache":
				if fields, ok := dir.fields(); ok {
					d.NoCacheFields = appendFields(d.NoCacheFields, fields)
				} else {
					d.NoCache = true
				}
			case "private":
				if fields, ok := dir.fields(); ok {
					d.PrivateFields = appendFields(d.PrivateFields, fields)
				} else {
					d.Private = true
				}
			case "public":
				d.Public = true
			case "must-revalidate":
				d.MustRevalidate = true
			case "proxy-revalidate":
				d.ProxyRevalidate = true
			case "must-understand":
				d.MustUnderstand = true
			case "no-transform":
				d.NoTransform = true
			case "immutable":
				d.Immutable = true
			case "max-age":
				d.MaxAge.set(dir.seconds(false))
			case "s-maxage":
				d.SMaxAge.set(dir.seconds(false))
			case "stale-while-revalidate":
				d.StaleWhileRevalidate.set(dir.seconds(false))
			case "stale-if-error":
				d.StaleIfError.set(dir.seconds(false))
			}
		}
	}
	return d
}

// ParseRequestDirectives parses the Cache-Control field lines of a
// request header, like ParseResponseDirectives. Pragma: no-cache counts as
// no-cache only when there is no Cache-Control field (RFC 9111 §5.4).
func ParseRequestDirectives(h http.Header) RequestDirectives {
	var d RequestDirectives
	lines, ok := h["Cache-Control"]
	if !ok || len(lines) == 0 {
		for _, line := range h["Pragma"] {
			for line != "" {
				var dir directive
				dir, line = nextDirective(line)
				if strings.EqualFold(dir.name, "no-cache") {
					d.NoCache = true
				}
			}
		}
		return d
	}
	for _, line := range lines {
		for line != "" {
			var dir directive
			dir, line = nextDirective(line)
			var name [maxDirectiveName]byte
			switch lowerName(&name, dir.name) {
			case "no-cache":
				d.NoCache = true
			case "no-store":
				d.NoStore = true
			case "only-if-cached":
				d.OnlyIfCached = true
			case "no-transform":
				d.NoTransform = true
			case "max-age":
				d.MaxAge.set(dir.seconds(false))
			case "min-fresh":
				d.MinFresh.set(dir.seconds(false))
			case "stale-if-error":
				d.StaleIfError.set(dir.seconds(false))
			case "max-stale":
				d.MaxStale.set(dir.seconds(true))
			}
		}
	}
	return d
}

// maxDirectiveName is longer than every directive name recognised here
// ("stale-while-revalidate" is the longest).
const maxDirectiveName = 24

// lowerName returns name lower-cased in buf, or "" when it is too long to
// be a known directive. It does not allocate.
func lowerName(buf *[maxDirectiveName]byte, name string) string {
	if len(name) > len(buf) {
		return ""
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	return string(buf[:len(name)])
}

// directive is one element of a Cache-Control or Pragma list:
// token [ "=" ( token / quoted-string ) ] (RFC 9111 §5.2).
type directive struct {
	name string
	// arg is the argument: a token, or the inside of a quoted-string with
	// its quoted-pairs still escaped.
	arg    string
	hasArg bool
	quoted bool
	// bad is set when something other than a well-formed "=" argument
	// follows the name; the argument is then unusable.
	bad bool
}

// nextDirective parses the first directive off a Cache-Control list and
// returns the rest after its comma. Commas inside quoted strings do not
// end the element. An element that does not start with a token has an
// empty name.
func nextDirective(s string) (d directive, rest string) {
	i := skipOWS(s, 0)
	start := i
	for i < len(s) && wire.IsTokenChar(s[i]) {
		i++
	}
	d.name = s[start:i]
	if j := skipOWS(s, i); j < len(s) && s[j] == '=' {
		// RFC 9111 §5.2: token [ "=" ( token / quoted-string ) ], with no
		// whitespace around "=": "max-age = 5" is not a valid directive.
		if j != i {
			d.bad = true
		}
		d.hasArg = true
		i = skipOWS(s, j+1)
		if i != j+1 {
			d.bad = true
		}
		if i < len(s) && s[i] == '"' {
			end, ok := quotedEnd(s, i)
			if ok {
				d.quoted = true
				d.arg = s[i+1 : end]
				i = end + 1
			} else {
				d.bad = true
				i = end
			}
		} else {
			start := i
			for i < len(s) && wire.IsTokenChar(s[i]) {
				i++
			}
			d.arg = s[start:i]
			if d.arg == "" {
				d.bad = true
			}
		}
	}
	i = skipOWS(s, i)
	if i < len(s) && s[i] != ',' {
		d.bad = true
		i = skipElement(s, i)
	}
	if i < len(s) {
		i++ // the comma
	}
	return d, s[i:]
}

// skipOWS returns the index of the first byte at or after i that is not
// SP or HTAB.
func skipOWS(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}

// quotedEnd returns the index of the DQUOTE that closes the quoted-string
// starting at s[i] (RFC 9110 §5.6.4), honouring quoted-pairs. ok is false,
// and end is len(s), when the string is not closed.
func quotedEnd(s string, i int) (end int, ok bool) {
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case '"':
			return j, true
		}
	}
	return len(s), false
}

// skipElement returns the index of the next comma at or after i that is
// outside a quoted string, or len(s).
func skipElement(s string, i int) int {
	for i < len(s) {
		switch s[i] {
		case ',':
			return i
		case '"':
			end, _ := quotedEnd(s, i)
			i = end + 1
		default:
			i++
		}
	}
	return len(s)
}

// unquote resolves the quoted-pairs of the inside of a quoted-string. It
// allocates only when there is a backslash.
func unquote(s string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b = append(b, s[i])
	}
	return string(b)
}

// seconds parses the argument as a delta-seconds (RFC 9111 §1.2.2): both
// token and quoted forms are accepted (RFC 9111 §5.2). A missing argument
// is invalid unless optional is set (max-stale), in which case it means
// Any.
func (d directive) seconds(optional bool) Seconds {
	if !d.hasArg && !d.bad {
		if optional {
			return Seconds{Present: true, Any: true}
		}
		return Seconds{Present: true, Invalid: true}
	}
	if d.bad {
		return Seconds{Present: true, Invalid: true}
	}
	arg := d.arg
	if d.quoted {
		arg = unquote(arg)
	}
	v, ok := parseDelta(arg)
	if !ok {
		return Seconds{Present: true, Invalid: true}
	}
	return Seconds{Present: true, Value: v}
}

// parseDelta parses delta-seconds = 1*DIGIT, saturating at 2^31
// (RFC 9111 §1.2.2).
func parseDelta(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if n < maxDelta {
			n = n*10 + int64(c-'0')
		}
	}
	return min(n, maxDelta), true
}

// appendFields adds fields to list without copying when list is empty.
func appendFields(list, fields []string) []string {
	if list == nil {
		return fields
	}
	return append(list, fields...)
}

// fields returns the lower-cased field names of a qualified no-cache or
// private (RFC 9111 §5.2.2.4, §5.2.2.7). ok is false when the directive
// is unqualified, or when its argument is malformed or names no field: the
// caller then treats the directive as unqualified, the stricter meaning.
func (d directive) fields() (names []string, ok bool) {
	if !d.hasArg || d.bad {
		return nil, false
	}
	list := d.arg
	if d.quoted {
		list = unquote(list)
	}
	for list != "" {
		var name string
		name, list = wire.NextElement(list)
		if name == "" {
			continue
		}
		if !wire.IsToken(name) {
			return nil, false
		}
		names = append(names, strings.ToLower(name))
	}
	return names, len(names) > 0
}
