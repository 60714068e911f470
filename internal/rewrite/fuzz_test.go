package rewrite

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// fuzzTypes are the Content-Types FuzzHTMLRewrite serves pages as.
var fuzzTypes = []string{
	"text/html; charset=utf-8",
	"text/html",
	"text/html; charset=windows-1252",
	"application/xhtml+xml",
	"text/html; charset=shift_jis",
}

// FuzzHTMLRewrite feeds arbitrary pages, arriving in chunks of arbitrary
// size, through three rule sets: one that changes nothing (the output must
// be the input), one that only removes (the output must be the input with
// pieces cut out), and one that does everything (it must not panic or
// hang, and each snippet must appear once).
func FuzzHTMLRewrite(f *testing.F) {
	for _, s := range []string{
		"<!DOCTYPE html><html><head><title>t</title></head><body><div class=ad>x</div></body></html>",
		"<p class=ad>one<p>two</p><script>if (a<b) document.write('</div>')</script>",
		"<svg><style>a<b</style><![CDATA[x]]></svg><div/>text",
		"<table><tr><td><div class=ad>cell<td>next</table>",
		"\xEF\xBB\xBFhello <!-- c --> <textarea><div class=ad></textarea>",
		"<div class=ad><img src=x class=ad><br/></div><a href=\"x\" data-track=1>t</a>",
		"<template><div class=ad>t</div></template><plaintext><div>",
		"<div class=\"x",
		"<!--",
		"</",
		"<",
		"<p>caf\xe9 CAT</p>",
	} {
		f.Add([]byte(s), uint8(0), uint8(0))
		f.Add([]byte(s), uint8(3), uint8(2))
	}
	noop := mustCompile(f, nil, []HTMLRule{{
		Remove:  []string{"x-never[data-never=never]", "#never-ever"},
		Replace: []TextReplace{{Regex: "\x00never\x00", With: "x"}},
	}})
	removeOnly := mustCompile(f, nil, []HTMLRule{{
		Remove: []string{"div.ad", "script", "p", "[data-track]", "svg", "td", "title", "template", "img"},
	}})
	busy := mustCompile(f, nil, []HTMLRule{{
		Remove:     []string{"div.ad", "script", "p", "[data-track]", "svg", "td", "head"},
		InjectHead: "<!--h-->",
		InjectBody: "<!--b\u00f6dy-->",
		Replace:    []TextReplace{{Regex: "(?i)cat", With: "d\u00f6g"}, {Regex: "o+", With: "0"}},
	}})
	f.Fuzz(func(t *testing.T, page []byte, chunk, mode uint8) {
		ct := fuzzTypes[int(mode)%len(fuzzTypes)]
		if got := fuzzRewrite(t, noop, ct, page, chunk); !bytes.Equal(got, page) {
			t.Fatalf("rules that change nothing changed the page (%s):\n got %q\nwant %q", ct, got, page)
		}
		if got := fuzzRewrite(t, removeOnly, ct, page, chunk); !subsequence(got, page) {
			t.Fatalf("removing elements added bytes (%s):\n got %q\n  of %q", ct, got, page)
		}
		got := fuzzRewrite(t, busy, ct, page, chunk)
		utf16 := bytes.HasPrefix(page, []byte{0xFE, 0xFF}) || bytes.HasPrefix(page, []byte{0xFF, 0xFE})
		if n := bytes.Count(got, []byte("<!--h-->")) - bytes.Count(page, []byte("<!--h-->")); n != 1 && !utf16 && len(page) < maxToken {
			t.Fatalf("head snippet injected %d times (%s):\n got %q\n  of %q", n, ct, got, page)
		}
	})
}

// fuzzRewrite rewrites page with the origin sending chunk+1 bytes at a
// time.
func fuzzRewrite(t *testing.T, rs *Rules, ct string, page []byte, chunk uint8) []byte {
	t.Helper()
	req := newRequest(t, "GET", "http://news.example/")
	resp := newResponse(req, 200, &chunkReader{data: page, n: int(chunk) + 1}, "Content-Type: "+ct)
	rs.Response(req, resp)
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return got
}

// chunkReader returns at most n bytes per Read.
type chunkReader struct {
	data []byte
	n    int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	p = p[:min(len(p), r.n, len(r.data))]
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

// subsequence reports whether a is b with some bytes left out.
func subsequence(a, b []byte) bool {
	for _, c := range a {
		i := bytes.IndexByte(b, c)
		if i < 0 {
			return false
		}
		b = b[i+1:]
	}
	return true
}

// FuzzSelector checks that the selector parser never panics, that what it
// accepts prints in a form that parses back to the same selector, and that
// matching never panics.
func FuzzSelector(f *testing.F) {
	for _, s := range []string{
		"div", "*", ".ad", "#banner", "div.ad[data-x]", "[data-x='a b' i]", `a[href^="https://t."]`,
		`.md\:hidden`, `.\31 23`, "[x|=en]", "[x~=w]", "[x$=\"\\\"\"]", "div > p", "a:hover", "div,p", "[", "[x=",
	} {
		f.Add(s)
	}
	elements := [][]attr{
		nil,
		{{[]byte("class"), []byte("ad big")}, {[]byte("id"), []byte("banner")}},
		{{[]byte("data-x"), []byte("")}, {[]byte("href"), []byte("https://t.example/")}},
	}
	f.Fuzz(func(t *testing.T, s string) {
		sel, err := parseSelector(s)
		if err != nil {
			if strings.TrimSpace(err.Error()) == "" {
				t.Fatal("empty error message")
			}
			return
		}
		printed := sel.String()
		again, err := parseSelector(printed)
		if err != nil {
			t.Fatalf("%q printed as %q, which does not parse: %v", s, printed, err)
		}
		if again.String() != printed {
			t.Fatalf("%q printed as %q, which prints as %q", s, printed, again.String())
		}
		for _, attrs := range elements {
			sel.match("div", attrs)
		}
	})
}
