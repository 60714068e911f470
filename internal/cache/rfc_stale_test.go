package cache_test

// Serving stale responses (RFC 9111 §4.2.4) and the RFC 5861 extensions:
// stale-if-error (§4) and stale-while-revalidate (§3); and the directives
// that forbid stale use (§5.2.2.2 must-revalidate, §5.2.2.8
// proxy-revalidate, §5.2.2.10 s-maxage, §5.2.2.4 no-cache).

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"sluice/internal/proxytest"
)

// failure is how the origin fails the validation request: "down" closes
// it, a number answers with that status.
func staleOrigin(e *env, cc string, failure string) *origin {
	var o *origin
	o = e.origin(func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			e.write(w, n, reply{header: h("Cache-Control", cc, "ETag", `"1"`)})
			return
		}
		code, _ := strconv.Atoi(failure)
		e.write(w, n, reply{status: code})
	})
	return o
}

func TestStaleIfError(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		cc      string   // stored response's Cache-Control
		req     []string // validating request's fields
		advance int
		failure string
		stale   bool // the stale response is served
	}{
		{name: "§4.2.4 stale is not served when the origin is down", cc: "max-age=1", advance: 10, failure: "down"},
		{name: "§4.2.4 stale is not served on a 503", cc: "max-age=1", advance: 10, failure: "503"},
		{name: "RFC 5861 §4 stale-if-error, origin down", cc: "max-age=1, stale-if-error=60", advance: 10, failure: "down", stale: true},
		{name: "RFC 5861 §4 stale-if-error, 500", cc: "max-age=1, stale-if-error=60", advance: 10, failure: "500", stale: true},
		{name: "RFC 5861 §4 stale-if-error, 502", cc: "max-age=1, stale-if-error=60", advance: 10, failure: "502", stale: true},
		{name: "RFC 5861 §4 stale-if-error, 503", cc: "max-age=1, stale-if-error=60", advance: 10, failure: "503", stale: true},
		{name: "RFC 5861 §4 stale-if-error, 504", cc: "max-age=1, stale-if-error=60", advance: 10, failure: "504", stale: true},
		{name: "RFC 5861 §4 stale-if-error, 404 is not an error", cc: "max-age=1, stale-if-error=60", advance: 10, failure: "404"},
		{name: "RFC 5861 §4 stale-if-error window passed, 500", cc: "max-age=1, stale-if-error=10", advance: 100, failure: "500"},
		{name: "RFC 5861 §4 stale-if-error window passed, origin down", cc: "max-age=1, stale-if-error=10", advance: 100, failure: "down"},
		{name: "RFC 5861 §4 stale-if-error window edge", cc: "max-age=10, stale-if-error=10", advance: 20, failure: "500", stale: true},
		{name: "RFC 5861 §4 request stale-if-error, 500", cc: "max-age=1", req: []string{"Cache-Control", "stale-if-error=3600"}, advance: 10, failure: "500", stale: true},
		{name: "RFC 5861 §4 request stale-if-error, origin down", cc: "max-age=1", req: []string{"Cache-Control", "stale-if-error=3600"}, advance: 10, failure: "down", stale: true},
		{name: "RFC 5861 §4 request stale-if-error passed", cc: "max-age=1", req: []string{"Cache-Control", "stale-if-error=1"}, advance: 100, failure: "500"},
		{name: "§5.2.2.2 must-revalidate forbids stale-if-error", cc: "max-age=1, must-revalidate, stale-if-error=60", advance: 10, failure: "500"},
		{name: "§5.2.2.2 must-revalidate, origin down, is an error", cc: "max-age=1, must-revalidate, stale-if-error=60", advance: 10, failure: "down"},
		{name: "§5.2.2.8 proxy-revalidate forbids stale-if-error", cc: "max-age=1, proxy-revalidate, stale-if-error=60", advance: 10, failure: "500"},
		{name: "§5.2.2.10 s-maxage forbids stale-if-error", cc: "s-maxage=1, stale-if-error=60", advance: 10, failure: "500"},
		{name: "§5.2.2.10 s-maxage forbids request stale-if-error", cc: "s-maxage=1", req: []string{"Cache-Control", "stale-if-error=3600"}, advance: 10, failure: "down"},
		{name: "§5.2.2.4 no-cache forbids stale-if-error", cc: "max-age=3600, no-cache, stale-if-error=60", advance: 10, failure: "503"},
		{name: "§5.2.2.2 must-revalidate forbids request stale-if-error", cc: "max-age=1, must-revalidate", req: []string{"Cache-Control", "stale-if-error=3600"}, advance: 10, failure: "500"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			forEachStore(t, func(t *testing.T, kind string) {
				e := newEnv(t, kind, proxytest.Options{})
				o := staleOrigin(e, tc.cc, tc.failure)
				u := o.url("/sie")
				e.get(u)
				e.logged(1)
				if tc.failure == "down" {
					o.Close()
				}
				e.clock.Advance(time.Duration(tc.advance) * time.Second)
				r := e.do(newReq(http.MethodGet, u, tc.req...))
				if tc.failure != "down" && o.count() != 2 {
					t.Errorf("origin saw %d requests, want 2 (a validation)", o.count())
				}
				if tc.stale {
					if r.status != http.StatusOK || r.body != "body-1" {
						t.Errorf("status %d body %q, want the stale 200 body-1", r.status, r.body)
					}
					if got := r.header.Get("Age"); got != strconv.Itoa(tc.advance) {
						t.Errorf("stale response Age %q, want %d", got, tc.advance)
					}
					if got := e.logged(2); got != "TCP_REFRESH_FAIL_OLD" {
						t.Errorf("result %q, want TCP_REFRESH_FAIL_OLD", got)
					}
					return
				}
				if r.body == "body-1" {
					t.Errorf("status %d: the stale response was served", r.status)
				}
				switch {
				case tc.failure == "down":
					// §5.2.2.2: "generate an error response"; 504 is
					// suggested, 502 fits a refused connection.
					if r.status != http.StatusBadGateway && r.status != http.StatusGatewayTimeout {
						t.Errorf("status %d, want 502 or 504", r.status)
					}
				default:
					if want, _ := strconv.Atoi(tc.failure); r.status != want {
						t.Errorf("status %d, want the origin's %d", r.status, want)
					}
				}
			})
		})
	}
}

// TestStaleWhileRevalidate checks RFC 5861 §3: within the window a stale
// response is served at once and validated once in the background; the
// next request sees the refreshed response.
func TestStaleWhileRevalidate(t *testing.T) {
	t.Parallel()
	for _, answer := range []string{"200", "304"} {
		t.Run("RFC 5861 §3 background validation answered "+answer, func(t *testing.T) {
			t.Parallel()
			forEachStore(t, func(t *testing.T, kind string) {
				e := newEnv(t, kind, proxytest.Options{})
				release := make(chan struct{})
				o := e.origin(func(n int, w http.ResponseWriter, r *http.Request) {
					if n == 1 {
						e.write(w, n, reply{header: h("Cache-Control", "max-age=1, stale-while-revalidate=60", "ETag", `"1"`)})
						return
					}
					select {
					case <-release:
					case <-time.After(5 * time.Second):
					}
					if answer == "304" && r.Header.Get("If-None-Match") == `"1"` {
						e.write(w, n, reply{status: 304, header: h("Cache-Control", "max-age=3600", "ETag", `"1"`, "X-Refreshed", "304")})
						return
					}
					e.write(w, n, reply{header: h("Cache-Control", "max-age=3600", "ETag", `"2"`)})
				})
				u := o.url("/swr")
				e.get(u)
				e.logged(1)
				e.clock.Advance(10 * time.Second)
				for i := 0; i < 5; i++ {
					r := e.get(u)
					if r.body != "body-1" || r.status != http.StatusOK {
						t.Fatalf("stale request %d: status %d body %q, want the stale body-1 at once", i, r.status, r.body)
					}
					if got := r.header.Get("Age"); got != "10" {
						t.Errorf("stale request %d: Age %q, want 10", i, got)
					}
					if !csHas(r.cs(), "hit") {
						t.Errorf("stale request %d: Cache-Status %q, want a hit", i, r.cs())
					}
					if got := e.logged(i + 2); got != "TCP_STALE_HIT" {
						t.Errorf("stale request %d: result %q, want TCP_STALE_HIT", i, got)
					}
				}
				if !waitFor(func() bool { return o.count() >= 2 }) {
					t.Fatalf("no background validation reached the origin")
				}
				if o.count() != 2 {
					t.Errorf("origin saw %d requests while one validation was under way, want 2", o.count())
				}
				if got := o.req(1).header.Get("If-None-Match"); got != `"1"` {
					t.Errorf("background validation If-None-Match %q, want %q", got, `"1"`)
				}
				close(release)
				st := e.w.Cache
				if !waitFor(func() bool { s := st.Stats(); return s.Revalidated+s.Refreshed >= 1 }) {
					t.Errorf("the background validation's %s did not update the stored response (stats %+v)", answer, st.Stats())
				}
				r := e.get(u)
				if o.count() != 2 {
					t.Errorf("after the background validation, origin saw %d requests, want 2", o.count())
				}
				switch answer {
				case "200":
					if r.body != "body-2" {
						t.Errorf("after the background validation: body %q, want the new body-2", r.body)
					}
				case "304":
					if r.body != "body-1" || r.header.Get("X-Refreshed") != "304" {
						t.Errorf("after the background 304: body %q X-Refreshed %q, want body-1 with the 304's fields", r.body, r.header.Get("X-Refreshed"))
					}
					if got := r.header.Get("Age"); got != "0" {
						t.Errorf("after the background 304: Age %q, want 0", got)
					}
				}
				if !csHas(r.cs(), "hit") {
					t.Errorf("after the background validation: Cache-Status %q, want a fresh hit", r.cs())
				}
			})
		})
	}
}

// TestStaleWhileRevalidateLimits checks when stale-while-revalidate does
// not apply: the validation is then made before answering.
func TestStaleWhileRevalidateLimits(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		cc      string
		advance int
	}{
		{name: "RFC 5861 §3 outside the window validation is synchronous", cc: "max-age=1, stale-while-revalidate=5", advance: 100},
		{name: "§5.2.2.2 must-revalidate forbids stale-while-revalidate", cc: "max-age=1, stale-while-revalidate=60, must-revalidate", advance: 10},
		{name: "§5.2.2.10 s-maxage forbids stale-while-revalidate", cc: "s-maxage=1, stale-while-revalidate=60", advance: 10},
		{name: "§5.2.2.4 no-cache forbids stale-while-revalidate", cc: "max-age=1, no-cache, stale-while-revalidate=60", advance: 10},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			forEachStore(t, func(t *testing.T, kind string) {
				e := newEnv(t, kind, proxytest.Options{})
				o := e.scripted(
					reply{header: h("Cache-Control", tc.cc, "ETag", `"1"`)},
					reply{header: h("Cache-Control", "max-age=3600", "ETag", `"2"`)},
				)
				u := o.url("/swr-limit")
				e.get(u)
				e.clock.Advance(time.Duration(tc.advance) * time.Second)
				r := e.get(u)
				if r.body != "body-2" || o.count() != 2 {
					t.Errorf("body %q, origin saw %d requests; want the new body-2 fetched before answering", r.body, o.count())
				}
			})
		})
	}
}

// TestStaleWhileRevalidateFailure checks that a failed background
// validation keeps the stale response usable within the window.
func TestStaleWhileRevalidateFailure(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, proxytest.Options{})
		o := staleOrigin(e, "max-age=1, stale-while-revalidate=60", "500")
		u := o.url("/swr-fail")
		e.get(u)
		e.clock.Advance(10 * time.Second)
		e.get(u)
		if !waitFor(func() bool { return o.count() >= 2 }) {
			t.Fatalf("no background validation reached the origin")
		}
		for i := 0; i < 2; i++ {
			r := e.get(u)
			if r.status != http.StatusOK || r.body != "body-1" {
				t.Errorf("after a failed background validation: status %d body %q, want the stale body-1", r.status, r.body)
			}
		}
	})
}

// TestStaleIfErrorCacheStatus checks the Cache-Status of a stale response
// served because validation failed: the request was forwarded, so it is
// not a hit (RFC 9211 §2.1: "it was not forwarded"), but fwd=stale, with
// the origin's status when there was one (§2.2, §2.3).
func TestStaleIfErrorCacheStatus(t *testing.T) {
	t.Parallel()
	for _, failure := range []string{"503", "down"} {
		t.Run("RFC 9211 §2.2 stale-if-error after "+failure, func(t *testing.T) {
			t.Parallel()
			forEachStore(t, func(t *testing.T, kind string) {
				e := newEnv(t, kind, proxytest.Options{})
				o := staleOrigin(e, "max-age=1, stale-if-error=60", failure)
				u := o.url("/sie-cs")
				e.get(u)
				if failure == "down" {
					o.Close()
				}
				e.clock.Advance(10 * time.Second)
				r := e.get(u)
				if r.body != "body-1" {
					t.Fatalf("body %q, want the stale body-1", r.body)
				}
				cs := r.cs()
				if csHas(cs, "hit") {
					t.Errorf("Cache-Status %q says hit, but the request was forwarded", cs)
				}
				if fwd, _ := csParam(cs, "fwd"); fwd != "stale" {
					t.Errorf("Cache-Status %q, want fwd=stale", cs)
				}
				if failure != "down" {
					if st, _ := csParam(cs, "fwd-status"); st != failure {
						t.Errorf("Cache-Status %q, want fwd-status=%s", cs, failure)
					}
				}
			})
		})
	}
}
