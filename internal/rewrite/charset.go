package rewrite

import (
	"bytes"
	"fmt"
	"mime"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html/charset"
	"golang.org/x/text/encoding"
)

// The rewriter works on the page's bytes, whatever its charset, as long as
// the charset is ASCII-compatible: then every byte below 0x80 is that
// ASCII character, and the tokenizer finds the tags, attributes and text a
// browser would. (In the multi-byte ones — Shift_JIS, EUC-JP, EUC-KR, GBK,
// GB18030, Big5 — no trail byte is '<', '>', '/', '=', '&', a quote or
// white space.) Bytes nothing touches are copied unchanged, so a wrong
// guess at the charset changes nothing that is not rewritten. The charset
// matters only where the rewriter writes text of its own:
//   - a text replacement decodes the text node to UTF-8, matches, and
//     encodes the result back (characters the charset lacks become
//     numeric character references);
//   - injected snippets, written in UTF-8, are encoded into the charset, or
//     into ASCII and references when the charset is only a guess.
//
// Selectors compare attribute values as bytes, so a non-ASCII value in a
// selector matches only in UTF-8 pages. Pages in charsets that are not
// ASCII-compatible (UTF-16, ISO-2022-JP) pass through untouched.

// pageCharset is what the rewriter knows of a page's charset.
type pageCharset struct {
	name string
	// enc converts between UTF-8 and the page's charset; nil for UTF-8.
	enc     encoding.Encoding
	certain bool
}

// incompatible reports whether a canonical (WHATWG) encoding name is not
// ASCII-compatible, so the page must pass through untouched.
func incompatible(name string) bool {
	switch name {
	case "utf-16be", "utf-16le", "iso-2022-jp", "replacement":
		return true
	}
	return false
}

// headerCharset returns the canonical name of the charset a Content-Type
// value declares, or "" when there is none or it is unknown.
func headerCharset(ct string) string {
	if !strings.Contains(ct, ";") {
		return ""
	}
	_, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return ""
	}
	_, name := charset.Lookup(params["charset"])
	return name
}

// detectCharset determines a page's charset from the first bytes that
// arrived and its Content-Type, as a browser would (WHATWG HTML §13.2.3:
// byte order mark, then the header's charset, then a <meta> in what there
// is of the first 1024 bytes). It does not wait for 1024 bytes: a later
// <meta> can still settle an uncertain guess (see fromMeta). For XHTML, the
// XML declaration replaces the <meta> and the default is UTF-8.
func detectCharset(first []byte, contentType string, xhtml bool) pageCharset {
	var name string
	var certain bool
	if xhtml {
		name, certain = xmlCharset(first, contentType), true
	} else {
		_, name, certain = charset.DetermineEncoding(first, contentType)
	}
	return newPageCharset(name, certain)
}

func newPageCharset(name string, certain bool) pageCharset {
	pc := pageCharset{name: name, certain: certain}
	if name != "utf-8" {
		pc.enc, _ = charset.Lookup(name) // its encoder escapes what the charset lacks
	}
	return pc
}

// xmlCharset is the charset of an XML document (XML 1.0 Appendix F): a
// byte order mark, the header's charset, the encoding declaration, or
// UTF-8.
func xmlCharset(first []byte, contentType string) string {
	switch {
	case bytes.HasPrefix(first, []byte{0xEF, 0xBB, 0xBF}):
		return "utf-8"
	case bytes.HasPrefix(first, []byte{0xFE, 0xFF}):
		return "utf-16be"
	case bytes.HasPrefix(first, []byte{0xFF, 0xFE}):
		return "utf-16le"
	}
	if name := headerCharset(contentType); name != "" {
		return name
	}
	if decl, ok := bytes.CutPrefix(first, []byte("<?xml")); ok {
		if end := bytes.Index(decl, []byte("?>")); end >= 0 {
			decl = decl[:end]
			if i := bytes.Index(decl, []byte("encoding")); i >= 0 {
				v := bytes.TrimLeft(decl[i+len("encoding"):], " \t\r\n")
				if v, ok := bytes.CutPrefix(v, []byte("=")); ok {
					v = bytes.TrimLeft(v, " \t\r\n")
					if len(v) > 0 && (v[0] == '"' || v[0] == '\'') {
						if j := bytes.IndexByte(v[1:], v[0]); j >= 0 {
							if _, name := charset.Lookup(string(v[1 : j+1])); name != "" {
								return name
							}
						}
					}
				}
			}
		}
	}
	return "utf-8"
}

// fromMeta settles an uncertain charset from a <meta charset> or <meta
// http-equiv=content-type content="…; charset=…"> element seen in the
// token stream (WHATWG HTML §13.2.3.2's prescan rules, which the first
// bytes may have been too short for). It reports whether the charset
// changed.
func (pc *pageCharset) fromMeta(attrs []attr) bool {
	if pc.certain {
		return false
	}
	label := ""
	if v, ok := attrValue(attrs, "charset"); ok {
		label = string(v)
	} else if v, ok := attrValue(attrs, "http-equiv"); ok && strings.EqualFold(strings.TrimSpace(string(v)), "content-type") {
		if c, ok := attrValue(attrs, "content"); ok {
			label = metaContentCharset(string(c))
		}
	}
	if label == "" {
		return false
	}
	_, name := charset.Lookup(label)
	switch name {
	case "":
		return false
	case "utf-16be", "utf-16le":
		name = "utf-8" // a meta cannot declare UTF-16; the page would not be readable to see it
	case "x-user-defined":
		name = "windows-1252"
	}
	*pc = newPageCharset(name, true)
	return true
}

// metaContentCharset extracts the charset from a meta content attribute
// (WHATWG HTML §2.4.7 "extracting a character encoding from a meta
// element").
func metaContentCharset(s string) string {
	ls := strings.ToLower(s)
	for {
		i := strings.Index(ls, "charset")
		if i < 0 {
			return ""
		}
		ls, s = ls[i+len("charset"):], s[i+len("charset"):]
		j := 0
		for j < len(s) && isCSSSpace(s[j]) {
			j++
		}
		if j < len(s) && s[j] == '=' {
			s = strings.TrimLeft(s[j+1:], " \t\n\f\r")
			if s == "" {
				return ""
			}
			if q := s[0]; q == '"' || q == '\'' {
				if k := strings.IndexByte(s[1:], q); k >= 0 {
					return s[1 : k+1]
				}
				return ""
			}
			k := strings.IndexAny(s, " \t\n\f\r;")
			if k < 0 {
				k = len(s)
			}
			return s[:k]
		}
		ls, s = ls[j:], s[j:]
	}
}

// utf8 reports whether bytes of the page are to be taken as UTF-8. When the
// charset is only a guess (no BOM, header or meta said so) and the bytes
// are valid UTF-8 with non-ASCII in them, they are UTF-8 whatever the guess:
// a legacy page almost never looks like that.
func (pc *pageCharset) utf8(b []byte) bool {
	return pc.enc == nil || !pc.certain && !ascii(b) && utf8.Valid(b)
}

// decode converts b from the page's charset to UTF-8.
func (pc *pageCharset) decode(b []byte) ([]byte, bool) {
	out, err := pc.enc.NewDecoder().Bytes(b)
	return out, err == nil
}

// encode converts UTF-8 to what the page is in: its charset when that is
// certain (characters it lacks become numeric character references), and
// ASCII with numeric character references for everything else when it is
// a guess, which reads right in any ASCII-compatible charset (except in
// script and style, where references are not decoded).
func (pc *pageCharset) encode(b []byte) []byte {
	if pc.enc == nil || ascii(b) {
		return b
	}
	if !pc.certain {
		return references(b)
	}
	return pc.encodeCharset(b)
}

// encodeCharset converts UTF-8 to the page's charset; characters it lacks
// become numeric character references.
func (pc *pageCharset) encodeCharset(b []byte) []byte {
	out, err := pc.enc.NewEncoder().Bytes(b)
	if err != nil {
		return references(b)
	}
	return out
}

// references replaces every non-ASCII character of UTF-8 text with a
// numeric character reference.
func references(b []byte) []byte {
	out := make([]byte, 0, len(b)+16)
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r < utf8.RuneSelf {
			out = append(out, b[0])
		} else {
			out = fmt.Appendf(out, "&#%d;", r)
		}
		b = b[size:]
	}
	return out
}

func ascii(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}
