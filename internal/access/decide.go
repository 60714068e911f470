package access

import (
	"math/bits"
	"net/netip"
)

// Request is what the rules look at in a request.
type Request struct {
	User   string     // the authenticated user name; "" when not authenticated
	Client netip.Addr // the client's address
	Method string     // the request method, as sent
	Host   string     // the host as in the request, without port; lower case is fastest
	Port   int        // the destination port
}

// Decision is the outcome of Decide for one request. It refers to the List
// it came from, so it stays valid, and consistent, when that List is
// replaced by a reload. The zero Decision denies.
type Decision struct {
	list *List
	// dest has bit i set when List.destRules[i] matched the request on
	// everything but Dest and comes before the deciding rule.
	dest uint64
	// rule is the index of the deciding rule plus one; 0 means the default.
	rule  int32
	allow bool
	need  bool
	// more is set when a Dest rule past the 64 that dest can record
	// matched before the deciding rule; CheckAddr then matches the rules
	// past 64 against q, a copy of the request kept only in that case.
	more bool
	q    Request
}

// Decide decides q on every condition except Dest. q is not retained.
// Decide on a nil List allows. It does not allocate.
func (l *List) Decide(q *Request) Decision {
	if l == nil {
		return Decision{allow: true}
	}
	w := walk{d: Decision{list: l, allow: l.defaultAllow}, q: q, client: normalAddr(q.Client)}
	if l.hasHosts {
		w.host = prepareHost(q.Host)
	}
	if x := l.index; x != nil {
		var buf [maxIndexed]int32
		if hits, ok := x.lookup(&w.host, buf[:0]); ok {
			// Try, in order, the rules without a Hosts condition and
			// those whose Hosts condition the index says holds.
			plain, i, j := x.plain, 0, 0
			for i < len(plain) || j < len(hits) {
				var k int32
				if j == len(hits) || i < len(plain) && plain[i] < hits[j] {
					k, i = plain[i], i+1
				} else {
					k, j = hits[j], j+1
				}
				if w.try(int(k), true) {
					break
				}
			}
			return w.done()
		}
	}
	for i := range l.rules {
		if w.try(i, false) {
			break
		}
	}
	return w.done()
}

// walk is the state of one Decide.
type walk struct {
	d                   Decision
	q                   *Request
	host                host
	client              netip.Addr // normal
	destAllow, destDeny bool       // a Dest rule matched that allows, that denies
}

// try tries rule i, whose Hosts condition is known to hold when hostOK is
// set, and reports whether it decided.
func (w *walk) try(i int, hostOK bool) bool {
	l := w.d.list
	r := &l.rules[i]
	if !r.match(w.q, &w.host, w.client, hostOK) {
		return false
	}
	if r.dest == nil {
		w.d.rule, w.d.allow = int32(i+1), r.allow
		return true
	}
	if r.destOrd < 64 {
		w.d.dest |= 1 << r.destOrd
	} else if !w.d.more {
		w.d.more, w.d.q = true, *w.q
	}
	w.destAllow = w.destAllow || r.allow
	w.destDeny = w.destDeny || !r.allow
	return false
}

func (w *walk) done() Decision {
	w.d.need = w.d.allow && w.destDeny || !w.d.allow && w.destAllow
	return w.d
}

// match reports whether r's conditions other than Dest hold for q, whose
// host is h and whose client address (normal) is client. The Hosts
// condition is taken to hold when hostOK is set.
func (r *rule) match(q *Request, h *host, client netip.Addr, hostOK bool) bool {
	if r.users != nil && !r.users.match(q.User) {
		return false
	}
	if r.methods != nil && !matchMethod(r.methods, q.Method) {
		return false
	}
	if r.ports != nil && !matchPort(r.ports, q.Port) {
		return false
	}
	if r.clients != nil && !anyContains(r.clients, client) {
		return false
	}
	if r.hosts != nil && !hostOK && !matchHost(r.hosts, h) {
		return false
	}
	return true
}

func matchMethod(ms []string, m string) bool {
	for _, x := range ms {
		if x == m {
			return true
		}
	}
	return false
}

func matchPort(ps []portRange, p int) bool {
	for _, r := range ps {
		if r.lo <= p && p <= r.hi {
			return true
		}
	}
	return false
}

func matchHost(ps []hostPattern, h *host) bool {
	if !h.valid {
		return false
	}
	for i := range ps {
		if ps[i].match(h) {
			return true
		}
	}
	return false
}

// NeedAddrs reports whether the verdict depends on the addresses the host
// resolves to: a rule with a Dest condition, before the deciding rule,
// matched on everything else and has the opposite verdict. Each address
// must then be checked with CheckAddr.
func (d Decision) NeedAddrs() bool { return d.need }

// Allowed reports the verdict. When NeedAddrs is true it is only the
// verdict for an address no earlier Dest condition holds; use CheckAddr.
func (d Decision) Allowed() bool { return d.allow }

// Rule returns the Name of the deciding rule, or "" when the default
// decided. That is the first matching rule without a Dest condition; when
// NeedAddrs is false an earlier Dest rule of the same verdict may hold
// some addresses, and CheckAddr names it for those.
func (d Decision) Rule() string {
	if d.list == nil || d.rule == 0 {
		return ""
	}
	return d.list.rules[d.rule-1].name
}

// CheckAddr decides the request for one address its host resolved to: the
// first rule that matched in Decide and either has no Dest condition or has
// one holding a decides. It returns the verdict and the Name of that rule
// ("" for the default). a is compared without its zone, unmapped, and also
// as the IPv4 address it embeds (see the package comment). An invalid a is
// in no range. CheckAddr does not allocate.
func (d Decision) CheckAddr(a netip.Addr) (allowed bool, rule string) {
	if d.dest == 0 && !d.more {
		return d.allow, d.Rule()
	}
	l := d.list
	a = normalAddr(a)
	v4, embedded := embeddedIPv4(a)
	for set := d.dest; set != 0; set &= set - 1 {
		r := &l.rules[l.destRules[bits.TrailingZeros64(set)]]
		if r.dest.contains(a, v4, embedded) {
			return r.allow, r.name
		}
	}
	if d.more {
		end := len(l.rules)
		if d.rule > 0 {
			end = int(d.rule - 1)
		}
		h := prepareHost(d.q.Host)
		client := normalAddr(d.q.Client)
		for _, i := range l.destRules[64:] {
			if int(i) >= end {
				break
			}
			r := &l.rules[i]
			if r.match(&d.q, &h, client, false) && r.dest.contains(a, v4, embedded) {
				return r.allow, r.name
			}
		}
	}
	return d.allow, d.Rule()
}
