package filter

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode/utf8"
)

// maxRegexSize bounds a regular expression's size after repetitions are
// expanded (a{1000} counts 1000): a 4 KiB line of such repetitions would
// otherwise compile to a program of hundreds of megabytes.
const maxRegexSize = 10000

// compileRegex compiles a rule's regular expression (RE2 syntax: matching
// takes time linear in the URL) and finds the tokens and grams any URL it
// matches must hold, for indexing. fold makes it case-insensitive.
func compileRegex(expr string, fold bool) (*regexp.Regexp, regexKeys, error) {
	flags := syntax.Perl
	if fold {
		flags |= syntax.FoldCase
		expr = "(?i)" + expr
	}
	tree, err := syntax.Parse(expr, flags)
	if err != nil {
		return nil, regexKeys{}, err
	}
	if regexSize(tree) > maxRegexSize {
		return nil, regexKeys{}, fmt.Errorf("regular expression larger than %d when expanded", maxRegexSize)
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, regexKeys{}, err
	}
	return re, keysOf(tree), nil
}

// regexSize estimates the size of the program re compiles to, stopping
// early once it is over maxRegexSize.
func regexSize(re *syntax.Regexp) int {
	n := 1
	switch re.Op {
	case syntax.OpLiteral:
		n = len(re.Rune)
	case syntax.OpRepeat:
		times := max(re.Min, re.Max, 1)
		if re.Max < 0 {
			times = re.Min + 1
		}
		n = 1 + times*regexSize(re.Sub[0])
	default:
		for _, sub := range re.Sub {
			if n += regexSize(sub); n > maxRegexSize {
				break
			}
		}
	}
	return min(n, maxRegexSize+1)
}

// regexKeys are what a regular expression requires of any URL it matches.
type regexKeys struct {
	tokens []uint64 // token hashes
	grams  []uint32
	lits   []string // its ASCII literals, lower case: a quick test before running it
}

// keysOf finds the literals, tokens and grams a regular expression's top
// level requires: the literals that are part of the top-level
// concatenation, their grams, and the tokens inside them that are bounded by
// non-alphanumeric characters, within the literal or by its neighbours. In
// `[?&]ad_id=\d+` the literal "ad_id=" follows a class without letters or
// digits, so it requires the token "ad" and "id", and the grams "ad_",
// "d_i", "_id" and "id=".
//
// A case-insensitive literal also matches non-ASCII letters that fold to
// an ASCII one (U+212A KELVIN SIGN folds to "k", U+017F LONG S to "s");
// a URL holding such bytes is checked against every regular expression
// instead (see netIndex.match), so the keys need not cover it.
func keysOf(tree *syntax.Regexp) regexKeys {
	subs := []*syntax.Regexp{tree}
	if tree.Op == syntax.OpConcat {
		subs = tree.Sub
	}
	var k regexKeys
	var buf []byte
	for n, s := range subs {
		if s.Op != syntax.OpLiteral {
			continue
		}
		buf = buf[:0]
		for _, r := range s.Rune {
			buf = utf8.AppendRune(buf, r)
		}
		for i := 2; i < len(buf); i++ {
			k.grams = append(k.grams, gram(buf[i-2], buf[i-1], buf[i]))
		}
		if len(buf) >= 2 && len(buf) == len(s.Rune) { // ASCII
			k.lits = append(k.lits, strings.ToLower(string(buf)))
		}
		leftEdge := n > 0 && endsNonAlnum(subs[n-1], false)
		rightEdge := n+1 < len(subs) && endsNonAlnum(subs[n+1], true)
		for i := 0; i < len(buf); {
			if !isAlnum(buf[i]) {
				i++
				continue
			}
			j := i
			for j < len(buf) && isAlnum(buf[j]) {
				j++
			}
			if (i > 0 || leftEdge) && (j < len(buf) || rightEdge) {
				k.tokens = append(k.tokens, tokenHash(string(buf[i:j])))
			}
			i = j
		}
	}
	return k
}

// endsNonAlnum reports whether whatever re matches begins (first) or ends
// (!first) with something other than an ASCII letter or digit, or with the
// start or end of the text.
func endsNonAlnum(re *syntax.Regexp, first bool) bool {
	switch re.Op {
	case syntax.OpBeginText, syntax.OpEndText:
		return true
	case syntax.OpLiteral:
		if len(re.Rune) == 0 {
			return false
		}
		r := re.Rune[len(re.Rune)-1]
		if first {
			r = re.Rune[0]
		}
		return r >= utf8.RuneSelf || !isAlnum(byte(r))
	case syntax.OpCharClass:
		for i := 0; i+1 < len(re.Rune); i += 2 {
			lo, hi := re.Rune[i], re.Rune[i+1]
			if lo <= 'z' && hi >= '0' {
				for c := max(lo, '0'); c <= min(hi, 'z'); c++ {
					if isAlnum(byte(c)) {
						return false
					}
				}
			}
		}
		return len(re.Rune) > 0
	}
	return false
}
