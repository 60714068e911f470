package filter

import (
	"bytes"
	"strings"
	"sync"
	"testing"
)

// FuzzParse checks that any input parses in every format without panic,
// that the counts and rules it reports are consistent with the input, and
// that the rules decide requests as the oracle does.
func FuzzParse(f *testing.F) {
	f.Add([]byte("0.0.0.0 ads.example.com\n127.0.0.1 localhost\n"), uint8(Auto))
	f.Add([]byte("[Adblock Plus 2.0]\n||ads.example^$third-party\n@@/ok/$domain=a.example|~b.a.example\n"), uint8(Adblock))
	f.Add([]byte("example.com\n*.wild.example\n.both.example\n/^https?:\\/\\/x\\./\n"), uint8(Domains))
	f.Add([]byte("/ads\\d+/\n(\n"), uint8(Regex))
	f.Fuzz(func(t *testing.T, data []byte, format uint8) {
		l, err := ParseFormat("fuzz", bytes.NewReader(data), Format(format%5))
		if err != nil {
			t.Fatal(err)
		}
		st := l.Stats()
		lines := bytes.Count(data, []byte("\n")) + 1
		perLine := st.Domains + st.Network + st.Regexps + st.Invalid + st.Cosmetic + st.Skipped
		if min(st.Hosts, st.Domains, st.Network, st.Regexps, st.Exceptions, st.Invalid, st.Cosmetic, st.Skipped) < 0 || perLine > lines || st.Exceptions > st.Network+st.Regexps {
			t.Fatalf("stats %+v do not fit %d lines", st, lines)
		}
		if n := len(l.hosts) + len(l.nets); n != st.Rules() {
			t.Fatalf("got %d rules, stats say %d", n, st.Rules())
		}
		var qs []Request
		check := func(r *Rule) {
			if r.List != "fuzz" || r.Line < 1 || r.Line > lines || r.Text == "" || strings.ContainsAny(r.Text, "\n") {
				t.Fatalf("rule %+v is not a line of the %d-line input", r, lines)
			}
			if len(qs) < 8 {
				u := strings.Trim(r.Text, "|@*^$")
				qs = append(qs, Request{URL: "http://" + u, Site: "a.example"}, Request{URL: "https://" + u + "/", Connect: true})
			}
		}
		for i := range l.hosts {
			check(l.hosts[i].rule)
		}
		for i := range l.nets {
			check(l.nets[i].rule)
		}
		qs = append(qs,
			Request{URL: "http://example.com/", Host: "example.com"},
			Request{URL: "https://ads.example.com/banner/ad.gif?x=1&ad_type=2", Site: "news.example"},
			Request{URL: ""},
		)
		ascii := true
		for _, c := range data {
			ascii = ascii && c < 0x80
		}
		for _, c := range []struct{ block, allow []*List }{{[]*List{l}, nil}, {[]*List{l}, []*List{l}}} {
			m := Compile(c.block, c.allow)
			o := newOracle(c.block, c.allow)
			for i := range qs {
				d := m.Decide(&qs[i])
				if ascii {
					agree(t, m, o, &qs[i]) // the oracle reads ASCII patterns only
				}
				checkDecision(t, d)
			}
		}
	})
}

// checkDecision checks that a decision is consistent with its rule.
func checkDecision(t *testing.T, d Decision) {
	t.Helper()
	if d.Blocked && (d.Rule == nil || d.Rule.Allow) || !d.Blocked && d.Rule != nil && !d.Rule.Allow {
		t.Fatalf("got %q with Allow %v", describe(d), d.Rule != nil && d.Rule.Allow)
	}
}

// fuzzLists are the lists FuzzDecide decides against: one of each format,
// with every kind of rule, and an allow list.
var fuzzLists = sync.OnceValues(func() (*Matcher, *oracle) {
	must := func(f Format, text string) *List {
		l, err := ParseFormat("fuzz", strings.NewReader(text), f)
		if err != nil {
			panic(err)
		}
		return l
	}
	block := []*List{
		must(Hosts, "0.0.0.0 ads.example.com tracker.example.net\n"),
		must(Domains, "example.org\n*.wild.example\n.both.example\n/\\/x[0-9]+\\//\n"),
		must(Adblock, `||ads.example^
||tp.example^$third-party
||fp.example^$~third-party
||imp.example^$important
@@||imp.example^
@@||ads.example^$domain=friend.example|~no.friend.example
||example.com/ads/
|https://start.
.swf|
/banner/*/img^
&ad_type=
-ad-300x250.
adbanner
/Case/$match-case
/\/ad[sv]\/[0-9]+/
@@/banner/ok/*
a^^
||b*.c^d|
`),
		must(Regex, "tracking\\.js$\n"),
	}
	allow := []*List{must(Domains, "ok.ads.example\n")}
	return Compile(block, allow), newOracle(block, allow)
})

// FuzzDecide checks that Decide never panics on any request, agrees with
// the oracle, and reports a rule consistent with its decision.
func FuzzDecide(f *testing.F) {
	f.Add("http://ads.example/x.js", "ads.example", "friend.example", false)
	f.Add("https://example.com/ads/banner/x/img?x", "", "", false)
	f.Add("https://tp.example:443/", "tp.example", "", true)
	f.Fuzz(func(t *testing.T, url, host, site string, connect bool) {
		m, o := fuzzLists()
		q := &Request{URL: url, Host: host, Site: site, Connect: connect}
		d := m.Decide(q)
		checkDecision(t, d)
		agree(t, m, o, q)
	})
}
