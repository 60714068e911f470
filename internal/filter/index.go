package filter

import "regexp"

// hostMode says which hosts a host rule covers.
type hostMode uint8

const (
	exactHost         hostMode = iota // "example.com" in a hosts file or domain list
	subdomains                        // "*.example.com": its subdomains, not itself
	hostAndSubdomains                 // ".example.com", "||example.com^": both
)

// hostRule is a rule about a host name, answered by the host index. It is
// the only kind of rule that applies to CONNECT.
type hostRule struct {
	host  string // lower case
	mode  hostMode
	flags ruleFlags
	dom   *siteDomains
	rule  *Rule
}

// netRule is an Adblock pattern or a regular expression, matched against
// the whole URL.
type netRule struct {
	pat   string // without anchors; lower case unless matchCase
	star  int32  // index of the first "*" in pat, or len(pat)
	flags ruleFlags
	dom   *siteDomains
	re    *regexp.Regexp // a regular-expression rule; pat is unused
	keys  regexKeys      // what any URL re matches holds
	rule  *Rule
}

// hostIndex finds host rules by host name: it looks up the host itself
// and each parent domain. Keys are hashes of the names (revHash), computed
// for all of a host's suffixes in one pass from its end; a Bloom filter
// skips most lookups, and a hit is confirmed by comparing names. Rules with
// the same host are chained through next, in list order.
type hostIndex struct {
	head  map[uint64]int32
	bits  bloom // head's keys
	rules []*hostRule
	next  []int32
}

func newHostIndex(rules []*hostRule) hostIndex {
	x := hostIndex{head: make(map[uint64]int32, len(rules)), bits: newBloom(len(rules)), rules: rules, next: make([]int32, len(rules))}
	for i := len(rules) - 1; i >= 0; i-- { // backwards, so that chains run forwards
		h := revHash(rules[i].host)
		x.next[i] = -1
		if j, ok := x.head[h]; ok {
			x.next[i] = j
		}
		x.head[h] = int32(i)
		x.bits.set(h)
	}
	return x
}

// revHash is FNV-1a over the bytes of s from last to first, so that the
// hashes of all suffixes of a name come from one pass.
func revHash(s string) uint64 {
	h := fnvOffset
	for i := len(s) - 1; i >= 0; i-- {
		h = (h ^ uint64(s[i])) * fnvPrime
	}
	return h
}

// match returns the rule for the most specific name among c.host and its
// parent domains that a rule covers and whose options allow the request,
// or nil.
func (x *hostIndex) match(c *ctx) *Rule {
	if len(x.rules) == 0 {
		return nil
	}
	host := c.host
	var found *Rule
	h := fnvOffset
	for i := len(host) - 1; i >= 0; i-- {
		h = (h ^ uint64(host[i])) * fnvPrime
		if i > 0 && host[i-1] != '.' {
			continue
		}
		if !x.bits.has(h) {
			continue
		}
		exact := i == 0
		for j, ok := x.head[h]; ok && j >= 0; j = x.next[j] {
			r := x.rules[j]
			if r.host != host[i:] || r.mode == exactHost && !exact || r.mode == subdomains && exact {
				continue
			}
			if c.allows(r.flags, r.dom) {
				found = r.rule // a later, longer suffix is more specific
				break
			}
		}
	}
	return found
}
