package filter

import (
	"errors"
	"strings"
	"testing"
	"testing/iotest"
)

// parse parses text in format f, failing the test on error.
func parse(t testing.TB, f Format, text string) *List {
	t.Helper()
	l, err := ParseFormat("test.txt", strings.NewReader(text), f)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestDetect(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       Format
	}{
		{"empty", "", Domains},
		{"comments only", "# a\n! b\n\n", Domains},
		{"adblock header", "[Adblock Plus 2.0]\nexample.com\nexample.org\n", Adblock},
		{"ublock header", "[uBlock Origin]\n", Adblock},
		{"adguard header", "[AdGuard]\n", Adblock},
		{"other header", "[Hosts]\nexample.com\n", Domains},
		{"hosts", "0.0.0.0 a.com\n127.0.0.1 b.com c.com\n", Hosts},
		{"hosts ipv6", ":: a.com\n::1 b.com\n", Hosts},
		{"hosts with comments", "# hosts\n0.0.0.0 a.com # ad\n", Hosts},
		{"domains", "example.com\n*.example.org\n.example.net\n", Domains},
		{"domains with regex", "example.com\n/^https?:\\/\\/ads\\./\n", Domains},
		{"domains trailing comment", "example.com # tracker\n", Domains},
		{"host anchors", "||a.com^\n||b.com^$third-party\n", Adblock},
		{"exceptions", "@@||a.com^\n", Adblock},
		{"cosmetic", "example.com##.ad\n", Adblock},
		{"paths", "/ads/banner*.gif\n-ad-300x250.\n&ad_type=\n", Adblock},
		{"options", "ads$script\n", Adblock},
		{"majority adblock", "a.com\n||b.com^\n||c.com^\n", Adblock},
		{"majority domains", "a.com\nb.com\n||c.com^\n", Domains},
		{"tie adblock over domains", "a.com\n||c.com^\n", Adblock},
		{"tie hosts over domains", "a.com\n0.0.0.0 b.com\n", Hosts},
		{"address alone is no hosts line", "0.0.0.0\n", Domains},
		{"generic cosmetic is a comment", "##.ad\n###banner\nexample.com\n", Domains},
		{"bom", "\xef\xbb\xbf||a.com^\n", Adblock},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := Parse("x", strings.NewReader(tc.text))
			if err != nil {
				t.Fatal(err)
			}
			if got := l.Format(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDetectBounded(t *testing.T) {
	// Detection stops after detectLines rule lines; what follows does not vote.
	text := strings.Repeat("a.com\n", detectLines) + strings.Repeat("||b.com^\n", 2*detectLines)
	l := parse(t, Auto, text)
	if got, want := l.Format(), Domains; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := l.Stats().Domains, detectLines; got != want {
		t.Errorf("domains: got %d, want %d", got, want)
	}
	if got, want := l.Stats().Invalid, 2*detectLines; got != want {
		t.Errorf("invalid: got %d, want %d", got, want)
	}
}

func TestHostsParse(t *testing.T) {
	l := parse(t, Hosts, `# a hosts file
0.0.0.0 ads.example.com
127.0.0.1 tracker.example.net other.example.org # two names and a comment
:: v6.example.com
::1	tab.example.com
0.0.0.0 localhost localhost.localdomain broadcasthost local 0.0.0.0 ip6-localhost
0.0.0.0 UPPER.Example.COM.
0.0.0.0
example.com
999.0.0.1 bad-address.example.com
0.0.0.0 good.example.com bad/name.example.com
`)
	want := Stats{Hosts: 7, Invalid: 4}
	if got := l.Stats(); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	var hosts []string
	for _, h := range l.hosts {
		hosts = append(hosts, h.host)
	}
	if got, want := strings.Join(hosts, " "), "ads.example.com tracker.example.net other.example.org v6.example.com tab.example.com upper.example.com good.example.com"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	r := l.hosts[2].rule
	if got, want := r.String(), "test.txt:3: 127.0.0.1 tracker.example.net other.example.org # two names and a comment"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if l.hosts[1].rule != l.hosts[2].rule {
		t.Error("two names on one line have two rules, want one")
	}
}

func TestDomainsParse(t *testing.T) {
	l := parse(t, Domains, `# comment
! comment
example.com
*.wild.example
.both.example
Mixed.Case.Example.
xn--bcher-kva.example
/ads?\.example\.(com|net)/
example.org # trailing comment
bad domain.com
ads.example.com/path
*example.com
*.
.
..example.com
bücher.example
/[invalid/
-leading-dash.example
under_score.example
`)
	want := Stats{Domains: 8, Regexps: 1, Invalid: 8}
	if got := l.Stats(); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	var got []string
	for _, h := range l.hosts {
		got = append(got, [...]string{"=", "*.", "."}[h.mode]+h.host)
	}
	if got, want := strings.Join(got, " "), "=example.com *.wild.example .both.example =mixed.case.example =xn--bcher-kva.example =example.org =-leading-dash.example =under_score.example"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestRegexParse(t *testing.T) {
	l := parse(t, Regex, "# comment\n/ads\\.js$/\ntrack(er|ing)\n(\n\n")
	want := Stats{Regexps: 2, Invalid: 1}
	if got := l.Stats(); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if l.Format() != Regex {
		t.Errorf("got %q, want %q", l.Format(), Regex)
	}
}

func TestAdblockStats(t *testing.T) {
	l := parse(t, Adblock, `[Adblock Plus 2.0]
! Title: test
||ads.example.com^
||ads.example.net^$third-party
/banner/*.gif
@@||ads.example.com/ok.js
@@/safe\d+/
/ads\d+/
##.ad
example.com##.ad
example.com#@#.ad
example.com#?#.ad:has(a)
example.com#$#.ad { display: none }
example.com#%#//scriptlet('abort-on-property-read', 'x')
example.com$$script[tag-content="ad"]
# a comment
||x.example^$script
||x.example^$image,third-party
||x.example^$removeparam=utm_source
||x.example^$csp=script-src 'none'
||x.example^$redirect=noop.js
||x.example^$popup
||x.example^$~script
||x.example^$badfilter
||x.example^$domain=example.*
||x.example^$important=1
||x.example^$domain=
||x.example^$~domain=a.com
||x.example^$third-party=1
/[unclosed/
has space
`)
	want := Stats{Network: 4, Regexps: 2, Exceptions: 2, Cosmetic: 7, Skipped: 9, Invalid: 6}
	if got := l.Stats(); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if got, want := l.Stats().Rules(), 6; got != want {
		t.Errorf("rules: got %d, want %d", got, want)
	}
}

func TestLongLines(t *testing.T) {
	long := strings.Repeat("a", MaxLine-len(".com")) + ".com"
	text := "||ok.example^\n" + "||" + long + "^\n" + long + "x\n" + strings.Repeat("b", 3*MaxLine) + "\n||ok2.example^"
	l := parse(t, Adblock, text)
	want := Stats{Network: 2, Invalid: 3}
	if got := l.Stats(); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if got, want := l.hosts[1].rule.Line, 5; got != want {
		t.Errorf("line after long lines: got %d, want %d", got, want)
	}
	// A line of exactly MaxLine bytes is read.
	exact := parse(t, Domains, long+"\r\n")
	if got, want := exact.Stats(), (Stats{Invalid: 1}); got != want {
		t.Errorf("got %+v, want %+v", got, want) // a valid length, but labels over 63 bytes
	}
}

func TestLineBreaks(t *testing.T) {
	l := parse(t, Domains, "\xef\xbb\xbfa.example\r\nb.example\rc.example\n  d.example  \n")
	// A lone CR is not a line break: "b.example\rc.example" is one invalid line.
	want := Stats{Domains: 2, Invalid: 1}
	if got := l.Stats(); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if got, want := l.hosts[1].rule.Text, "d.example"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := l.hosts[1].rule.Line, 3; got != want {
		t.Errorf("line: got %d, want %d", got, want)
	}
}

func TestParseErrors(t *testing.T) {
	boom := errors.New("boom")
	_, err := Parse("list.txt", iotest.ErrReader(boom))
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "list.txt") {
		t.Errorf("got %v, want an error wrapping %v naming the list", err, boom)
	}
	_, err = Parse("list.txt", iotest.TimeoutReader(strings.NewReader(strings.Repeat("a.example\n", 2000))))
	if !errors.Is(err, iotest.ErrTimeout) {
		t.Errorf("got %v, want %v", err, iotest.ErrTimeout)
	}
	if _, err := ParseFormat("list.txt", strings.NewReader(""), Format(9)); err == nil {
		t.Error("got no error for an unknown format")
	}
	if got, want := Format(9).String(), "Format(9)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := Adblock.String(), "adblock"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestListName(t *testing.T) {
	l, err := Parse("https://lists.example/hosts.txt", strings.NewReader("0.0.0.0 a.example\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := l.Name(), "https://lists.example/hosts.txt"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := l.hosts[0].rule.List, l.Name(); got != want {
		t.Errorf("rule list: got %q, want %q", got, want)
	}
}
