package rewrite

import (
	"strings"
	"testing"
)

// TestRemove checks where removed elements end.
func TestRemove(t *testing.T) {
	tests := []struct {
		name, remove, in, want string
	}{
		{"nested same tag", "div.ad",
			`<div class=ad><div>a<div>b</div></div>c</div><p>kept</p>`,
			`<p>kept</p>`},
		{"void element", "img.ad",
			`<p>x<img class=ad src=a.png>y</p>`,
			`<p>xy</p>`},
		{"void with slash", "img.ad",
			`<p>x<img class=ad src=a.png />y</p>`,
			`<p>xy</p>`},
		{"self-closing non-void is empty", "div.ad",
			`<section><div class="ad"/>kept</section>`,
			`<section>kept</section>`},
		{"unclosed ends with its parent", "span.ad",
			`<div><span class=ad>gone<b>also</b></div><p>kept</p>`,
			`<div></div><p>kept</p>`},
		{"unclosed ends at the end of body", "div.ad",
			`<body><div class=ad><p>gone</body></html>`,
			`<body></body></html>`},
		{"unclosed runs to the end of the document", "div.ad",
			`<p>kept<div class=ad><p>gone`,
			`<p>kept`},
		{"script with end tag in a string", "div.ad",
			`<div class=ad><script>var s = "</div>";</script>gone</div>kept`,
			`kept`},
		{"script removed whole", "script[src*=track]",
			`a<script src="https://track.example/t.js">x()</script>b`,
			`ab`},
		{"self-closing script is still a script", "script[src*=track]",
			`a<script src=track.js />x()</script>b`,
			`ab`},
		{"style", "style",
			`<style>div > p { color: red } </div></style>kept`,
			`kept`},
		{"textarea holds text, not tags", "textarea",
			`<textarea><div class=ad></textarea>kept`,
			`kept`},
		{"title", "title",
			`<head><title>a </title> b</title></head>`,
			`<head> b</title></head>`},
		{"p closed by the next p", "p.ad",
			`<p class=ad>ad<p>kept</p>`,
			`<p>kept</p>`},
		{"p closed by a div", "p.ad",
			`<p class=ad>ad<div>kept</div>`,
			`<div>kept</div>`},
		{"li ends at its end tag", "li.ad",
			`<ul><li class=ad>ad<ul><li>sub</li></ul></li><li>kept</li></ul>`,
			`<ul><li>kept</li></ul>`},
		{"li closed by its list's end tag", "li.ad",
			`<ol><li class=ad>ad</ol>kept`,
			`<ol></ol>kept`},
		{"li closed by the next li", "li.ad",
			`<ul><li class=ad>ad<li>kept</ul>`,
			`<ul><li>kept</ul>`},
		{"td closed by the next td", "td.ad",
			`<table><tr><td class=ad>ad<td>kept</tr></table>`,
			`<table><tr><td>kept</tr></table>`},
		{"tr closed by the next tr", "tr.ad",
			`<table><tr class=ad><td>ad<tr><td>kept</table>`,
			`<table><tr><td>kept</table>`},
		{"end tag of another element inside is ignored", "div.ad",
			`<div class=ad><span>a</b>b</span></div>kept`,
			`kept`},
		{"an end tag does not close across a div", "span.ad",
			`<span class=ad><div>x</span>y</div>z`,
			``},
		{"a p start closes what is open in the p", "span.ad",
			`<p><span class=ad>x<div>kept</div>`,
			`<p><div>kept</div>`},
		{"table scope: an outer end tag does not reach into a table", "div.ad",
			`<div class=ad><table><tr><td></div>x</td></tr></table>y</div>kept`,
			`kept`},
		{"template content", "div.ad",
			`<template><div class=ad>ad</div><p>kept</p></template>`,
			`<template><p>kept</p></template>`},
		{"svg self-closing is real", "svg",
			`<p>a<svg/>b</p>`,
			`<p>ab</p>`},
		{"svg style is not raw text", "rect.ad",
			`<svg><style><rect class="ad"/></style><rect class="x"/></svg>`,
			`<svg><style></style><rect class="x"/></svg>`},
		{"html element leaves svg", "svg",
			`<svg><circle/><p>kept</p>`,
			`<p>kept</p>`},
		{"comment inside removed element", "div.ad",
			`<div class=ad><!-- </div> -->x</div>kept`,
			`kept`},
		{"upper-case tags", "div.ad",
			`<DIV CLASS=ad><DIV>x</DIV></DIV>kept`,
			`kept`},
		{"class among several", "div.ad",
			"<div class=\"big\tad slot\">x</div><div class=adx>kept</div>",
			`<div class=adx>kept</div>`},
		{"attribute value with entities", `a[href="https://t.example/?a=1&b=2"]`,
			`<a href="https://t.example/?a=1&amp;b=2">x</a>kept`,
			`kept`},
		{"id", "#banner",
			`<section id=banner><h1>x</h1></section><section id=main>kept</section>`,
			`<section id=main>kept</section>`},
		{"nested removals", "div.ad",
			`<div class=ad><div class=ad>x</div>y</div>kept`,
			`kept`},
		{"plaintext to the end", "plaintext",
			`kept<plaintext></plaintext>gone`,
			`kept`},
		{"frameset and noscript", "noscript",
			`<noscript><img src=pixel></noscript>kept`,
			`kept`},
		{"h1 closes an open h2", "h2.ad",
			`<h2 class=ad>ad<h1>kept</h1>`,
			`<h1>kept</h1>`},
		{"a closes an open a", "a.ad",
			`<a class=ad href=x>ad<a href=y>kept</a>`,
			`<a href=y>kept</a>`},
		{"option closes option", "option.ad",
			`<select><option class=ad>ad<option>kept</select>`,
			`<select><option>kept</select>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := mustCompile(t, nil, []HTMLRule{{Remove: []string{tt.remove}}})
			if got := rewritePage(t, rs, "text/html; charset=utf-8", tt.in); got != tt.want {
				t.Errorf("remove %s from\n%s\ngot  %q\nwant %q", tt.remove, tt.in, got, tt.want)
			}
		})
	}
}

// TestInject checks where snippets go.
func TestInject(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"head and body",
			"<!DOCTYPE html>\n<html><head><meta charset=utf-8></head><body><p>x</p></body></html>",
			"<!DOCTYPE html>\n<html><head>[H]<meta charset=utf-8></head><body><p>x</p>[B]</body></html>"},
		{"head with attributes",
			`<HTML><HEAD profile="x"><TITLE>t</TITLE></HEAD><BODY>x</BODY></HTML>`,
			`<HTML><HEAD profile="x">[H]<TITLE>t</TITLE></HEAD><BODY>x[B]</BODY></HTML>`},
		{"no head: before the first element",
			"<!DOCTYPE html>\n<!-- c -->\n<title>t</title><p>x",
			"<!DOCTYPE html>\n<!-- c -->\n[H]<title>t</title><p>x[B]"},
		{"no head: before body",
			"<html>\n<body>x</body>\n</html>",
			"<html>\n[H]<body>x[B]</body>\n</html>"},
		{"no head: before text",
			"  just text",
			"[H]  just text[B]"},
		{"byte order mark stays first",
			"\xEF\xBB\xBF<p>x",
			"\xEF\xBB\xBF[H]<p>x[B]"},
		{"no body end: before html end",
			"<html><head></head><p>x</html>",
			"<html><head>[H]</head><p>x[B]</html>"},
		{"body end inside a script is not one",
			"<head></head><script>document.write('</body>')</script><p>x</p></body>",
			"<head>[H]</head><script>document.write('</body>')</script><p>x</p>[B]</body>"},
		{"body end inside a comment is not one",
			"<head></head><!-- </body> --><p>x</body>",
			"<head>[H]</head><!-- </body> --><p>x[B]</body>"},
		{"body end inside a template is not one",
			"<head></head><template></body></template>x</body>",
			"<head>[H]</head><template></body></template>x[B]</body>"},
		{"first body end only",
			"<head></head>x</body></body>",
			"<head>[H]</head>x[B]</body></body>"},
		{"empty document",
			"",
			"[H][B]"},
		{"only a doctype",
			"<!DOCTYPE html>",
			"<!DOCTYPE html>[H][B]"},
		{"cut-off tag at the end",
			"<head></head><p>x<div class=\"y",
			"<head>[H]</head><p>x[B]<div class=\"y"},
	}
	rs := mustCompile(t, nil, []HTMLRule{{InjectHead: "[H]", InjectBody: "[B]"}})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rewritePage(t, rs, "text/html", tt.in); got != tt.want {
				t.Errorf("inject into\n%q\ngot  %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestReplace checks where text replacements apply.
func TestReplace(t *testing.T) {
	rs := mustCompile(t, nil, []HTMLRule{{Replace: []TextReplace{
		{Regex: `\bcats?\b`, With: "dog"},
		{Regex: `(\d+) EUR`, With: "€$1"},
	}}})
	tests := []struct {
		name, in, want string
	}{
		{"text", "<p>a cat and cats</p>", "<p>a dog and dog</p>"},
		{"submatches", "<p>costs 12 EUR</p>", "<p>costs €12</p>"},
		{"in order", "<p>cat 5 EUR</p>", "<p>dog €5</p>"},
		{"not attributes", `<img alt="cat" title=cat>`, `<img alt="cat" title=cat>`},
		{"not script", "<script>var cat = 1</script>", "<script>var cat = 1</script>"},
		{"not style", "<style>.cat{}</style>", "<style>.cat{}</style>"},
		{"not comments", "<!-- cat -->", "<!-- cat -->"},
		{"title is text", "<title>cat</title>", "<title>dog</title>"},
		{"textarea is text", "<textarea>cat</textarea>", "<textarea>dog</textarea>"},
		{"raw bytes: references are not decoded", "<p>c&#97;t cat</p>", "<p>c&#97;t dog</p>"},
		{"not in CDATA in svg", "<svg><![CDATA[cat]]></svg>", "<svg><![CDATA[cat]]></svg>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rewritePage(t, rs, "text/html; charset=utf-8", tt.in); got != tt.want {
				t.Errorf("replace in %q: got %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestUntouchedIsIdentical checks that a page no rule changes comes out
// byte for byte, odd markup included.
func TestUntouchedIsIdentical(t *testing.T) {
	rs := mustCompile(t, nil, []HTMLRule{{
		Remove:  []string{"div.never", "#never"},
		Replace: []TextReplace{{Regex: "never-matches", With: "x"}},
	}})
	pages := []string{
		newsPage(20),
		"<!DOCTYPE html>\r\n<HTML>\r\n<Body onload='x()'>\x00nul &amp &bogus; <a href=x?a&b>\r\n",
		"<p>unterminated <!-- comment",
		"<div a='1' a='2' b=\"\" c>dup attrs</div><br/><br />< p>not a tag</ p></>",
		"<script><!--<script>document.write('</script>')</script>--></script>after",
		"<svg><![CDATA[<x>]]></svg><math><mi>x</mi></math>",
		"<?xml version=\"1.0\"?><x/><table><td>cell",
		strings.Repeat("<div>", 2000) + strings.Repeat("</div>", 2000),
	}
	for i, page := range pages {
		if got := rewritePage(t, rs, "text/html", page); got != page {
			t.Errorf("page %d changed:\ngot  %q\nwant %q", i, clip(got), clip(page))
		}
	}
}

func clip(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

// TestLongToken checks that a token longer than maxToken stops the
// rewrite and the rest passes through unchanged.
func TestLongToken(t *testing.T) {
	rs := mustCompile(t, nil, []HTMLRule{{Remove: []string{"div.ad"}, InjectBody: "[B]"}})
	long := `<img src="data:image/png;base64,` + strings.Repeat("A", maxToken+10) + `">`
	in := "<div class=ad>gone</div><p>kept</p>" + long + "<div class=ad>kept now</div></body>"
	want := "<p>kept</p>" + long + "<div class=ad>kept now</div></body>"
	if got := rewritePage(t, rs, "text/html", in); got != want {
		t.Errorf("got %q, want %q", clip(got), clip(want))
	}
	text := strings.Repeat("x", 3*maxToken)
	in = "<div class=ad>gone</div><p>" + text + "</p><div class=ad>kept</div>"
	want = "<p>" + text + "</p><div class=ad>kept</div>"
	if got := rewritePage(t, rs, "text/html", in); got != want {
		t.Errorf("long text: got %q, want %q", clip(got), clip(want))
	}
}

// newsPage is a news article of roughly n KB with ad slots, tracking
// scripts and a comment section.
func newsPage(n int) string {
	var b strings.Builder
	b.WriteString(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Council approves new harbour bridge – The Daily Example</title>
<link rel="stylesheet" href="/static/site.css">
<script async src="https://tracker.example/t.js"></script>
<script>window.dataLayer = window.dataLayer || []; function gtag(){dataLayer.push(arguments);} gtag('js', new Date());</script>
</head>
<body class="article">
<header id="banner"><a href="/"><img src="/logo.svg" alt="The Daily Example"></a></header>
<div class="ad ad-top" data-slot="top"><script>loadAd("top")</script><noscript><img src="https://ads.example/p.gif"></noscript></div>
<main>
<article>
<h1>Council approves new harbour bridge</h1>
`)
	para := `<p>The city council voted on Tuesday to approve the long-debated harbour bridge, a project that has divided residents for more than a decade. Supporters say the bridge will cut commuting times; critics worry about the cost &amp; the view.</p>
`
	for i := 0; b.Len() < n*1024; i++ {
		b.WriteString(para)
		if i%5 == 4 {
			b.WriteString(`<div class="ad ad-inline" data-slot="inline"><iframe src="https://ads.example/frame"></iframe></div>
`)
		}
	}
	b.WriteString(`</article>
<aside class="comments"><h2>Comments</h2><ul><li>First!<li>Finally.</ul></aside>
</main>
<footer><p>&copy; The Daily Example</p></footer>
<script src="https://tracker.example/pixel.js" data-track="1"></script>
</body>
</html>
`)
	return b.String()
}

// TestRequiredLiteral checks the literal that text must contain before a
// replacement's regular expression is run on it.
func TestRequiredLiteral(t *testing.T) {
	tests := []struct{ expr, want string }{
		{`\bharbor\b`, "harbor"},
		{`(\d+) EUR`, " EUR"},
		{`colou?r`, "colo"},
		{`(?i)cat`, ""},
		{`cat|dog`, ""},
		{`(ab)+c`, "ab"},
		{`x{2,}yz`, "yz"},
		{`a*`, ""},
		{`日本`, "日本"},
	}
	for _, tt := range tests {
		if got := requiredLiteral(tt.expr); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.expr, got, tt.want)
		}
	}
}

// TestRulesCombine checks that several matching HTML rules apply
// together, snippets and replacements in rule order, and that a rule for
// another host does not.
func TestRulesCombine(t *testing.T) {
	rs := mustCompile(t, nil, []HTMLRule{
		{Remove: []string{"div.ad"}, InjectHead: "[h1]", InjectBody: "[b1]", Replace: []TextReplace{{Regex: "a", With: "b"}}},
		{Match: Match{Host: "other.example"}, Remove: []string{"p"}, InjectBody: "[other]"},
		{Match: Match{Host: ".news.example"}, Remove: []string{"#x"}, InjectHead: "[h2]", InjectBody: "[b2]", Replace: []TextReplace{{Regex: "b", With: "c"}}},
	})
	in := `<head></head><p>a</p><div class=ad>ad</div><span id=x>x</span></body>`
	want := `<head>[h1][h2]</head><p>c</p>[b1][b2]</body>`
	if got := rewritePage(t, rs, "text/html", in); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
