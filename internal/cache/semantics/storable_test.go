package semantics

import (
	"net/http"
	"testing"
)

func TestStorable(t *testing.T) {
	lm := "Sun, 06 Nov 1994 08:49:37 GMT"
	auth := hdr("Authorization", "Basic Zm9vOmJhcg==")
	for _, tc := range []struct {
		name   string
		method string
		req    http.Header
		status int
		resp   http.Header
		ok     bool
		reason string
	}{
		{"§3 max-age", "GET", nil, 200, hdr("Cache-Control", "max-age=60"), true, ""},
		{"§3 HEAD", "HEAD", nil, 200, hdr("Cache-Control", "max-age=60"), true, ""},
		{"§3 POST never", "POST", nil, 200, hdr("Cache-Control", "max-age=60"), false, "method"},
		{"§3 PUT never", "PUT", nil, 200, hdr("Cache-Control", "max-age=60"), false, "method"},
		{"§3 method is case-sensitive", "get", nil, 200, hdr("Cache-Control", "max-age=60"), false, "method"},
		{"§3 1xx is not final", "GET", nil, 103, hdr("Cache-Control", "max-age=60"), false, "status"},
		{"§3.4 206 not stored by this cache", "GET", nil, 206, hdr("Cache-Control", "max-age=60"), false, "status"},
		{"§3 304 not stored by this cache", "GET", nil, 304, hdr("Cache-Control", "max-age=60"), false, "status"},
		{"§3 status outside 100-599", "GET", nil, 600, hdr("Cache-Control", "max-age=60"), false, "status"},
		{"§3 unknown status with explicit freshness", "GET", nil, 299, hdr("Cache-Control", "max-age=60"), true, ""},
		{"§5.2.2.5 no-store", "GET", nil, 200, hdr("Cache-Control", "max-age=60, no-store"), false, "no-store"},
		{"§5.2.2.5 no-store case-insensitive", "GET", nil, 200, hdr("Cache-Control", "NO-STORE"), false, "no-store"},
		{"§5.2.2.3 must-understand with understood status ignores no-store", "GET", nil, 200, hdr("Cache-Control", "must-understand, no-store, max-age=60"), true, ""},
		{"§5.2.2.3 must-understand with understood status, no freshness", "GET", nil, 200, hdr("Cache-Control", "must-understand, no-store", "Last-Modified", lm), true, ""},
		{"§5.2.2.3 must-understand with unknown status", "GET", nil, 299, hdr("Cache-Control", "must-understand, no-store, max-age=60"), false, "must-understand"},
		{"§5.2.2.3 must-understand with unused 418", "GET", nil, 418, hdr("Cache-Control", "must-understand, max-age=60"), false, "must-understand"},
		{"§5.2.1.5 request no-store", "GET", hdr("Cache-Control", "no-store"), 200, hdr("Cache-Control", "max-age=60"), false, "request no-store"},
		{"§5.4 Pragma has no no-store", "GET", hdr("Pragma", "no-cache"), 200, hdr("Cache-Control", "max-age=60"), true, ""},
		{"§5.2.2.7 private", "GET", nil, 200, hdr("Cache-Control", "private, max-age=60"), false, "private"},
		{"§5.2.2.7 Private case-insensitive", "GET", nil, 200, hdr("Cache-Control", "max-age=60", "Cache-Control", "Private"), false, "private"},
		{"§5.2.2.7 private with fields is storable", "GET", nil, 200, hdr("Cache-Control", `private="set-cookie", max-age=60`), true, ""},
		{"§5.2.2.7 private with fields still needs freshness", "GET", nil, 302, hdr("Cache-Control", `private="set-cookie"`), false, "no freshness"},
		{"§5.2.2.4 no-cache is storable", "GET", nil, 200, hdr("Cache-Control", "no-cache", "Etag", `"a"`), true, ""},
		{"§3.5 Authorization without permission", "GET", auth, 200, hdr("Cache-Control", "max-age=60"), false, "authorization"},
		{"§3.5 Authorization with public", "GET", auth, 200, hdr("Cache-Control", "public, max-age=60"), true, ""},
		{"§3.5 Authorization with s-maxage", "GET", auth, 200, hdr("Cache-Control", "s-maxage=60"), true, ""},
		{"§3.5 Authorization with must-revalidate", "GET", auth, 200, hdr("Cache-Control", "must-revalidate, max-age=60"), true, ""},
		{"§3.5 Authorization with proxy-revalidate only", "GET", auth, 200, hdr("Cache-Control", "proxy-revalidate, max-age=60"), false, "authorization"},
		{"§3.5 empty Authorization still counts", "GET", hdr("Authorization", ""), 200, hdr("Cache-Control", "max-age=60"), false, "authorization"},
		{"§4.1 Vary: * never matches", "GET", nil, 200, hdr("Cache-Control", "max-age=60", "Vary", "Accept, *"), false, "vary *"},
		{"§4.1 Vary with fields", "GET", nil, 200, hdr("Cache-Control", "max-age=60", "Vary", "Accept"), true, ""},
		{"§3 public alone", "GET", nil, 302, hdr("Cache-Control", "public", "Etag", `"x"`), true, ""},
		{"§3 invalid max-age still counts", "GET", nil, 302, hdr("Cache-Control", "max-age=x"), true, ""},
		{"§3 s-maxage", "GET", nil, 302, hdr("Cache-Control", "s-maxage=5"), true, ""},
		{"§3 Expires", "GET", nil, 302, hdr("Expires", "Thu, 01 Dec 2094 16:00:00 GMT"), true, ""},
		{"§3 invalid Expires still counts", "GET", nil, 302, hdr("Expires", "0"), true, ""},
		{"§3 not cacheable by default, no freshness", "GET", nil, 302, hdr("Last-Modified", lm, "Etag", `"x"`), false, "no freshness"},
		{"§3 500 is not cacheable by default", "GET", nil, 500, hdr(), false, "no freshness"},
		{"§3 RFC 9110 §15.1 200 by default with Last-Modified", "GET", nil, 200, hdr("Last-Modified", lm), true, ""},
		{"§3 RFC 9110 §15.1 404 by default with ETag", "GET", nil, 404, hdr("Etag", `W/"x"`), true, ""},
		{"§3 RFC 9110 §15.1 410 by default with nothing", "GET", nil, 410, hdr(), false, "no freshness or validator"},
		{"§4.2.2 by default, no validator", "GET", nil, 200, hdr("Date", lm), false, "no freshness or validator"},
		{"§4.2.2 by default, invalid validators", "GET", nil, 200, hdr("Etag", "unquoted", "Last-Modified", "yesterday"), false, "no freshness or validator"},
		{"§4.2.2 public without freshness or validator", "GET", nil, 302, hdr("Cache-Control", "public"), false, "no freshness or validator"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.req
			if req == nil {
				req = http.Header{}
			}
			ok, reason := Storable(tc.method, req, tc.status, tc.resp)
			if ok != tc.ok || reason != tc.reason {
				t.Errorf("got %v, %q, want %v, %q", ok, reason, tc.ok, tc.reason)
			}
		})
	}
}

func TestStatusCodes(t *testing.T) {
	byDefault := map[int]bool{200: true, 203: true, 204: true, 206: true, 300: true, 301: true, 308: true, 404: true, 405: true, 410: true, 414: true, 501: true}
	understood := map[int]bool{}
	for _, c := range []int{100, 101, 200, 201, 202, 203, 204, 205, 206, 300, 301, 302, 303, 304, 305, 307, 308,
		400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 421, 422, 426,
		500, 501, 502, 503, 504, 505} {
		understood[c] = true
	}
	for code := 0; code < 700; code++ {
		// RFC 9110 §15.1: the heuristically cacheable status codes.
		if got := CacheableByDefault(code); got != byDefault[code] {
			t.Errorf("CacheableByDefault(%d): got %v, want %v", code, got, byDefault[code])
		}
		// RFC 9111 §5.2.2.3 via RFC 9110 §15: the codes RFC 9110 defines.
		if got := Understood(code); got != understood[code] {
			t.Errorf("Understood(%d): got %v, want %v", code, got, understood[code])
		}
	}
}

func TestInvalidates(t *testing.T) {
	for _, tc := range []struct {
		name   string
		method string
		status int
		want   bool
	}{
		{"§4.4 POST 200", "POST", 200, true},
		{"§4.4 PUT 201", "PUT", 201, true},
		{"§4.4 DELETE 204", "DELETE", 204, true},
		{"§4.4 PATCH 303", "PATCH", 303, true},
		{"§4.4 unknown method", "PURGE", 200, true},
		{"§4.4 lower-case get is an unknown method", "get", 200, true},
		{"§4.4 POST 404 is an error", "POST", 404, false},
		{"§4.4 POST 500 is an error", "POST", 500, false},
		{"§4.4 POST 100 is not final", "POST", 100, false},
		{"§4.4 GET is safe", "GET", 200, false},
		{"§4.4 HEAD is safe", "HEAD", 200, false},
		{"§4.4 OPTIONS is safe", "OPTIONS", 200, false},
		{"§4.4 TRACE is safe", "TRACE", 200, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Invalidates(tc.method, tc.status); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}
