package cache_test

// Secondary keys (RFC 9111 §4.1): a stored response with Vary is reused
// only for a request whose listed fields match those of the request that
// produced it, after normalisation; Vary: * never matches.

import (
	"net/http"
	"testing"
	"time"

	"sluice/internal/proxytest"
)

func TestVary(t *testing.T) {
	t.Parallel()
	vary := func(v ...string) [][2]string {
		hdr := h("Cache-Control", "max-age=5000", "Last-Modified", at(-3000))
		for _, f := range v {
			hdr = append(hdr, [2]string{"Vary", f})
		}
		return hdr
	}
	runReuse(t, []reuseCase{
		{name: "§4.1 matching request is reused", resp: vary("Foo"), req1: []string{"Foo", "1"}, req2: []string{"Foo", "1"}, reused: true},
		{name: "§4.1 different value is not reused", resp: vary("Foo"), req1: []string{"Foo", "1"}, req2: []string{"Foo", "2"}},
		{name: "§4.1 omitted field is not reused", resp: vary("Foo"), req1: []string{"Foo", "1"}},
		{name: "§4.1 field added is not reused", resp: vary("Foo"), req2: []string{"Foo", "1"}},
		{name: "§4.1 absent in both is reused", resp: vary("Foo"), reused: true},
		{name: "§4.1 empty value differs from absent", resp: vary("Foo"), req2: []string{"Foo", ""}},
		{name: "§4.1 absent differs from empty value", resp: vary("Foo"), req1: []string{"Foo", ""}},
		{name: "§4.1 fields not listed in Vary do not count", resp: vary("Foo"), req1: []string{"Foo", "1", "Other", "2"}, req2: []string{"Foo", "1", "Other", "3"}, reused: true},
		{name: "§4.1 Vary field names are case-insensitive", resp: vary("FOO"), req1: []string{"Foo", "1"}, req2: []string{"foo", "1"}, reused: true},
		{name: "§4.1 two-way match is reused", resp: vary("Foo, Bar"), req1: []string{"Foo", "1", "Bar", "abc"}, req2: []string{"Foo", "1", "Bar", "abc"}, reused: true},
		{name: "§4.1 two-way mismatch is not reused", resp: vary("Foo, Bar"), req1: []string{"Foo", "1", "Bar", "abc"}, req2: []string{"Foo", "2", "Bar", "abc"}},
		{name: "§4.1 two-way with one omitted is not reused", resp: vary("Foo, Bar"), req1: []string{"Foo", "1", "Bar", "abc"}, req2: []string{"Foo", "1"}},
		{name: "§4.1 three-way match is reused", resp: vary("Foo, Bar, Baz"), req1: []string{"Foo", "1", "Bar", "abc", "Baz", "789"}, req2: []string{"Foo", "1", "Bar", "abc", "Baz", "789"}, reused: true},
		{name: "§4.1 three-way mismatch is not reused", resp: vary("Foo, Bar, Baz"), req1: []string{"Foo", "1", "Bar", "abc4", "Baz", "789"}, req2: []string{"Foo", "1", "Bar", "abc", "Baz", "789"}},
		{name: "§4.1 three-way, both omit the same field, is reused", resp: vary("Foo, Bar, Baz"), req1: []string{"Foo", "1", "Baz", "789"}, req2: []string{"Foo", "1", "Baz", "789"}, reused: true},
		{name: "§4.1 Vary on two field lines: match", resp: vary("Foo", "Bar"), req1: []string{"Foo", "1", "Bar", "2"}, req2: []string{"Foo", "1", "Bar", "2"}, reused: true},
		{name: "§4.1 Vary on two field lines: second differs", resp: vary("Foo", "Bar"), req1: []string{"Foo", "1", "Bar", "2"}, req2: []string{"Foo", "1", "Bar", "3"}},
		{name: "§4.1 Vary: * is never reused", resp: vary("*"), req1: []string{"Foo", "1"}, req2: []string{"Foo", "1"}},
		{name: "§4.1 Vary: *, * is never reused", resp: vary("*, *"), req1: []string{"Foo", "1"}, req2: []string{"Foo", "1"}},
		{name: "§4.1 Vary: * on two lines is never reused", resp: vary("*", "*")},
		{name: "§4.1 Vary: , * is never reused", resp: vary(", *")},
		{name: "§4.1 Vary: empty line then * is never reused", resp: vary("", "*")},
		{name: "§4.1 Vary: *, Foo is never reused", resp: vary("*, Foo"), req1: []string{"Foo", "1"}, req2: []string{"Foo", "1"}},
		{name: "§4.1 Vary: Foo, * is never reused", resp: vary("Foo, *"), req1: []string{"Foo", "1"}, req2: []string{"Foo", "1"}},
		{name: "§4.1 Vary: Foo then * on another line is never reused", resp: vary("Foo", "*"), req1: []string{"Foo", "1"}, req2: []string{"Foo", "1"}},
		{name: "§4.1 normalise whitespace", resp: vary("Foo"), req1: []string{"Foo", "1,2"}, req2: []string{"Foo", "1 ,  2"}, reused: true},
		{name: "§4.1 normalise combined field lines", resp: vary("Foo"), req1: []string{"Foo", "1, 2"}, req2: []string{"Foo", "1", "Foo", "2"}, reused: true},
		{name: "§4.1 normalise Accept-Encoding order", resp: vary("Accept-Encoding"), req1: []string{"Accept-Encoding", "gzip, br"}, req2: []string{"Accept-Encoding", "br,gzip"}, reused: true},
		{name: "§4.1 normalise Accept-Encoding case", resp: vary("Accept-Encoding"), req1: []string{"Accept-Encoding", "gzip"}, req2: []string{"Accept-Encoding", "GZIP"}, reused: true},
		{name: "§4.1 normalise Accept-Encoding parameter whitespace", resp: vary("Accept-Encoding"), req1: []string{"Accept-Encoding", "gzip;q=1.0, br;q=0.5"}, req2: []string{"Accept-Encoding", "br ; q=0.5,gzip; q=1.0"}, reused: true},
		{name: "§4.1 different Accept-Encoding is not reused", resp: vary("Accept-Encoding"), req1: []string{"Accept-Encoding", "gzip"}, req2: []string{"Accept-Encoding", "br"}},
		// Accept-Language order may carry priority (RFC 9110 §12.5.4), so
		// only its case and whitespace are normalised.
		{name: "§4.1 normalise Accept-Language case and whitespace", resp: vary("Accept-Language"), req1: []string{"Accept-Language", "en-US,de;q=0.5"}, req2: []string{"Accept-Language", "EN-us , de; q=0.5"}, reused: true},
		{name: "§4.1 Vary on a field the proxy sees unchanged", resp: vary("User-Agent"), req1: []string{"User-Agent", "a"}, req2: []string{"User-Agent", "b"}},
	})
}

// TestVaryVariants checks that variants are stored side by side: storing
// a second one does not replace the first (cache-tests vary-invalidate).
func TestVaryVariants(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, proxytest.Options{})
		o := e.scripted(reply{header: h("Cache-Control", "max-age=5000", "Vary", "Foo")})
		u := o.url("/variants")
		r1 := e.get(u, "Foo", "1")
		r2 := e.get(u, "Foo", "2")
		if o.count() != 2 {
			t.Fatalf("origin saw %d requests, want 2", o.count())
		}
		if fwd, _ := csParam(r2.cs(), "fwd"); fwd != "vary-miss" {
			t.Errorf("second variant: Cache-Status %q, want fwd=vary-miss (RFC 9211 §2.2)", r2.cs())
		}
		a := e.get(u, "Foo", "1")
		b := e.get(u, "Foo", "2")
		if o.count() != 2 {
			t.Errorf("origin saw %d requests, want 2: a variant was lost", o.count())
		}
		if a.body != r1.body || b.body != r2.body {
			t.Errorf("bodies %q, %q; want %q, %q", a.body, b.body, r1.body, r2.body)
		}
		if a.header.Get("Vary") != "Foo" {
			t.Errorf("served variant: Vary %q, want Foo", a.header.Get("Vary"))
		}
	})
}

// TestVaryChanges checks that a URL whose response stops varying is
// served the new response for every request.
func TestVaryChanges(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, proxytest.Options{})
		o := e.origin(func(n int, w http.ResponseWriter, r *http.Request) {
			if n == 1 {
				e.write(w, n, reply{header: h("Cache-Control", "max-age=1", "Vary", "Foo")})
				return
			}
			e.write(w, n, reply{header: h("Cache-Control", "max-age=5000")})
		})
		u := o.url("/vc")
		e.get(u, "Foo", "1")
		e.clock.Advance(10 * time.Second)
		e.get(u, "Foo", "1")
		for _, foo := range []string{"1", "2", ""} {
			r := e.get(u, "Foo", foo)
			if r.body != "body-2" {
				t.Errorf("Foo %q: body %q, want the unvaried body-2 (origin saw %d)", foo, r.body, o.count())
			}
		}
		if o.count() != 2 {
			t.Errorf("origin saw %d requests, want 2", o.count())
		}
	})
}
