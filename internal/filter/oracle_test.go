package filter

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// oracle decides requests the slow and obvious way, as a reference for the
// Matcher's indexes: every rule is tried, host rules by comparing strings,
// Adblock patterns by translating them into regular expressions.
type oracle struct {
	rules [classes][]any // *hostRule or *netRule
	re    map[*netRule]*regexp.Regexp
}

func newOracle(block, allow []*List) *oracle {
	o := &oracle{re: make(map[*netRule]*regexp.Regexp)}
	add := func(l *List, class func(ruleFlags) int) {
		for i := range l.hosts {
			r := &l.hosts[i]
			o.rules[class(r.flags)] = append(o.rules[class(r.flags)], r)
		}
		for i := range l.nets {
			r := &l.nets[i]
			o.rules[class(r.flags)] = append(o.rules[class(r.flags)], r)
			if r.re == nil {
				o.re[r] = patternRegexp(r)
			}
		}
	}
	for _, l := range allow {
		add(l, func(ruleFlags) int { return allowClass })
	}
	for _, l := range block {
		add(l, classOf)
	}
	return o
}

// patternRegexp translates an Adblock pattern, to be matched against a URL
// in which bytes of non-ASCII characters have been replaced by \x01 and,
// unless the rule is match-case, letters lowered.
func patternRegexp(r *netRule) *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`(?s)`)
	if r.flags&(anchorStart|anchorHost) != 0 {
		b.WriteString(`\A`)
	}
	for _, c := range []byte(r.pat) {
		switch c {
		case '*':
			b.WriteString(`.*`)
		case '^':
			b.WriteString(`(?:[^a-zA-Z0-9_\-.%]|\z)`)
		default:
			b.WriteString(regexp.QuoteMeta(string(rune(c))))
		}
	}
	if r.flags&anchorEnd != 0 {
		b.WriteString(`\z`)
	}
	return regexp.MustCompile(b.String())
}

// oracleURL prepares a URL for patternRegexp.
func oracleURL(u string, fold bool) string {
	b := []byte(u)
	for i, c := range b {
		switch {
		case c >= 0x80:
			b[i] = 1
		case fold && 'A' <= c && c <= 'Z':
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func (o *oracle) matches(class int, q *Request) []*Rule {
	hs, he := hostSpan(q.URL)
	host := q.Host
	if host == "" {
		host = strings.Trim(q.URL[hs:he], "[]")
	}
	host, site := normalHost(host), normalHost(q.Site)
	allows := func(fl ruleFlags, dom *siteDomains) bool {
		if fl&(firstParty|thirdParty) != 0 {
			if site == "" || host == "" {
				return false
			}
			if third := RegistrableDomain(host) != RegistrableDomain(site); third != (fl&thirdParty != 0) {
				return false
			}
		}
		if dom == nil {
			return true
		}
		if site == "" {
			return false
		}
		best, bestLen := !dom.include, -1
		for _, e := range dom.list {
			if (site == e.name || strings.HasSuffix(site, "."+e.name)) && len(e.name) > bestLen {
				best, bestLen = !e.exclude, len(e.name)
			}
		}
		return best
	}
	var got []*Rule
	for _, r := range o.rules[class] {
		switch r := r.(type) {
		case *hostRule:
			exact := host == r.host
			sub := len(host) > len(r.host) && strings.HasSuffix(host, r.host) && host[len(host)-len(r.host)-1] == '.'
			covers := r.mode == exactHost && exact || r.mode == subdomains && sub || r.mode == hostAndSubdomains && (exact || sub)
			if covers && allows(r.flags, r.dom) {
				got = append(got, r.rule)
			}
		case *netRule:
			if q.Connect || !allows(r.flags, r.dom) {
				continue
			}
			if r.re != nil {
				if r.re.MatchString(q.URL) {
					got = append(got, r.rule)
				}
				continue
			}
			u := oracleURL(q.URL, r.flags&matchCase == 0)
			re := o.re[r]
			if r.flags&anchorHost == 0 {
				if re.MatchString(u) {
					got = append(got, r.rule)
				}
				continue
			}
			for p := hs; p < he; p++ {
				if (p == hs || u[p-1] == '.') && re.MatchString(u[p:]) {
					got = append(got, r.rule)
					break
				}
			}
		}
	}
	return got
}

// decide returns whether the oracle blocks q and the rules that could have
// decided it, by the precedence documented at Matcher.
func (o *oracle) decide(q *Request) (bool, []*Rule) {
	b := o.matches(importantClass, q)
	important := b != nil
	if !important {
		if b = o.matches(blockClass, q); b == nil {
			return false, nil
		}
	}
	if r := o.matches(allowClass, q); r != nil {
		return false, r
	}
	if r := o.matches(exceptionClass, q); r != nil && !important {
		return false, r
	}
	return true, b
}

// agree checks that m decides q as the oracle does.
func agree(t testing.TB, m *Matcher, o *oracle, q *Request) {
	t.Helper()
	d := m.Decide(q)
	blocked, rules := o.decide(q)
	same := func(r *Rule) bool { return r.List == d.Rule.List && r.Line == d.Rule.Line && r.Text == d.Rule.Text }
	if d.Blocked != blocked || (d.Rule == nil) != (rules == nil) || d.Rule != nil && !slices.ContainsFunc(rules, same) {
		var want []string
		for _, r := range rules {
			want = append(want, r.Text)
		}
		t.Fatalf("%+v: got %q, want blocked %v by one of %q", *q, describe(d), blocked, want)
	}
}

func TestOracleBigLists(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: tries every rule of the big lists for each request")
	}
	lists := big()
	el := parse(t, Adblock, string(lists.easyList))
	hf := parse(t, Hosts, string(lists.hosts))
	m, o := Compile([]*List{el, hf}, nil), newOracle([]*List{el, hf}, nil)
	qs := requests(5, 64, lists.listed, lists.hostNames)
	blocked := 0
	for i := range qs {
		agree(t, m, o, &qs[i])
		if m.Decide(&qs[i]).Blocked {
			blocked++
		}
	}
	if blocked == 0 || blocked == len(qs) {
		t.Errorf("got %d of %d requests blocked, want a mix", blocked, len(qs))
	}
}

// TestOracleRandom compares the Matcher with the oracle on random rules
// and URLs over a small alphabet, so that rules and URLs overlap often.
func TestOracleRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	pick := func(s string) byte { return s[r.IntN(len(s))] }
	word := func(alphabet string, n int) string {
		b := make([]byte, 1+r.IntN(n))
		for i := range b {
			b[i] = pick(alphabet)
		}
		return string(b)
	}
	for round := range 200 {
		var text strings.Builder
		for range 30 {
			if r.IntN(4) == 0 {
				text.WriteString("@@")
			}
			switch r.IntN(6) {
			case 0:
				text.WriteString("||")
			case 1:
				text.WriteString("|")
			}
			text.WriteString(word("abAB/.-_^*9", 8))
			if r.IntN(5) == 0 {
				text.WriteString("|")
			}
			opts := []string{"", "", "", "$important", "$third-party", "$~third-party", "$match-case", "$domain=a.b|~x.a.b"}
			text.WriteString(opts[r.IntN(len(opts))] + "\n")
		}
		text.WriteString("/a[b.]+9/\n||a.b^\n")
		l := parse(t, Adblock, text.String())
		m, o := Compile([]*List{l}, nil), newOracle([]*List{l}, nil)
		for range 100 {
			host := word("abA.", 6)
			authority := []string{host, host, host + ":80", "a@" + host, "[::1]"}[r.IntN(5)]
			q := Request{URL: fmt.Sprintf("%s://%s/%s", []string{"http", "https", "ab"}[r.IntN(3)], authority, word("abAB/.-_9?&%\xe9", 20))}
			if r.IntN(3) == 0 {
				q.Host = strings.ToLower(host)
			}
			q.Site = []string{"", "a.b", "x.a.b", "b.a", host}[r.IntN(5)]
			q.Connect = r.IntN(10) == 0
			if t.Failed() {
				t.Fatalf("round %d", round)
			}
			agree(t, m, o, &q)
		}
	}
}
