package rewrite

import (
	"io"
	"strings"
	"testing"

	"golang.org/x/text/encoding/japanese"
)

// TestCharsets checks that replacements and snippets, written in UTF-8,
// work in pages in other charsets, and that bytes nothing touches are
// left alone.
func TestCharsets(t *testing.T) {
	rs := mustCompile(t, nil, []HTMLRule{{
		InjectBody: "<!--ü€☃-->",
		Replace:    []TextReplace{{Regex: "café", With: "CAFÉ"}, {Regex: "日本", With: "ニッポン"}},
	}})
	sjis := func(s string) string {
		b, err := japanese.ShiftJIS.NewEncoder().String(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name, ct, in, want string
		chunk              int
	}{
		{"windows-1252 from the header", "text/html; charset=windows-1252",
			"<p>caf\xe9 \x93quoted\x94</p></body>",
			"<p>CAF\xc9 \x93quoted\x94</p><!--\xfc\x80&#9731;--></body>", 0},
		{"latin1 label is windows-1252", "text/html; charset=ISO-8859-1",
			"<p>caf\xe9</p>",
			"<p>CAF\xc9</p><!--\xfc\x80&#9731;-->", 0},
		{"windows-1252 from a meta", "text/html",
			"<meta charset=windows-1252><p>caf\xe9</p>",
			"<meta charset=windows-1252><p>CAF\xc9</p><!--\xfc\x80&#9731;-->", 0},
		{"meta after the first read", "text/html",
			"<html><head><meta http-equiv=Content-Type content='text/html; charset=windows-1252'></head><p>caf\xe9</p>",
			"<html><head><meta http-equiv=Content-Type content='text/html; charset=windows-1252'></head><p>CAF\xc9</p><!--\xfc\x80&#9731;-->", 8},
		{"undeclared UTF-8", "text/html",
			"<p>café</p>",
			"<p>CAFÉ</p><!--ü€☃-->", 0},
		{"undeclared, UTF-8 after an ASCII first read", "text/html",
			"<p>x</p><p>café</p>",
			"<p>x</p><p>CAFÉ</p><!--&#252;&#8364;&#9731;-->", 4},
		{"undeclared, legacy after an ASCII first read", "text/html",
			"<p>x</p><p>caf\xe9 \x93q\x94</p>",
			"<p>x</p><p>CAF\xc9 \x93q\x94</p><!--&#252;&#8364;&#9731;-->", 4},
		{"Shift_JIS", "text/html; charset=shift_jis",
			sjis("<p>日本語のページ</p>") + "</body>",
			sjis("<p>ニッポン語のページ</p><!--") + "&#252;&#8364;&#9731;--></body>", 0},
		{"UTF-8", "text/html; charset=utf-8",
			"<p>café 日本</p>",
			"<p>CAFÉ ニッポン</p><!--ü€☃-->", 0},
		{"UTF-16 passes through", "text/html",
			"\xff\xfe<\x00p\x00>\x00",
			"\xff\xfe<\x00p\x00>\x00", 0},
		{"UTF-16 byte order mark split across reads", "text/html; charset=utf-8",
			"\xfe\xff\x00<\x00p\x00>",
			"\xfe\xff\x00<\x00p\x00>", 1},
		{"a late meta naming a charset the rewriter cannot work in stops it", "text/html",
			"<p>caf\xe9</p><meta charset=iso-2022-jp><p>caf\xe9</p>",
			"<p>CAF\xc9</p><meta charset=iso-2022-jp><p>caf\xe9</p>", 4},
		{"XHTML declaration", "application/xhtml+xml",
			"<?xml version='1.0' encoding='iso-8859-1'?><html><body><p>caf\xe9</p></body></html>",
			"<?xml version='1.0' encoding='iso-8859-1'?><html><body><p>CAF\xc9</p><!--\xfc\x80&#9731;--></body></html>", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := newRequest(t, "GET", "http://a.example/")
			var body io.Reader = strings.NewReader(tt.in)
			if tt.chunk > 0 {
				body = &chunkReader{data: []byte(tt.in), n: tt.chunk}
			}
			resp := newResponse(req, 200, body, "Content-Type: "+tt.ct)
			rs.Response(req, resp)
			got, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestMetaContentCharset checks the extraction of a charset from a meta
// element's content attribute.
func TestMetaContentCharset(t *testing.T) {
	tests := []struct{ in, want string }{
		{"text/html; charset=windows-1252", "windows-1252"},
		{"text/html;charset='koi8-r'", "koi8-r"},
		{`text/html; CHARSET = "utf-8"`, "utf-8"},
		{"text/html", ""},
		{"charset", ""},
		{"charsetx; charset=a", "a"},
		{"charset='unterminated", ""},
	}
	for _, tt := range tests {
		if got := metaContentCharset(tt.in); got != tt.want {
			t.Errorf("%q: got %q, want %q", tt.in, got, tt.want)
		}
	}
}
