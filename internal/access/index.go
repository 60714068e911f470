package access

import (
	"net/netip"
	"slices"
)

// hostIndex finds the rules whose Hosts condition holds for a host with a
// few map lookups, whatever the number of patterns: one for the host and
// one for each of its parent domains. Without it, Decide compares the host
// with every pattern of every rule it tries.
type hostIndex struct {
	names map[string][]posting     // keyed by pattern name
	addrs map[netip.Addr][]posting // keyed by IP literal
	plain []int32                  // the rules without a Hosts condition, in order
}

// posting says that rule has patterns of the given kinds for a key.
type posting struct {
	rule  int32
	kinds uint8 // 1<<hostExact | 1<<hostDomain | 1<<hostSub
}

const (
	// indexMin is the number of host patterns from which Compile builds a
	// hostIndex. Below about 8, comparing with each pattern is faster; at
	// 16 the index takes 120 ns and comparing 190 ns; at 200, 130 ns
	// against 3 µs (BenchmarkDecide/hosts=200).
	indexMin = 12
	// maxIndexed is the number of rules with a matching Hosts condition a
	// lookup collects on the stack; a host matching more falls back to
	// comparing patterns.
	maxIndexed = 64
)

// newHostIndex indexes the Hosts conditions of rules, or returns nil when
// they hold fewer than least patterns.
func newHostIndex(rules []rule, least int) *hostIndex {
	n := 0
	for i := range rules {
		n += len(rules[i].hosts)
	}
	if n < least {
		return nil
	}
	x := &hostIndex{names: make(map[string][]posting), addrs: make(map[netip.Addr][]posting)}
	add := func(ps []posting, rule int32, kind hostKind) []posting {
		// Rules are added in order, so a rule's posting, if any, is last.
		if k := len(ps) - 1; k >= 0 && ps[k].rule == rule {
			ps[k].kinds |= 1 << kind
			return ps
		}
		return append(ps, posting{rule, 1 << kind})
	}
	for i := range rules {
		r := int32(i)
		if rules[i].hosts == nil {
			x.plain = append(x.plain, r)
			continue
		}
		for _, p := range rules[i].hosts {
			if p.addr.IsValid() {
				x.addrs[p.addr] = add(x.addrs[p.addr], r, hostExact)
			} else {
				x.names[p.name] = add(x.names[p.name], r, p.kind)
			}
		}
	}
	return x
}

// lookup appends to out, in ascending order and once each, the rules whose
// Hosts condition holds for h, and reports true; or reports false when h
// is longer than a name can be (RFC 1035 §2.3.4) or matches more than
// cap(out) rules, and the caller must compare patterns instead.
func (x *hostIndex) lookup(h *host, out []int32) ([]int32, bool) {
	if !h.valid {
		return out, true
	}
	if h.addr.IsValid() {
		return collect(out, x.addrs[h.addr], 1<<hostExact)
	}
	if len(h.name) > 253 {
		return out, false
	}
	// The keys are lower case; indexing a map with string(b) of a byte
	// slice b does not allocate.
	var buf [253]byte
	b := buf[:copy(buf[:], h.name)]
	if h.fold {
		for i, c := range b {
			if 'A' <= c && c <= 'Z' {
				b[i] = c + 'a' - 'A'
			}
		}
	}
	const self, sub = 1<<hostExact | 1<<hostDomain, 1<<hostDomain | 1<<hostSub
	out, ok := collect(out, x.names[string(b)], self)
	for i := 0; ok && i < len(b); i++ {
		if b[i] == '.' {
			out, ok = collect(out, x.names[string(b[i+1:])], sub)
		}
	}
	if !ok {
		return out, false
	}
	if len(out) > 1 {
		slices.Sort(out)
		out = slices.Compact(out)
	}
	return out, true
}

// collect appends the rules of ps having one of kinds, and reports false
// when out would grow past its capacity.
func collect(out []int32, ps []posting, kinds uint8) ([]int32, bool) {
	for _, p := range ps {
		if p.kinds&kinds == 0 {
			continue
		}
		if len(out) == cap(out) {
			return out, false
		}
		out = append(out, p.rule)
	}
	return out, true
}
