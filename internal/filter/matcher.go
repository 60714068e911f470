package filter

import (
	"slices"
	"strings"
)

// Request is what Decide knows about one request.
type Request struct {
	URL     string // the absolute URL, "http://ads.example.com/x.js?a=1"; for CONNECT "https://host:port/" or ""
	Host    string // the host name without port, lower case; taken from URL when empty
	Site    string // the host of the page the request comes from (from Referer or Origin); "" when unknown
	Connect bool   // a CONNECT: only the host is known, so only host rules apply
}

// Decision is what Decide answers.
type Decision struct {
	Blocked bool
	// Rule is the rule that decided: the blocking rule, or the allow rule
	// or exception that saved the request from one. It is nil when no rule
	// of a block list matched; allow rules and exceptions are looked for
	// only then.
	Rule *Rule
}

// Matcher decides requests against compiled block and allow lists. It is
// immutable once SiteOf is set, and safe for concurrent use. A nil
// *Matcher blocks nothing.
//
// Precedence, highest first:
//
//  1. any rule of an allow list allows the request;
//  2. an Adblock $important rule of a block list blocks it;
//  3. an Adblock "@@" exception of a block list allows it;
//  4. any other rule of a block list blocks it.
//
// Allow rules and exceptions are looked for only when a block rule
// matched. Within each of the four, host rules (hosts entries, domain-list
// entries, "||host^") are tried first, the most specific host first, then
// pattern and regular-expression rules; Decision.Rule is the first that
// matched.
type Matcher struct {
	// SiteOf returns the registrable domain of a host name ("example.co.uk"
	// for "www.example.co.uk"). A request is third-party when SiteOf of its
	// host differs from SiteOf of its Site. nil means RegistrableDomain, an
	// approximation; a caller with a public-suffix list may plug it in
	// here. Set SiteOf before the first Decide and not after; it must be
	// safe for concurrent use and, for Decide not to allocate, not allocate.
	SiteOf func(host string) string

	sets [classes]ruleSet
}

// The rule classes, in order of precedence.
const (
	allowClass = iota
	importantClass
	exceptionClass
	blockClass
	classes
)

// ruleSet is one class of rules, indexed.
type ruleSet struct {
	hosts hostIndex
	nets  netIndex
}

func (s *ruleSet) match(c *ctx) *Rule {
	if r := s.hosts.match(c); r != nil {
		return r
	}
	if c.connect {
		return nil
	}
	return s.nets.match(c)
}

// Compile indexes block and allow lists into a Matcher. Every rule of an
// allow list is an allow rule, whatever its format ("@@" or not), and is
// reported with Rule.Allow set; $important means nothing there. The lists
// are not changed and may be compiled again.
func Compile(block, allow []*List) *Matcher {
	var hosts [classes][]*hostRule
	var nets [classes][]*netRule
	for _, l := range allow {
		l = l.asAllow()
		for i := range l.hosts {
			hosts[allowClass] = append(hosts[allowClass], &l.hosts[i])
		}
		for i := range l.nets {
			nets[allowClass] = append(nets[allowClass], &l.nets[i])
		}
	}
	for _, l := range block {
		for i := range l.hosts {
			r := &l.hosts[i]
			hosts[classOf(r.flags)] = append(hosts[classOf(r.flags)], r)
		}
		for i := range l.nets {
			r := &l.nets[i]
			nets[classOf(r.flags)] = append(nets[classOf(r.flags)], r)
		}
	}
	m := &Matcher{}
	for i := range m.sets {
		m.sets[i] = ruleSet{newHostIndex(hosts[i]), newNetIndex(nets[i])}
	}
	return m
}

func classOf(fl ruleFlags) int {
	switch {
	case fl&exception != 0:
		return exceptionClass
	case fl&important != 0:
		return importantClass
	}
	return blockClass
}

// asAllow returns a copy of l whose rules are allow rules.
func (l *List) asAllow() *List {
	c := *l
	c.hosts, c.nets = slices.Clone(l.hosts), slices.Clone(l.nets)
	copies := make(map[*Rule]*Rule)
	allow := func(r *Rule) *Rule {
		a, ok := copies[r]
		if !ok {
			a = new(Rule)
			*a = *r
			a.Allow = true
			copies[r] = a
		}
		return a
	}
	for i := range c.hosts {
		c.hosts[i].rule = allow(c.hosts[i].rule)
	}
	for i := range c.nets {
		c.nets[i].rule = allow(c.nets[i].rule)
	}
	return &c
}

// Decide decides one request by the precedence documented at Matcher. It
// does not allocate unless q.Host or q.Site holds upper-case letters,
// SiteOf allocates, or the URL repeats more than 16 distinct keys of rules
// that are matched against the whole URL (see netIndex).
func (m *Matcher) Decide(q *Request) Decision {
	if m == nil || q == nil {
		return Decision{}
	}
	c := ctx{siteOf: m.SiteOf, url: q.URL, host: q.Host, site: normalHost(q.Site), connect: q.Connect, ascii: true}
	c.hostStart, c.hostEnd = hostSpan(q.URL)
	if c.host == "" {
		c.host = strings.Trim(q.URL[c.hostStart:c.hostEnd], "[]")
	}
	c.host = normalHost(c.host)
	for i := 0; i < len(q.URL); i++ {
		if q.URL[i] >= 0x80 {
			c.ascii = false
			break
		}
	}
	r := m.sets[importantClass].match(&c)
	important := r != nil
	if !important {
		if r = m.sets[blockClass].match(&c); r == nil {
			return Decision{}
		}
	}
	if a := m.sets[allowClass].match(&c); a != nil {
		return Decision{Rule: a}
	}
	if !important {
		if e := m.sets[exceptionClass].match(&c); e != nil {
			return Decision{Rule: e}
		}
	}
	return Decision{Blocked: true, Rule: r}
}

// normalHost lower-cases a host name and drops a trailing dot.
func normalHost(h string) string {
	if len(h) > 0 && h[len(h)-1] == '.' {
		h = h[:len(h)-1]
	}
	for i := 0; i < len(h); i++ {
		if 'A' <= h[i] && h[i] <= 'Z' {
			return strings.ToLower(h)
		}
	}
	return h
}

// ctx is one Decide call's view of its request.
type ctx struct {
	siteOf             func(string) string
	url, host, site    string
	connect            bool
	ascii              bool // url holds no byte >= 0x80
	hostStart, hostEnd int  // the host within url
	party              party
}

type party uint8

const (
	partyUnset party = iota
	partyUnknown
	partyFirst
	partyThird
)

// allows reports whether a rule's $third-party and $domain= options let it
// apply to the request.
func (c *ctx) allows(fl ruleFlags, dom *siteDomains) bool {
	if fl&(firstParty|thirdParty) != 0 {
		if c.party == partyUnset {
			c.party = c.whichParty()
		}
		if c.party == partyUnknown || (c.party == partyThird) != (fl&thirdParty != 0) {
			return false
		}
	}
	return dom == nil || dom.match(c.site)
}

func (c *ctx) whichParty() party {
	if c.site == "" || c.host == "" {
		return partyUnknown
	}
	siteOf := c.siteOf
	if siteOf == nil {
		siteOf = RegistrableDomain
	}
	if siteOf(c.host) == siteOf(c.site) {
		return partyFirst
	}
	return partyThird
}
