package filter

import (
	"net/url"
	"testing"
)

// describe renders a Decision for comparison: "block RULE", "allow RULE",
// or "" when no rule matched.
func describe(d Decision) string {
	switch {
	case d.Rule == nil && d.Blocked:
		return "blocked without a rule"
	case d.Rule == nil:
		return ""
	case d.Blocked:
		return "block " + d.Rule.Text
	}
	return "allow " + d.Rule.Text
}

// get is a request for rawURL from a page on site.
func get(rawURL, site string) Request {
	u, err := url.Parse(rawURL)
	if err != nil {
		panic(err)
	}
	return Request{URL: rawURL, Host: u.Hostname(), Site: site}
}

// connect is a CONNECT request to host:443.
func connect(host string) Request {
	return Request{URL: "https://" + host + ":443/", Host: host, Connect: true}
}

type wantCase struct {
	q    Request
	want string
}

func runMatch(t *testing.T, m *Matcher, cases []wantCase) {
	t.Helper()
	for _, tc := range cases {
		if got := describe(m.Decide(&tc.q)); got != tc.want {
			t.Errorf("%+v: got %q, want %q", tc.q, got, tc.want)
		}
	}
}

func TestHostsMatch(t *testing.T) {
	m := Compile([]*List{parse(t, Hosts, "0.0.0.0 ads.example.com\n0.0.0.0 localhost\n")}, nil)
	const rule = "block 0.0.0.0 ads.example.com"
	runMatch(t, m, []wantCase{
		{get("http://ads.example.com/x.js", ""), rule},
		{get("http://ADS.Example.com./x.js", ""), rule},
		{get("http://sub.ads.example.com/", ""), ""}, // a hosts entry is that host only
		{get("http://example.com/", ""), ""},
		{get("http://xads.example.com/", ""), ""},
		{get("http://localhost/", ""), ""},
		{connect("ads.example.com"), rule},
		{connect("sub.ads.example.com"), ""},
		{Request{URL: "http://ads.example.com:8080/"}, rule}, // Host taken from URL
	})
}

func TestDomainsMatch(t *testing.T) {
	m := Compile([]*List{parse(t, Domains, `example.com
*.wild.example
.both.example
.www.both.example
/^https?:\/\/[^\/]*\.tracker\./
`)}, nil)
	runMatch(t, m, []wantCase{
		{get("http://example.com/", ""), "block example.com"},
		{get("http://www.example.com/", ""), ""},
		{get("http://wild.example/", ""), ""},
		{get("http://a.wild.example/", ""), "block *.wild.example"},
		{get("http://a.b.wild.example/", ""), "block *.wild.example"},
		{get("http://both.example/", ""), "block .both.example"},
		{get("http://x.both.example/", ""), "block .both.example"},
		{get("http://www.both.example/", ""), "block .www.both.example"}, // the most specific first
		{get("http://notboth.example/", ""), ""},
		{get("http://x.tracker.example/", ""), `block /^https?:\/\/[^\/]*\.tracker\./`},
		{get("http://x.example/?u=http://y.tracker.example", ""), ""},
		{connect("example.com"), "block example.com"},
		{connect("a.wild.example"), "block *.wild.example"},
		{connect("x.tracker.example"), ""}, // regular expressions are not for CONNECT
	})
}

func TestRegexMatch(t *testing.T) {
	m := Compile([]*List{parse(t, Regex, "ads\\.js$\n/\\/Track\\//\n")}, nil)
	runMatch(t, m, []wantCase{
		{get("http://a.example/ads.js", ""), `block ads\.js$`},
		{get("http://a.example/ads.js?x", ""), ""},
		{get("http://a.example/Track/1", ""), `block /\/Track\//`},
		{get("http://a.example/track/1", ""), ""}, // as written: case-sensitive
	})
}

func TestAdblockMatch(t *testing.T) {
	for _, tc := range []struct {
		name, rule string
		cases      []wantCase
	}{
		{"host anchor", "||example.com^", []wantCase{
			{get("http://example.com/", ""), "block ||example.com^"},
			{get("https://ads.example.com:8443/x", ""), "block ||example.com^"},
			{get("http://EXAMPLE.com/", ""), "block ||example.com^"},
			{get("http://notexample.com/", ""), ""},
			{get("http://example.com.evil.net/", ""), ""},
			{get("http://evil.net/?example.com", ""), ""},
			{connect("ads.example.com"), "block ||example.com^"},
		}},
		{"host anchor with path", "||example.com/ads/", []wantCase{
			{get("http://example.com/ads/x.gif", ""), "block ||example.com/ads/"},
			{get("http://www.example.com/ads/", ""), "block ||example.com/ads/"},
			{get("http://badexample.com/ads/", ""), ""},
			{get("http://example.com/adsx/", ""), ""},
			{get("http://other.net/r?u=example.com/ads/", ""), ""},
			{get("http://user@example.com/ads/", ""), "block ||example.com/ads/"},
			{connect("example.com"), ""}, // not a host rule
		}},
		{"host anchor without separator", "||ads.example", []wantCase{
			{get("http://ads.example/", ""), "block ||ads.example"},
			{get("http://ads.examples.net/", ""), "block ||ads.example"},
			{get("http://x.ads.example/", ""), "block ||ads.example"},
			{get("http://xads.example/", ""), ""},
			{connect("ads.example"), ""},
		}},
		{"start anchor", "|https://track.", []wantCase{
			{get("https://track.example/", ""), "block |https://track."},
			{get("http://track.example/", ""), ""},
			{get("http://a.example/?https://track.", ""), ""},
		}},
		{"end anchor", ".swf|", []wantCase{
			{get("http://a.example/movie.swf", ""), "block .swf|"},
			{get("http://a.example/movie.swf?x=1", ""), ""},
		}},
		{"both anchors", "|http://a.example/|", []wantCase{
			{get("http://a.example/", ""), "block |http://a.example/|"},
			{get("http://a.example/x", ""), ""},
		}},
		{"wildcard and separator", "/banner/*/img^", []wantCase{
			{get("http://a.example/banner/foo/img?x", ""), "block /banner/*/img^"},
			{get("http://a.example/banner/foo/img", ""), "block /banner/*/img^"}, // ^ matches the end
			{get("http://a.example/banner/foo/img:1", ""), "block /banner/*/img^"},
			{get("http://a.example/banner/foo/bar/img/", ""), "block /banner/*/img^"},
			{get("http://a.example/banner/foo/imgx", ""), ""},
			{get("http://a.example/banner/foo/img.png", ""), ""}, // "." is not a separator
			{get("http://a.example/banner/foo/img_1", ""), ""},
			{get("http://a.example/banner/foo/img-1", ""), ""},
			{get("http://a.example/banner/foo/img%20", ""), ""},
			{get("http://a.example/banner/img/", ""), ""}, // both "/" cannot be the same one
		}},
		{"separator mid-pattern", "ads^track", []wantCase{
			{get("http://a.example/ads/track", ""), "block ads^track"},
			{get("http://a.example/ads?track", ""), "block ads^track"},
			{get("http://a.example/ads.track", ""), ""},
			{get("http://a.example/adstrack", ""), ""},
		}},
		{"substring", "&ad_type=", []wantCase{
			{get("http://a.example/x?z=1&ad_type=2", ""), "block &ad_type="},
			{get("http://a.example/x?z=1&AD_TYPE=2", ""), "block &ad_type="}, // case-insensitive
			{get("http://a.example/x?ad_type=2", ""), ""},
		}},
		{"substring with digits", "-ad-300x250.", []wantCase{
			{get("http://a.example/img-ad-300x250.png", ""), "block -ad-300x250."},
			{get("http://a.example/img-ad-300x2500.png", ""), ""},
		}},
		{"no usable token", "adbanner", []wantCase{
			{get("http://a.example/topadbanners.gif", ""), "block adbanner"},
			{get("http://a.example/ad-banner.gif", ""), ""},
		}},
		{"short pattern", "ad", []wantCase{
			{get("http://a.example/load", ""), "block ad"},
		}},
		{"upper-case rule", "/ADS/Banner", []wantCase{
			{get("http://a.example/ads/banner1", ""), "block /ADS/Banner"},
		}},
		{"match-case", "/Ads/Banner$match-case", []wantCase{
			{get("http://a.example/Ads/Banner1", ""), "block /Ads/Banner$match-case"},
			{get("http://a.example/ads/banner1", ""), ""},
		}},
		{"third-party", "||tracker.example^$third-party", []wantCase{
			{get("http://tracker.example/p.gif", "news.example.org"), "block ||tracker.example^$third-party"},
			{get("http://tracker.example/p.gif", ""), ""}, // unknown context
			{get("http://tracker.example/p.gif", "tracker.example"), ""},
			{get("http://tracker.example/p.gif", "www.tracker.example"), ""}, // same site
			{connect("tracker.example"), ""},
		}},
		{"3p alias", "||tracker.example^$3p", []wantCase{
			{get("http://tracker.example/", "other.example"), "block ||tracker.example^$3p"},
			{get("http://tracker.example/", "tracker.example"), ""},
		}},
		{"~first-party", "||tracker.example^$~first-party", []wantCase{
			{get("http://tracker.example/", "other.example"), "block ||tracker.example^$~first-party"},
		}},
		{"first-party", "||cdn.example^$~third-party", []wantCase{
			{get("http://cdn.example/", "www.cdn.example"), "block ||cdn.example^$~third-party"},
			{get("http://cdn.example/", "other.example"), ""},
			{get("http://cdn.example/", ""), ""}, // unknown context
		}},
		{"1p alias", "||cdn.example^$1p", []wantCase{
			{get("http://cdn.example/", "cdn.example"), "block ||cdn.example^$1p"},
			{get("http://cdn.example/", "other.example"), ""},
		}},
		{"domain include and exclude", "/ads.js$domain=example.com|~sub.example.com", []wantCase{
			{get("http://cdn.example/ads.js", "example.com"), "block /ads.js$domain=example.com|~sub.example.com"},
			{get("http://cdn.example/ads.js", "www.example.com"), "block /ads.js$domain=example.com|~sub.example.com"},
			{get("http://cdn.example/ads.js", "sub.example.com"), ""},
			{get("http://cdn.example/ads.js", "deep.sub.example.com"), ""},
			{get("http://cdn.example/ads.js", "other.com"), ""},
			{get("http://cdn.example/ads.js", "notexample.com"), ""},
			{get("http://cdn.example/ads.js", ""), ""},
		}},
		{"domain exclude only", "/ads.js$domain=~example.com", []wantCase{
			{get("http://cdn.example/ads.js", "other.com"), "block /ads.js$domain=~example.com"},
			{get("http://cdn.example/ads.js", "www.example.com"), ""},
			{get("http://cdn.example/ads.js", ""), ""},
		}},
		{"domain on a host rule", "||cdn.example^$domain=news.example", []wantCase{
			{get("http://cdn.example/", "news.example"), "block ||cdn.example^$domain=news.example"},
			{get("http://cdn.example/", "blog.example"), ""},
			{connect("cdn.example"), ""},
		}},
		{"document", "||doc.example^$document", []wantCase{
			{get("http://doc.example/x.js", ""), "block ||doc.example^$document"},
			{connect("doc.example"), "block ||doc.example^$document"},
		}},
		{"regex", `/\/ad[sv]\/[0-9]+/`, []wantCase{
			{get("http://a.example/ads/123", ""), `block /\/ad[sv]\/[0-9]+/`},
			{get("http://a.example/ADV/123", ""), `block /\/ad[sv]\/[0-9]+/`}, // case-insensitive
			{get("http://a.example/adx/123", ""), ""},
			{connect("a.example"), ""},
		}},
		{"regex with options", `/\/Ads\//$match-case,third-party`, []wantCase{
			{get("http://a.example/Ads/", "b.example"), `block /\/Ads\//$match-case,third-party`},
			{get("http://a.example/ads/", "b.example"), ""},
			{get("http://a.example/Ads/", "a.example"), ""},
		}},
		{"regex ending in $", `/\.php$/`, []wantCase{
			{get("http://a.example/x.php", ""), `block /\.php$/`},
			{get("http://a.example/x.php?a", ""), ""},
		}},
		{"regex token in non-ASCII URL", `/\/track\//`, []wantCase{
			{Request{URL: "http://a.example/trac\u212a/", Host: "a.example"}, `block /\/track\//`}, // KELVIN SIGN folds to k
			{Request{URL: "http://a.example/\u00e9/track/", Host: "a.example"}, `block /\/track\//`},
		}},
		{"everything", "*", []wantCase{
			{get("http://a.example/", ""), "block *"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runMatch(t, Compile([]*List{parse(t, Adblock, tc.rule)}, nil), tc.cases)
		})
	}
}

func TestConnectOnlyHostRules(t *testing.T) {
	m := Compile([]*List{parse(t, Adblock, `/ads/
||cdn.example/ads/
/^https/
example
||host.example^
`)}, nil)
	runMatch(t, m, []wantCase{
		{Request{URL: "https://ads.example:443/ads/", Host: "ads.example", Connect: true}, ""},
		{Request{URL: "https://cdn.example:443/ads/", Host: "cdn.example", Connect: true}, ""},
		{Request{URL: "https://www.example:443/", Host: "www.example", Connect: true}, ""},
		{Request{URL: "", Host: "x.host.example", Connect: true}, "block ||host.example^"},
		{Request{URL: "https://x.host.example:443/", Connect: true}, "block ||host.example^"},
	})
}

func TestNilMatcher(t *testing.T) {
	var m *Matcher
	if got := describe(m.Decide(&Request{URL: "http://a.example/"})); got != "" {
		t.Errorf("got %q, want %q", got, "")
	}
	if got := describe(Compile(nil, nil).Decide(nil)); got != "" {
		t.Errorf("got %q, want %q", got, "")
	}
}
