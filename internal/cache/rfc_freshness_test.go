package cache_test

// Freshness (RFC 9111 §4.2), its directives and fields (§5.1 Age,
// §5.2.1 request directives, §5.2.2.1 max-age, §5.2.2.10 s-maxage,
// §5.3 Expires, §5.4 Pragma), heuristic freshness (§4.2.2, RFC 9110
// §15.1), and what a response built from the cache carries (§4: Age;
// RFC 9110 §6.6.1 Date; RFC 9211 Cache-Status; access-log codes).

import (
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"sluice/internal/cache/semantics"
	"sluice/internal/proxytest"
)

func TestFreshnessMaxAge(t *testing.T) {
	t.Parallel()
	cc := func(v string) [][2]string { return h("Cache-Control", v) }
	runReuse(t, []reuseCase{
		{name: "§5.2.2.1 fresh max-age is reused", resp: cc("max-age=3600"), advance: 10, reused: true},
		{name: "§4.2 stale once age exceeds max-age", resp: cc("max-age=10"), advance: 11},
		{name: "§4.2 stale when age equals max-age", resp: cc("max-age=10"), advance: 10},
		{name: "§4.2 fresh one second before max-age", resp: cc("max-age=10"), advance: 9, reused: true},
		{name: "§5.2.2.1 max-age=0 is not reused", resp: cc("max-age=0")},
		{name: "§5.2 directive names are case-insensitive", resp: cc("MaX-AgE=3600"), advance: 10, reused: true},
		{name: "§5.2 quoted-string argument is accepted", resp: cc(`max-age="3600"`), advance: 10, reused: true},
		{name: "§1.2.2 leading zeros are digits", resp: cc("max-age=003600"), advance: 10, reused: true},
		{name: "§1.2.2 2^31 is accepted", resp: cc("max-age=2147483648"), advance: 10, reused: true},
		{name: "§1.2.2 larger than 2^31 saturates", resp: cc("max-age=99999999999"), advance: 10, reused: true},
		{name: "§1.2.2 beyond int64 saturates", resp: cc("max-age=999999999999999999999999"), advance: 10, reused: true},
		{name: "§5.2 unknown extension is ignored", resp: cc("foobar, max-age=3600"), advance: 10, reused: true},
		{name: "§5.2 unknown extension with argument is ignored", resp: cc(`foo=bar, max-age=3600, baz="q,x"`), advance: 10, reused: true},
		{name: "§4.2.1 invalid max-age (leading alpha) is stale", resp: cc("max-age=a100"), advance: 1},
		{name: "§4.2.1 invalid max-age (trailing alpha) is stale", resp: cc("max-age=100a"), advance: 1},
		{name: "§4.2.1 negative max-age is stale", resp: cc("max-age=-100"), advance: 1},
		{name: "§4.2.1 decimal max-age (.0) is stale", resp: cc("max-age=3600.0"), advance: 1},
		{name: "§4.2.1 decimal max-age (.5) is stale", resp: cc("max-age=3600.5"), advance: 1},
		{name: "§4.2.1 single-quoted max-age is stale", resp: cc("max-age='3600'"), advance: 1},
		{name: "§4.2.1 empty max-age is stale", resp: cc("max-age="), advance: 1},
		{name: "§4.2.1 max-age without argument is stale", resp: cc("max-age"), advance: 1},
		{name: "§5.2 max-age with space before = is not a max-age", resp: cc("max-age =3600"), advance: 1},
		{name: "§5.2 max-age with space after = is not a max-age", resp: cc("max-age= 3600"), advance: 1},
		{name: "§5.2 max-age inside a quoted extension is ignored", resp: cc(`extension="max-age=3600", max-age=1`), advance: 5},
		{name: "§5.2 max-age inside a quoted extension is ignored (after)", resp: cc(`max-age=1, extension="max-age=3600"`), advance: 5},
		{name: "§5.2 max-age inside a quoted extension is ignored (quoted max-age)", resp: cc(`extension="max-age=3600", max-age="1"`), advance: 5},
		{name: "§5.2 max-age only inside a quoted extension", resp: cc(`extension="max-age=3600"`), advance: 5},
		{name: "§4.2.1 duplicate max-age, first stale (same line)", resp: cc("max-age=1, max-age=3600"), advance: 5},
		{name: "§4.2.1 duplicate max-age, first stale (two lines)", resp: h("Cache-Control", "max-age=1", "Cache-Control", "max-age=3600"), advance: 5},
		{name: "§5.2 directives on two field lines form one list", resp: h("Cache-Control", "public", "Cache-Control", "max-age=3600"), advance: 10, reused: true},
		{name: "§5.2 directives with odd whitespace", resp: cc(" ,  public ,max-age=3600 , "), advance: 10, reused: true},
	})
}

func TestFreshnessSMaxAge(t *testing.T) {
	t.Parallel()
	cc := func(v string) [][2]string { return h("Cache-Control", v) }
	runReuse(t, []reuseCase{
		{name: "§5.2.2.10 s-maxage alone is reused", resp: cc("s-maxage=3600"), advance: 10, reused: true},
		{name: "§4.2.1 s-maxage overrides a longer max-age", resp: cc("max-age=3600, s-maxage=1"), advance: 5},
		{name: "§4.2.1 s-maxage overrides a longer max-age (reversed)", resp: cc("s-maxage=1, max-age=3600"), advance: 5},
		{name: "§4.2.1 s-maxage overrides a longer max-age (two lines)", resp: h("Cache-Control", "max-age=3600", "Cache-Control", "s-maxage=1"), advance: 5},
		{name: "§4.2.1 s-maxage overrides a shorter max-age", resp: cc("max-age=1, s-maxage=3600"), advance: 5, reused: true},
		{name: "§4.2.1 s-maxage=0 overrides max-age", resp: cc("max-age=3600, s-maxage=0")},
		{name: "§4.2.1 s-maxage overrides Expires", resp: h("Cache-Control", "s-maxage=1", "Expires", at(3600)), advance: 5},
		{name: "§5.2.2.10 S-MAXAGE is case-insensitive", resp: cc("S-MAXAGE=3600"), advance: 10, reused: true},
		{name: "§4.2.1 invalid s-maxage is stale even with max-age", resp: cc("s-maxage=x, max-age=3600"), advance: 5},
	})
}

func TestFreshnessExpires(t *testing.T) {
	t.Parallel()
	runReuse(t, []reuseCase{
		{name: "§5.3 future Expires is fresh", resp: h("Expires", at(3600)), advance: 10, reused: true},
		{name: "§5.3 Expires passed is stale", resp: h("Expires", at(30)), advance: 31},
		{name: "§5.3 past Expires is stale", resp: h("Expires", at(-3600))},
		{name: "§5.3 Expires equal to Date is stale", resp: h("Expires", at(0))},
		{name: "§5.3 Expires: 0 is already expired", resp: h("Expires", "0")},
		{name: "§5.3 invalid Expires (UTC) is already expired", resp: h("Expires", "Thu, 18 Aug 2050 02:01:18 UTC")},
		{name: "§5.3 invalid Expires (two-digit year) is already expired", resp: h("Expires", "Thu, 18 Aug 50 02:01:18 GMT")},
		{name: "§5.3 invalid Expires (no comma) is already expired", resp: h("Expires", "Thu 18 Aug 2050 02:01:18 GMT")},
		{name: "§5.3 invalid Expires (dashes) is already expired", resp: h("Expires", "Thu, 18-Aug-2050 02:01:18 GMT")},
		{name: "§5.3 invalid Expires (one-digit hour) is already expired", resp: h("Expires", "Thu, 18 Aug 2050 2:01:18 GMT")},
		{name: "§5.3 empty Expires is already expired", resp: h("Expires", "")},
		{name: "RFC 9110 §5.6.7 Expires in RFC 850 format is accepted", resp: h("Expires", rfc850(3600)), advance: 10, reused: true},
		{name: "RFC 9110 §5.6.7 Expires in asctime format is accepted", resp: h("Expires", asctime(3600)), advance: 10, reused: true},
		// 46 years ahead: "more than 50 years in the future" is the only
		// reason to read a two-digit year as a past one.
		{name: "RFC 9110 §5.6.7 RFC 850 two-digit year less than 50 years ahead is in the future", resp: h("Expires", rfc850(46*365*86400)), advance: 10, reused: true},
		{name: "§4.2.1 two different Expires, first in the past", resp: h("Expires", at(-10), "Expires", at(3600))},
		{name: "§5.3 max-age overrides a past Expires", resp: h("Cache-Control", "max-age=3600", "Expires", at(-3600)), advance: 10, reused: true},
		{name: "§5.3 max-age overrides an invalid Expires", resp: h("Cache-Control", "max-age=3600", "Expires", "0"), advance: 10, reused: true},
		{name: "§5.3 max-age=0 overrides a future Expires", resp: h("Cache-Control", "max-age=0", "Expires", at(3600))},
		{name: "§4.2.1 Expires counts from Date (origin clock ahead)", resp: h("Date", at(5000), "Expires", at(5060)), advance: 100},
		{name: "§4.2.3 apparent age counts against Expires freshness", resp: h("Date", at(-5000), "Expires", at(-4940)), advance: 30},
		{name: "§4.2.1 Expires without Date counts from the response time", resp: h("Date", "", "Expires", at(3600)), advance: 10, reused: true},
		{name: "§4.2.1 Expires with an invalid Date counts from the response time", resp: h("Date", "yesterday", "Expires", at(3600)), advance: 10, reused: true},
		{name: "§4.2.2 no heuristic when Expires is invalid", resp: h("Expires", "0", "Last-Modified", at(-86400)), advance: 1},
	})
}

func TestFreshnessAge(t *testing.T) {
	t.Parallel()
	runReuse(t, []reuseCase{
		{name: "§4.2.3 Age above max-age is stale", resp: h("Cache-Control", "max-age=10", "Age", "15")},
		{name: "§4.2.3 Age below max-age is fresh", resp: h("Cache-Control", "max-age=3600", "Age", "1800"), advance: 10, reused: true},
		{name: "§4.2.3 Age plus resident time above max-age is stale", resp: h("Cache-Control", "max-age=100", "Age", "60"), advance: 50},
		{name: "§4.2.3 Age counts with Expires too", resp: h("Expires", at(100), "Age", "200")},
		{name: "§5.1 non-numeric Age is ignored", resp: h("Cache-Control", "max-age=3600", "Age", "abc"), advance: 10, reused: true},
		{name: "§5.1 negative Age is ignored", resp: h("Cache-Control", "max-age=3600", "Age", "-7200"), advance: 10, reused: true},
		{name: "§5.1 decimal Age is ignored", resp: h("Cache-Control", "max-age=3600", "Age", "7200.0"), advance: 10, reused: true},
		{name: "§5.1 list Age uses the first member (old)", resp: h("Cache-Control", "max-age=3600", "Age", "7200, 0")},
		{name: "§5.1 list Age uses the first member (young)", resp: h("Cache-Control", "max-age=3600", "Age", "0, 7200"), advance: 10, reused: true},
		{name: "§5.1 two Age lines use the first (old)", resp: h("Cache-Control", "max-age=3600", "Age", "7200", "Age", "0")},
		{name: "§5.1 two Age lines use the first (young)", resp: h("Cache-Control", "max-age=3600", "Age", "0", "Age", "7200"), advance: 10, reused: true},
		{name: "§1.2.2 huge Age saturates and is stale", resp: h("Cache-Control", "max-age=3600", "Age", "99999999999999999999")},
		{name: "§4.2.3 Date in the past adds apparent age", resp: h("Cache-Control", "max-age=60", "Date", at(-100))},
		{name: "§4.2.3 Date in the future gives no negative age", resp: h("Cache-Control", "max-age=60", "Date", at(100)), advance: 30, reused: true},
		{name: "§4.2.3 invalid Date counts as the response time", resp: h("Cache-Control", "max-age=60", "Date", "yesterday"), advance: 30, reused: true},
		{name: "§4.2.3 missing Date counts as the response time", resp: h("Cache-Control", "max-age=60", "Date", ""), advance: 30, reused: true},
	})
}

func TestFreshnessHeuristic(t *testing.T) {
	t.Parallel()
	lm := func(status int, extra ...string) reuseCase {
		return reuseCase{status: status, resp: append(h("Last-Modified", at(-86400)), h(extra...)...), advance: 10}
	}
	var cases []reuseCase
	// RFC 9110 §15.1: heuristically cacheable status codes.
	for _, s := range []int{200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501} {
		c := lm(s)
		c.name = "§4.2.2 heuristic for " + strconv.Itoa(s)
		c.reused = true
		cases = append(cases, c)
	}
	for _, s := range []int{201, 202, 302, 303, 307, 400, 403, 500, 502, 503, 504, 299, 599} {
		c := lm(s)
		c.name = "§4.2.2 no heuristic for " + strconv.Itoa(s)
		cases = append(cases, c)
	}
	pub := lm(599, "Cache-Control", "public")
	pub.name, pub.reused = "§4.2.2 heuristic for 599 marked public", true
	cases = append(cases, pub)
	cases = append(cases,
		reuseCase{name: "§4.2.2 10% of the time since Last-Modified: fresh before", resp: h("Last-Modified", at(-10000)), advance: 999, reused: true},
		reuseCase{name: "§4.2.2 10% of the time since Last-Modified: stale after", resp: h("Last-Modified", at(-10000)), advance: 1001},
		reuseCase{name: "§4.2.3 heuristic lifetime is reduced by apparent age", resp: h("Date", at(-5000), "Last-Modified", at(-15000)), advance: 10},
		reuseCase{name: "§4.2.2 no heuristic when max-age is invalid", resp: h("Cache-Control", "max-age=abc", "Last-Modified", at(-86400)), advance: 1},
		reuseCase{name: "§4.2.2 no heuristic when max-age=0", resp: h("Cache-Control", "max-age=0", "Last-Modified", at(-86400)), advance: 1},
		reuseCase{name: "§4.2.2 Last-Modified after Date gives no heuristic", resp: h("Last-Modified", at(100)), advance: 1},
		reuseCase{name: "§4.2.2 Last-Modified equal to Date gives no heuristic", resp: h("Last-Modified", at(0)), advance: 1},
		reuseCase{name: "§4.2.2 invalid Last-Modified gives no heuristic", resp: h("Last-Modified", "last week"), advance: 1},
		reuseCase{name: "§4.2.2 heuristic is bounded (24 h by default)", resp: h("Last-Modified", at(-10*365*86400)), advance: 25 * 3600},
		reuseCase{name: "§4.2.2 heuristic lifetime can be long", resp: h("Last-Modified", at(-10*365*86400)), advance: 23 * 3600, reused: true},
		reuseCase{name: "§4.2.2 heuristic off by configuration", resp: h("Last-Modified", at(-86400)), advance: 10,
			opts: proxytest.Options{CacheRules: semantics.Options{HeuristicFraction: -1}}},
		reuseCase{name: "§4.2.2 Content-Disposition does not prevent heuristic", resp: h("Last-Modified", at(-86400), "Content-Disposition", "attachment; filename=a.txt"), advance: 10, reused: true},
		reuseCase{name: "§5.4 Pragma: no-cache in a heuristically fresh response is ignored", resp: h("Last-Modified", at(-86400), "Pragma", "no-cache"), advance: 10, reused: true},
	)
	runReuse(t, cases)
}

func TestRequestDirectives(t *testing.T) {
	t.Parallel()
	fresh := h("Cache-Control", "max-age=3600", "ETag", `"v1"`)
	runReuse(t, []reuseCase{
		{name: "§5.2.1.1 max-age=0 needs validation", resp: fresh, advance: 1, req2: []string{"Cache-Control", "max-age=0"}},
		{name: "§5.2.1.1 max-age below the age needs validation", resp: h("Cache-Control", "max-age=3600", "Age", "1800"), req2: []string{"Cache-Control", "max-age=600"}},
		{name: "§5.2.1.1 max-age above the age is reused", resp: h("Cache-Control", "max-age=3600", "Age", "1800"), req2: []string{"Cache-Control", "max-age=2000"}, reused: true},
		{name: "§5.2.1.1 max-age counts resident time", resp: fresh, advance: 100, req2: []string{"Cache-Control", "max-age=50"}},
		{name: "§5.2.1.1 max-age does not make stale reusable", resp: h("Cache-Control", "max-age=10"), advance: 20, req2: []string{"Cache-Control", "max-age=3600"}},
		{name: "§5.2.1.2 max-stale allows a stale response", resp: h("Cache-Control", "max-age=1"), advance: 10, req2: []string{"Cache-Control", "max-stale=1000"}, reused: true},
		{name: "§5.2.1.2 max-stale without value allows any staleness", resp: h("Cache-Control", "max-age=1"), advance: 1000000, req2: []string{"Cache-Control", "max-stale"}, reused: true},
		{name: "§5.2.1.2 max-stale too small", resp: h("Cache-Control", "max-age=1"), advance: 100, req2: []string{"Cache-Control", "max-stale=5"}},
		{name: "§5.2.1.2 max-stale with Age", resp: h("Cache-Control", "max-age=1500", "Age", "2000"), req2: []string{"Cache-Control", "max-stale=1000"}, reused: true},
		{name: "§5.2.1.2 max-stale does not override must-revalidate", resp: h("Cache-Control", "max-age=1, must-revalidate"), advance: 10, req2: []string{"Cache-Control", "max-stale=1000"}},
		{name: "§5.2.1.2 max-stale does not override proxy-revalidate", resp: h("Cache-Control", "max-age=1, proxy-revalidate"), advance: 10, req2: []string{"Cache-Control", "max-stale=1000"}},
		{name: "§5.2.1.2 max-stale does not override s-maxage", resp: h("Cache-Control", "s-maxage=1"), advance: 10, req2: []string{"Cache-Control", "max-stale=1000"}},
		{name: "§5.2.1.2 max-stale does not override no-cache", resp: h("Cache-Control", "max-age=1, no-cache"), advance: 10, req2: []string{"Cache-Control", "max-stale=1000"}},
		{name: "§5.2.1.3 min-fresh above the remaining lifetime", resp: h("Cache-Control", "max-age=1500"), req2: []string{"Cache-Control", "min-fresh=2000"}},
		{name: "§5.2.1.3 min-fresh with Age", resp: h("Cache-Control", "max-age=1500", "Age", "1000"), req2: []string{"Cache-Control", "min-fresh=1000"}},
		{name: "§5.2.1.3 min-fresh within the remaining lifetime", resp: h("Cache-Control", "max-age=1500"), advance: 100, req2: []string{"Cache-Control", "min-fresh=1000"}, reused: true},
		{name: "§5.2.1.4 no-cache needs validation", resp: fresh, req2: []string{"Cache-Control", "no-cache"}},
		{name: "§5.2.1.4 NO-CACHE is case-insensitive", resp: fresh, req2: []string{"Cache-Control", "NO-CACHE"}},
		{name: "§5.2.1.4 no-cache among other directives", resp: fresh, req2: []string{"Cache-Control", "max-stale=10, no-cache"}},
		{name: "§5.4 Pragma: no-cache without Cache-Control needs validation", resp: fresh, req2: []string{"Pragma", "no-cache"}},
		{name: "§5.4 Pragma: no-cache is ignored with Cache-Control", resp: fresh, req2: []string{"Pragma", "no-cache", "Cache-Control", "max-stale=10"}, reused: true},
		{name: "§5.4 unknown Pragma is ignored", resp: fresh, req2: []string{"Pragma", "unrecognised-extension"}, reused: true},
		{name: "§5.4 Pragma: no-cache in a response is ignored", resp: h("Cache-Control", "max-age=3600", "Pragma", "no-cache"), advance: 10, reused: true},
		{name: "§5.2 unknown request directive is ignored", resp: fresh, req2: []string{"Cache-Control", "foo=bar, baz"}, reused: true},
		{name: "§3 a request Cookie does not prevent reuse", resp: fresh, req2: []string{"Cookie", "a=b"}, reused: true},
	})
}

// TestRequestNoStore checks that a response to a request with no-store is
// not stored (RFC 9111 §5.2.1.5).
func TestRequestNoStore(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, proxytest.Options{})
		o := e.scripted(reply{header: h("Cache-Control", "max-age=3600")})
		u := o.url("/ns")
		e.get(u, "Cache-Control", "no-store")
		r := e.get(u)
		if o.count() != 2 {
			t.Errorf("origin saw %d requests, want 2: the response to a no-store request was stored (Cache-Status %q)", o.count(), r.cs())
		}
	})
}

// TestOnlyIfCached checks RFC 9111 §5.2.1.7: answer from the cache or
// with 504, never contacting the origin.
func TestOnlyIfCached(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		store   bool // store a response first
		cc      string
		advance int
		req     string // request Cache-Control; "" means only-if-cached
		status  int
	}{
		{name: "§5.2.1.7 nothing stored is 504", status: http.StatusGatewayTimeout},
		{name: "§5.2.1.7 fresh stored response is served", store: true, cc: "max-age=3600", advance: 10, status: http.StatusOK},
		{name: "§5.2.1.7 stale stored response is 504", store: true, cc: "max-age=10", advance: 100, status: http.StatusGatewayTimeout},
		{name: "§5.2.1.7 no-cache stored response is 504", store: true, cc: "max-age=3600, no-cache", advance: 10, status: http.StatusGatewayTimeout},
		{name: "§5.2.1.7 stale response accepted by max-stale is served", store: true, cc: "max-age=10", advance: 100, req: "only-if-cached, max-stale", status: http.StatusOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			forEachStore(t, func(t *testing.T, kind string) {
				e := newEnv(t, kind, proxytest.Options{})
				o := e.scripted(reply{header: h("Cache-Control", tc.cc, "ETag", `"x"`)})
				u := o.url("/oic")
				if tc.store {
					e.get(u)
				}
				before := o.count()
				e.clock.Advance(time.Duration(tc.advance) * time.Second)
				cc := tc.req
				if cc == "" {
					cc = "only-if-cached"
				}
				r := e.get(u, "Cache-Control", cc)
				if r.status != tc.status {
					t.Errorf("status %d, want %d", r.status, tc.status)
				}
				if o.count() != before {
					t.Errorf("origin saw %d requests, want %d: only-if-cached must not contact the origin", o.count(), before)
				}
				if tc.status == http.StatusOK && r.body != "body-1" {
					t.Errorf("body %q, want the stored body-1", r.body)
				}
			})
		})
	}
}

// TestAgeHeader checks that a response served from the cache carries an
// accurate Age (RFC 9111 §4, §5.1, §4.2.3).
func TestAgeHeader(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		resp    [][2]string
		advance int
		age     string
	}{
		{name: "§5.1 Age on a hit is the resident time", resp: h("Cache-Control", "max-age=600"), advance: 42, age: "42"},
		{name: "§4.2.3 Age adds the origin's Age", resp: h("Cache-Control", "max-age=600", "Age", "30"), advance: 100, age: "130"},
		{name: "§4.2.3 Age adds the apparent age", resp: h("Cache-Control", "max-age=600", "Date", at(-20)), advance: 5, age: "25"},
		{name: "§4.2.3 Age with freshness from Expires", resp: h("Expires", at(30*86400), "Age", "30"), advance: 3, age: "33"},
		{name: "§5.1 Age is present on an immediate hit", resp: h("Cache-Control", "max-age=600"), age: "0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			forEachStore(t, func(t *testing.T, kind string) {
				e := newEnv(t, kind, proxytest.Options{})
				o := e.scripted(reply{header: tc.resp})
				u := o.url("/age")
				e.get(u)
				e.clock.Advance(time.Duration(tc.advance) * time.Second)
				r := e.get(u)
				if o.count() != 1 {
					t.Fatalf("origin saw %d requests, want 1", o.count())
				}
				if got := r.header.Values("Age"); len(got) != 1 || got[0] != tc.age {
					t.Errorf("Age %q, want %q", got, tc.age)
				}
			})
		})
	}
}

// TestAgeResponseDelay checks that the time the origin took to answer
// counts in the age (RFC 9111 §4.2.3: corrected_age_value = age_value +
// response_delay).
func TestAgeResponseDelay(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		resp   [][2]string
		age    string
		reused bool
	}{
		{name: "§4.2.3 response delay is added to the origin's Age", resp: h("Cache-Control", "max-age=100", "Age", "5"), age: "15", reused: true},
		{name: "§4.2.3 response delay counts without an Age field", resp: h("Cache-Control", "max-age=100"), age: "10", reused: true},
		{name: "§4.2.3 response delay can make a response stale", resp: h("Cache-Control", "max-age=12", "Age", "5")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			forEachStore(t, func(t *testing.T, kind string) {
				e := newEnv(t, kind, proxytest.Options{})
				o := e.origin(func(n int, w http.ResponseWriter, r *http.Request) {
					e.clock.Advance(10 * time.Second) // the origin takes 10 s
					e.write(w, n, reply{header: tc.resp})
				})
				u := o.url("/delay")
				e.get(u)
				r := e.get(u)
				if reused := o.count() == 1; reused != tc.reused {
					t.Fatalf("reused: %v, want %v (origin saw %d requests)", reused, tc.reused, o.count())
				}
				if tc.reused && r.header.Get("Age") != tc.age {
					t.Errorf("Age %q, want %q", r.header.Get("Age"), tc.age)
				}
			})
		})
	}
}

// TestDate checks RFC 9110 §6.6.1: the cache adds a Date to a response
// that has none before storing or forwarding it, and keeps the stored
// Date on a hit (cache-tests other-date-update).
func TestDate(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, proxytest.Options{})
		o := e.scripted(reply{header: h("Cache-Control", "max-age=600", "Date", "")})
		u := o.url("/date")
		r1 := e.get(u)
		want := e.clock.At(0)
		if got := r1.header.Get("Date"); got != want {
			t.Errorf("miss: Date %q, want %q (added by the cache at the response time)", got, want)
		}
		e.clock.Advance(50 * time.Second)
		r2 := e.get(u)
		if got := r2.header.Get("Date"); got != want {
			t.Errorf("hit: Date %q, want the stored %q", got, want)
		}
		if got := r2.header.Get("Age"); got != "50" {
			t.Errorf("hit: Age %q, want 50", got)
		}
	})
}

// TestCacheStatus checks the Cache-Status member the cache adds (RFC 9211)
// through a response's life: stored miss, hit, revalidation, unsafe
// method, uncacheable response.
func TestCacheStatus(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, proxytest.Options{})
		o := e.origin(func(n int, w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/nostore" {
				e.write(w, n, reply{header: h("Cache-Control", "no-store")})
				return
			}
			if r.Header.Get("If-None-Match") == `"e"` {
				e.write(w, n, reply{status: 304, header: h("Cache-Control", "max-age=60", "ETag", `"e"`)})
				return
			}
			e.write(w, n, reply{header: h("Cache-Control", "max-age=60", "ETag", `"e"`)})
		})
		u := o.url("/cs")
		check := func(step string, r result, params ...string) {
			t.Helper()
			cs := r.cs()
			if cs == "" {
				t.Errorf("%s: no sluice member in Cache-Status %q", step, r.header.Values("Cache-Status"))
				return
			}
			for _, p := range params {
				if !csHas(cs, p) {
					t.Errorf("%s: Cache-Status %q lacks %q", step, cs, p)
				}
			}
		}
		r := e.get(u)
		check("first request", r, "fwd=uri-miss", "stored")
		if csHas(r.cs(), "hit") {
			t.Errorf("first request: Cache-Status %q says hit", r.cs())
		}
		e.clock.Advance(10 * time.Second)
		r = e.get(u)
		check("fresh hit", r, "hit")
		if ttl, ok := csParam(r.cs(), "ttl"); !ok || ttl != "50" {
			t.Errorf("fresh hit: ttl %q, want 50 (RFC 9211 §2.3)", ttl)
		}
		if _, ok := csParam(r.cs(), "fwd"); ok {
			t.Errorf("fresh hit: Cache-Status %q has fwd", r.cs())
		}
		r = e.get(u, "Cache-Control", "no-cache")
		check("fresh, request no-cache", r, "fwd=request", "fwd-status=304")
		e.clock.Advance(100 * time.Second)
		r = e.get(u)
		check("stale, revalidated", r, "fwd=stale", "fwd-status=304")
		if csHas(r.cs(), "hit") {
			t.Errorf("revalidated: Cache-Status %q says hit (RFC 9211 §2.1: the request went forward)", r.cs())
		}
		r = e.do(newReq(http.MethodPost, u))
		check("POST", r, "fwd=method")
		r = e.get(o.url("/nostore"))
		check("uncacheable", r, "fwd=uri-miss")
		if csHas(r.cs(), "stored") {
			t.Errorf("no-store response: Cache-Status %q says stored", r.cs())
		}
	})
}

// TestResultCodes checks the Squid result codes of the access log through
// a response's life.
func TestResultCodes(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, proxytest.Options{})
		var etagp atomic.Pointer[string]
		etag := `"1"`
		etagp.Store(&etag)
		o := e.origin(func(n int, w http.ResponseWriter, r *http.Request) {
			etag := *etagp.Load()
			hdr := h("Cache-Control", "max-age=60", "ETag", etag)
			if r.Header.Get("If-None-Match") == etag {
				e.write(w, n, reply{status: 304, header: hdr})
				return
			}
			e.write(w, n, reply{header: hdr})
		})
		u := o.url("/codes")
		steps := []struct {
			name    string
			advance int
			req     *http.Request
			before  func()
			want    string
		}{
			{name: "miss", req: newReq("GET", u), want: "TCP_MISS"},
			{name: "hit", advance: 10, req: newReq("GET", u), want: e.hit()},
			{name: "client conditional answered by the cache", req: newReq("GET", u, "If-None-Match", `"1"`), want: "TCP_IMS_HIT"},
			{name: "stale, 304", advance: 100, req: newReq("GET", u), want: "TCP_REFRESH_UNMODIFIED"},
			{name: "stale, 200", advance: 100, before: func() { v := `"2"`; etagp.Store(&v) }, req: newReq("GET", u), want: "TCP_REFRESH_MODIFIED"},
			{name: "client no-cache, nothing stored", req: newReq("GET", o.url("/other"), "Cache-Control", "no-cache"), want: "TCP_CLIENT_REFRESH_MISS"},
			{name: "stale served with max-stale", advance: 100, req: newReq("GET", u, "Cache-Control", "max-stale"), want: "TCP_STALE_HIT"},
		}
		for i, s := range steps {
			if s.before != nil {
				s.before()
			}
			e.clock.Advance(time.Duration(s.advance) * time.Second)
			e.do(s.req)
			if got := e.logged(i + 1); got != s.want {
				t.Errorf("%s: result %q, want %q", s.name, got, s.want)
			}
		}
	})
}
