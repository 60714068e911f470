package cache_test

// Validation (RFC 9111 §4.3): conditional requests the cache sends
// (§4.3.1), client conditional requests it answers (§4.3.2, RFC 9110
// §13), handling the origin's answer (§4.3.3), freshening stored
// responses with a 304 (§4.3.4) or a HEAD response (§4.3.5), and the
// directives that demand validation (§5.2.1.4, §5.2.2.2, §5.2.2.4).

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"sluice/internal/proxytest"
)

// TestValidationRequest checks the validators the cache sends when its
// stored response is stale (RFC 9111 §4.3.1), and that a matching 304
// lets it serve the stored response (§4.3.3, §4.3.4).
func TestValidationRequest(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		stored   [][2]string
		inm, ims string // expected on the validation request ("" = absent)
	}{
		{name: "§4.3.1 strong ETag is sent in If-None-Match", stored: h("ETag", `"abcdef"`), inm: `"abcdef"`},
		{name: "§4.3.1 weak ETag is sent in If-None-Match", stored: h("ETag", `W/"abcdef"`), inm: `W/"abcdef"`},
		{name: "§4.3.1 Last-Modified is sent in If-Modified-Since", stored: h("Last-Modified", at(-3000)), ims: at(-3000)},
		{name: "§4.3.1 both validators are sent", stored: h("ETag", `"e"`, "Last-Modified", at(-3000)), inm: `"e"`, ims: at(-3000)},
		{name: "§4.3.1 If-Modified-Since is Last-Modified, not Date", stored: h("Last-Modified", at(-86400), "Date", at(-10)), ims: at(-86400)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			forEachStore(t, func(t *testing.T, kind string) {
				e := newEnv(t, kind, proxytest.Options{})
				stored := append(h("Cache-Control", "max-age=1"), tc.stored...)
				var notModified [][2]string // the stored fields with a current Date
				for _, kv := range stored {
					if kv[0] != "Date" {
						notModified = append(notModified, kv)
					}
				}
				o := e.scripted(reply{header: stored}, reply{status: http.StatusNotModified, header: notModified})
				u := o.url("/v")
				e.get(u)
				e.clock.Advance(100 * time.Second)
				r := e.get(u)
				req := o.req(1)
				if got := req.header.Get("If-None-Match"); got != e.clock.expand(tc.inm) {
					t.Errorf("If-None-Match %q, want %q", got, e.clock.expand(tc.inm))
				}
				if got := req.header.Get("If-Modified-Since"); got != e.clock.expand(tc.ims) {
					t.Errorf("If-Modified-Since %q, want %q", got, e.clock.expand(tc.ims))
				}
				if r.status != http.StatusOK || r.body != "body-1" {
					t.Errorf("after a 304: status %d, body %q; want 200 and the stored body-1", r.status, r.body)
				}
				if cs := r.cs(); !csHas(cs, "fwd=stale") || !csHas(cs, "fwd-status=304") {
					t.Errorf("Cache-Status %q, want fwd=stale and fwd-status=304", cs)
				}
				if got := r.header.Get("Age"); got != "0" {
					t.Errorf("Age %q after revalidation, want 0", got)
				}
			})
		})
	}
}

// TestValidationWithoutValidator checks that a stale response without
// validators is fetched again unconditionally (RFC 9111 §4.3.1).
func TestValidationWithoutValidator(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, proxytest.Options{})
		o := e.scripted(reply{header: h("Cache-Control", "max-age=1")})
		u := o.url("/nv")
		e.get(u)
		e.clock.Advance(100 * time.Second)
		r := e.get(u)
		req := o.req(1)
		if v := req.header.Values("If-None-Match"); len(v) > 0 {
			t.Errorf("If-None-Match %q sent without a stored ETag", v)
		}
		if v := req.header.Values("If-Modified-Since"); len(v) > 0 {
			t.Errorf("If-Modified-Since %q sent without a stored Last-Modified", v)
		}
		if r.body != "body-2" {
			t.Errorf("body %q, want body-2", r.body)
		}
	})
}

// Test304Update checks RFC 9111 §4.3.4 (and §3.2): a 304 replaces the
// stored fields it carries, in the response served and in the stored
// one.
func Test304Update(t *testing.T) {
	t.Parallel()
	fields := []struct{ name, a, b string }{
		{"Test-Header", "A", "B"},
		{"X-Test-Header", "A", "B"},
		{"Content-Foo", "A", "B"},
		{"X-Content-Foo", "A", "B"},
		{"Content-Type", "text/plain", "text/plain;charset=utf-8"},
		{"Content-MD5", "rL0Y20zC+Fzt72VPzMSk2A==", "N7UdGUp1E+RbVvZSTy1R8g=="},
		{"Content-Location", "/foo", "/bar"},
		{"Content-Security-Policy", "default-src 'self'", "default-src 'self' cdn.example.com"},
		{"X-Frame-Options", "deny", "sameorigin"},
		{"X-XSS-Protection", "1", "1; mode=block"},
		{"Cache-Control", "max-age=1", "max-age=3600"},
		{"Expires", at(1), at(3600)},
		{"Clear-Site-Data", "cache", "cookies"},
		{"Set-Cookie", "a=b", "a=c"},
		{"Set-Cookie2", "a=b", "a=c"},
	}
	validators := []struct{ name, field, value string }{
		{"Last-Modified", "Last-Modified", at(-86400)},
		{"ETag", "ETag", `"v1"`},
	}
	for _, f := range fields {
		for _, v := range validators {
			t.Run("§4.3.4 "+f.name+" from a "+v.name+" 304", func(t *testing.T) {
				t.Parallel()
				forEachStore(t, func(t *testing.T, kind string) {
					e := newEnv(t, kind, proxytest.Options{})
					mk := func(value, maxAge string) [][2]string {
						hdr := h(v.field, v.value, f.name, value)
						if f.name != "Cache-Control" {
							hdr = append(hdr, h("Cache-Control", maxAge)...)
						}
						return hdr
					}
					o := e.scripted(
						reply{header: mk(f.a, "max-age=1")},
						reply{status: http.StatusNotModified, header: mk(f.b, "max-age=3600")},
					)
					u := o.url("/u")
					e.get(u)
					e.clock.Advance(10 * time.Second)
					r := e.get(u)
					if o.count() != 2 {
						t.Fatalf("origin saw %d requests, want 2 (a validation)", o.count())
					}
					want := e.clock.expand(f.b)
					if got := r.header.Values(f.name); !slices.Equal(got, []string{want}) {
						t.Errorf("response to the validating request: %s %q, want [%q]", f.name, got, want)
					}
					if r.body != "body-1" {
						t.Errorf("response to the validating request: body %q, want the stored body-1", r.body)
					}
					r = e.get(u)
					if o.count() != 2 {
						t.Fatalf("after the 304, origin saw %d requests, want 2: the 304's freshness was not stored", o.count())
					}
					if got := r.header.Values(f.name); !slices.Equal(got, []string{want}) {
						t.Errorf("stored response after the 304: %s %q, want [%q]", f.name, got, want)
					}
				})
			})
		}
	}
}

// Test304Details covers the rest of RFC 9111 §4.3.3–§4.3.4.
func Test304Details(t *testing.T) {
	t.Parallel()
	t.Run("§4.3.4 fields the 304 omits keep their stored values", func(t *testing.T) {
		t.Parallel()
		forEachStore(t, func(t *testing.T, kind string) {
			e := newEnv(t, kind, proxytest.Options{})
			o := e.scripted(
				reply{header: h("Cache-Control", "max-age=1", "ETag", `"v"`, "Test-Header", "A", "Content-Type", "text/x-a")},
				reply{status: http.StatusNotModified, header: h("Cache-Control", "max-age=3600", "ETag", `"v"`)},
			)
			u := o.url("/keep")
			e.get(u)
			e.clock.Advance(10 * time.Second)
			r := e.get(u)
			if r.header.Get("Test-Header") != "A" || r.header.Get("Content-Type") != "text/x-a" {
				t.Errorf("Test-Header %q, Content-Type %q; want the stored A, text/x-a", r.header.Get("Test-Header"), r.header.Get("Content-Type"))
			}
		})
	})
	t.Run("§4.3.4 a 304 field replaces all stored lines of that field", func(t *testing.T) {
		t.Parallel()
		forEachStore(t, func(t *testing.T, kind string) {
			e := newEnv(t, kind, proxytest.Options{})
			o := e.scripted(
				reply{header: h("Cache-Control", "max-age=1", "ETag", `"v"`, "X-Multi", "1", "X-Multi", "2")},
				reply{status: http.StatusNotModified, header: h("Cache-Control", "max-age=3600", "ETag", `"v"`, "X-Multi", "3")},
			)
			u := o.url("/multi")
			e.get(u)
			e.clock.Advance(10 * time.Second)
			e.get(u)
			r := e.get(u)
			if got := r.header.Values("X-Multi"); !slices.Equal(got, []string{"3"}) {
				t.Errorf("X-Multi %q, want [3]", got)
			}
		})
	})
	t.Run("§4.3.4 Expires in a 304 extends freshness", func(t *testing.T) {
		t.Parallel()
		forEachStore(t, func(t *testing.T, kind string) {
			e := newEnv(t, kind, proxytest.Options{})
			o := e.origin(func(n int, w http.ResponseWriter, r *http.Request) {
				if n == 1 {
					e.write(w, n, reply{header: h("Expires", at(1), "ETag", `"v"`)})
					return
				}
				e.write(w, n, reply{status: 304, header: h("Expires", at(3600), "ETag", `"v"`)})
			})
			u := o.url("/exp")
			e.get(u)
			e.clock.Advance(10 * time.Second)
			e.get(u)
			e.clock.Advance(10 * time.Second)
			r := e.get(u)
			if o.count() != 2 {
				t.Errorf("origin saw %d requests, want 2: the 304's Expires was not applied (Cache-Status %q)", o.count(), r.cs())
			}
		})
	})
	t.Run("§4.3.4 a 304 does not change the stored Content-Length", func(t *testing.T) {
		t.Parallel()
		forEachStore(t, func(t *testing.T, kind string) {
			e := newEnv(t, kind, proxytest.Options{})
			o := e.origin(func(n int, w http.ResponseWriter, r *http.Request) {
				if n == 1 {
					e.write(w, n, reply{header: h("Cache-Control", "max-age=1", "ETag", `"v"`), body: "0123456789"})
					return
				}
				conn, buf, err := http.NewResponseController(w).Hijack()
				if err != nil {
					t.Error(err)
					return
				}
				defer conn.Close()
				buf.WriteString("HTTP/1.1 304 Not Modified\r\nDate: " + httpDate(e.clock.Now()) +
					"\r\nCache-Control: max-age=3600\r\nETag: \"v\"\r\nContent-Length: 3\r\nConnection: close\r\n\r\n")
				buf.Flush()
			})
			u := o.url("/cl")
			e.get(u)
			e.clock.Advance(10 * time.Second)
			for i, step := range []string{"validated", "hit after the 304"} {
				r := e.get(u)
				if r.body != "0123456789" || r.header.Get("Content-Length") != "10" {
					t.Errorf("%s: body %q, Content-Length %q; want the stored 10 bytes", step, r.body, r.header.Get("Content-Length"))
				}
				if o.count() != 2 {
					t.Errorf("%s (%d): origin saw %d requests, want 2", step, i, o.count())
				}
			}
		})
	})
	t.Run("§4.3.4 a 304 with a different strong ETag does not update", func(t *testing.T) {
		t.Parallel()
		forEachStore(t, func(t *testing.T, kind string) {
			e := newEnv(t, kind, proxytest.Options{})
			o := e.origin(func(n int, w http.ResponseWriter, r *http.Request) {
				switch {
				case n == 1:
					e.write(w, n, reply{header: h("Cache-Control", "max-age=1", "ETag", `"old"`)})
				case r.Header.Get("If-None-Match") != "":
					e.write(w, n, reply{status: 304, header: h("Cache-Control", "max-age=3600", "ETag", `"new"`)})
				default:
					e.write(w, n, reply{header: h("Cache-Control", "max-age=3600", "ETag", `"new"`)})
				}
			})
			u := o.url("/mismatch")
			e.get(u)
			e.clock.Advance(10 * time.Second)
			r := e.get(u)
			if r.body == "body-1" {
				t.Errorf("the stored response was served after a 304 for another representation")
			}
			if r.header.Get("ETag") != `"new"` || r.status != http.StatusOK {
				t.Errorf("status %d ETag %q, want 200 and the new representation", r.status, r.header.Get("ETag"))
			}
		})
	})
	t.Run("§4.3.3 a 200 replaces the stored response", func(t *testing.T) {
		t.Parallel()
		forEachStore(t, func(t *testing.T, kind string) {
			e := newEnv(t, kind, proxytest.Options{})
			o := e.scripted(
				reply{header: h("Cache-Control", "max-age=1", "ETag", `"1"`)},
				reply{header: h("Cache-Control", "max-age=3600", "ETag", `"2"`)},
			)
			u := o.url("/replace")
			e.get(u)
			e.clock.Advance(10 * time.Second)
			r := e.get(u)
			if r.body != "body-2" {
				t.Errorf("validating request: body %q, want the new body-2", r.body)
			}
			if got := e.logged(2); got != "TCP_REFRESH_MODIFIED" {
				t.Errorf("validating request: result %q, want TCP_REFRESH_MODIFIED", got)
			}
			r = e.get(u)
			if r.body != "body-2" || o.count() != 2 {
				t.Errorf("next request: body %q, origin saw %d; want body-2 from the cache", r.body, o.count())
			}
		})
	})
	t.Run("§4.3.3 a 5xx is forwarded and the stored response kept", func(t *testing.T) {
		t.Parallel()
		forEachStore(t, func(t *testing.T, kind string) {
			e := newEnv(t, kind, proxytest.Options{})
			stored := h("Cache-Control", "max-age=1", "ETag", `"1"`)
			o := e.scripted(
				reply{header: stored},
				reply{status: http.StatusInternalServerError},
				reply{status: http.StatusNotModified, header: stored},
			)
			u := o.url("/5xx")
			e.get(u)
			e.clock.Advance(10 * time.Second)
			r := e.get(u)
			if r.status != http.StatusInternalServerError {
				t.Errorf("status %d, want the origin's 500 (no stale-if-error)", r.status)
			}
			r = e.get(u)
			if r.status != http.StatusOK || r.body != "body-1" {
				t.Errorf("after a 500 then a 304: status %d body %q, want the stored body-1", r.status, r.body)
			}
		})
	})
}

// TestValidationDemanded checks the directives that make the cache
// validate a stored response before using it.
func TestValidationDemanded(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		stored  string
		advance int
		req     []string
		inm     bool // a validation (If-None-Match) is expected
	}{
		{name: "§5.2.2.4 response no-cache is validated on every use", stored: "max-age=3600, no-cache", inm: true},
		{name: "§5.2.2.4 response no-cache without max-age is validated", stored: "no-cache", inm: true},
		{name: "§5.2.2.2 must-revalidate, fresh, is reused", stored: "max-age=3600, must-revalidate", advance: 10},
		{name: "§5.2.2.2 must-revalidate, stale, is validated", stored: "max-age=2, must-revalidate", advance: 10, inm: true},
		{name: "§5.2.2.8 proxy-revalidate, stale, is validated", stored: "max-age=2, proxy-revalidate", advance: 10, inm: true},
		{name: "§5.2.1.4 request no-cache validates a fresh response", stored: "max-age=3600", req: []string{"Cache-Control", "no-cache"}, inm: true},
		{name: "§5.4 request Pragma: no-cache validates a fresh response", stored: "max-age=3600", req: []string{"Pragma", "no-cache"}, inm: true},
		{name: "§5.2.1.1 request max-age=0 validates a fresh response", stored: "max-age=3600", advance: 1, req: []string{"Cache-Control", "max-age=0"}, inm: true},
		{name: "RFC 8246 immutable, stale, is validated", stored: "max-age=2, immutable", advance: 10, inm: true},
		{name: "§5.2.2.4 unqualified no-cache wins over a qualified one", stored: `no-cache="X-A", no-cache, max-age=3600`, inm: true},
		{name: "§5.2.2.4 unqualified no-cache wins over a qualified one (reversed)", stored: `no-cache, no-cache="X-A", max-age=3600`, inm: true},
		{name: "§5.2.2.4 no-cache on a second field line", stored: "max-age=3600\x00no-cache", inm: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			forEachStore(t, func(t *testing.T, kind string) {
				e := newEnv(t, kind, proxytest.Options{})
				var stored [][2]string
				for _, line := range strings.Split(tc.stored, "\x00") {
					stored = append(stored, [2]string{"Cache-Control", line})
				}
				stored = append(stored, h("ETag", `"abcd"`)...)
				o := e.scripted(reply{header: stored}, reply{status: http.StatusNotModified, header: stored})
				u := o.url("/d")
				e.get(u)
				e.clock.Advance(time.Duration(tc.advance) * time.Second)
				r := e.get(u, tc.req...)
				if !tc.inm {
					if o.count() != 1 {
						t.Errorf("origin saw %d requests, want 1", o.count())
					}
					return
				}
				if o.count() != 2 {
					t.Fatalf("origin saw %d requests, want 2 (a validation)", o.count())
				}
				if got := o.req(1).header.Get("If-None-Match"); got != `"abcd"` {
					t.Errorf("validation request If-None-Match %q, want %q", got, `"abcd"`)
				}
				if r.status != http.StatusOK || r.body != "body-1" {
					t.Errorf("status %d body %q, want 200 and the stored body-1 after the 304", r.status, r.body)
				}
			})
		})
	}
}

// TestClientConditional checks that the cache answers a client's
// conditional request from a fresh stored response (RFC 9111 §4.3.2,
// RFC 9110 §13.1.2, §13.1.3, §13.2.2).
func TestClientConditional(t *testing.T) {
	t.Parallel()
	full := h("Cache-Control", "max-age=100000", "ETag", `"abcdef"`, "Last-Modified", at(-3000))
	cases := []struct {
		name   string
		stored [][2]string
		method string
		req    []string
		status int
	}{
		{name: "§4.3.2 If-None-Match with the strong ETag", stored: full, req: []string{"If-None-Match", `"abcdef"`}, status: 304},
		{name: "§4.3.2 If-None-Match uses weak comparison", stored: full, req: []string{"If-None-Match", `W/"abcdef"`}, status: 304},
		{name: "§4.3.2 If-None-Match with a weak stored ETag", stored: h("Cache-Control", "max-age=100000", "ETag", `W/"abcdef"`), req: []string{"If-None-Match", `W/"abcdef"`}, status: 304},
		{name: "§4.3.2 If-None-Match strong against a weak stored ETag", stored: h("Cache-Control", "max-age=100000", "ETag", `W/"abcdef"`), req: []string{"If-None-Match", `"abcdef"`}, status: 304},
		{name: "§4.3.2 If-None-Match list (first)", stored: full, req: []string{"If-None-Match", `"abcdef", "1234", "5678"`}, status: 304},
		{name: "§4.3.2 If-None-Match list (middle)", stored: full, req: []string{"If-None-Match", `"1234", "abcdef", "5678"`}, status: 304},
		{name: "§4.3.2 If-None-Match list (last)", stored: full, req: []string{"If-None-Match", `"1234", "5678", "abcdef"`}, status: 304},
		{name: "§4.3.2 If-None-Match on two lines", stored: full, req: []string{"If-None-Match", `"1234"`, "If-None-Match", `"abcdef"`}, status: 304},
		{name: "§4.3.2 If-None-Match: *", stored: full, req: []string{"If-None-Match", "*"}, status: 304},
		{name: "§4.3.2 If-None-Match not matching", stored: full, req: []string{"If-None-Match", `"other"`}, status: 200},
		{name: "§4.3.2 If-None-Match is case-sensitive", stored: full, req: []string{"If-None-Match", `"ABCDEF"`}, status: 200},
		{name: "§4.3.2 If-Modified-Since equal to Last-Modified", stored: full, req: []string{"If-Modified-Since", at(-3000)}, status: 304},
		{name: "§4.3.2 If-Modified-Since after Last-Modified", stored: full, req: []string{"If-Modified-Since", at(-2000)}, status: 304},
		{name: "§4.3.2 If-Modified-Since before Last-Modified", stored: full, req: []string{"If-Modified-Since", at(-4000)}, status: 200},
		{name: "§4.3.2 If-Modified-Since in RFC 850 format", stored: full, req: []string{"If-Modified-Since", rfc850(-3000)}, status: 304},
		{name: "§4.3.2 If-Modified-Since in asctime format", stored: full, req: []string{"If-Modified-Since", asctime(-3000)}, status: 304},
		{name: "RFC 9110 §13.1.3 invalid If-Modified-Since is ignored", stored: full, req: []string{"If-Modified-Since", "yesterday"}, status: 200},
		{name: "§4.3.2 If-Modified-Since without Last-Modified uses Date", stored: h("Cache-Control", "max-age=100000"), req: []string{"If-Modified-Since", at(0)}, status: 304},
		{name: "§4.3.2 If-Modified-Since before Date without Last-Modified", stored: h("Cache-Control", "max-age=100000"), req: []string{"If-Modified-Since", at(-3000)}, status: 200},
		{name: "§4.3.2 If-None-Match takes precedence (mismatch, IMS match)", stored: full, req: []string{"If-None-Match", `"other"`, "If-Modified-Since", at(0)}, status: 200},
		{name: "§4.3.2 If-None-Match takes precedence (match, IMS old)", stored: full, req: []string{"If-None-Match", `"abcdef"`, "If-Modified-Since", at(-100000)}, status: 304},
		{name: "§4.3.2 HEAD with a matching If-None-Match", stored: full, method: http.MethodHead, req: []string{"If-None-Match", `"abcdef"`}, status: 304},
		{name: "§4.3.2 If-None-Match on a stored 404 is not evaluated", stored: full, req: []string{"If-None-Match", `"abcdef"`}, status: 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			forEachStore(t, func(t *testing.T, kind string) {
				e := newEnv(t, kind, proxytest.Options{})
				st := http.StatusOK
				if tc.status == 404 {
					st = 404
				}
				o := e.scripted(reply{status: st, header: tc.stored})
				u := o.url("/c")
				e.get(u)
				m := tc.method
				if m == "" {
					m = http.MethodGet
				}
				r := e.do(newReq(m, u, tc.req...))
				if o.count() != 1 {
					t.Errorf("origin saw %d requests, want 1: a fresh stored response answers the condition", o.count())
				}
				if r.status != tc.status {
					t.Fatalf("status %d, want %d", r.status, tc.status)
				}
				switch tc.status {
				case 304:
					if r.body != "" {
						t.Errorf("304 with body %q", r.body)
					}
					// RFC 9110 §15.4.5: the fields a 200 would have had.
					for _, k := range []string{"Cache-Control", "Date"} {
						if r.header.Get(k) == "" {
							t.Errorf("304 lacks %s", k)
						}
					}
					if et := e.clock.expand(headerOf(tc.stored, "ETag")); r.header.Get("ETag") != et {
						t.Errorf("304 ETag %q, want %q", r.header.Get("ETag"), et)
					}
				case 200:
					if m == http.MethodGet && r.body != "body-1" {
						t.Errorf("body %q, want the stored body-1", r.body)
					}
				}
			})
		})
	}
}

func headerOf(hdr [][2]string, name string) string {
	for _, kv := range hdr {
		if http.CanonicalHeaderKey(kv[0]) == http.CanonicalHeaderKey(name) {
			return kv[1]
		}
	}
	return ""
}

// TestClientConditionalStale checks a client's conditional request when
// the stored response is stale: the cache validates with its own
// validators, then answers the client's condition (RFC 9111 §4.3.2).
func TestClientConditionalStale(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		req    []string
		status int
	}{
		{name: "§4.3.2 If-Modified-Since after validation", req: []string{"If-Modified-Since", at(-3000)}, status: 304},
		{name: "§4.3.2 matching If-None-Match after validation", req: []string{"If-None-Match", `"v"`}, status: 304},
		{name: "§4.3.2 other If-None-Match after validation", req: []string{"If-None-Match", `"older"`}, status: 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			forEachStore(t, func(t *testing.T, kind string) {
				e := newEnv(t, kind, proxytest.Options{})
				stored := h("Cache-Control", "max-age=2", "ETag", `"v"`, "Last-Modified", at(-3000))
				o := e.origin(func(n int, w http.ResponseWriter, r *http.Request) {
					if r.Header.Get("If-None-Match") == `"v"` {
						e.write(w, n, reply{status: 304, header: stored})
						return
					}
					e.write(w, n, reply{header: stored})
				})
				u := o.url("/cs")
				e.get(u)
				e.clock.Advance(10 * time.Second)
				r := e.get(u, tc.req...)
				if o.count() != 2 {
					t.Fatalf("origin saw %d requests, want 2 (a validation)", o.count())
				}
				if r.status != tc.status {
					t.Errorf("status %d, want %d", r.status, tc.status)
				}
				if tc.status == 200 && r.body != "body-1" {
					t.Errorf("body %q, want the stored body-1", r.body)
				}
				r = e.get(u)
				if o.count() != 2 || r.body != "body-1" {
					t.Errorf("after validation: origin saw %d requests, body %q; want the freshened stored response", o.count(), r.body)
				}
			})
		})
	}
}

// TestClientConditionalMiss checks that a client's conditional request
// for an unstored URL is forwarded with its conditions, and that the 304
// it gets is not stored (RFC 9111 §3: a 304 is not a storable final
// response to GET; §4.3.2 preconditions for a resource with no stored
// response are the origin's).
func TestClientConditionalMiss(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, proxytest.Options{})
		o := e.origin(func(n int, w http.ResponseWriter, r *http.Request) {
			hdr := h("Cache-Control", "max-age=3600", "ETag", `"abcdef"`)
			if r.Header.Get("If-None-Match") == `"abcdef"` {
				e.write(w, n, reply{status: 304, header: hdr})
				return
			}
			e.write(w, n, reply{header: hdr})
		})
		u := o.url("/m")
		r := e.get(u, "If-None-Match", `"abcdef"`)
		if got := o.req(0).header.Get("If-None-Match"); got != `"abcdef"` {
			t.Errorf("origin got If-None-Match %q, want the client's", got)
		}
		if r.status != 304 {
			t.Errorf("status %d, want the origin's 304", r.status)
		}
		r = e.get(u)
		if o.count() != 2 || r.status != 200 || r.body != "body-2" {
			t.Errorf("plain GET after a forwarded 304: origin saw %d, status %d, body %q; want 2, 200, body-2", o.count(), r.status, r.body)
		}
	})
}

// TestHeadFreshens checks RFC 9111 §4.3.5: a 200 to HEAD updates the
// stored GET response it matches, and invalidates one it does not.
func TestHeadFreshens(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		headTag string
		reused  bool
	}{
		{name: "§4.3.5 a matching HEAD response freshens the stored GET", headTag: `"h"`, reused: true},
		{name: "§4.3.5 a HEAD response with another ETag invalidates the stored GET", headTag: `"other"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			forEachStore(t, func(t *testing.T, kind string) {
				e := newEnv(t, kind, proxytest.Options{})
				o := e.origin(func(n int, w http.ResponseWriter, r *http.Request) {
					switch {
					case n == 1:
						e.write(w, n, reply{header: h("Cache-Control", "max-age=2", "ETag", `"h"`, "Template-A", "1"), body: "0123456789"})
					case r.Method == http.MethodHead:
						e.write(w, n, reply{header: h("Cache-Control", "max-age=1000", "ETag", tc.headTag, "Template-A", "2"), body: "0123456789"})
					default:
						e.write(w, n, reply{header: h("Cache-Control", "max-age=1000", "ETag", tc.headTag), body: "fresh body"})
					}
				})
				u := o.url("/hf")
				e.get(u)
				e.clock.Advance(10 * time.Second)
				hr := e.do(newReq(http.MethodHead, u))
				if o.last().method != http.MethodHead {
					t.Fatalf("the HEAD reached the origin as %q", o.last().method)
				}
				if hr.header.Get("Template-A") != "2" {
					t.Errorf("HEAD response Template-A %q, want the origin's 2", hr.header.Get("Template-A"))
				}
				r := e.get(u)
				reused := o.count() == 2
				if reused != tc.reused {
					t.Fatalf("GET after the HEAD reused the stored response: %v, want %v", reused, tc.reused)
				}
				if reused && (r.header.Get("Template-A") != "2" || r.body != "0123456789") {
					t.Errorf("freshened GET: Template-A %q body %q; want 2 and the stored body", r.header.Get("Template-A"), r.body)
				}
			})
		})
	}
}

// TestValidationVary checks that a validation request carries the
// request fields the stored response varies on (RFC 9111 §4.3.1, §4.1).
func TestValidationVary(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, proxytest.Options{})
		stored := h("Expires", at(1), "ETag", `"abcdef"`, "Vary", "Abc")
		o := e.scripted(reply{header: stored}, reply{status: 304, header: stored})
		u := o.url("/vv")
		e.get(u, "Abc", "123")
		e.clock.Advance(10 * time.Second)
		r := e.get(u, "Abc", "123")
		req := o.req(1)
		if req.header.Get("Abc") != "123" || req.header.Get("If-None-Match") != `"abcdef"` {
			t.Errorf("validation request Abc %q If-None-Match %q; want 123 and the stored ETag", req.header.Get("Abc"), req.header.Get("If-None-Match"))
		}
		if r.body != "body-1" {
			t.Errorf("body %q, want the stored body-1", r.body)
		}
	})
}
