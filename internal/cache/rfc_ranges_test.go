package cache_test

// Range requests answered from a stored complete response (RFC 9110 §14,
// §13.1.5 If-Range; RFC 9111 §3.4, §4.3.2), and partial responses from
// the origin, which this cache does not store (RFC 9111 §3.4 allows but
// does not require combining them).

import (
	"bytes"
	"net/http"
	"strconv"
	"testing"
	"time"

	"sluice/internal/proxytest"
)

func TestRangeFromStored(t *testing.T) {
	t.Parallel()
	const body = "0123456789"
	cases := []struct {
		name   string
		req    []string
		status int
		body   string
		cr     string // Content-Range
	}{
		{name: "RFC 9110 §14.1.2 first bytes", req: []string{"Range", "bytes=0-1"}, status: 206, body: "01", cr: "bytes 0-1/10"},
		{name: "RFC 9110 §14.1.2 middle bytes", req: []string{"Range", "bytes=3-6"}, status: 206, body: "3456", cr: "bytes 3-6/10"},
		{name: "RFC 9110 §14.1.2 open range", req: []string{"Range", "bytes=1-"}, status: 206, body: "123456789", cr: "bytes 1-9/10"},
		{name: "RFC 9110 §14.1.2 suffix range", req: []string{"Range", "bytes=-1"}, status: 206, body: "9", cr: "bytes 9-9/10"},
		{name: "RFC 9110 §14.1.2 suffix longer than the body", req: []string{"Range", "bytes=-20"}, status: 206, body: body, cr: "bytes 0-9/10"},
		{name: "RFC 9110 §14.1.2 last-pos beyond the end is clamped", req: []string{"Range", "bytes=5-100"}, status: 206, body: "56789", cr: "bytes 5-9/10"},
		{name: "RFC 9110 §14.1.1 unit is case-insensitive", req: []string{"Range", "Bytes=0-1"}, status: 206, body: "01", cr: "bytes 0-1/10"},
		{name: "RFC 9110 §15.5.17 first-pos beyond the end is 416", req: []string{"Range", "bytes=10-"}, status: 416, cr: "bytes */10"},
		{name: "RFC 9110 §15.5.17 zero-length suffix is 416", req: []string{"Range", "bytes=-0"}, status: 416, cr: "bytes */10"},
		{name: "RFC 9110 §14.2 malformed Range is ignored", req: []string{"Range", "bytes=abc"}, status: 200, body: body},
		{name: "RFC 9110 §14.2 invalid range (last < first) is ignored", req: []string{"Range", "bytes=5-2"}, status: 200, body: body},
		{name: "RFC 9110 §14.2 unknown unit is ignored", req: []string{"Range", "items=0-1"}, status: 200, body: body},
		{name: "RFC 9110 §13.1.5 If-Range with the strong ETag", req: []string{"Range", "bytes=0-1", "If-Range", `"r1"`}, status: 206, body: "01", cr: "bytes 0-1/10"},
		{name: "RFC 9110 §13.1.5 If-Range with another ETag", req: []string{"Range", "bytes=0-1", "If-Range", `"r0"`}, status: 200, body: body},
		{name: "RFC 9110 §13.1.5 If-Range needs strong comparison", req: []string{"Range", "bytes=0-1", "If-Range", `W/"r1"`}, status: 200, body: body},
		{name: "RFC 9110 §13.1.5 If-Range with the Last-Modified date", req: []string{"Range", "bytes=0-1", "If-Range", at(-86400)}, status: 206, body: "01", cr: "bytes 0-1/10"},
		{name: "RFC 9110 §13.1.5 If-Range with another date", req: []string{"Range", "bytes=0-1", "If-Range", at(-86401)}, status: 200, body: body},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			forEachStore(t, func(t *testing.T, kind string) {
				e := newEnv(t, kind, proxytest.Options{})
				o := e.scripted(reply{header: h("Cache-Control", "max-age=3600", "ETag", `"r1"`, "Last-Modified", at(-86400)), body: body})
				u := o.url("/range")
				e.get(u)
				r := e.get(u, tc.req...)
				if o.count() != 1 {
					t.Errorf("origin saw %d requests, want 1: a range of a fresh stored response is served from it", o.count())
				}
				if r.status != tc.status {
					t.Fatalf("status %d, want %d", r.status, tc.status)
				}
				if tc.status != 416 && r.body != tc.body {
					t.Errorf("body %q, want %q", r.body, tc.body)
				}
				if got := r.header.Get("Content-Range"); got != tc.cr {
					t.Errorf("Content-Range %q, want %q", got, tc.cr)
				}
				if tc.status == 206 {
					if got := r.header.Get("Content-Length"); got != strconv.Itoa(len(tc.body)) {
						t.Errorf("Content-Length %q, want %d", got, len(tc.body))
					}
					if r.header.Get("Age") == "" || !csHas(r.cs(), "hit") {
						t.Errorf("206 from the cache lacks Age or a hit Cache-Status (%q)", r.cs())
					}
				}
			})
		})
	}
}

// TestRangeMultiple checks a request for several ranges: answered either
// whole (RFC 9110 §14.2 lets a server ignore Range) or as
// multipart/byteranges, never with a wrong single part.
func TestRangeMultiple(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, proxytest.Options{})
		o := e.scripted(reply{header: h("Cache-Control", "max-age=3600"), body: "0123456789"})
		u := o.url("/multi")
		e.get(u)
		r := e.get(u, "Range", "bytes=0-1,5-6")
		switch r.status {
		case 200:
			if r.body != "0123456789" {
				t.Errorf("200 body %q, want the whole body", r.body)
			}
		case 206:
			if ct := r.header.Get("Content-Type"); len(ct) < 20 || ct[:20] != "multipart/byteranges" {
				t.Errorf("206 for two ranges with Content-Type %q, want multipart/byteranges", ct)
			}
		default:
			t.Errorf("status %d, want 200 or 206", r.status)
		}
	})
}

// TestRangeStale checks that a range of a stale stored response is
// served after validation.
func TestRangeStale(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, proxytest.Options{})
		stored := h("Cache-Control", "max-age=1", "ETag", `"s"`)
		o := e.scripted(reply{header: stored, body: "0123456789"}, reply{status: 304, header: stored})
		u := o.url("/stale-range")
		e.get(u)
		e.clock.Advance(10 * time.Second)
		r := e.get(u, "Range", "bytes=2-3")
		if o.count() != 2 {
			t.Errorf("origin saw %d requests, want 2 (a validation)", o.count())
		}
		if got := o.req(1).header.Get("Range"); got != "" {
			t.Errorf("validation request carried the client's Range %q", got)
		}
		if r.status != 206 || r.body != "23" || r.header.Get("Content-Range") != "bytes 2-3/10" {
			t.Errorf("status %d body %q Content-Range %q; want 206 23 bytes 2-3/10", r.status, r.body, r.header.Get("Content-Range"))
		}
	})
}

// TestRangeFromOrigin checks that a Range request for an unstored URL is
// forwarded with its Range, and that the 206 is not stored as the
// complete response (RFC 9111 §3.4).
func TestRangeFromOrigin(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, proxytest.Options{})
		o := e.origin(func(n int, w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "max-age=3600")
			w.Header().Set("Date", httpDate(e.clock.Now()))
			http.ServeContent(w, r, "", time.Time{}, bytes.NewReader([]byte("0123456789")))
		})
		u := o.url("/partial")
		r := e.get(u, "Range", "bytes=-5")
		if got := o.req(0).header.Get("Range"); got != "bytes=-5" {
			t.Errorf("origin got Range %q, want bytes=-5", got)
		}
		if r.status != 206 || r.body != "56789" {
			t.Errorf("status %d body %q, want the origin's 206 56789", r.status, r.body)
		}
		full := e.get(u)
		if o.count() != 2 || full.status != 200 || full.body != "0123456789" {
			t.Errorf("full GET after a 206: origin saw %d, status %d, body %q; want the whole body from the origin", o.count(), full.status, full.body)
		}
		part := e.get(u, "Range", "bytes=-5")
		if o.count() != 2 || part.status != 206 || part.body != "56789" {
			t.Errorf("range after the full GET: origin saw %d, status %d, body %q; want 206 56789 from the cache", o.count(), part.status, part.body)
		}
	})
}

// TestRangeIgnoredByOrigin checks that when the origin ignores a Range
// and sends the whole response, that 200 is stored like any other, and
// later ranges are served from it.
func TestRangeIgnoredByOrigin(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, proxytest.Options{})
		o := e.scripted(reply{header: h("Cache-Control", "max-age=3600"), body: "0123456789"})
		u := o.url("/ignored")
		r := e.get(u, "Range", "bytes=0-1")
		if r.status != 200 || r.body != "0123456789" {
			t.Fatalf("status %d body %q, want the origin's whole 200", r.status, r.body)
		}
		r = e.get(u, "Range", "bytes=8-")
		if o.count() != 1 || r.status != 206 || r.body != "89" {
			t.Errorf("origin saw %d, status %d, body %q; want 206 89 from the stored 200", o.count(), r.status, r.body)
		}
	})
}
