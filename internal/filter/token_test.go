package filter

import (
	"regexp/syntax"
	"strings"
	"testing"
)

// tokenNames turns token hashes back into names, from the candidates given.
func tokenNames(hashes []uint64, names string) string {
	var got []string
	for _, h := range hashes {
		name := "?"
		for _, n := range strings.Fields(names) {
			if tokenHash(n) == h {
				name = n
			}
		}
		got = append(got, name)
	}
	return strings.Join(got, " ")
}

func TestPatternTokens(t *testing.T) {
	for _, tc := range []struct{ rule, want string }{
		{"/ads/banner*.gif", "ads"}, // "banner" may go on after it; "gif" too
		{"||example.com^", ""},      // a host rule: no pattern
		{"||example.com/x/", "example com x"},
		{"|https://x", "https"},
		{"-ad-300x250.", "ad 300x250"},
		{"banner", ""},
		{"foo|", ""},
		{".gif|", "gif"},
		{"*/ads/*", "ads"},
		{"^ads^", "ads"},
		{"/ADS/x", "ads"}, // lower-cased; "/ADS/" would be a regular expression
	} {
		l := parse(t, Adblock, tc.rule)
		var hashes []uint64
		for _, r := range l.nets {
			r.eachToken(func(h uint64, _, _ int) { hashes = append(hashes, h) })
		}
		if got := tokenNames(hashes, "ads ad example com x https 300x250 gif banner foo"); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.rule, got, tc.want)
		}
	}
}

func TestRegexKeys(t *testing.T) {
	for _, tc := range []struct {
		expr        string
		tokens      string
		grams       int
		fold, valid bool
	}{
		{`\/ads\/\d+`, "ads", 3, true, true},
		{`[?&]ad_id=\d+`, "ad id", 4, true, true},
		{`^https?:\/\/x\.`, "x", 5, true, true}, // "http" is followed by "s?"; "://x." holds 3 grams, "http" 2
		{`foo|bar`, "", 0, true, true},
		{`banner\d+`, "", 4, true, true},
		{`(ads)/`, "", 0, true, true},
		{`ads$`, "", 1, false, true},
		{`/ads/`, "ads", 3, false, true},
		{strings.Repeat("a{1000}", 11), "", 0, false, false}, // too large once expanded
		{`(`, "", 0, false, false},
	} {
		re, keys, err := compileRegex(tc.expr, tc.fold)
		if (err == nil) != tc.valid || (re != nil) != tc.valid {
			t.Errorf("%s: got error %v, want valid %v", tc.expr, err, tc.valid)
			continue
		}
		if got := tokenNames(keys.tokens, "ads ad id x http https banner"); got != tc.tokens {
			t.Errorf("%s: got tokens %q, want %q", tc.expr, got, tc.tokens)
		}
		if got := len(keys.grams); got != tc.grams {
			t.Errorf("%s: got %d grams, want %d", tc.expr, got, tc.grams)
		}
	}
	if _, err := syntax.Parse(strings.Repeat("a{1000}", 9), syntax.Perl); err != nil {
		t.Fatal(err)
	}
	if _, _, err := compileRegex(strings.Repeat("a{1000}", 9), false); err != nil {
		t.Errorf("a program of 9,000 instructions: got %v, want it accepted", err)
	}
}

func TestHostSpan(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"http://example.com/x", "example.com"},
		{"http://example.com", "example.com"},
		{"http://example.com:8080/x", "example.com"},
		{"http://user:pw@example.com:8080/x", "example.com"},
		{"http://example.com?q=a@b", "example.com"},
		{"http://example.com#a@b", "example.com"},
		{"http://[::1]:8080/", "[::1]"},
		{"http://[::1/", "[::1"},
		{"example.com/x", "example.com"},
		{"", ""},
		{"http://", ""},
	} {
		s, e := hostSpan(tc.url)
		if got := tc.url[s:e]; got != tc.want {
			t.Errorf("hostSpan(%q): got %q, want %q", tc.url, got, tc.want)
		}
	}
}

func TestContainsFold(t *testing.T) {
	for _, tc := range []struct {
		s, lit string
		want   bool
	}{
		{"http://a/ADS/x", "/ads/", true},
		{"http://a/ads", "/ads/", false},
		{"/ads/", "/ads/", true},
		{"xx", "", true},
		{"", "a", false},
		{"aaab", "aab", true},
		{"a^b", "^b", true},
	} {
		if got := containsFold(tc.s, tc.lit); got != tc.want {
			t.Errorf("containsFold(%q, %q): got %v, want %v", tc.s, tc.lit, got, tc.want)
		}
	}
}
