package proxy_test

import (
	"bufio"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"sluice/internal/access"
	"sluice/internal/cache/store/mem"
	"sluice/internal/proxy"
	"sluice/internal/proxytest"
	"sluice/internal/testwait"
)

func accessList(t *testing.T, defaultAllow bool, rules ...access.Rule) *access.List {
	t.Helper()
	for i := range rules {
		if rules[i].Name == "" {
			rules[i].Name = "access.rules[" + string(rune('0'+i)) + "]"
		}
	}
	l, err := access.Compile(rules, defaultAllow)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestAccessRules: the first matching rule decides, by host, method, port,
// user and destination address; a denial is a 403 naming the rule, logged,
// and nothing reaches the origin.
func TestAccessRules(t *testing.T) {
	rw := newRulesWorld(t, nil)
	rs := authRules(t, "alice:wonderland", "bob:builder")
	rs.Access = accessList(t, true,
		access.Rule{Allow: true, Users: []string{"alice"}, Hosts: []string{"news.test"}},
		access.Rule{Allow: false, Hosts: []string{".news.test"}},
		access.Rule{Allow: false, Methods: []string{"POST"}, Hosts: []string{"ok.test"}},
		access.Rule{Allow: false, Users: []string{"bob"}, Dest: []string{"loopback"}, Hosts: []string{"cdn.other.test"}},
	)
	rw.rules.Store(rs)
	alice, bob := basicAuth("alice:wonderland"), basicAuth("bob:builder")
	n := 0 // requests so far, to find each one's access log record

	for _, tc := range []struct {
		name, method, host, cred string
		status                   int
		rule                     string
	}{
		{"alice may reach news", "GET", "news.test", alice, 200, ""},
		{"bob may not", "GET", "news.test", bob, 403, "access.rules[1]"},
		{"nor the subdomains, alice either", "GET", "static.news.test", alice, 403, "access.rules[1]"},
		{"GET elsewhere", "GET", "ok.test", bob, 200, ""},
		{"POST denied by method", "POST", "ok.test", bob, 403, "access.rules[2]"},
		{"bob may not reach a loopback address", "GET", "cdn.other.test", bob, 403, "access.rules[3]"},
		{"alice may", "GET", "cdn.other.test", alice, 200, ""},
	} {
		n++
		t.Run(tc.name, func(t *testing.T) {
			// Records are written after the response, so the previous
			// request's could otherwise come after this one's.
			testwait.Until(t, "the earlier requests' access-log records", 5*time.Second, func() bool {
				return len(rw.Records(0)) >= n-1
			})
			before := rw.hits.Load()
			req, _ := http.NewRequest(tc.method, rw.url(tc.host, "/"), strings.NewReader(""))
			req.Header.Set("Proxy-Authorization", tc.cred)
			resp, err := rw.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			reached := rw.hits.Load() - before
			if tc.status == 403 {
				if reached != 0 {
					t.Errorf("the origin was reached")
				}
				if !strings.Contains(string(body), tc.rule) {
					t.Errorf("page does not name %s: %s", tc.rule, body)
				}
				if rec := rw.Records(n)[n-1]; rec.Rule != tc.rule || rec.Result != "TCP_DENIED" {
					t.Errorf("access log: rule %q result %q", rec.Rule, rec.Result)
				}
			} else if reached != 1 {
				t.Errorf("origin reached %d times", reached)
			}
		})
	}
}

// TestAccessConnect: rules apply to CONNECT too, port conditions included.
func TestAccessConnect(t *testing.T) {
	rw := newRulesWorld(t, nil)
	rw.rules.Store(&proxy.Rules{Access: accessList(t, true,
		access.Rule{Allow: false, Methods: []string{"CONNECT"}, Hosts: []string{"ads.test"}},
		access.Rule{Allow: false, Methods: []string{"CONNECT"}, Ports: []string{rw.port}, Dest: []string{"127.0.0.0/8"}, Hosts: []string{"news.test"}},
	)})
	for host, want := range map[string]int{"ads.test": 403, "news.test": 403, "ok.test": 200} {
		target := host + ":" + rw.port
		c := rw.Dial()
		io.WriteString(c, "CONNECT "+target+" HTTP/1.1\r\nHost: "+target+"\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: http.MethodConnect})
		c.Close()
		if err != nil {
			t.Fatalf("%s: %v", host, err)
		}
		if resp.StatusCode != want {
			t.Errorf("CONNECT %s: status %d, want %d", host, resp.StatusCode, want)
		}
	}
}

// TestAccessDefaultDeny: with default deny only what a rule allows passes,
// and the page says it was the default.
func TestAccessDefaultDeny(t *testing.T) {
	rw := newRulesWorld(t, nil)
	rw.rules.Store(&proxy.Rules{Access: accessList(t, false,
		access.Rule{Allow: true, Hosts: []string{"ok.test"}, Clients: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}},
	)})
	if resp, _ := rw.get(t, rw.url("ok.test", "/")); resp.StatusCode != 200 {
		t.Fatalf("allowed host: %d", resp.StatusCode)
	}
	resp, body := rw.get(t, rw.url("news.test", "/"))
	if resp.StatusCode != 403 || !strings.Contains(body, "access.default") {
		t.Fatalf("other host: %d %s", resp.StatusCode, body)
	}
}

// TestAccessBeforeCache: a response cached while a destination was allowed
// is not served once a rule denies its address: the rule is checked, on
// the resolved address, before the cache is asked.
func TestAccessBeforeCache(t *testing.T) {
	var rules atomic.Pointer[proxy.Rules]
	res := proxytest.StaticResolver{"intranet.test": {netip.MustParseAddr("127.0.0.1")}}
	w := proxytest.New(t, proxytest.Options{Resolver: res, Store: mem.New(mem.Options{Capacity: 1 << 20}),
		Rules: func() *proxy.Rules { return rules.Load() }})
	var hits atomic.Int32
	origin := w.Origin(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		rw.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(rw, "secret")
	}))
	_, port, _ := strings.Cut(origin.Listener.Addr().String(), ":")
	u := "http://intranet.test:" + port + "/doc"
	get := func() (int, string) {
		resp, err := w.Client().Get(u)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(b)
	}
	for range 2 {
		if st, b := get(); st != 200 || b != "secret" {
			t.Fatalf("allowed: %d %q", st, b)
		}
	}
	if hits.Load() != 1 {
		t.Fatalf("origin hit %d times; the second request should have been a cache hit", hits.Load())
	}
	rules.Store(&proxy.Rules{Access: accessList(t, true, access.Rule{Allow: false, Dest: []string{"loopback"}})})
	if st, b := get(); st != 403 || !strings.Contains(b, "access.rules[0]") {
		t.Fatalf("after the deny rule: %d %q", st, b)
	}
}
