package filter

import "slices"

// netIndex finds pattern and regular-expression rules by a key the URL
// must hold: a token (see token.go), or for rules without one a gram.
// Rules with neither are tried for every URL.
//
// Work per request is kept near linear in the URL, whatever the URL:
//
//   - A pattern whose key lies in its first segment (before any "*") can
//     match only with that segment placed relative to an occurrence of the
//     key, so it is indexed with the key's offset (at) and its first segment
//     is checked at each occurrence, costing the segment's length. The rest
//     of the pattern is matched, from the end of the first segment, at most
//     once per request: what follows a "*" matches from an earlier place if
//     it matches from a later one, and occurrences are visited in order.
//   - Any other rule (its key after a "*", a regular expression) is matched
//     against the whole URL at most once per request, however often the URL
//     repeats its key.
type netIndex struct {
	tokens  keyIndex[uint64]
	grams   keyIndex[uint32]
	rules   []*netRule
	next    []int32    // next rule with the same key and kind, or -1
	at      []int32    // offset of the key in the pattern, for rules checked in place
	any     []*netRule // no usable token or gram
	regexes []*netRule // every regular expression, for URLs with non-ASCII bytes
}

// keyIndex maps a key to the first of a chain of rules.
type keyIndex[K uint64 | uint32] struct {
	inPlace map[K]int32 // rules checked where the URL holds the key
	whole   map[K]int32 // rules checked against the whole URL
	bits    bloom       // keys of either map, to skip most lookups
}

// add puts rule i first in the chain of key; n is how many rules the index
// will hold.
func (k *keyIndex[K]) add(key K, hash uint64, i int32, inPlace bool, next []int32, n int) {
	if k.inPlace == nil {
		k.inPlace, k.whole, k.bits = make(map[K]int32), make(map[K]int32), newBloom(n)
	}
	m := k.whole
	if inPlace {
		m = k.inPlace
	}
	next[i] = -1
	if h, ok := m[key]; ok {
		next[i] = h
	}
	m[key] = i
	k.bits.set(hash)
}

func newNetIndex(rules []*netRule) netIndex {
	x := netIndex{rules: rules, next: make([]int32, len(rules)), at: make([]int32, len(rules))}
	// How many rules could use each token: rarer tokens select fewer
	// candidates.
	freq := make(map[uint64]int32)
	for _, r := range rules {
		r.eachToken(func(h uint64, _, _ int) { freq[h]++ })
		if r.re != nil {
			x.regexes = append(x.regexes, r)
		}
	}
	type choice struct {
		key  uint64 // token hash or gram
		kind uint8
		at   int
	}
	const byToken, byGram = 1, 2
	chosen := make([]choice, len(rules))
	var gramless []int
	for i, r := range rules {
		ch, cost, length := &chosen[i], int64(-1), 0
		r.eachToken(func(h uint64, at, n int) {
			if c := tokenCost(h, n, freq[h]); cost < 0 || c < cost || c == cost && n > length {
				*ch, cost, length = choice{h, byToken, at}, c, n
			}
		})
		if cost < 0 {
			gramless = append(gramless, i)
		}
	}
	gfreq := make(map[uint32]int32)
	for _, i := range gramless {
		rules[i].eachGram(func(g uint32, _ int) { gfreq[g]++ })
	}
	for _, i := range gramless {
		ch, n := &chosen[i], int32(-1)
		rules[i].eachGram(func(g uint32, at int) {
			if n < 0 || gfreq[g] < n {
				*ch, n = choice{uint64(g), byGram, at}, gfreq[g]
			}
		})
	}
	var tokens, grams int
	for _, ch := range chosen {
		switch ch.kind {
		case byToken:
			tokens++
		case byGram:
			grams++
		}
	}
	for i := len(rules) - 1; i >= 0; i-- { // backwards, so that chains run forwards
		ch, r := chosen[i], rules[i]
		inPlace := r.re == nil && ch.at < int(r.star)
		x.at[i] = int32(ch.at)
		switch ch.kind {
		case byToken:
			x.tokens.add(ch.key, ch.key, int32(i), inPlace, x.next, tokens)
		case byGram:
			x.grams.add(uint32(ch.key), gramHash(uint32(ch.key)), int32(i), inPlace, x.next, grams)
		default:
			x.any = append(x.any, r)
		}
	}
	slices.Reverse(x.any)
	return x
}

// eachToken calls yield with each usable token of the rule, its offset in
// the pattern (-1 for a regular expression) and its length.
func (r *netRule) eachToken(yield func(h uint64, at, n int)) {
	if r.re != nil {
		for _, h := range r.keys.tokens {
			yield(h, -1, 3)
		}
		return
	}
	patternTokens(r.pat, r.flags, yield)
}

// eachGram calls yield with each gram of the rule and its offset in the
// pattern (-1 for a regular expression).
func (r *netRule) eachGram(yield func(g uint32, at int)) {
	if r.re != nil {
		for _, g := range r.keys.grams {
			yield(g, -1)
		}
		return
	}
	patternGrams(r.pat, yield)
}

// match returns the first rule that matches the request, trying those the
// URL's tokens select, then its grams, then the rules without either; or
// nil.
//
// A case-insensitive regular expression may match non-ASCII letters its
// keys do not cover (see keysOf), so for a URL with non-ASCII bytes the
// regular expressions are all tried instead of those the index selects.
func (x *netIndex) match(c *ctx) *Rule {
	u := c.url
	var seen keySet   // keys whose whole-URL rules were checked
	var rested keySet // in-place rules whose rest was matched
	if x.tokens.inPlace != nil {
		for i := 0; i < len(u); {
			if !isAlnum(u[i]) {
				i++
				continue
			}
			h, start := fnvOffset, i
			for ; i < len(u) && isAlnum(u[i]); i++ {
				h = (h ^ uint64(lowerTab[u[i]])) * fnvPrime
			}
			if !x.tokens.bits.has(h) {
				continue
			}
			if r := lookup(x, &x.tokens, h, c, start, &seen, &rested); r != nil {
				return r
			}
		}
	}
	if x.grams.inPlace != nil && len(u) >= 3 {
		seen = keySet{}
		g := gram(0, u[0], u[1])
		for i := 2; i < len(u); i++ {
			g = (g<<8 | uint32(lowerTab[u[i]])) & 0xffffff
			if !x.grams.bits.has(gramHash(g)) {
				continue
			}
			if r := lookup(x, &x.grams, g, c, i-2, &seen, &rested); r != nil {
				return r
			}
		}
	}
	for _, r := range x.any {
		if (r.re == nil || c.ascii) && r.matches(c) {
			return r.rule
		}
	}
	if !c.ascii {
		for _, r := range x.regexes {
			if r.matches(c) {
				return r.rule
			}
		}
	}
	return nil
}

// lookup checks the rules indexed by key, which the URL holds at pos: the
// in-place rules there, and the whole-URL rules unless seen shows they
// were checked for an earlier occurrence. rested holds the in-place rules
// whose rest was matched (and failed) for an earlier occurrence.
func lookup[K uint64 | uint32](x *netIndex, k *keyIndex[K], key K, c *ctx, pos int, seen, rested *keySet) *Rule {
	for i, ok := k.inPlace[key]; ok && i >= 0; i = x.next[i] {
		r := x.rules[i]
		if !c.allows(r.flags, r.dom) {
			continue
		}
		e, rest, ok := r.matchFirst(c.url, pos-int(x.at[i]), c.hostStart, c.hostEnd)
		if ok && (rest == "" && (r.flags&anchorEnd == 0 || e == len(c.url)) ||
			rest != "" && rested.add(uint64(i)) && matchRest(rest, true, c.url, e, r.flags&anchorEnd != 0, r.flags&matchCase == 0)) {
			return r.rule
		}
	}
	i, ok := k.whole[key]
	if !ok || !seen.add(uint64(key)) {
		return nil
	}
	for ; i >= 0; i = x.next[i] {
		if r := x.rules[i]; (r.re == nil || c.ascii) && r.matches(c) {
			return r.rule
		}
	}
	return nil
}

// keySet is a set of keys, kept on the stack for the few keys of an
// ordinary URL.
type keySet struct {
	n     int
	small [16]uint64
	more  map[uint64]bool
}

// add adds k and reports whether it was new.
func (s *keySet) add(k uint64) bool {
	for _, v := range s.small[:s.n] {
		if v == k {
			return false
		}
	}
	if s.n < len(s.small) {
		s.small[s.n] = k
		s.n++
		return true
	}
	if s.more == nil {
		s.more = make(map[uint64]bool)
	}
	if s.more[k] {
		return false
	}
	s.more[k] = true
	return true
}

// matches reports whether the rule's options allow the request and its
// pattern matches the URL.
func (r *netRule) matches(c *ctx) bool {
	if !c.allows(r.flags, r.dom) {
		return false
	}
	if r.re != nil {
		for _, lit := range r.keys.lits {
			if c.ascii && !containsFold(c.url, lit) {
				return false
			}
		}
		return r.re.MatchString(c.url)
	}
	return r.matchURL(c.url, c.hostStart, c.hostEnd)
}

// firstStar returns the index of the first "*" in pat, or len(pat).
func firstStar(pat string) int {
	for i := 0; i < len(pat); i++ {
		if pat[i] == '*' {
			return i
		}
	}
	return len(pat)
}
