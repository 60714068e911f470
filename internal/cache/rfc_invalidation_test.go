package cache_test

// Invalidation (RFC 9111 §4.4): a non-error response to an unsafe request
// invalidates the target URI and the same-origin URIs in Location and
// Content-Location; safe methods and error responses do not.

import (
	"net/http"
	"testing"

	"sluice/internal/proxytest"
)

// invalidationCase stores a fresh response for /target (and /location
// and /content-location), then sends method to /target.
type invalidationCase struct {
	name   string
	method string
	status int         // status of the unsafe request's response; 0 means 200
	resp   [][2]string // fields of that response (Location…), paths relative to the origin
	check  string      // path checked afterwards
	gone   bool        // the stored response for check must be gone
}

func TestInvalidation(t *testing.T) {
	t.Parallel()
	var cases []invalidationCase
	for _, m := range []string{"POST", "PUT", "DELETE", "PATCH", "M-SEARCH"} {
		cases = append(cases,
			invalidationCase{name: "§4.4 " + m + " invalidates the target URI", method: m, check: "/target", gone: true},
			invalidationCase{name: "§4.4 failed " + m + " does not invalidate", method: m, status: 500, check: "/target"},
			invalidationCase{name: "§4.4 " + m + " invalidates the Location URI", method: m, resp: h("Location", "/location"), check: "/location", gone: true},
			invalidationCase{name: "§4.4 " + m + " invalidates the Content-Location URI", method: m, resp: h("Content-Location", "/content-location"), check: "/content-location", gone: true},
		)
	}
	cases = append(cases,
		invalidationCase{name: "§4.4 404 to POST does not invalidate", method: "POST", status: 404, check: "/target"},
		invalidationCase{name: "§4.4 303 to POST invalidates", method: "POST", status: 303, resp: h("Location", "/elsewhere"), check: "/target", gone: true},
		invalidationCase{name: "§4.4 absolute same-origin Location is invalidated", method: "POST", resp: h("Location", "{origin}/location"), check: "/location", gone: true},
		invalidationCase{name: "§4.4 Location is not invalidated by an error response", method: "POST", status: 500, resp: h("Location", "/location"), check: "/location"},
		invalidationCase{name: "§4.4 URIs not named are kept", method: "POST", resp: h("Location", "/location"), check: "/content-location"},
		invalidationCase{name: "§4.4 OPTIONS is safe and does not invalidate", method: "OPTIONS", check: "/target"},
		invalidationCase{name: "§4.4 HEAD does not invalidate", method: "HEAD", check: "/target"},
		invalidationCase{name: "§4.4 the target with another query is kept", method: "POST", check: "/target?q=1"},
	)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			forEachStore(t, func(t *testing.T, kind string) {
				checkInvalidation(t, kind, tc)
			})
		})
	}
}

func checkInvalidation(t *testing.T, kind string, tc invalidationCase) {
	e := newEnv(t, kind, proxytest.Options{})
	var originURL string
	o := e.origin(func(n int, w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			e.write(w, n, reply{header: h("Cache-Control", "max-age=100000")})
			return
		}
		var hdr [][2]string
		for _, kv := range tc.resp {
			v := kv[1]
			if len(v) > 8 && v[:8] == "{origin}" {
				v = originURL + v[8:]
			}
			hdr = append(hdr, [2]string{kv[0], v})
		}
		e.write(w, n, reply{status: tc.status, header: hdr})
	})
	originURL = o.URL
	check := o.url(tc.check)
	before := e.get(check)
	e.get(o.url("/target"))
	stored := o.count()
	if again := e.get(check); o.count() != stored || again.body != before.body {
		t.Fatalf("setup: %s was not served from the cache (origin saw %d requests)", tc.check, o.count())
	}
	r := e.do(newReq(tc.method, o.url("/target")))
	want := tc.status
	if want == 0 {
		want = http.StatusOK
	}
	if r.status != want {
		t.Fatalf("%s: status %d, want %d", tc.method, r.status, want)
	}
	if last := o.last().method; last != tc.method && tc.method != http.MethodHead {
		t.Fatalf("%s reached the origin as %q", tc.method, last)
	}
	if tc.method != http.MethodHead && tc.method != http.MethodOptions {
		if fwd, _ := csParam(r.cs(), "fwd"); fwd != "method" {
			t.Errorf("%s: Cache-Status %q, want fwd=method (RFC 9211 §2.2)", tc.method, r.cs())
		}
	}
	n := o.count()
	after := e.get(check)
	gone := o.count() > n
	if gone != tc.gone {
		t.Errorf("after %s %d: stored response for %s invalidated: %v, want %v (Cache-Status %q)", tc.method, want, tc.check, gone, tc.gone, after.cs())
	}
	if !gone && after.body != before.body {
		t.Errorf("after %s: body %q, want the stored %q", tc.method, after.body, before.body)
	}
}

// TestInvalidationCrossOrigin checks that a Location or Content-Location
// naming another origin is not invalidated (RFC 9111 §4.4: "only if the
// host part is the same"; otherwise one origin could purge another's
// responses).
func TestInvalidationCrossOrigin(t *testing.T) {
	t.Parallel()
	for _, field := range []string{"Location", "Content-Location"} {
		t.Run("§4.4 cross-origin "+field+" is not invalidated", func(t *testing.T) {
			t.Parallel()
			forEachStore(t, func(t *testing.T, kind string) {
				e := newEnv(t, kind, proxytest.Options{})
				victim := e.scripted(reply{header: h("Cache-Control", "max-age=100000")})
				attacker := e.origin(func(n int, w http.ResponseWriter, r *http.Request) {
					e.write(w, n, reply{header: h(field, victim.url("/page"))})
				})
				e.get(victim.url("/page"))
				e.do(newReq(http.MethodPost, attacker.url("/x")))
				e.get(victim.url("/page"))
				if victim.count() != 1 {
					t.Errorf("victim origin saw %d requests, want 1: another origin's %s invalidated its response", victim.count(), field)
				}
			})
		})
	}
}

// TestInvalidationVary checks that invalidation removes every stored
// variant of the target URI (RFC 9111 §4.4: "the stored responses").
func TestInvalidationVary(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, proxytest.Options{})
		o := e.origin(func(n int, w http.ResponseWriter, r *http.Request) {
			e.write(w, n, reply{header: h("Cache-Control", "max-age=100000", "Vary", "Foo")})
		})
		u := o.url("/vary")
		e.get(u, "Foo", "1")
		e.get(u, "Foo", "2")
		e.get(u, "Foo", "1")
		e.get(u, "Foo", "2")
		if o.count() != 2 {
			t.Fatalf("setup: origin saw %d requests, want 2", o.count())
		}
		e.do(newReq(http.MethodPut, u, "Foo", "1"))
		e.get(u, "Foo", "1")
		e.get(u, "Foo", "2")
		if o.count() != 5 {
			t.Errorf("origin saw %d requests, want 5: a variant survived the PUT", o.count())
		}
	})
}

// TestUnsafeMethodNotAnsweredFromCache checks RFC 9111 §4 ("the request
// method … allows it to be used for the presented request"): a POST is
// forwarded even when a GET response is stored.
func TestUnsafeMethodNotAnsweredFromCache(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, proxytest.Options{})
		o := e.scripted(reply{header: h("Cache-Control", "max-age=100000")})
		u := o.url("/p")
		e.get(u)
		r := e.do(newReq(http.MethodPost, u))
		if o.count() != 2 || r.body != "body-2" {
			t.Errorf("POST: origin saw %d requests, body %q; want it forwarded", o.count(), r.body)
		}
		if got := e.logged(2); got != "TCP_MISS" {
			t.Errorf("POST: result %q, want TCP_MISS", got)
		}
	})
}
