// Package filter parses block and allow lists (hosts files, plain domain
// lists, Adblock Plus / EasyList network rules, regular expressions) and
// compiles them into a Matcher that decides, for one request, whether it is
// blocked and by which rule.
//
// A list is parsed once into a List, which counts what it held (Stats);
// Compile indexes any number of block and allow lists into an immutable
// Matcher that many goroutines may use at once. Decide takes about a
// microsecond against EasyList-sized lists and does not allocate for
// ordinary requests; its work grows about linearly with the URL, whatever
// the URL holds.
//
// The package deliberately does not fetch lists, watch or reload them, cache
// decisions, or write block pages: the proxy does those, and keeps the
// previous Matcher when a new list fails to load. It does not hide page
// elements (Adblock cosmetic rules are counted and ignored) and does not
// rewrite requests or responses ($removeparam, $csp, $redirect and similar
// rules are counted and skipped). docs/filter-lists.md describes every
// format and rule precisely.
package filter

import (
	"fmt"
	"io"
)

// MaxLine is the longest line, in bytes without its line break, that a list
// may hold. A longer line is skipped and counted in Stats.Invalid.
const MaxLine = 4096

// Format is the syntax of a list file.
type Format int

// The list formats. Auto detects one of Hosts, Domains or Adblock per file,
// as described at Parse; it never picks Regex.
const (
	Auto    Format = iota
	Hosts          // "0.0.0.0 ads.example.com": blocks exactly the host names listed
	Domains        // one host name per line: "example.com", "*.example.com", ".example.com", "/regex/"
	Adblock        // Adblock Plus / EasyList network rules: "||example.com^$third-party"
	Regex          // one regular expression per line, matched against the whole URL
)

var formatNames = [...]string{"auto", "hosts", "domains", "adblock", "regex"}

// String returns the format's lower-case name, as used in configuration.
func (f Format) String() string {
	if f < 0 || int(f) >= len(formatNames) {
		return fmt.Sprintf("Format(%d)", int(f))
	}
	return formatNames[f]
}

// Rule is one rule as written in a list. Decision.Rule points to the rule
// that decided a request, for block pages and logs.
type Rule struct {
	List  string // the name the list was parsed with
	Line  int    // 1-based line number
	Text  string // the line as written, without surrounding white space
	Allow bool   // the rule allows: an Adblock "@@" exception, or any rule of a list compiled as an allow list
}

// String returns "list:line: text".
func (r *Rule) String() string {
	return fmt.Sprintf("%s:%d: %s", r.List, r.Line, r.Text)
}

// Stats counts what a list held. Rules are counted by kind; lines that
// produced no rule are counted by why. Blank lines, comments and headers are
// not counted.
type Stats struct {
	Hosts      int // hosts-file entries, one per host name (a line may name several)
	Domains    int // domain-list entries ("example.com", "*.example.com", ".example.com")
	Network    int // Adblock network rules other than regular expressions, exceptions included
	Regexps    int // regular-expression rules of any format, Adblock exceptions included
	Exceptions int // Adblock "@@" exception rules, also counted in Network or Regexps
	Invalid    int // lines that are not a rule of the list's format, or longer than MaxLine
	Cosmetic   int // Adblock cosmetic lines ("##", "#@#", "#?#", "#$#", "#%#", "$$" …), ignored
	Skipped    int // Adblock rules skipped for a type or modifier option a proxy cannot honour
}

// Rules returns the number of rules that take part in matching.
func (s Stats) Rules() int { return s.Hosts + s.Domains + s.Network + s.Regexps }

// List is one parsed list file. It is immutable once returned and may be
// compiled into any number of Matchers, as a block list or an allow list.
type List struct {
	name   string
	format Format
	stats  Stats
	hosts  []hostRule
	nets   []netRule
}

// Name returns the name the list was parsed with.
func (l *List) Name() string { return l.name }

// Format returns the list's format: the one detected when it was parsed
// with Auto.
func (l *List) Format() Format { return l.format }

// Stats returns the list's counts.
func (l *List) Stats() Stats { return l.stats }

// Parse reads one list file and detects its format (ParseFormat with Auto).
// name is how the list is called in Rule.List: a file path or URL.
//
// Detection looks at the lines within the first MiB of the file, up to its
// 1000th rule line (a line that is not blank, not a comment starting with
// "!" or "#", and not a "[…]" header), and decides:
//
//   - a header line "[…]" naming Adblock, uBlock or AdGuard
//     ("[Adblock Plus 2.0]") makes the file Adblock;
//   - otherwise each rule line votes: Hosts if its first field is an IP
//     address followed by at least one more field; Domains if it is a valid
//     domain-list entry or a "/…/" regular expression; Adblock if it starts
//     with "||", "@@" or "|", or holds "##", "#@#", "#?#", "#$#", "#%#", "$",
//     "^", "*" or "/"; other lines do not vote;
//   - the format with the most votes wins, ties going to Adblock, then Hosts,
//     then Domains; a file without votes is Domains.
//
// Lines that are not rules of the chosen format are counted invalid; Parse
// fails only when reading fails.
func Parse(name string, r io.Reader) (*List, error) {
	return ParseFormat(name, r, Auto)
}

// ParseFormat reads one list file in format f, or detects the format as
// Parse does when f is Auto. It never fails on content: lines that are not
// rules are counted in the list's Stats. It returns an error only if reading
// fails or f is not a Format.
func ParseFormat(name string, r io.Reader, f Format) (*List, error) {
	if f < Auto || f > Regex {
		return nil, fmt.Errorf("parse %s: unknown list format %d", name, int(f))
	}
	p := &parser{list: &List{name: name, format: f}}
	lr := newLineReader(r)
	if f == Auto {
		p.list.format = detect(lr)
	}
	for {
		line, long, ok := lr.next()
		if !ok {
			break
		}
		if long {
			p.list.stats.Invalid++
			continue
		}
		p.line(lr.n, line)
	}
	if lr.err != nil {
		return nil, fmt.Errorf("read %s: %w", name, lr.err)
	}
	return p.list, nil
}
