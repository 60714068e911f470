// Package wire holds the small pieces of HTTP/1.1 message syntax (RFC 9110
// §5, RFC 9112) that both sides of the proxy parse: tokens, field values,
// comma-separated lists, Content-Length. Every function is pure and
// allocation-free.
//
// It does not read from connections or build messages; internal/server
// (requests from clients) and internal/upstream (responses from origins)
// do, with these rules.
package wire

import "strings"

// CheckName reports whether name is a valid field name (an RFC 9110
// token) and whether it is already in Go's canonical form, so callers can
// skip http.CanonicalHeaderKey's allocation.
func CheckName(name string) (canonical, ok bool) {
	if name == "" {
		return false, false
	}
	canonical = true
	upper := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !IsTokenChar(c) {
			return false, false
		}
		if upper && 'a' <= c && c <= 'z' || !upper && 'A' <= c && c <= 'Z' {
			canonical = false
		}
		upper = c == '-'
	}
	return canonical, true
}

// IsToken reports whether s is a non-empty RFC 9110 token.
func IsToken(s string) bool {
	_, ok := CheckName(s)
	return ok
}

// IsTokenChar reports whether c is a tchar (RFC 9110 §5.6.2).
func IsTokenChar(c byte) bool {
	return c < 0x80 && tchar[c]
}

var tchar = func() (t [128]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// ValidValue reports whether v may appear as a field value: no control
// characters other than HTAB (RFC 9110 §5.5), so no CR, LF or NUL.
func ValidValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// TrimOWS removes optional whitespace (SP, HTAB) around s.
func TrimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// NextElement splits the first element off a comma-separated list
// (RFC 9110 §5.6.1) and trims its optional whitespace; an empty element
// comes back as "". Loop with: for v != "" { e, v = NextElement(v); … }.
func NextElement(list string) (elem, rest string) {
	if i := strings.IndexByte(list, ','); i >= 0 {
		return TrimOWS(list[:i]), list[i+1:]
	}
	return TrimOWS(list), ""
}

// HasToken reports whether the comma-separated lists in vals contain
// token, compared case-insensitively (Connection, Upgrade, Expect…).
func HasToken(vals []string, token string) bool {
	for _, v := range vals {
		for v != "" {
			var e string
			e, v = NextElement(v)
			if strings.EqualFold(e, token) {
				return true
			}
		}
	}
	return false
}

// ContentLength parses the values of Content-Length fields. Several
// identical values, also in one comma-separated line, count as one;
// differing or malformed ones are an error (RFC 9112 §6.3: a framing
// attack). ok is false for any problem; n is -1 when vals is empty.
func ContentLength(vals []string) (n int64, ok bool) {
	n = -1
	for _, v := range vals {
		if v == "" {
			return 0, false
		}
		for len(v) > 0 {
			var part string
			part, v = NextElement(v)
			m, good := ParseDecimal(part)
			if !good || n >= 0 && m != n {
				return 0, false
			}
			n = m
		}
	}
	return n, true
}

// ParseDecimal parses a non-negative decimal of at most 18 digits (so it
// cannot overflow int64).
func ParseDecimal(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// CutLine returns the first line of s without its CRLF (or bare LF, which
// RFC 9112 §2.2 lets a recipient accept), and the rest.
func CutLine(s string) (line, rest string) {
	i := strings.IndexByte(s, '\n')
	if i < 0 {
		return s, ""
	}
	line, rest = s[:i], s[i+1:]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, rest
}
