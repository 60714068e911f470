package rewrite

// maxDepth bounds the stack of open elements. Deeper elements are not
// tracked: they cannot be removed (except void or self-closing ones), and
// their end tags may close a tracked ancestor of the same name early, which
// can only end a removal sooner, never extend it.
const maxDepth = 512

// elem is an open element.
type elem struct {
	name string
	// foreign is set for SVG and MathML elements.
	foreign bool
	// html is set when the element's children are HTML: on every HTML
	// element and on the integration points of foreign content
	// (foreignObject, desc, title, mi, mo, mn, ms, mtext, annotation-xml).
	html bool
}

// tree is the stack of open elements, kept by a simplified form of the
// HTML tree builder (WHATWG HTML §13.2.6): enough to know where an element
// ends. It implies end tags for p, li, dt, dd, option, tr, td, th and the
// table sections, closes open descendants when an ancestor's end tag comes,
// honours scope boundaries (table, template, td…), and leaves foreign
// content when an HTML element appears in it. It does not foster-parent,
// run the adoption agency, or reopen formatting elements.
type tree struct {
	stack []elem
	// xhtml: the document is XML: no implied end tags.
	xhtml bool
}

// htmlChildren reports whether the next element is in HTML content (as
// opposed to SVG or MathML).
func (t *tree) htmlChildren() bool {
	return len(t.stack) == 0 || t.stack[len(t.stack)-1].html
}

// open describes the element a start tag with this (lower-case) name would
// open at the current position.
func (t *tree) open(name string) elem {
	if t.htmlChildren() {
		switch name {
		case "svg", "math":
			return elem{name: name, foreign: true}
		}
		return elem{name: name, html: true}
	}
	e := elem{name: name, foreign: true}
	parent := t.stack[len(t.stack)-1].name
	switch name {
	case "foreignobject", "desc", "title":
		e.html = parent != "math" && !mathML(parent)
	case "mi", "mo", "mn", "ms", "mtext", "annotation-xml":
		e.html = true
	}
	return e
}

func mathML(name string) bool {
	switch name {
	case "math", "mi", "mo", "mn", "ms", "mtext", "mrow", "mfrac", "msqrt", "mroot", "annotation-xml", "semantics":
		return true
	}
	return false
}

// push opens e; it reports false when the stack is full and e is not
// tracked.
func (t *tree) push(e elem) bool {
	if len(t.stack) >= maxDepth {
		return false
	}
	t.stack = append(t.stack, e)
	return true
}

// popTo closes the element at index i and everything opened after it.
func (t *tree) popTo(i int) { t.stack = t.stack[:i] }

// breakout returns the index from which a start tag with this name pops
// the stack because it leaves foreign content (§13.2.6.5: up to the
// nearest HTML element or integration point), or -1.
func (t *tree) breakout(name string) int {
	if t.xhtml || t.htmlChildren() || !breaksOut(name) {
		return -1
	}
	i := len(t.stack) - 1
	for i >= 0 && !t.stack[i].html {
		i--
	}
	return i + 1
}

// startCloses returns the index of the lowest open element that a start
// tag with this name closes implicitly before it opens, or -1.
func (t *tree) startCloses(name string) int {
	if t.xhtml || len(t.stack) == 0 || !t.htmlChildren() {
		return -1
	}
	top := len(t.stack) - 1
	low := -1
	lower := func(i int) {
		if i >= 0 && (low < 0 || i < low) {
			low = i
		}
	}
	switch name {
	case "li":
		lower(t.find(func(n string) bool { return n == "li" }, listItemStop))
	case "dd", "dt":
		lower(t.find(func(n string) bool { return n == "dd" || n == "dt" }, listItemStop))
	case "option":
		if t.stack[top].name == "option" {
			lower(top)
		}
	case "optgroup":
		i := top
		if t.stack[i].name == "option" {
			i--
		}
		if i >= 0 && t.stack[i].name == "optgroup" {
			lower(i)
		} else if i < top {
			lower(top)
		}
	case "tr":
		lower(t.find(func(n string) bool { return n == "tr" }, tableStop))
	case "td", "th":
		lower(t.find(func(n string) bool { return n == "td" || n == "th" }, rowStop))
	case "thead", "tbody", "tfoot":
		lower(t.find(func(n string) bool { return n == "thead" || n == "tbody" || n == "tfoot" }, tableStop))
	case "a":
		lower(t.find(func(n string) bool { return n == "a" }, defaultScope))
	case "button":
		lower(t.find(func(n string) bool { return n == "button" }, defaultScope))
	case "h1", "h2", "h3", "h4", "h5", "h6":
		if i := t.pIndex(); i >= 0 {
			lower(i)
		} else if heading(t.stack[top].name) {
			lower(top)
		}
	}
	if closesP(name) {
		lower(t.pIndex())
	}
	return low
}

// pIndex finds an open p in button scope.
func (t *tree) pIndex() int {
	return t.find(func(n string) bool { return n == "p" }, buttonScope)
}

// find walks the stack from the top for an HTML element whose name
// satisfies is, giving up at one for which stop is true. Foreign elements
// are passed over, except integration points, which are scope boundaries.
func (t *tree) find(is, stop func(string) bool) int {
	for i := len(t.stack) - 1; i >= 0; i-- {
		e := t.stack[i]
		if e.foreign {
			if e.html {
				return -1
			}
			continue
		}
		if is(e.name) {
			return i
		}
		if stop(e.name) {
			return -1
		}
	}
	return -1
}

// endCloses returns the index of the open element an end tag with this
// name closes (with everything opened after it), or -1 if it closes
// nothing.
func (t *tree) endCloses(name string) int {
	top := len(t.stack) - 1
	if top >= 0 && t.stack[top].foreign {
		// In foreign content an end tag closes the nearest foreign element
		// of its name; at the first HTML element the HTML rules take over
		// (§13.2.6.5).
		for i := top; i >= 0 && t.stack[i].foreign; i-- {
			if t.stack[i].name == name {
				return i
			}
		}
	}
	if t.xhtml {
		for i := top; i >= 0; i-- {
			if t.stack[i].name == name {
				return i
			}
		}
		return -1
	}
	var stop func(string) bool
	switch name {
	case "body", "html":
		// The html and body elements exist even when their tags are
		// missing: their end tags close everything open in them, unless
		// a table, template or the like is in the way (then browsers
		// ignore them).
		for i := top; i >= 0; i-- {
			e := t.stack[i]
			switch {
			case e.foreign:
				if e.html {
					return -1
				}
			case e.name == name:
				return i
			case e.name == "html":
				return i + 1
			case defaultScope(e.name):
				return -1
			}
		}
		return 0
	case "li":
		stop = listScope
	case "p":
		stop = buttonScope
	case "tr", "td", "th", "tbody", "thead", "tfoot", "table", "caption", "colgroup":
		stop = tableStop
	default:
		stop = defaultScope
		if !special(name) && !formatting(name) {
			// "Any other end tag" (§13.2.6.4.7): a special element on the
			// way means the end tag is ignored.
			stop = anyOtherStop
		}
	}
	return t.find(func(n string) bool { return n == name }, stop)
}

func anyOtherStop(n string) bool { return defaultScope(n) || special(n) }

// inTemplate reports whether a template element is open.
func (t *tree) inTemplate() bool {
	for i := len(t.stack) - 1; i >= 0; i-- {
		if t.stack[i].name == "template" && !t.stack[i].foreign {
			return true
		}
	}
	return false
}

func defaultScope(n string) bool {
	switch n {
	case "applet", "caption", "html", "table", "td", "th", "marquee", "object", "template":
		return true
	}
	return false
}

func buttonScope(n string) bool { return n == "button" || defaultScope(n) }

func listScope(n string) bool { return n == "ol" || n == "ul" || defaultScope(n) }

func tableStop(n string) bool { return n == "table" || n == "template" || n == "html" }

func rowStop(n string) bool {
	return n == "tr" || n == "tbody" || n == "thead" || n == "tfoot" || tableStop(n)
}

// listItemStop: a new li (dd, dt) closes the open one unless a special
// element other than address, div and p is in between (§13.2.6.4.7).
func listItemStop(n string) bool {
	return special(n) && n != "address" && n != "div" && n != "p"
}

func heading(n string) bool {
	return len(n) == 2 && n[0] == 'h' && '1' <= n[1] && n[1] <= '6'
}

// closesP lists the start tags that close an open p element.
func closesP(n string) bool {
	switch n {
	case "address", "article", "aside", "blockquote", "center", "details", "dialog", "dir", "div", "dl",
		"fieldset", "figcaption", "figure", "footer", "form", "header", "hgroup", "hr", "li", "dd", "dt",
		"listing", "main", "menu", "nav", "ol", "p", "plaintext", "pre", "search", "section", "summary",
		"table", "ul", "xmp", "h1", "h2", "h3", "h4", "h5", "h6":
		return true
	}
	return false
}

// breaksOut lists the start tags that leave foreign content.
func breaksOut(n string) bool {
	switch n {
	case "b", "big", "blockquote", "body", "br", "center", "code", "dd", "div", "dl", "dt", "em", "embed",
		"h1", "h2", "h3", "h4", "h5", "h6", "head", "hr", "i", "img", "li", "listing", "menu", "meta",
		"nobr", "ol", "p", "pre", "ruby", "s", "small", "span", "strong", "strike", "sub", "sup", "table",
		"tt", "u", "ul", "var":
		return true
	}
	return false
}

// void reports whether an HTML element never has content or an end tag.
func void(n string) bool {
	switch n {
	case "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr",
		"param", "keygen", "frame", "basefont", "bgsound", "image":
		return true
	}
	return false
}

// rawText reports whether the tokenizer reads an element's content as raw
// text (no tags, no character references, no text rules): script, style
// and the elements like them. title and textarea (RCDATA) are not raw: they
// hold text.
func rawText(n string) bool {
	switch n {
	case "script", "style", "xmp", "iframe", "noembed", "noframes", "noscript", "plaintext":
		return true
	}
	return false
}

// textOnly reports whether the tokenizer reads an element's content as
// text up to its end tag (raw text and RCDATA).
func textOnly(n string) bool { return rawText(n) || n == "title" || n == "textarea" }

func formatting(n string) bool {
	switch n {
	case "a", "b", "big", "code", "em", "font", "i", "nobr", "s", "small", "strike", "strong", "tt", "u":
		return true
	}
	return false
}

// special is the HTML "special" category (§13.2.4.2).
func special(n string) bool {
	switch n {
	case "address", "applet", "area", "article", "aside", "base", "basefont", "bgsound", "blockquote",
		"body", "br", "button", "caption", "center", "col", "colgroup", "dd", "details", "dir", "div", "dl",
		"dt", "embed", "fieldset", "figcaption", "figure", "footer", "form", "frame", "frameset", "h1", "h2",
		"h3", "h4", "h5", "h6", "head", "header", "hgroup", "hr", "html", "iframe", "img", "input", "keygen",
		"li", "link", "listing", "main", "marquee", "menu", "meta", "nav", "noembed", "noframes", "noscript",
		"object", "ol", "p", "param", "plaintext", "pre", "script", "search", "section", "select", "source",
		"style", "summary", "table", "tbody", "td", "template", "textarea", "tfoot", "th", "thead", "title",
		"tr", "track", "ul", "wbr", "xmp":
		return true
	}
	return false
}
