package semantics

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"sluice/internal/wire"
)

// VaryFields returns the lower-cased field names listed in all Vary lines
// of a response header (RFC 9111 §4.1), deduplicated and sorted. star is
// true when "*" is listed: the response varies on something outside the
// request and matches no request. Elements that are not field names are
// ignored.
func VaryFields(h http.Header) (fields []string, star bool) {
	for _, line := range h["Vary"] {
		for line != "" {
			var e string
			e, line = wire.NextElement(line)
			switch {
			case e == "*":
				star = true
			case wire.IsToken(e):
				fields = append(fields, strings.ToLower(e))
			}
		}
	}
	slices.Sort(fields)
	return slices.Compact(fields), star
}

// listKind says how NormalizeVaryValue treats a request field's members.
type listKind int

const (
	// plainField: only whitespace is normalised; order and case are kept.
	plainField listKind = iota
	// orderedList: members are case-insensitive, their order matters.
	orderedList
	// unorderedList: members are case-insensitive and their order does
	// not matter.
	unorderedList
)

// kindOf classifies the content negotiation fields (RFC 9110 §12.5).
// Media ranges and content codings are case-insensitive and their order
// carries no meaning (their weights do), so Accept and Accept-Encoding
// are unordered. Language ranges are case-insensitive too, but "some
// recipients treat the order in which language tags are listed as an
// indicator of descending priority" (RFC 9110 §12.5.4), so reordering
// Accept-Language would not keep its semantics (RFC 9111 §4.1).
func kindOf(name string) listKind {
	switch {
	case strings.EqualFold(name, "Accept-Encoding"), strings.EqualFold(name, "Accept"):
		return unorderedList
	case strings.EqualFold(name, "Accept-Language"):
		return orderedList
	}
	return plainField
}

// NormalizeVaryValue returns the canonical form of the values of the
// request field name in h, for matching a request against the Vary of a
// stored response (RFC 9111 §4.1: "normalizing both header field values in
// a way that is known to have identical semantics"). present is false
// when the field is absent, so that an absent field and an empty one
// differ.
//
// All field lines are combined with ", " (RFC 9110 §5.3); whitespace
// around commas and at the ends is removed and runs of whitespace become
// one space, except inside quoted strings. For Accept, Accept-Encoding and
// Accept-Language the value is also lower-cased, whitespace around ";" and
// "=" of parameters is removed and empty members are dropped (RFC 9110
// §5.6.1); the members of Accept and Accept-Encoding are also sorted.
func NormalizeVaryValue(name string, h http.Header) (value string, present bool) {
	vals := h.Values(name)
	if vals == nil {
		return "", false
	}
	if kind := kindOf(name); kind != plainField {
		var members []string
		for _, v := range vals {
			for v != "" {
				var m string
				m, v = nextMember(v)
				if m = normalizeMember(m); m != "" {
					members = append(members, m)
				}
			}
		}
		if kind == unorderedList {
			slices.Sort(members)
		}
		return strings.Join(members, ", "), true
	}
	var out strings.Builder
	for i, v := range vals {
		for first := true; first || v != ""; first = false {
			var m string
			m, v = nextMember(v)
			if i > 0 || !first {
				out.WriteString(", ")
			}
			collapse(&out, m, false)
		}
	}
	return out.String(), true
}

// nextMember splits the first member off a comma-separated list, where
// commas inside quoted strings do not separate, and trims its whitespace.
func nextMember(s string) (member, rest string) {
	i := skipElement(s, 0)
	if i < len(s) {
		return wire.TrimOWS(s[:i]), s[i+1:]
	}
	return wire.TrimOWS(s), ""
}

// normalizeMember lower-cases one member of an Accept-style list and drops
// the whitespace around its parameters' ";" and "=".
func normalizeMember(m string) string {
	var b strings.Builder
	collapse(&b, m, true)
	return b.String()
}

// collapse writes s with runs of SP and HTAB outside quoted strings
// reduced to one space. With params, letters outside quoted strings are
// lower-cased and whitespace next to ";" and "=" is dropped.
func collapse(b *strings.Builder, s string, params bool) {
	s = wire.TrimOWS(s)
	space := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			space = true
			continue
		case c == '"':
			end, _ := quotedEnd(s, i)
			if space {
				b.WriteByte(' ')
				space = false
			}
			b.WriteString(s[i:min(end+1, len(s))])
			i = end
			continue
		case params && (c == ';' || c == '='):
			space = false
		case params && 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		if space {
			if last := b.String(); !params || last == "" || (last[len(last)-1] != ';' && last[len(last)-1] != '=') {
				b.WriteByte(' ')
			}
			space = false
		}
		b.WriteByte(c)
	}
}

// VaryKey returns a secondary cache key (RFC 9111 §4.1) made of the
// normalised values of fields in the request header req (see
// NormalizeVaryValue): two requests get the same key exactly when every
// field is absent in both or present in both with the same normalised
// value. fields are taken in the order given, normally VaryFields's.
//
// Each field is encoded as its name's length, ":", the name, then "-"
// when absent or "+", the value's length, ":" and the value, so no two
// different sets of values share a key.
func VaryKey(fields []string, req http.Header) string {
	var b []byte
	for _, f := range fields {
		b = strconv.AppendInt(b, int64(len(f)), 10)
		b = append(b, ':')
		b = append(b, f...)
		v, ok := NormalizeVaryValue(f, req)
		if !ok {
			b = append(b, '-')
			continue
		}
		b = append(b, '+')
		b = strconv.AppendInt(b, int64(len(v)), 10)
		b = append(b, ':')
		b = append(b, v...)
	}
	return string(b)
}
