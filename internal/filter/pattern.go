package filter

import "strings"

// Adblock patterns are matched by hand rather than translated to regular
// expressions: a pattern is literal bytes, "*" (any run of bytes) and "^"
// (one separator byte, or the end of the URL). Between two "*" a pattern is
// a fixed-length segment, so matching each segment at its leftmost place
// after the previous one finds a match if there is any.

// isSeparator reports whether c matches "^": anything but a letter, a
// digit, or one of "_-.%". Bytes of non-ASCII characters are separators.
func isSeparator(c byte) bool {
	return !isAlnum(c) && c != '_' && c != '-' && c != '.' && c != '%'
}

// matchURL reports whether a pattern rule matches url, whose host is
// url[hs:he].
func (r *netRule) matchURL(url string, hs, he int) bool {
	fold := r.flags&matchCase == 0
	end := r.flags&anchorEnd != 0
	switch {
	case r.flags&anchorHost != 0:
		first, rest := r.segments()
		star := rest != ""
		for p := hs; p < he; p++ {
			if p != hs && url[p-1] != '.' {
				continue
			}
			e, ok := segmentAt(first, url, p, fold)
			if !ok {
				continue
			}
			if star {
				// What follows a "*" matches from e if it matches from
				// any later place, so later label starts cannot help.
				return matchRest(rest, star, url, e, end, fold)
			}
			if !end || e == len(url) {
				return true
			}
		}
		return false
	case r.flags&anchorStart != 0:
		first, rest := r.segments()
		e, ok := segmentAt(first, url, 0, fold)
		return ok && matchRest(rest, rest != "", url, e, end, fold)
	default:
		return matchRest(r.pat, true, url, 0, end, fold)
	}
}

// segments splits a pattern at its first "*" into the first segment and
// the rest, "" if there is no "*" (a pattern never ends in "*").
func (r *netRule) segments() (first, rest string) {
	if int(r.star) == len(r.pat) {
		return r.pat, ""
	}
	return r.pat[:r.star], r.pat[r.star+1:]
}

// matchFirst reports whether the first segment of a pattern rule (up to
// any "*") matches url at start, with the rule's start anchors; url's host
// is url[hs:he]. It returns where the segment's match ends and the rest of
// the pattern after the "*", "" if there is none.
func (r *netRule) matchFirst(url string, start, hs, he int) (end int, rest string, ok bool) {
	switch {
	case start < 0:
		return 0, "", false
	case r.flags&anchorStart != 0 && start != 0:
		return 0, "", false
	case r.flags&anchorHost != 0 && (start < hs || start >= he || start != hs && url[start-1] != '.'):
		return 0, "", false
	}
	first, rest := r.segments()
	end, ok = segmentAt(first, url, start, r.flags&matchCase == 0)
	return end, rest, ok
}

// matchRest reports whether the segments of pat match url at or after pos;
// star says whether a "*" came before pat (otherwise pat is empty and the
// match must have ended where it did if end is set).
func matchRest(pat string, star bool, url string, pos int, end, fold bool) bool {
	if !star {
		return !end || pos == len(url)
	}
	for {
		seg, rest, more := strings.Cut(pat, "*")
		if !more {
			if end {
				return segmentAtEnd(seg, url, pos, fold)
			}
			_, ok := find(seg, url, pos, fold)
			return ok
		}
		e, ok := find(seg, url, pos, fold)
		if !ok {
			return false
		}
		pos, pat = e, rest
	}
}

// segmentAt reports whether seg matches url at i, and where the match ends.
// The "^" at the end of seg may match the end of the URL.
func segmentAt(seg, url string, i int, fold bool) (int, bool) {
	for j := 0; j < len(seg); j++ {
		c, k := seg[j], i+j
		if k == len(url) {
			return k, strings.Trim(seg[j:], "^") == "" // each trailing "^" may match the end
		}
		b := url[k]
		if c == '^' {
			if !isSeparator(b) {
				return 0, false
			}
			continue
		}
		if fold {
			b = lowerTab[b]
		}
		if b != c {
			return 0, false
		}
	}
	return i + len(seg), true
}

// find returns the end of the leftmost match of seg in url at or after pos.
func find(seg, url string, pos int, fold bool) (int, bool) {
	if seg == "" {
		return pos, true
	}
	c0 := seg[0]
	for i := pos; i <= len(url); i++ {
		if c0 != '^' {
			j := indexByte(url[i:], c0, fold)
			if j < 0 {
				return 0, false
			}
			i += j
		}
		if e, ok := segmentAt(seg, url, i, fold); ok {
			return e, true
		}
	}
	return 0, false
}

// indexByte returns the index of the first c in s, or -1; with fold, c is
// lower case and its upper case counts too.
func indexByte(s string, c byte, fold bool) int {
	i := strings.IndexByte(s, c)
	if !fold || c < 'a' || c > 'z' {
		return i
	}
	t := s
	if i >= 0 {
		t = s[:i]
	}
	if j := strings.IndexByte(t, c-'a'+'A'); j >= 0 {
		return j
	}
	return i
}

// containsFold reports whether s holds lit, which is in lower case, with
// ASCII letters compared regardless of case.
func containsFold(s, lit string) bool {
	if lit == "" {
		return true
	}
	for i := 0; i+len(lit) <= len(s); i++ {
		j := indexByte(s[i:len(s)-len(lit)+1], lit[0], true)
		if j < 0 {
			return false
		}
		i += j
		k := 1
		for k < len(lit) && lowerTab[s[i+k]] == lit[k] {
			k++
		}
		if k == len(lit) {
			return true
		}
	}
	return false
}

// segmentAtEnd reports whether seg matches url ending at its end, starting
// at or after pos. Trailing "^" may match the end itself, so the match may
// start up to that many bytes later.
func segmentAtEnd(seg, url string, pos int, fold bool) bool {
	n := len(seg) - len(strings.TrimRight(seg, "^"))
	for i := max(len(url)-len(seg), pos); i <= len(url)-len(seg)+n; i++ {
		if e, ok := segmentAt(seg, url, i, fold); ok && e == len(url) {
			return true
		}
	}
	return false
}

// hostSpan returns where the host of an absolute URL starts and ends: after
// "scheme://" and any "userinfo@", before any ":port". A URL without
// "scheme://" is taken to start with its host.
func hostSpan(url string) (start, end int) {
	i := 0
	for i < len(url) && isSchemeChar(url[i]) {
		i++
	}
	if strings.HasPrefix(url[i:], "://") {
		start = i + 3
	}
	colon := -1
	for end = start; end < len(url); end++ {
		switch url[end] {
		case '/', '?', '#':
			return hostPort(url, start, end, colon)
		case '@':
			start, colon = end+1, -1
		case ':':
			if colon < 0 {
				colon = end
			}
		}
	}
	return hostPort(url, start, end, colon)
}

// hostPort trims the port off the authority url[start:end], whose first
// ":" is at colon.
func hostPort(url string, start, end, colon int) (int, int) {
	if start < end && url[start] == '[' {
		if i := strings.IndexByte(url[start:end], ']'); i >= 0 {
			return start, start + i + 1
		}
		return start, end
	}
	if colon >= 0 {
		return start, colon
	}
	return start, end
}

// isSchemeChar reports whether c may appear in a URL scheme (RFC 3986
// §3.1: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )).
func isSchemeChar(c byte) bool {
	return isAlnum(c) || c == '+' || c == '-' || c == '.'
}
