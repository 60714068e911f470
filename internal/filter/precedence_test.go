package filter

import "testing"

func TestPrecedence(t *testing.T) {
	block := parse(t, Adblock, `||ads.example^
||imp.example^$important
@@||ads.example^$domain=friend.example
@@||imp.example^
/banner/
@@/banner/ok
`)
	hosts := parse(t, Hosts, "0.0.0.0 imp.example\n0.0.0.0 listed.example\n")
	allow := parse(t, Domains, "allowed.imp.example\nlisted.example\nfree.example\n")
	m := Compile([]*List{block, hosts}, []*List{allow})
	runMatch(t, m, []wantCase{
		// An exception beats a block.
		{get("http://ads.example/", "other.example"), "block ||ads.example^"},
		{get("http://ads.example/", "friend.example"), "allow @@||ads.example^$domain=friend.example"},
		{get("http://a.example/banner/1", ""), "block /banner/"},
		{get("http://a.example/banner/ok", ""), "allow @@/banner/ok"},
		// $important beats an exception, and is reported over a plain block.
		{get("http://imp.example/", ""), "block ||imp.example^$important"},
		// An allow list beats $important and every other list.
		{get("http://allowed.imp.example/", ""), "allow allowed.imp.example"},
		{get("http://listed.example/", ""), "allow listed.example"},
		// Nothing matched; an allow rule is reported only when it saved a
		// request from a block rule.
		{get("http://fine.example/", ""), ""},
		{get("http://free.example/", ""), ""},
	})
}

func TestRuleAllow(t *testing.T) {
	block := parse(t, Adblock, "||ads.example^\n@@||ok.ads.example^\n")
	allow := parse(t, Hosts, "0.0.0.0 allowed.ads.example also.ads.example\n")
	m := Compile([]*List{block}, []*List{allow})
	for _, tc := range []struct {
		host           string
		allow, blocked bool
	}{
		{"ads.example", false, true},
		{"ok.ads.example", true, false},
		{"allowed.ads.example", true, false},
		{"also.ads.example", true, false},
	} {
		d := m.Decide(&Request{URL: "http://" + tc.host + "/", Host: tc.host})
		if d.Rule == nil || d.Rule.Allow != tc.allow || d.Blocked != tc.blocked {
			t.Errorf("%s: got %q (allow %v), want allow %v", tc.host, describe(d), d.Rule != nil && d.Rule.Allow, tc.allow)
		}
	}
	// The two names of one hosts line share one rule in the allow list too.
	a := m.Decide(&Request{Host: "allowed.ads.example"}).Rule
	b := m.Decide(&Request{Host: "also.ads.example"}).Rule
	if a != b {
		t.Errorf("got two rules for one line, want one")
	}
	// Compiling a list as an allow list does not change it.
	if allow.hosts[0].rule.Allow {
		t.Error("the allow list's own rule was changed")
	}
}

func TestAllowListFormats(t *testing.T) {
	block := parse(t, Domains, ".example\n")
	for _, tc := range []struct {
		name   string
		format Format
		text   string
		want   string
	}{
		{"hosts", Hosts, "127.0.0.1 a.example", "allow 127.0.0.1 a.example"},
		{"domains", Domains, ".a.example", "allow .a.example"},
		{"adblock", Adblock, "||a.example^", "allow ||a.example^"},
		{"adblock exception", Adblock, "@@||a.example^", "allow @@||a.example^"},
		{"adblock important", Adblock, "||a.example^$important", "allow ||a.example^$important"},
		{"adblock path", Adblock, "/ok/", "allow /ok/"},
		{"regex", Regex, `/ok/`, "allow /ok/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := Compile([]*List{block}, []*List{parse(t, tc.format, tc.text)})
			runMatch(t, m, []wantCase{
				{get("http://a.example/ok/", ""), tc.want},
				{get("http://b.example/", ""), "block .example"},
			})
		})
	}
}

func TestSameListBlockAndAllow(t *testing.T) {
	l := parse(t, Adblock, "||a.example^\n")
	runMatch(t, Compile([]*List{l}, []*List{l}), []wantCase{{get("http://a.example/", ""), "allow ||a.example^"}})
	runMatch(t, Compile([]*List{l}, nil), []wantCase{{get("http://a.example/", ""), "block ||a.example^"}})
}

func TestFirstMatchOrder(t *testing.T) {
	// Host rules come before pattern rules; within the host rules the most
	// specific host comes first, then list order.
	a := parse(t, Adblock, "/x/\n||example^\n||www.example^\n")
	b := parse(t, Hosts, "0.0.0.0 www.example\n")
	runMatch(t, Compile([]*List{a, b}, nil), []wantCase{
		{get("http://www.example/x/", ""), "block ||www.example^"},
		{get("http://example/x/", ""), "block ||example^"},
		{get("http://other.example2/x/", ""), "block /x/"},
	})
	runMatch(t, Compile([]*List{b, a}, nil), []wantCase{
		{get("http://www.example/x/", ""), "block 0.0.0.0 www.example"},
	})
}
