package rewrite

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"regexp/syntax"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// maxToken bounds one token (a tag, a comment, a run of text): the
// tokenizer keeps a whole token in its buffer. A page with a longer one —
// a megabyte of inline JSON, an image inlined as a data: URL — is
// rewritten up to that token and passes through unchanged from there.
const maxToken = 256 << 10

// htmlRule is a compiled HTMLRule.
type htmlRule struct {
	match matcher
	plan  plan
}

// plan is what the rewriter does to one response: the union of the HTML
// rules that matched it.
type plan struct {
	remove     selectorSet
	head, body []byte
	replace    []textReplace
}

type textReplace struct {
	re   *regexp.Regexp
	with []byte
	// need is a literal every match contains, or nil: a text node
	// without it is skipped without running the regular expression.
	need []byte
}

// requiredLiteral returns the longest literal that every match of expr
// must contain, or "" if it finds none (case-folded literals are not
// used). Most text nodes contain no match, and bytes.Contains rules them
// out many times faster than the regexp engine can.
func requiredLiteral(expr string) string {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return ""
	}
	return literalIn(re.Simplify())
}

func literalIn(re *syntax.Regexp) string {
	switch re.Op {
	case syntax.OpLiteral:
		if re.Flags&syntax.FoldCase != 0 {
			return ""
		}
		return string(re.Rune)
	case syntax.OpCapture, syntax.OpPlus:
		return literalIn(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return literalIn(re.Sub[0])
		}
	case syntax.OpConcat:
		best := ""
		for _, sub := range re.Sub {
			if l := literalIn(sub); len(l) > len(best) {
				best = l
			}
		}
		return best
	}
	return ""
}

func compileHTML(h HTMLRule) (*htmlRule, error) {
	m, err := compileMatch(h.Match)
	if err != nil {
		return nil, err
	}
	for _, t := range m.types {
		if !typeMatch([]string{t}, "text/html") && !typeMatch([]string{t}, "application/xhtml+xml") {
			return nil, fmt.Errorf("content_type %q %w", t, errNotHTML)
		}
	}
	hr := &htmlRule{match: m}
	for i, s := range h.Remove {
		sel, err := parseSelector(s)
		if err != nil {
			return nil, fmt.Errorf("remove[%d] %q: %w", i, s, err)
		}
		hr.plan.remove.add(sel)
	}
	if h.InjectHead != "" {
		hr.plan.head = []byte(h.InjectHead)
	}
	if h.InjectBody != "" {
		hr.plan.body = []byte(h.InjectBody)
	}
	for i, r := range h.Replace {
		if r.Regex == "" {
			return nil, fmt.Errorf("replace[%d]: empty regex", i)
		}
		re, err := regexp.Compile(r.Regex)
		if err != nil {
			return nil, fmt.Errorf("replace[%d] regex: %v", i, err)
		}
		if re.MatchString("") {
			return nil, fmt.Errorf("replace[%d] regex %q matches the empty string", i, r.Regex)
		}
		tr := textReplace{re: re, with: []byte(r.With)}
		if lit := requiredLiteral(r.Regex); lit != "" {
			tr.need = []byte(lit)
		}
		hr.plan.replace = append(hr.plan.replace, tr)
	}
	if hr.plan.remove.empty() && hr.plan.head == nil && hr.plan.body == nil && len(hr.plan.replace) == 0 {
		return nil, errors.New("the rule does nothing: give remove, inject_head, inject_body or replace")
	}
	return hr, nil
}

// merge adds q's actions to p.
func (p *plan) merge(q *plan) {
	for _, ss := range q.remove.byTag {
		for _, s := range ss {
			p.remove.add(s)
		}
	}
	for _, s := range q.remove.any {
		p.remove.add(s)
	}
	p.head = append(p.head, q.head...)
	p.body = append(p.body, q.body...)
	p.replace = append(p.replace, q.replace...)
}

// rewriter is the state of one document's rewrite.
type rewriter struct {
	b    *body
	z    *html.Tokenizer
	plan *plan
	cs   pageCharset
	tree tree
	// removing is the stack index of the element being removed, or -1.
	removing int
	// headDone and bodyDone: the snippet's place has passed.
	headDone, bodyDone bool
	// rawNext: the next text token is the raw text of script, style…
	rawNext bool
	// begun: a token has been seen (a byte order mark is not content).
	begun bool
	attrs []attr
	// names interns tag names HTML does not know (custom elements).
	names map[string]string
	lower [32]byte
}

// rewriteHTML rewrites the document read through b's input and writes
// the result with b.write. It returns nil at the end of a whole document,
// or the error that cut it short.
func rewriteHTML(b *body, cfg config) error {
	first, err := b.sniff()
	if err != nil && err != io.EOF {
		return err
	}
	cs := detectCharset(first, cfg.contentType, cfg.xhtml)
	if incompatible(cs.name) {
		return b.passthrough()
	}
	rw := &rewriter{b: b, plan: cfg.plan, cs: cs, removing: -1}
	rw.tree.xhtml = cfg.xhtml
	rw.z = html.NewTokenizer((*source)(b))
	rw.z.SetMaxBuf(maxToken)
	rw.z.AllowCDATA(cfg.xhtml)
	for {
		switch tt := rw.z.Next(); tt {
		case html.ErrorToken:
			return rw.end()
		case html.TextToken:
			rw.text()
		case html.StartTagToken, html.SelfClosingTagToken:
			if !rw.startTag(tt == html.SelfClosingTagToken) {
				return rw.bail(false)
			}
		case html.EndTagToken:
			rw.endTag()
		default: // comments, doctypes
			rw.rawNext = false
			rw.emit(rw.z.Raw())
		}
		rw.begun = true
	}
}

// emit writes raw bytes of the page unless they are being removed.
func (rw *rewriter) emit(raw []byte) {
	if rw.removing < 0 {
		rw.b.write(raw)
	}
}

// inject writes a snippet, in the page's charset.
func (rw *rewriter) inject(snippet []byte) {
	if len(snippet) > 0 {
		rw.b.write(rw.cs.encode(snippet))
	}
}

func (rw *rewriter) injectHead() {
	if !rw.headDone {
		rw.headDone = true
		rw.inject(rw.plan.head)
	}
}

func (rw *rewriter) injectBody() {
	rw.injectHead()
	if !rw.bodyDone {
		rw.bodyDone = true
		rw.inject(rw.plan.body)
	}
}

// end handles the tokenizer's ErrorToken: the end of the input, an error,
// or a token too long to buffer.
func (rw *rewriter) end() error {
	err := rw.z.Err()
	if err == html.ErrBufferExceeded {
		return rw.bail(true)
	}
	if err != io.EOF {
		return err
	}
	// What is left is a token cut off by the end of the input (such as
	// "<div class=x"); snippets go before it, where they stay markup.
	rw.injectBody()
	rw.emit(rw.z.Raw())
	return nil
}

// bail stops rewriting: what the tokenizer holds (with the current token
// if it has not been written) and the rest of the input pass through
// unchanged, and any removal in progress ends.
func (rw *rewriter) bail(current bool) error {
	if current {
		rw.b.write(rw.z.Raw())
	}
	rw.b.write(rw.z.Buffered())
	return rw.b.passthrough()
}

// closeTo closes the open elements from index i up; a removal whose
// element is among them ends.
func (rw *rewriter) closeTo(i int) {
	if i < 0 {
		return
	}
	rw.tree.popTo(i)
	if rw.removing >= i {
		rw.removing = -1
	}
}

func (rw *rewriter) text() {
	raw := rw.z.Raw()
	raw0 := rw.rawNext
	rw.rawNext = false
	if rw.removing >= 0 {
		return
	}
	if !rw.headDone && !raw0 && !blank(raw, !rw.begun) {
		rw.injectHead()
	}
	if raw0 || len(rw.plan.replace) == 0 || bytes.HasPrefix(raw, []byte("<![CDATA[")) {
		rw.b.write(raw)
		return
	}
	rw.b.write(rw.replace(raw))
}

// replace applies the text replacements to the raw bytes of a text node.
// A node in a legacy charset is decoded to UTF-8 for matching and, if a
// replacement changed it, encoded back.
func (rw *rewriter) replace(raw []byte) []byte {
	s := raw
	legacy := !rw.cs.utf8(raw) && !ascii(raw)
	if legacy {
		d, ok := rw.cs.decode(raw)
		if !ok {
			return raw
		}
		s = d
	}
	changed := false
	for _, r := range rw.plan.replace {
		if r.need != nil && !bytes.Contains(s, r.need) {
			continue
		}
		ms := r.re.FindAllSubmatchIndex(s, -1)
		if ms == nil {
			continue
		}
		out := make([]byte, 0, len(s)+len(r.with))
		last := 0
		for _, m := range ms {
			out = append(out, s[last:m[0]]...)
			out = r.re.Expand(out, r.with, s, m)
			last = m[1]
		}
		s = append(out, s[last:]...)
		changed = true
	}
	switch {
	case !changed:
		return raw
	case legacy:
		return rw.cs.encodeCharset(s)
	case rw.cs.utf8(raw) && !ascii(raw):
		return s // UTF-8 text in a page whose charset was a guess
	}
	return rw.cs.encode(s)
}

// blank reports whether a text token is only white space (and, at the
// start of the document, a byte order mark).
func blank(b []byte, atStart bool) bool {
	if atStart {
		b = bytes.TrimPrefix(b, []byte("\xEF\xBB\xBF"))
	}
	for _, c := range b {
		if !isCSSSpace(c) {
			return false
		}
	}
	return true
}

// startTag handles a start tag. It reports false when the rewrite must
// stop (the page turned out to be in a charset the rewriter cannot work
// in).
func (rw *rewriter) startTag(selfClosing bool) bool {
	z := rw.z
	raw := z.Raw()
	rw.rawNext = false
	name := rw.tagName(raw)

	rw.closeTo(rw.tree.breakout(name))
	rw.closeTo(rw.tree.startCloses(name))

	if !rw.headDone && name != "html" && name != "head" {
		rw.injectHead()
	}

	e := rw.tree.open(name)
	candidate := rw.removing < 0 && rw.plan.remove.candidates(name)
	var attrs []attr
	if candidate || name == "meta" && !rw.cs.certain {
		attrs = rw.readAttrs()
	}
	// Whether the element has content (and an end tag) to come. In HTML,
	// a self-closing flag on a non-void element is ignored (§13.2.6.1),
	// but it is taken here as "empty", which removes less, except for
	// raw-text and RCDATA elements: the tokenizer does read their content
	// as text up to the end tag. In XHTML and foreign content it is real.
	empty := selfClosing || void(name) && !e.foreign
	if selfClosing && !e.foreign && !rw.tree.xhtml && textOnly(name) {
		empty = false
	}
	if e.foreign || (selfClosing && rw.tree.xhtml) {
		z.NextIsNotRawText() // SVG's <style>, <script/> in XHTML
	} else if !empty && rawText(name) {
		rw.rawNext = true
	}

	remove := candidate && rw.plan.remove.match(name, attrs)
	pushed := false
	if !empty {
		pushed = rw.tree.push(e)
	}
	switch {
	case remove && empty:
		// A void or self-closing element: only the tag goes.
	case remove && pushed:
		rw.removing = len(rw.tree.stack) - 1
	default:
		rw.emit(raw)
	}
	if name == "head" && !rw.headDone {
		rw.injectHead()
	}
	rw.syncCDATA()

	if name == "meta" && attrs != nil && rw.cs.fromMeta(attrs) && incompatible(rw.cs.name) {
		return false
	}
	return true
}

// readAttrs reads the current tag's attributes.
func (rw *rewriter) readAttrs() []attr {
	rw.attrs = rw.attrs[:0]
	for {
		k, v, more := rw.z.TagAttr()
		if k == nil {
			break
		}
		rw.attrs = append(rw.attrs, attr{k, v})
		if !more {
			break
		}
	}
	return rw.attrs
}

// tagName returns the lower-cased name of the tag whose raw bytes are raw
// ("<name…" or "</name…"), read as the tokenizer reads it: up to white
// space, '/' or '>'. Unlike Tokenizer.TagName it does not copy.
func (rw *rewriter) tagName(raw []byte) string {
	i := 1
	if len(raw) > 1 && raw[1] == '/' {
		i = 2
	}
	j := i
	for j < len(raw) && !tagNameEnd(raw[j]) {
		j++
	}
	name := raw[i:j]
	if len(name) > len(rw.lower) || bytes.IndexByte(name, 0) >= 0 {
		b, _ := rw.z.TagName() // NUL becomes U+FFFD
		return string(b)
	}
	low := rw.lower[:len(name)]
	for k, c := range name {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		low[k] = c
	}
	if a := atom.Lookup(low); a != 0 {
		return a.String()
	}
	if n, ok := rw.names[string(low)]; ok {
		return n
	}
	n := string(low)
	if len(rw.names) < 64 {
		if rw.names == nil {
			rw.names = make(map[string]string)
		}
		rw.names[n] = n
	}
	return n
}

func tagNameEnd(c byte) bool {
	return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == '/' || c == '>'
}

func (rw *rewriter) endTag() {
	raw := rw.z.Raw()
	rw.rawNext = false
	name := rw.tagName(raw)
	if !rw.headDone && name != "head" && name != "html" {
		rw.injectHead()
	}
	i := rw.tree.endCloses(name)
	// The removed element's own end tag goes with it; an ancestor's end
	// tag that closes it stays.
	own := i >= 0 && i == rw.removing && rw.tree.stack[i].name == name
	rw.closeTo(i)
	if !rw.bodyDone && rw.removing < 0 && (name == "body" || name == "html") && !rw.tree.inTemplate() && rw.tree.htmlChildren() {
		rw.injectBody()
	}
	if !own {
		rw.emit(raw)
	}
	rw.syncCDATA()
}

// syncCDATA lets the tokenizer read CDATA sections where they exist: in
// XHTML and in foreign content (§13.2.5.42).
func (rw *rewriter) syncCDATA() {
	rw.z.AllowCDATA(rw.tree.xhtml || !rw.tree.htmlChildren())
}
