package cache_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"sluice/internal/cache"
	"sluice/internal/cache/semantics"
	"sluice/internal/cache/store"
	"sluice/internal/cache/store/mem"
)

// TestLifetime checks how long a stored response is of use (what the
// Redis tier sets as its expiry), at explicit times.
func TestLifetime(t *testing.T) {
	t.Parallel()
	base := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	date := func(secs int) string { return httpDate(base.Add(time.Duration(secs) * time.Second)) }
	const day = 24 * time.Hour
	cases := []struct {
		name   string
		status int         // 0 means 200
		header [][2]string // Date is base unless given
		req    int         // request time, seconds from base
		now    int         // seconds from base
		rules  semantics.Options
		want   time.Duration
	}{
		{name: "§4.2.1 max-age, just received", header: h("Cache-Control", "max-age=600"), want: 600 * time.Second},
		{name: "§4.2.3 max-age, resident 100 s", header: h("Cache-Control", "max-age=600"), now: 100, want: 500 * time.Second},
		{name: "§4.2.3 Age counts", header: h("Cache-Control", "max-age=600", "Age", "100"), want: 500 * time.Second},
		{name: "§4.2.3 response delay counts", header: h("Cache-Control", "max-age=600"), req: -10, want: 590 * time.Second},
		{name: "§4.2.3 apparent age counts", header: h("Cache-Control", "max-age=600", "Date", date(-30)), want: 570 * time.Second},
		{name: "§4.2.1 s-maxage over max-age", header: h("Cache-Control", "max-age=600, s-maxage=60"), want: 60 * time.Second},
		{name: "§4.2.1 Expires minus Date", header: h("Expires", date(3600)), want: time.Hour},
		{name: "§5.3 invalid Expires is stale", header: h("Expires", "0"), want: 0},
		{name: "stale without validator is useless", header: h("Cache-Control", "max-age=60"), now: 120, want: -60 * time.Second},
		{name: "RFC 5861 stale-while-revalidate", header: h("Cache-Control", "max-age=60, stale-while-revalidate=300"), now: 120, want: 240 * time.Second},
		{name: "RFC 5861 stale-if-error", header: h("Cache-Control", "max-age=60, stale-if-error=600"), want: 660 * time.Second},
		{name: "RFC 5861 the longer of the two", header: h("Cache-Control", "max-age=60, stale-while-revalidate=30, stale-if-error=600"),
			now: 10, want: 650 * time.Second},
		{name: "RFC 5861 window passed", header: h("Cache-Control", "max-age=60, stale-while-revalidate=30"), now: 100, want: -10 * time.Second},
		{name: "RFC 5861 invalid window ignored", header: h("Cache-Control", "max-age=60, stale-if-error=soon"), want: 60 * time.Second},
		{name: "§5.2.2.2 must-revalidate: no stale window", header: h("Cache-Control", "max-age=60, must-revalidate, stale-if-error=600"), want: 60 * time.Second},
		{name: "§5.2.2.8 proxy-revalidate: no stale window", header: h("Cache-Control", "max-age=60, proxy-revalidate, stale-while-revalidate=600"), want: 60 * time.Second},
		{name: "§5.2.2.10 s-maxage: no stale window", header: h("Cache-Control", "s-maxage=60, stale-while-revalidate=600"), want: 60 * time.Second},
		{name: "strong ETag: plus the freshness lifetime", header: h("Cache-Control", "max-age=600", "ETag", `"a"`), want: 1200 * time.Second},
		{name: "weak ETag is a validator", header: h("Cache-Control", "max-age=600", "ETag", `W/"a"`), want: 1200 * time.Second},
		{name: "Last-Modified is a validator", header: h("Cache-Control", "max-age=600", "Last-Modified", date(-86400)), want: 1200 * time.Second},
		{name: "invalid ETag and Last-Modified are none", header: h("Cache-Control", "max-age=600", "ETag", "a", "Last-Modified", "yesterday"),
			want: 600 * time.Second},
		{name: "revalidation window at least a minute", header: h("Cache-Control", "max-age=10", "ETag", `"a"`), want: 70 * time.Second},
		{name: "revalidation window of a response stale on arrival", header: h("Cache-Control", "max-age=0", "ETag", `"a"`), want: time.Minute},
		{name: "revalidation window at most 24 hours", header: h("Cache-Control", "max-age=172800", "ETag", `"a"`), want: 3 * day},
		{name: "revalidation window from now when stale", header: h("Cache-Control", "max-age=600", "ETag", `"a"`), now: 3600, want: 600 * time.Second},
		{name: "revalidation window after the stale window", header: h("Cache-Control", "max-age=600, stale-if-error=3600", "ETag", `"a"`),
			now: 3000, want: 1200*time.Second + 600*time.Second},
		{name: "revalidation window after Age", header: h("Cache-Control", "max-age=600", "Age", "86400", "ETag", `"a"`), want: 600 * time.Second},
		{name: "§5.2.2.4 no-cache without validator is useless", header: h("Cache-Control", "max-age=600, no-cache, stale-if-error=60"), want: 0},
		{name: "§5.2.2.4 no-cache with validator: the window only", header: h("Cache-Control", "max-age=600, no-cache, stale-if-error=60", "ETag", `"a"`),
			want: 600 * time.Second},
		{name: "§4.2.2 heuristic from Last-Modified", header: h("Last-Modified", date(-10000)), want: 2000 * time.Second},
		{name: "§4.2.2 heuristic fraction from the rules", header: h("Last-Modified", date(-10000)),
			rules: semantics.Options{HeuristicFraction: 0.5}, want: 10000 * time.Second},
		{name: "§4.2.2 heuristic cap from the rules", header: h("Last-Modified", date(-10000)),
			rules: semantics.Options{HeuristicMax: 100 * time.Second}, want: 200 * time.Second},
		{name: "§4.2.2 heuristic off by the rules", header: h("Last-Modified", date(-10000)),
			rules: semantics.Options{HeuristicFraction: -1}, want: time.Minute},
		{name: "§4.2.2 no heuristic for a 500", status: 500, header: h("Last-Modified", date(-10000)), want: time.Minute},
		{name: "nothing at all", header: nil, want: 0},
		{name: "capped at a week", header: h("Cache-Control", "max-age=2592000"), want: cache.MaxLifetime},
		{name: "Expires centuries away does not overflow", header: h("Expires", "Fri, 31 Dec 9999 23:59:59 GMT", "ETag", `"a"`,
			"Cache-Control", "stale-if-error=60"), want: cache.MaxLifetime},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status := tc.status
			if status == 0 {
				status = http.StatusOK
			}
			m := &store.Meta{
				Status:       status,
				Header:       http.Header{"Date": {date(0)}},
				RequestTime:  base.Add(time.Duration(tc.req) * time.Second),
				ResponseTime: base,
			}
			for _, kv := range tc.header {
				m.Header.Set(kv[0], kv[1])
			}
			now := base.Add(time.Duration(tc.now) * time.Second)
			if got := cache.Lifetime(m, tc.rules, now); got != tc.want {
				t.Errorf("Lifetime: got %v, want %v", got, tc.want)
			}
			c := cache.New(cache.Options{Store: mem.New(mem.Options{Capacity: 1 << 20}), Next: http.DefaultTransport,
				Rules: tc.rules, Now: func() time.Time { return now }})
			defer c.Close()
			defer c.Store().Close()
			if got := c.Lifetime(m); got != tc.want {
				t.Errorf("(*Cache).Lifetime: got %v, want %v", got, tc.want)
			}
		})
	}
}

// rtFunc is an http.RoundTripper made of a function.
type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestLifetimeVary checks the lifetimes of what the cache stores for a
// response with Vary: its variant's own, and MaxLifetime for the marker
// that leads to it.
func TestLifetimeVary(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	st := mem.New(mem.Options{Capacity: 1 << 20})
	defer st.Close()
	origin := rtFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{
			StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{"Cache-Control": {"max-age=60"}, "Vary": {"Accept-Language"},
				"Date": {httpDate(now)}, "Content-Length": {"4"}},
			ContentLength: 4, Body: io.NopCloser(strings.NewReader("body")), Request: r,
		}, nil
	})
	c := cache.New(cache.Options{Store: st, Next: origin, Now: func() time.Time { return now }})
	defer c.Close()
	u, _ := url.Parse("http://a.example/vary")
	r, _ := http.NewRequest(http.MethodGet, u.String(), nil)
	r.Header.Set("Accept-Language", "en")
	resp, err := c.RoundTrip(r)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()

	got := map[string]time.Duration{}
	err = st.Keys(context.Background(), func(key string) bool {
		e, err := st.Get(context.Background(), key)
		if err != nil {
			t.Errorf("Get %q: %v", key, err)
			return true
		}
		kind := "variant"
		if key == cache.Key(u) {
			kind = "marker"
		}
		got[kind] = c.Lifetime(e.Meta())
		e.Close()
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]time.Duration{"marker": cache.MaxLifetime, "variant": 60 * time.Second}
	for k, w := range want {
		if g, ok := got[k]; !ok || g != w {
			t.Errorf("%s: got %v (stored: %v), want %v", k, g, ok, w)
		}
	}
}
