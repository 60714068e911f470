package proxy_test

import (
	"html"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"sluice/internal/filter"
	"sluice/internal/privacy"
	"sluice/internal/proxy"
	"sluice/internal/proxytest"
)

// rulesWorld is a proxy whose rules a test can swap, as a reload does, and
// an origin reachable under several names that echoes what reached it.
type rulesWorld struct {
	*proxytest.World
	rules  atomic.Pointer[proxy.Rules]
	port   string
	hits   atomic.Int32
	seen   atomic.Pointer[http.Request]
	origin http.HandlerFunc
}

var rulesHosts = []string{"ads.test", "www.ads.test", "news.test", "static.news.test", "cdn.other.test", "ok.test"}

func newRulesWorld(t *testing.T, origin http.HandlerFunc) *rulesWorld {
	t.Helper()
	rw := &rulesWorld{origin: origin}
	res := proxytest.StaticResolver{}
	for _, h := range rulesHosts {
		res[h] = []netip.Addr{netip.MustParseAddr("127.0.0.1")}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, rw.port, _ = net.SplitHostPort(ln.Addr().String())
	p, _ := strconv.Atoi(rw.port)
	rw.World = proxytest.New(t, proxytest.Options{Resolver: res, ConnectPorts: []int{p}, Rules: func() *proxy.Rules { return rw.rules.Load() }})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw.hits.Add(1)
		rw.seen.Store(r.Clone(r.Context()))
		if rw.origin != nil {
			rw.origin(w, r)
			return
		}
		io.WriteString(w, "origin body")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return rw
}

// url returns http://host:port/path for the origin under name host.
func (rw *rulesWorld) url(host, path string) string { return "http://" + host + ":" + rw.port + path }

// get sends a GET through the proxy with header lines from kv pairs.
func (rw *rulesWorld) get(t *testing.T, u string, kv ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		req.Header.Add(kv[i], kv[i+1])
	}
	resp, err := rw.Client().Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func mustList(t *testing.T, name, text string) *filter.List {
	t.Helper()
	l, err := filter.Parse(name, strings.NewReader(text))
	if err != nil {
		t.Fatalf("parsing %s: %v", name, err)
	}
	return l
}

// TestRulesBlockEveryFormat: a request a list matches, in each format,
// gets 403 with a page naming the rule and the list, never reaches the
// origin, and is logged TCP_DENIED with the rule; others pass.
func TestRulesBlockEveryFormat(t *testing.T) {
	t.Parallel()
	cases := []struct {
		format, list, rule string
		blocked, passed    []string // host+path
	}{
		{"hosts", "# ads\n0.0.0.0 ads.test\n", "0.0.0.0 ads.test", []string{"ads.test/x"}, []string{"www.ads.test/x", "ok.test/"}},
		{"domains", "! list\n.ads.test\n", ".ads.test", []string{"ads.test/", "www.ads.test/a"}, []string{"ok.test/"}},
		{"adblock", "[Adblock Plus 2.0]\n||ads.test^\n/banner/*.gif\n", "||ads.test^", []string{"www.ads.test/x"}, []string{"ok.test/banner/x.png"}},
		{"regex", `/^http:\/\/[^/]*news\.test:[0-9]+\/track/` + "\n", `/^http:\/\/[^/]*news\.test:[0-9]+\/track/`, []string{"news.test/track?id=1"}, []string{"news.test/article"}},
	}
	for _, tc := range cases {
		t.Run(tc.format, func(t *testing.T) {
			t.Parallel()
			rw := newRulesWorld(t, nil)
			name := "/etc/sluice/" + tc.format + ".txt"
			rw.rules.Store(&proxy.Rules{Filter: filter.Compile([]*filter.List{mustList(t, name, tc.list)}, nil)})
			for _, hp := range tc.blocked {
				host, path, _ := strings.Cut(hp, "/")
				before := rw.hits.Load()
				resp, body := rw.get(t, rw.url(host, "/"+path), "Accept", "text/html")
				if resp.StatusCode != http.StatusForbidden {
					t.Errorf("%s: got %d, want 403", hp, resp.StatusCode)
				}
				for _, want := range []string{tc.rule, name} {
					if !strings.Contains(html.UnescapeString(body), want) {
						t.Errorf("%s: block page does not name %q:\n%s", hp, want, body)
					}
				}
				if rw.hits.Load() != before {
					t.Errorf("%s: the origin was reached", hp)
				}
			}
			recs := rw.Records(len(tc.blocked))
			for _, r := range recs[:len(tc.blocked)] {
				if r.Result != "TCP_DENIED" || !strings.Contains(r.Rule, tc.rule) {
					t.Errorf("logged %s with rule %q, want TCP_DENIED with %q", r.Result, r.Rule, tc.rule)
				}
			}
			for _, hp := range tc.passed {
				host, path, _ := strings.Cut(hp, "/")
				if resp, body := rw.get(t, rw.url(host, "/"+path)); resp.StatusCode != http.StatusOK {
					t.Errorf("%s: got %d, want 200: %s", hp, resp.StatusCode, body)
				}
			}
		})
	}
}

// TestRulesPrecedence: an allow list beats every block rule; within
// Adblock lists, $important beats @@, and @@ beats a block.
func TestRulesPrecedence(t *testing.T) {
	t.Parallel()
	rw := newRulesWorld(t, nil)
	block := mustList(t, "easylist", "||ads.test^\n||news.test^$important\n@@||news.test^\n@@||www.ads.test^\n||cdn.other.test^\n")
	allow := mustList(t, "allow", "cdn.other.test\n")
	rw.rules.Store(&proxy.Rules{Filter: filter.Compile([]*filter.List{block}, []*filter.List{allow})})
	for _, tc := range []struct {
		host string
		want int
	}{
		{"ads.test", 403},       // blocked
		{"www.ads.test", 200},   // @@ exception
		{"news.test", 403},      // $important beats @@
		{"cdn.other.test", 200}, // the allow list beats the block
		{"ok.test", 200},
	} {
		if resp, _ := rw.get(t, rw.url(tc.host, "/")); resp.StatusCode != tc.want {
			t.Errorf("%s: got %d, want %d", tc.host, resp.StatusCode, tc.want)
		}
	}
}

// TestRulesConnect: a CONNECT is decided on its host; a blocked one gets
// 403 with the same text; path rules never block a tunnel.
func TestRulesConnect(t *testing.T) {
	t.Parallel()
	rw := newRulesWorld(t, nil)
	block := mustList(t, "easylist", "||ads.test^\n/track/*\n")
	rw.rules.Store(&proxy.Rules{Filter: filter.Compile([]*filter.List{block}, nil)})
	status, body := connectAsk(t, rw.World, "CONNECT ads.test:"+rw.port+" HTTP/1.1\r\nHost: ads.test:"+rw.port+"\r\n\r\n", http.MethodConnect)
	if status != http.StatusForbidden || !strings.Contains(body, "||ads.test^") || !strings.Contains(body, "easylist") {
		t.Errorf("CONNECT to a blocked host: got %d %q, want 403 naming the rule and list", status, body)
	}
	if status, _ := connectAsk(t, rw.World, "CONNECT ok.test:"+rw.port+" HTTP/1.1\r\nHost: ok.test:"+rw.port+"\r\n\r\n", http.MethodConnect); status != http.StatusOK {
		t.Errorf("CONNECT to an allowed host: got %d, want 200", status)
	}
}

// TestRulesReportOnly: a matched request is forwarded and logged with
// the rule that would have blocked it.
func TestRulesReportOnly(t *testing.T) {
	t.Parallel()
	rw := newRulesWorld(t, nil)
	rw.rules.Store(&proxy.Rules{ReportOnly: true, Filter: filter.Compile([]*filter.List{mustList(t, "hosts", "0.0.0.0 ads.test\n")}, nil)})
	resp, body := rw.get(t, rw.url("ads.test", "/x"))
	if resp.StatusCode != http.StatusOK || body != "origin body" || rw.hits.Load() != 1 {
		t.Fatalf("report-only: got %d %q with %d origin hits, want the origin's 200", resp.StatusCode, body, rw.hits.Load())
	}
	recs := rw.Records(1)
	if recs[0].Result == "TCP_DENIED" || !strings.Contains(recs[0].Rule, "ads.test") {
		t.Errorf("logged %s rule %q, want a forwarded request with the rule", recs[0].Result, recs[0].Rule)
	}
}

// TestRulesSnapshotPerRequest: a request keeps the rules it started with
// when they are swapped (reloaded) while it runs; the next request uses
// the new ones.
func TestRulesSnapshotPerRequest(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	rw := newRulesWorld(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			started <- struct{}{}
			<-release
		}
		http.SetCookie(w, &http.Cookie{Name: "s", Value: "1"})
		io.WriteString(w, "ok")
	})
	strict, err := privacy.New(privacy.Options{Default: privacy.Strict})
	if err != nil {
		t.Fatal(err)
	}
	rw.rules.Store(&proxy.Rules{Privacy: strict})
	type result struct {
		cookies int
	}
	done := make(chan result, 1)
	go func() {
		resp, _ := rw.get(t, rw.url("cdn.other.test", "/slow"), "Referer", "http://news.test/page")
		done <- result{len(resp.Header["Set-Cookie"])}
	}()
	<-started
	rw.rules.Store(&proxy.Rules{}) // reload: privacy off
	close(release)
	if got := <-done; got.cookies != 0 {
		t.Errorf("in-flight third-party request: got %d Set-Cookie, want 0 (the strict rules it started with)", got.cookies)
	}
	resp, _ := rw.get(t, rw.url("cdn.other.test", "/fast"), "Referer", "http://news.test/page")
	if len(resp.Header["Set-Cookie"]) != 1 {
		t.Errorf("after the reload: got %d Set-Cookie, want 1", len(resp.Header["Set-Cookie"]))
	}
}

// TestRulesPrivacyPresets: what an echoing origin sees at each level.
func TestRulesPrivacyPresets(t *testing.T) {
	t.Parallel()
	rw := newRulesWorld(t, func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "s", Value: "1"})
		io.WriteString(w, "ok")
	})
	pol := func(l privacy.Level) *privacy.Policy {
		p, err := privacy.New(privacy.Options{Default: l})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		level                  privacy.Level
		host, path, referer    string
		wantPath, wantReferer  string
		wantGPC, wantUAChanged bool
		wantCookie, setCookie  bool
	}{
		{privacy.Off, "news.test", "/a?utm_source=x&id=2", "http://cdn.other.test/p?q", "/a?utm_source=x&id=2", "http://cdn.other.test/p?q", false, false, true, true},
		{privacy.Standard, "news.test", "/a?utm_source=x&id=2&fbclid=y", "http://cdn.other.test/p?q", "/a?id=2", "http://cdn.other.test/", true, false, true, true},
		{privacy.Standard, "static.news.test", "/a", "http://news.test/p?q", "/a", "http://news.test/p?q", true, false, true, true}, // same site
		{privacy.Strict, "news.test", "/a?gclid=1", "http://cdn.other.test/p", "/a", "", true, true, false, false},                  // third-party
		{privacy.Strict, "static.news.test", "/a", "http://news.test/p", "/a", "http://news.test/p", true, true, true, true},        // first-party: cookies survive
	} {
		name := tc.level.String() + " " + tc.host + tc.path
		rw.rules.Store(&proxy.Rules{Privacy: pol(tc.level)})
		resp, _ := rw.get(t, rw.url(tc.host, tc.path), "Referer", tc.referer, "Cookie", "sid=abc", "Authorization", "Bearer t", "User-Agent", "custom-agent/1")
		seen := rw.seen.Load()
		if got := seen.URL.RequestURI(); got != tc.wantPath {
			t.Errorf("%s: origin saw %q, want %q", name, got, tc.wantPath)
		}
		if got := seen.Header.Get("Referer"); got != tc.wantReferer {
			t.Errorf("%s: Referer %q, want %q", name, got, tc.wantReferer)
		}
		if got := seen.Header.Get("Sec-Gpc") == "1"; got != tc.wantGPC {
			t.Errorf("%s: Sec-GPC sent %v, want %v", name, got, tc.wantGPC)
		}
		if got := seen.Header.Get("User-Agent") != "custom-agent/1"; got != tc.wantUAChanged {
			t.Errorf("%s: User-Agent %q changed %v, want %v", name, seen.Header.Get("User-Agent"), got, tc.wantUAChanged)
		}
		if got := seen.Header.Get("Cookie") == "sid=abc"; got != tc.wantCookie {
			t.Errorf("%s: Cookie kept %v, want %v", name, got, tc.wantCookie)
		}
		if seen.Header.Get("Authorization") != "Bearer t" {
			t.Errorf("%s: Authorization %q, want it unchanged", name, seen.Header.Get("Authorization"))
		}
		if got := len(resp.Header["Set-Cookie"]) == 1; got != tc.setCookie {
			t.Errorf("%s: Set-Cookie passed %v, want %v", name, got, tc.setCookie)
		}
	}
}
