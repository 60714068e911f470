package filter

import (
	"bytes"
	"net/netip"
)

// Detection looks at no more than this many rule lines, within no more than
// this many bytes from the start of the file.
const (
	detectLines = 1000
	detectBytes = 1 << 20
)

// detect reads ahead to decide a file's format by the rule documented at
// Parse. The lines it reads are held in lr and parsed afterwards.
func detect(lr *lineReader) Format {
	var votes [Regex + 1]int
	lines, size := 0, 0
	for lines < detectLines && size < detectBytes {
		line, long, ok := lr.read()
		if !ok {
			break
		}
		lr.hold(line, long)
		size += len(line) + 1
		if long {
			lines++
			continue
		}
		f, rule := vote(trimSpace(line))
		if f == Adblock && !rule {
			return Adblock // a header names the syntax outright
		}
		if rule {
			lines++
			votes[f]++
		}
	}
	best, most := Domains, 0
	for _, f := range []Format{Adblock, Hosts, Domains} { // ties go to the first
		if votes[f] > most {
			best, most = f, votes[f]
		}
	}
	return best
}

// vote classifies one trimmed line for detect: rule reports whether it is a
// rule line (not blank, a comment or a header), and f is the format it
// votes for, Auto for none. A header naming an Adblock-family syntax
// returns Adblock with rule false.
func vote(b []byte) (f Format, rule bool) {
	switch {
	case len(b) == 0, b[0] == '!', b[0] == '#':
		return Auto, false
	case b[0] == '[' && b[len(b)-1] == ']':
		h := bytes.ToLower(b)
		if bytes.Contains(h, []byte("adblock")) || bytes.Contains(h, []byte("ublock")) || bytes.Contains(h, []byte("adguard")) {
			return Adblock, false
		}
		return Auto, false
	}
	if isHostsLine(b) {
		return Hosts, true
	}
	if isRegexLine(b) {
		return Domains, true
	}
	if _, _, ok := domainEntry(string(stripComment(b))); ok {
		return Domains, true
	}
	if bytes.HasPrefix(b, []byte("|")) || bytes.HasPrefix(b, []byte("@@")) ||
		cosmetic(b) || bytes.ContainsAny(b, "$^*/") {
		return Adblock, true
	}
	return Auto, true
}

// isHostsLine reports whether the line's first field is an IP address and
// at least one more field follows.
func isHostsLine(b []byte) bool {
	i := bytes.IndexAny(b, " \t")
	if i < 0 {
		return false
	}
	if _, err := netip.ParseAddr(string(b[:i])); err != nil {
		return false
	}
	rest := trimSpace(stripComment(b[i:]))
	return len(rest) > 0
}

// isRegexLine reports whether a line is "/…/" with something between.
func isRegexLine[T ~string | ~[]byte](b T) bool {
	return len(b) >= 3 && b[0] == '/' && b[len(b)-1] == '/'
}

// stripComment removes a trailing "#" comment that follows white space, and
// the white space.
func stripComment[T ~string | ~[]byte](b T) T {
	for i := 1; i < len(b); i++ {
		if b[i] == '#' && isSpace(b[i-1]) {
			return trimSpace(b[:i])
		}
	}
	return b
}

// cosmeticMarkers separate an Adblock cosmetic rule's domains from its
// selector or script: element hiding (##, #@#), extended CSS (#?#, #@?#),
// CSS injection (#$#, #@$#), scriptlets (#%#, #@%#), and HTML filtering
// ($$, $@$).
var cosmeticMarkers = [][]byte{
	[]byte("##"), []byte("#@#"), []byte("#?#"), []byte("#@?#"),
	[]byte("#$#"), []byte("#@$#"), []byte("#%#"), []byte("#@%#"),
	[]byte("$$"), []byte("$@$"),
}

// cosmetic reports whether an Adblock line is a cosmetic rule.
func cosmetic(b []byte) bool {
	if bytes.IndexByte(b, '#') < 0 && bytes.IndexByte(b, '$') < 0 {
		return false
	}
	for _, m := range cosmeticMarkers {
		if bytes.Contains(b, m) {
			return true
		}
	}
	return false
}
