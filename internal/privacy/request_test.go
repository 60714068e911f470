package privacy

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// header parses "Name: value" lines; repeated names add values.
func header(lines string) http.Header {
	h := http.Header{}
	for line := range strings.SplitSeq(lines, "\n") {
		if line == "" {
			continue
		}
		k, v, _ := strings.Cut(line, ":")
		h.Add(k, strings.TrimPrefix(v, " "))
	}
	return h
}

// format prints h one sorted "Name: value" line per value.
func format(h http.Header) string {
	var lines []string
	for k, vv := range h {
		for _, v := range vv {
			lines = append(lines, k+": "+v)
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// request builds an absolute-form request as the server hands it over.
func request(t testing.TB, rawURL, hdr string) *http.Request {
	u, err := url.ParseRequestURI(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Request{Method: "GET", URL: u, RequestURI: rawURL, Host: u.Host, Header: header(hdr)}
}

const (
	chromeUA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/141.0.0.0 Safari/537.36"
	genUA    = "User-Agent: " + DefaultUserAgent
)

func TestRequest(t *testing.T) {
	tests := []struct {
		name    string
		o       Options
		url     string
		hdr     string
		wantURL string // "" means unchanged
		wantHdr string
		want    Changes
	}{
		// Off.
		{
			name:    "off changes nothing",
			o:       Options{Default: Off},
			url:     "http://shop.example/p?utm_source=x&id=1",
			hdr:     "Referer: http://news.example/a?b\nCookie: s=1\nUser-Agent: ua\nX-Forwarded-For: 10.0.0.1",
			wantHdr: "Cookie: s=1\nReferer: http://news.example/a?b\nUser-Agent: ua\nX-Forwarded-For: 10.0.0.1",
		},

		// Standard: Referer.
		{
			name:    "standard same-site Referer kept",
			o:       Options{Default: Standard},
			url:     "http://static.example.co.uk/app.js",
			hdr:     "Referer: http://www.example.co.uk/account?id=42",
			wantHdr: "Referer: http://www.example.co.uk/account?id=42\nSec-Gpc: 1",
			want:    GPCAdded,
		},
		{
			name:    "standard same-host Referer kept",
			o:       Options{Default: Standard},
			url:     "http://example.com/b",
			hdr:     "Referer: http://example.com:8080/a?secret=1",
			wantHdr: "Referer: http://example.com:8080/a?secret=1\nSec-Gpc: 1",
			want:    GPCAdded,
		},
		{
			name:    "standard cross-site Referer trimmed to origin",
			o:       Options{Default: Standard},
			url:     "http://cdn.example/lib.js",
			hdr:     "Referer: https://news.example.org:8443/article/7?user=ann#top",
			wantHdr: "Referer: https://news.example.org:8443/\nSec-Gpc: 1",
			want:    RefererTrimmed | GPCAdded,
		},
		{
			name:    "standard public suffix makes sibling hosts cross-site",
			o:       Options{Default: Standard},
			url:     "http://b.github.io/x",
			hdr:     "Referer: http://a.github.io/private/page",
			wantHdr: "Referer: http://a.github.io/\nSec-Gpc: 1",
			want:    RefererTrimmed | GPCAdded,
		},
		{
			name:    "standard cross-site Referer already an origin kept",
			o:       Options{Default: Standard},
			url:     "http://cdn.example/lib.js",
			hdr:     "Referer: https://news.example.org/",
			wantHdr: "Referer: https://news.example.org/\nSec-Gpc: 1",
			want:    GPCAdded,
		},
		{
			name:    "standard Referer userinfo dropped",
			o:       Options{Default: Standard},
			url:     "http://cdn.example/lib.js",
			hdr:     "Referer: http://ann:pw@intranet.example/page",
			wantHdr: "Referer: http://intranet.example/\nSec-Gpc: 1",
			want:    RefererTrimmed | GPCAdded,
		},
		{
			name:    "standard IP Referer to another IP trimmed",
			o:       Options{Default: Standard},
			url:     "http://192.0.2.2/x",
			hdr:     "Referer: http://192.0.2.1:8080/admin?token=1",
			wantHdr: "Referer: http://192.0.2.1:8080/\nSec-Gpc: 1",
			want:    RefererTrimmed | GPCAdded,
		},
		{
			name:    "standard IP Referer to the same IP kept",
			o:       Options{Default: Standard},
			url:     "http://[2001:db8::1]:81/x",
			hdr:     "Referer: http://[2001:db8::1]:80/admin?token=1",
			wantHdr: "Referer: http://[2001:db8::1]:80/admin?token=1\nSec-Gpc: 1",
			want:    GPCAdded,
		},
		{
			name:    "standard unparsable Referer left alone",
			o:       Options{Default: Standard},
			url:     "http://example.com/",
			hdr:     "Referer: /relative?q=1",
			wantHdr: "Referer: /relative?q=1\nSec-Gpc: 1",
			want:    GPCAdded,
		},
		{
			name:    "standard keeps Cookie, Authorization, Origin and User-Agent cross-site",
			o:       Options{Default: Standard},
			url:     "http://api.example/v1",
			hdr:     "Referer: http://app.example.net/x\nOrigin: http://app.example.net\nCookie: s=1\nAuthorization: Bearer t\nUser-Agent: ua",
			wantHdr: "Authorization: Bearer t\nCookie: s=1\nOrigin: http://app.example.net\nReferer: http://app.example.net/\nSec-Gpc: 1\nUser-Agent: ua",
			want:    RefererTrimmed | GPCAdded,
		},
		{
			name:    "standard keeps client-sent forwarding headers",
			o:       Options{Default: Standard},
			url:     "http://example.com/",
			hdr:     "X-Forwarded-For: 10.0.0.1\nForwarded: for=10.0.0.1\nFrom: ann@example.com",
			wantHdr: "Forwarded: for=10.0.0.1\nFrom: ann@example.com\nSec-Gpc: 1\nX-Forwarded-For: 10.0.0.1",
			want:    GPCAdded,
		},
		{
			name:    "standard several Referer values each judged",
			o:       Options{Default: Standard},
			url:     "http://example.com/",
			hdr:     "Referer: http://www.example.com/a?1\nReferer: http://other.example/b?2",
			wantHdr: "Referer: http://other.example/\nReferer: http://www.example.com/a?1\nSec-Gpc: 1",
			want:    RefererTrimmed | GPCAdded,
		},

		// Standard: Sec-GPC.
		{
			name:    "standard Sec-GPC kept when present",
			o:       Options{Default: Standard},
			url:     "http://example.com/",
			hdr:     "Sec-Gpc: 1",
			wantHdr: "Sec-Gpc: 1",
		},
		{
			name:    "standard other Sec-GPC value left alone",
			o:       Options{Default: Standard},
			url:     "http://example.com/",
			hdr:     "Sec-Gpc: 0",
			wantHdr: "Sec-Gpc: 0",
		},

		// Standard: URL.
		{
			name:    "standard tracking parameter alone leaves no '?'",
			o:       Options{Default: Standard},
			url:     "http://example.com/p?utm_source=x",
			wantURL: "http://example.com/p",
			wantHdr: "Sec-Gpc: 1",
			want:    ParamsRemoved | GPCAdded,
		},
		{
			name:    "standard tracking parameters among others",
			o:       Options{Default: Standard},
			url:     "http://example.com/p?a=1&utm_x=2&b",
			wantURL: "http://example.com/p?a=1&b",
			wantHdr: "Sec-Gpc: 1",
			want:    ParamsRemoved | GPCAdded,
		},
		{
			name:    "standard query without tracking kept byte for byte",
			o:       Options{Default: Standard},
			url:     "http://example.com/p?b=%2f&a&c=d+e&",
			wantHdr: "Sec-Gpc: 1",
			want:    GPCAdded,
		},
		{
			name:    "standard empty query kept",
			o:       Options{Default: Standard},
			url:     "http://example.com/p?",
			wantHdr: "Sec-Gpc: 1",
			want:    GPCAdded,
		},
		{
			name:    "standard extra tracking parameter",
			o:       Options{Default: Standard, TrackingParams: []string{"ref_src", "cmp_*"}},
			url:     "http://example.com/p?ref_src=tw&q=go&cmp_id=9",
			wantURL: "http://example.com/p?q=go",
			wantHdr: "Sec-Gpc: 1",
			want:    ParamsRemoved | GPCAdded,
		},

		// Strict.
		{
			name:    "strict same-site keeps Referer, Cookie, Authorization, Origin",
			o:       Options{Default: Strict},
			url:     "http://static.example.co.uk/api",
			hdr:     "Referer: http://www.example.co.uk/account\nOrigin: http://www.example.co.uk\nCookie: s=1\nAuthorization: Basic YTpi\nUser-Agent: " + chromeUA,
			wantHdr: "Authorization: Basic YTpi\nCookie: s=1\nOrigin: http://www.example.co.uk\nReferer: http://www.example.co.uk/account\nSec-Gpc: 1\n" + genUA,
			want:    GPCAdded | UserAgentReplaced,
		},
		{
			name:    "strict cross-site Referer makes the request third-party",
			o:       Options{Default: Strict},
			url:     "http://tracker.example/pixel.gif?utm_campaign=c&uid=1",
			hdr:     "Referer: http://news.example/article\nCookie: id=abc\nAuthorization: Bearer t\nUser-Agent: " + chromeUA,
			wantURL: "http://tracker.example/pixel.gif?uid=1",
			wantHdr: "Authorization: Bearer t\nSec-Gpc: 1\n" + genUA,
			want:    ThirdParty | ParamsRemoved | RefererRemoved | GPCAdded | UserAgentReplaced | CookieRemoved,
		},
		{
			name:    "strict cross-site Origin makes the request third-party",
			o:       Options{Default: Strict},
			url:     "http://api.example/v1",
			hdr:     "Origin: http://app.example.net\nCookie: s=1\n" + genUA + "\nSec-Gpc: 1",
			wantHdr: "Origin: http://app.example.net\nSec-Gpc: 1\n" + genUA,
			want:    ThirdParty | CookieRemoved,
		},
		{
			name:    "strict either header cross-site is enough",
			o:       Options{Default: Strict},
			url:     "http://example.com/x",
			hdr:     "Origin: http://example.com\nReferer: http://other.example/\nCookie: s=1\n" + genUA + "\nSec-Gpc: 1",
			wantHdr: "Origin: http://example.com\nSec-Gpc: 1\n" + genUA,
			want:    ThirdParty | RefererRemoved | CookieRemoved,
		},
		{
			name:    "strict neither Referer nor Origin is first-party",
			o:       Options{Default: Strict},
			url:     "http://example.com/x",
			hdr:     "Cookie: s=1\n" + genUA + "\nSec-Gpc: 1",
			wantHdr: "Cookie: s=1\nSec-Gpc: 1\n" + genUA,
		},
		{
			name:    "strict Origin null is no evidence",
			o:       Options{Default: Strict},
			url:     "http://example.com/x",
			hdr:     "Origin: null\nCookie: s=1\n" + genUA + "\nSec-Gpc: 1",
			wantHdr: "Cookie: s=1\nOrigin: null\nSec-Gpc: 1\n" + genUA,
		},
		{
			name:    "strict unparsable Referer removed but no evidence",
			o:       Options{Default: Strict},
			url:     "http://example.com/x",
			hdr:     "Referer: garbage\nCookie: s=1\n" + genUA + "\nSec-Gpc: 1",
			wantHdr: "Cookie: s=1\nSec-Gpc: 1\n" + genUA,
			want:    RefererRemoved,
		},
		{
			name:    "strict top-level navigation from another site is first-party",
			o:       Options{Default: Strict},
			url:     "https://app.example/oauth/callback?code=1&state=2",
			hdr:     "Referer: https://idp.example.net/\nSec-Fetch-Mode: navigate\nSec-Fetch-Dest: document\nSec-Fetch-Site: cross-site\nCookie: state=2\n" + genUA + "\nSec-Gpc: 1",
			wantHdr: "Cookie: state=2\nSec-Fetch-Dest: document\nSec-Fetch-Mode: navigate\nSec-Fetch-Site: cross-site\nSec-Gpc: 1\n" + genUA,
			want:    RefererRemoved,
		},
		{
			name:    "strict frame navigation from another site is third-party",
			o:       Options{Default: Strict},
			url:     "https://widget.example/embed",
			hdr:     "Referer: https://blog.example.net/post\nSec-Fetch-Mode: navigate\nSec-Fetch-Dest: iframe\nCookie: id=1\n" + genUA + "\nSec-Gpc: 1",
			wantHdr: "Sec-Fetch-Dest: iframe\nSec-Fetch-Mode: navigate\nSec-Gpc: 1\n" + genUA,
			want:    ThirdParty | RefererRemoved | CookieRemoved,
		},
		{
			name:    "strict removes client hints and client-address headers",
			o:       Options{Default: Strict},
			url:     "http://example.com/",
			hdr:     "Sec-Ch-Ua: \"Chromium\";v=\"141\"\nSec-Ch-Ua-Mobile: ?0\nSec-Ch-Ua-Platform: \"macOS\"\nX-Forwarded-For: 10.0.0.1\nForwarded: for=10.0.0.1\nX-Real-Ip: 10.0.0.1\nClient-Ip: 10.0.0.1\nTrue-Client-Ip: 10.0.0.1\nX-Client-Ip: 10.0.0.1\nFrom: ann@example.com\nVia: 1.1 corp-proxy\n" + genUA + "\nSec-Gpc: 1",
			wantHdr: "Sec-Gpc: 1\n" + genUA + "\nVia: 1.1 corp-proxy",
			want:    ClientHintsRemoved | ForwardedRemoved,
		},
		{
			name:    "strict sets User-Agent when absent",
			o:       Options{Default: Strict},
			url:     "http://example.com/",
			hdr:     "Sec-Gpc: 1",
			wantHdr: "Sec-Gpc: 1\n" + genUA,
			want:    UserAgentReplaced,
		},
		{
			name:    "strict custom User-Agent",
			o:       Options{Default: Strict, UserAgent: "Generic/1.0"},
			url:     "http://example.com/",
			hdr:     "User-Agent: curl/8.5\nUser-Agent: other\nSec-Gpc: 1",
			wantHdr: "Sec-Gpc: 1\nUser-Agent: Generic/1.0",
			want:    UserAgentReplaced,
		},

		// Per-site overrides choose by destination.
		{
			name:    "override off for the destination",
			o:       Options{Default: Strict, Sites: map[string]Level{".bank.example": Off}},
			url:     "http://www.bank.example/login?utm_source=mail",
			hdr:     "Referer: http://mail.example/inbox\nCookie: s=1\nUser-Agent: ua",
			wantHdr: "Cookie: s=1\nReferer: http://mail.example/inbox\nUser-Agent: ua",
		},
		{
			name:    "override by destination, not by referrer",
			o:       Options{Default: Strict, Sites: map[string]Level{".bank.example": Off}},
			url:     "http://tracker.example/p",
			hdr:     "Referer: http://www.bank.example/account\nCookie: id=1\n" + genUA + "\nSec-Gpc: 1",
			wantHdr: "Sec-Gpc: 1\n" + genUA,
			want:    ThirdParty | RefererRemoved | CookieRemoved,
		},
		{
			name:    "override stricter for one host",
			o:       Options{Default: Standard, Sites: map[string]Level{"ads.example": Strict}},
			url:     "http://ads.example:8080/p",
			hdr:     "Referer: http://news.example/a\nCookie: id=1\n" + genUA + "\nSec-Gpc: 1",
			wantHdr: "Sec-Gpc: 1\n" + genUA,
			want:    ThirdParty | RefererRemoved | CookieRemoved,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(tt.o)
			if err != nil {
				t.Fatal(err)
			}
			r := request(t, tt.url, tt.hdr)
			got := p.Request(r)
			wantURL := tt.wantURL
			if wantURL == "" {
				wantURL = tt.url
			}
			if s := r.URL.String(); s != wantURL {
				t.Errorf("URL: got %q, want %q", s, wantURL)
			}
			if r.RequestURI != wantURL {
				t.Errorf("RequestURI: got %q, want %q", r.RequestURI, wantURL)
			}
			if g, w := format(r.Header), format(header(tt.wantHdr)); g != w {
				t.Errorf("header:\ngot  %q\nwant %q", g, w)
			}
			if got != tt.want {
				t.Errorf("changes: got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRequestHostFallback(t *testing.T) {
	p, err := New(Options{Default: Strict})
	if err != nil {
		t.Fatal(err)
	}
	// An origin-form URL: the destination is r.Host.
	r := &http.Request{URL: &url.URL{Path: "/"}, Host: "www.example.com", Header: header("Referer: http://example.com/\nCookie: s=1")}
	if c := p.Request(r); c&ThirdParty != 0 {
		t.Errorf("changes: got %q, want no third-party", c)
	}
	if got := r.Header.Get("Cookie"); got != "s=1" {
		t.Errorf("Cookie: got %q, want %q", got, "s=1")
	}
}

func TestRequestURIWithoutMatchingQuery(t *testing.T) {
	p, err := New(Options{Default: Standard})
	if err != nil {
		t.Fatal(err)
	}
	// After the handler has cleared RequestURI, only the URL changes.
	r := request(t, "http://example.com/?utm_source=a&b", "")
	r.RequestURI = ""
	p.Request(r)
	if got, want := r.URL.String(), "http://example.com/?b"; got != want {
		t.Errorf("URL: got %q, want %q", got, want)
	}
	if r.RequestURI != "" {
		t.Errorf("RequestURI: got %q, want %q", r.RequestURI, "")
	}
}

func TestSharedValuesAreClipped(t *testing.T) {
	p, err := New(Options{Default: Strict})
	if err != nil {
		t.Fatal(err)
	}
	r1, r2 := request(t, "http://example.com/", ""), request(t, "http://example.com/", "")
	p.Request(r1)
	p.Request(r2)
	r1.Header.Add("User-Agent", "appended")
	r1.Header.Add("Sec-Gpc", "appended")
	if got := r2.Header.Values("User-Agent"); len(got) != 1 || got[0] != DefaultUserAgent {
		t.Errorf("other request's User-Agent: got %q, want %q", got, DefaultUserAgent)
	}
	if got := r2.Header.Values("Sec-Gpc"); len(got) != 1 || got[0] != "1" {
		t.Errorf("other request's Sec-GPC: got %q, want %q", got, "1")
	}
}

func TestResponse(t *testing.T) {
	tests := []struct {
		name    string
		level   Level
		referer string
		want    Changes
		wantSC  []string
	}{
		{"strict third-party", Strict, "http://news.example/", SetCookieRemoved, nil},
		{"strict first-party", Strict, "http://www.shop.example/", 0, []string{"a=1", "b=2"}},
		{"strict no referer", Strict, "", 0, []string{"a=1", "b=2"}},
		{"standard third-party", Standard, "http://news.example/", 0, []string{"a=1", "b=2"}},
		{"off third-party", Off, "http://news.example/", 0, []string{"a=1", "b=2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(Options{Default: tt.level})
			if err != nil {
				t.Fatal(err)
			}
			hdr := ""
			if tt.referer != "" {
				hdr = "Referer: " + tt.referer
			}
			c := p.Request(request(t, "http://shop.example/cart", hdr))
			resp := header("Set-Cookie: a=1\nSet-Cookie: b=2\nContent-Type: text/html")
			if got := p.Response(c, resp); got != tt.want {
				t.Errorf("changes: got %q, want %q", got, tt.want)
			}
			if got := resp["Set-Cookie"]; !slices.Equal(got, tt.wantSC) {
				t.Errorf("Set-Cookie: got %q, want %q", got, tt.wantSC)
			}
			if got := resp.Get("Content-Type"); got != "text/html" {
				t.Errorf("Content-Type: got %q, want %q", got, "text/html")
			}
		})
	}
}
