package config

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// Error is every problem found with a configuration. Load, Parse and
// Validate return it, never with an empty list.
type Error struct {
	Problems []Problem
}

// Problem is one thing wrong with a configuration.
type Problem struct {
	File string // the file name given to Load or Parse; empty from Validate
	Line int    // 1-based line in File; 0 when unknown
	Key  string // the key, dotted when nested ("upstream.max_idle"); empty for a problem with the file as a whole
	Msg  string // what is wrong, and where possible how to fix it
}

// String formats p as "file:line: key: msg", leaving out the parts that are
// unknown.
func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			b.WriteString(":" + strconv.Itoa(p.Line))
		}
		b.WriteString(": ")
	} else if p.Line > 0 {
		b.WriteString("line " + strconv.Itoa(p.Line) + ": ")
	}
	if p.Key != "" {
		b.WriteString(printable(p.Key) + ": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Error returns one problem per line, like
// "sluice.yaml:7: connect_ports: port 70000 out of range 1-65535".
func (e *Error) Error() string {
	if len(e.Problems) == 0 {
		return "invalid configuration"
	}
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// sortProblems orders problems by line, keeping those without a line last
// and problems on the same line in the order they were found.
func sortProblems(ps []Problem) {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		if (a.Line == 0) != (b.Line == 0) {
			if a.Line == 0 {
				return 1
			}
			return -1
		}
		return cmp.Compare(a.Line, b.Line)
	})
}

// printable returns s, quoted if it holds anything other than the
// characters of a key, so that a strange key written in a file cannot break
// the one-problem-per-line form of Error.
func printable(s string) string {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_-.[]", r)) {
			return strconv.Quote(s)
		}
	}
	return s
}

// suggest returns the candidate closest to key (ignoring letter case, and
// treating '-' as '_') if it is within an edit distance of 2, or "".
func suggest(key string, candidates []string) string {
	norm := func(s string) string { return strings.ReplaceAll(strings.ToLower(s), "-", "_") }
	k := norm(key)
	best, bestDist := "", 3
	for _, c := range candidates {
		if d := editDistance(k, norm(c)); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, counted in
// bytes. It gives up early, returning a large number, when the lengths
// alone differ by more than 2 or either string is long, since then no
// suggestion would be made anyway.
func editDistance(a, b string) int {
	if len(a)-len(b) > 2 || len(b)-len(a) > 2 || len(a) > 64 || len(b) > 64 {
		return 1 << 20
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
