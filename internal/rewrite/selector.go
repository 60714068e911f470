package rewrite

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// selector is one compound CSS selector: an optional type (tag name) and
// any number of #id, .class and [attribute] conditions, all on the same
// element. Combinators, selector lists and pseudo-classes are not
// supported.
type selector struct {
	tag     string // lower-case; "" for any element
	ids     []string
	classes []string
	attrs   []attrCond
}

// attrCond is an [attribute] condition.
type attrCond struct {
	name  string // lower-case
	op    byte   // 0 (present), '=', '~', '|', '^', '$', '*'
	value string
	fold  bool // the "i" flag: compare ASCII case-insensitively
}

// attr is an attribute of a start tag as the tokenizer returns it: the
// name lower-cased, the value with character references decoded.
type attr struct{ key, val []byte }

// parseSelector parses the grammar in docs/rewrite.md:
//
//	selector  = [ type | "*" ] { "#" name | "." ident | attrib }
//	attrib    = "[" ident [ op ( ident | string ) [ "i" | "s" ] ] "]"
//	op        = "=" | "~=" | "|=" | "^=" | "$=" | "*="
//
// with white space allowed inside brackets and CSS escapes in names and
// values.
func parseSelector(s string) (*selector, error) {
	p := selParser{s: strings.Trim(s, " \t\n\r\f")} // CSS white space only
	if p.s == "" {
		return nil, errors.New("empty selector")
	}
	sel := &selector{}
	empty := true
	if p.peek() == '*' {
		p.i++
		empty = false
	} else if p.identStart() {
		name, err := p.ident()
		if err != nil {
			return nil, err
		}
		sel.tag = asciiLower(name)
		empty = false
	}
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch c {
		case '#':
			p.i++
			name, err := p.ident()
			if err != nil {
				return nil, fmt.Errorf("after #: %w", err)
			}
			sel.ids = append(sel.ids, name)
		case '.':
			p.i++
			name, err := p.ident()
			if err != nil {
				return nil, fmt.Errorf("after .: %w", err)
			}
			sel.classes = append(sel.classes, name)
		case '[':
			p.i++
			a, err := p.attrib()
			if err != nil {
				return nil, err
			}
			sel.attrs = append(sel.attrs, a)
		case ' ', '\t', '\n', '\r', '\f', '>', '+', '~':
			return nil, errors.New("combinators (descendant, >, +, ~) are not supported: select the element itself")
		case ',':
			return nil, errors.New("selector lists are not supported: give each selector as its own entry")
		case ':':
			return nil, errors.New("pseudo-classes and pseudo-elements (:…) are not supported")
		case '*':
			return nil, errors.New("* may only come first")
		default:
			return nil, fmt.Errorf("unexpected %q at offset %d", p.rune(), p.i)
		}
		empty = false
	}
	if empty {
		return nil, errors.New("empty selector")
	}
	return sel, nil
}

type selParser struct {
	s string
	i int
}

func (p *selParser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *selParser) rune() rune {
	r, _ := utf8.DecodeRuneInString(p.s[p.i:])
	return r
}

func (p *selParser) skipSpace() {
	for p.i < len(p.s) && isCSSSpace(p.s[p.i]) {
		p.i++
	}
}

func isCSSSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }

func isNameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c >= 0x80
}

// identStart reports whether an identifier starts at p.i.
func (p *selParser) identStart() bool {
	c := p.peek()
	return isNameByte(c) || c == '\\' && p.i+1 < len(p.s) && p.s[p.i+1] != '\n'
}

// ident reads a run of name characters and escapes (lenient: a name may
// start with a digit or a hyphen).
func (p *selParser) ident() (string, error) {
	var b strings.Builder
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '\\':
			r, err := p.escape()
			if err != nil {
				return "", err
			}
			b.WriteRune(r)
		case c >= 0x80:
			r, size := utf8.DecodeRuneInString(p.s[p.i:])
			if r == utf8.RuneError && size <= 1 {
				return "", fmt.Errorf("invalid UTF-8 at offset %d", p.i)
			}
			b.WriteRune(r)
			p.i += size
		case isNameByte(c):
			b.WriteByte(c)
			p.i++
		default:
			goto done
		}
	}
done:
	if p.i == start {
		if p.i < len(p.s) {
			return "", fmt.Errorf("want a name at offset %d, found %q", p.i, p.rune())
		}
		return "", errors.New("want a name, found the end")
	}
	return b.String(), nil
}

// escape reads a CSS escape (CSS Syntax §4.3.7) at p.i: a backslash and
// either up to six hex digits with one optional white space, or any other
// character but a newline.
func (p *selParser) escape() (rune, error) {
	p.i++ // the backslash
	if p.i >= len(p.s) {
		return 0, errors.New("escape at the end")
	}
	j := p.i
	for j < len(p.s) && j-p.i < 6 && isHex(p.s[j]) {
		j++
	}
	if j > p.i {
		v, _ := strconv.ParseUint(p.s[p.i:j], 16, 32)
		p.i = j
		if p.i < len(p.s) && isCSSSpace(p.s[p.i]) {
			if p.s[p.i] == '\r' && p.i+1 < len(p.s) && p.s[p.i+1] == '\n' {
				p.i++
			}
			p.i++
		}
		r := rune(v)
		if r == 0 || r > utf8.MaxRune || 0xD800 <= r && r <= 0xDFFF {
			r = utf8.RuneError
		}
		return r, nil
	}
	if p.s[p.i] == '\n' || p.s[p.i] == '\r' || p.s[p.i] == '\f' {
		return 0, errors.New("escaped newline")
	}
	r, size := utf8.DecodeRuneInString(p.s[p.i:])
	if r == utf8.RuneError && size <= 1 {
		return 0, fmt.Errorf("invalid UTF-8 at offset %d", p.i)
	}
	p.i += size
	if r == 0 {
		r = utf8.RuneError // CSS Syntax §3.3: NUL reads as U+FFFD
	}
	return r, nil
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

// attrib reads the rest of an attribute condition after "[".
func (p *selParser) attrib() (attrCond, error) {
	var a attrCond
	p.skipSpace()
	name, err := p.ident()
	if err != nil {
		return a, fmt.Errorf("attribute name: %w", err)
	}
	a.name = asciiLower(name)
	p.skipSpace()
	if p.i >= len(p.s) {
		return a, errors.New("unclosed [")
	}
	switch c := p.peek(); c {
	case ']':
		p.i++
		return a, nil
	case '=':
		a.op = '='
		p.i++
	case '~', '|', '^', '$', '*':
		if p.i+1 >= len(p.s) || p.s[p.i+1] != '=' {
			return a, fmt.Errorf("want %c= at offset %d", c, p.i)
		}
		a.op = c
		p.i += 2
	default:
		return a, fmt.Errorf("unexpected %q in [%s…] at offset %d", p.rune(), name, p.i)
	}
	p.skipSpace()
	switch c := p.peek(); {
	case c == '"' || c == '\'':
		v, err := p.quoted(c)
		if err != nil {
			return a, err
		}
		a.value = v
	case p.identStart():
		v, err := p.ident()
		if err != nil {
			return a, err
		}
		a.value = v
	default:
		return a, fmt.Errorf("attribute value: want a name or a quoted string at offset %d", p.i)
	}
	p.skipSpace()
	if c := p.peek(); c == 'i' || c == 'I' || c == 's' || c == 'S' {
		a.fold = c == 'i' || c == 'I'
		p.i++
		p.skipSpace()
	}
	if p.peek() != ']' {
		if p.i >= len(p.s) {
			return a, errors.New("unclosed [")
		}
		return a, fmt.Errorf("want ] at offset %d, found %q", p.i, p.rune())
	}
	p.i++
	return a, nil
}

// quoted reads a quoted string starting at its opening quote q.
func (p *selParser) quoted(q byte) (string, error) {
	p.i++
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == q:
			p.i++
			return b.String(), nil
		case c == '\n' || c == '\r' || c == '\f':
			return "", errors.New("newline in a quoted string")
		case c == 0:
			b.WriteRune(utf8.RuneError) // CSS Syntax §3.3: NUL reads as U+FFFD
			p.i++
		case c == '\\':
			if p.i+1 < len(p.s) && p.s[p.i+1] == '\n' { // an escaped newline is nothing
				p.i += 2
				continue
			}
			r, err := p.escape()
			if err != nil {
				return "", err
			}
			b.WriteRune(r)
		default:
			r, size := utf8.DecodeRuneInString(p.s[p.i:])
			if r == utf8.RuneError && size <= 1 {
				return "", fmt.Errorf("invalid UTF-8 at offset %d", p.i)
			}
			b.WriteString(p.s[p.i : p.i+size])
			p.i += size
		}
	}
	return "", errors.New("unclosed quote")
}

// String returns the selector in a canonical form that parses back to
// the same selector.
func (s *selector) String() string {
	var b strings.Builder
	if s.tag == "" {
		b.WriteByte('*')
	} else {
		writeIdent(&b, s.tag)
	}
	for _, id := range s.ids {
		b.WriteByte('#')
		writeIdent(&b, id)
	}
	for _, c := range s.classes {
		b.WriteByte('.')
		writeIdent(&b, c)
	}
	for _, a := range s.attrs {
		b.WriteByte('[')
		writeIdent(&b, a.name)
		if a.op != 0 {
			if a.op != '=' {
				b.WriteByte(a.op)
			}
			b.WriteString(`="`)
			for _, r := range a.value {
				switch {
				case r == '"' || r == '\\' || r < 0x20 || r == 0x7f || r == utf8.RuneError:
					fmt.Fprintf(&b, `\%x `, r)
				default:
					b.WriteRune(r)
				}
			}
			b.WriteByte('"')
			if a.fold {
				b.WriteString(" i")
			}
		}
		b.WriteByte(']')
	}
	return b.String()
}

// writeIdent writes name with everything but ASCII letters, digits, '-',
// '_' and printable non-ASCII escaped.
func writeIdent(b *strings.Builder, name string) {
	for _, r := range name {
		switch {
		case r < 0x80 && isNameByte(byte(r)):
			b.WriteRune(r)
		case r >= 0x80 && r != utf8.RuneError && r != 0x85 && r != 0x2028 && r != 0x2029:
			b.WriteRune(r)
		default:
			fmt.Fprintf(b, `\%x `, r)
		}
	}
}

// match reports whether an element with the lower-case tag name and
// attributes matches s.
func (s *selector) match(tag string, attrs []attr) bool {
	if s.tag != "" && s.tag != tag {
		return false
	}
	for _, id := range s.ids {
		v, ok := attrValue(attrs, "id")
		if !ok || string(v) != id {
			return false
		}
	}
	for _, c := range s.classes {
		v, ok := attrValue(attrs, "class")
		if !ok || !hasWord(v, c) {
			return false
		}
	}
	for i := range s.attrs {
		if !s.attrs[i].match(attrs) {
			return false
		}
	}
	return true
}

func (a *attrCond) match(attrs []attr) bool {
	v, ok := attrValue(attrs, a.name)
	if !ok {
		return false
	}
	want := a.value
	if a.fold {
		v, want = bytes.ToLower(v), strings.ToLower(want)
	}
	switch a.op {
	case 0:
		return true
	case '=':
		return string(v) == want
	case '~':
		return hasWord(v, want)
	case '|':
		return string(v) == want || len(v) > len(want) && string(v[:len(want)]) == want && v[len(want)] == '-'
	case '^':
		return want != "" && len(v) >= len(want) && string(v[:len(want)]) == want
	case '$':
		return want != "" && len(v) >= len(want) && string(v[len(v)-len(want):]) == want
	case '*':
		return want != "" && bytes.Contains(v, []byte(want))
	}
	return false
}

// attrValue returns the value of the named attribute.
func attrValue(attrs []attr, name string) ([]byte, bool) {
	for _, a := range attrs {
		if string(a.key) == name {
			return a.val, true
		}
	}
	return nil, false
}

// hasWord reports whether the white-space-separated list v contains w
// (HTML's ASCII white space: space, tab, LF, FF, CR).
func hasWord(v []byte, w string) bool {
	if w == "" || strings.ContainsAny(w, " \t\n\f\r") {
		return false
	}
	for len(v) > 0 {
		i := 0
		for i < len(v) && isCSSSpace(v[i]) {
			i++
		}
		v = v[i:]
		j := 0
		for j < len(v) && !isCSSSpace(v[j]) {
			j++
		}
		if string(v[:j]) == w {
			return true
		}
		v = v[j:]
	}
	return false
}

func asciiLower(s string) string {
	if !hasUpper(s) {
		return s
	}
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// selectorSet indexes selectors by tag name, so a start tag that no
// selector names costs one map lookup.
type selectorSet struct {
	byTag map[string][]*selector
	any   []*selector // no tag name
}

func (ss *selectorSet) add(s *selector) {
	if s.tag == "" {
		ss.any = append(ss.any, s)
		return
	}
	if ss.byTag == nil {
		ss.byTag = make(map[string][]*selector)
	}
	ss.byTag[s.tag] = append(ss.byTag[s.tag], s)
}

func (ss *selectorSet) empty() bool { return len(ss.byTag) == 0 && len(ss.any) == 0 }

// candidates reports whether any selector could match an element with
// this tag name, before its attributes are read.
func (ss *selectorSet) candidates(tag string) bool {
	return len(ss.any) > 0 || len(ss.byTag[tag]) > 0
}

func (ss *selectorSet) match(tag string, attrs []attr) bool {
	for _, s := range ss.byTag[tag] {
		if s.match(tag, attrs) {
			return true
		}
	}
	for _, s := range ss.any {
		if s.match(tag, attrs) {
			return true
		}
	}
	return false
}
