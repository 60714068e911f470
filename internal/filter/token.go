package filter

// Tokens index pattern rules. A token is a maximal run of ASCII letters and
// digits, compared case-insensitively. A pattern's token is usable for
// indexing when the pattern guarantees it is a whole run in every URL it
// matches: bounded on both sides by a literal non-alphanumeric character, a
// "^", an anchor, or the end of the pattern when anchored there. "/ads/"
// guarantees the run "ads"; "banner*" does not guarantee "banner" (the URL
// may hold "banner2"). A URL's runs are hashed the same way, so a rule is a
// candidate for a URL only if the URL holds its token.
//
// Rules without a usable token are indexed by a gram: three consecutive
// literal bytes of the pattern, which any matching URL holds too.

// FNV-1a, 64 bits.
const (
	fnvOffset uint64 = 14695981039346656037
	fnvPrime  uint64 = 1099511628211
)

var (
	alnumTab = func() (t [256]bool) {
		for c := range 256 {
			t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		}
		return t
	}()
	lowerTab = func() (t [256]byte) {
		for c := range 256 {
			t[c] = byte(c)
			if 'A' <= c && c <= 'Z' {
				t[c] += 'a' - 'A'
			}
		}
		return t
	}()
)

func isAlnum(c byte) bool { return alnumTab[c] }

// tokenHash returns the hash of the token s, case folded.
func tokenHash(s string) uint64 {
	h := fnvOffset
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(lowerTab[s[i]])) * fnvPrime
	}
	return h
}

// patternTokens calls yield with each usable token of a pattern, its
// offset in the pattern and its length.
func patternTokens(pat string, fl ruleFlags, yield func(h uint64, at, n int)) {
	for i := 0; i < len(pat); {
		if !isAlnum(pat[i]) {
			i++
			continue
		}
		j := i
		for j < len(pat) && isAlnum(pat[j]) {
			j++
		}
		left := i > 0 && pat[i-1] != '*' || i == 0 && fl&(anchorHost|anchorStart) != 0
		right := j < len(pat) && pat[j] != '*' || j == len(pat) && fl&anchorEnd != 0
		if left && right {
			yield(tokenHash(pat[i:j]), i, j-i)
		}
		i = j
	}
}

// gram packs three bytes, case folded.
func gram(a, b, c byte) uint32 {
	return uint32(lowerTab[a])<<16 | uint32(lowerTab[b])<<8 | uint32(lowerTab[c])
}

// patternGrams calls yield with each run of three literal bytes ("*" and
// "^" are not literal) of a pattern, and its offset.
func patternGrams(pat string, yield func(g uint32, at int)) {
	run := 0
	for i := 0; i < len(pat); i++ {
		if pat[i] == '*' || pat[i] == '^' {
			run = 0
			continue
		}
		if run++; run >= 3 {
			yield(gram(pat[i-2], pat[i-1], pat[i]), i-2)
		}
	}
}

// commonTokens appear in most URLs; a rule indexed by one of them would be
// a candidate for most requests, so they are chosen only as a last resort.
var commonTokens = func() map[uint64]bool {
	m := make(map[uint64]bool)
	for _, s := range []string{
		"http", "https", "www", "com", "net", "org", "html", "htm", "php",
		"js", "css", "jpg", "jpeg", "png", "gif", "svg", "webp", "json",
		"cdn", "static", "assets", "img", "images", "min", "api", "v1", "v2",
	} {
		m[tokenHash(s)] = true
	}
	return m
}()

// tokenCost ranks a token for indexing a rule: rarer among the rules is
// better, short and common ones are worse.
func tokenCost(h uint64, n int, freq int32) int64 {
	c := int64(freq)
	switch {
	case n == 1:
		c *= 16
	case n == 2:
		c *= 4
	}
	if commonTokens[h] {
		c += 1 << 30
	}
	return c
}

// bloom is a Bloom filter with one probe and 16 bits per key: it answers
// "certainly not here" for about 15 of 16 absent keys with one memory read,
// before a map lookup.
type bloom struct {
	bits  []uint64
	shift uint // a hash's bit is hash >> shift
}

func newBloom(keys int) bloom {
	n := uint(6) // log2 of the number of bits
	for 1<<n < 16*keys {
		n++
	}
	return bloom{make([]uint64, 1<<(n-6)), 64 - n}
}

func (b *bloom) set(h uint64) {
	i := h >> b.shift
	b.bits[i>>6] |= 1 << (i & 63)
}

func (b *bloom) has(h uint64) bool {
	i := h >> b.shift
	return b.bits[i>>6]&(1<<(i&63)) != 0
}

// gramHash spreads a gram's 24 bits over 64, for bloom.
func gramHash(g uint32) uint64 { return uint64(g) * 0x9e3779b97f4a7c15 }
