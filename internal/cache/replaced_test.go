package cache_test

// A stored response replaced while it is being revalidated (RFC 9111
// §4.3.4): in a fleet sharing a tier, another instance may store a new
// response under the key between this instance's lookup and the 304. The
// 304 then updates the stored response only if it is still the one
// revalidated; another one keeps its own fields.

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"sluice/internal/cache"
	"sluice/internal/cache/store"
	"sluice/internal/cache/store/mem"
	"sluice/internal/cache/store/tiered"
	"sluice/internal/proxytest"
)

// replacedCase is one scenario: the validators of the response first
// stored, and those of the response another instance stores under the
// key while the first is revalidated (none: nothing is stored).
type replacedCase struct {
	name    string
	first   [][2]string // validators of the response stored first
	replace [][2]string // validators of the replacement; nil: no replacement
	updated bool        // the 304 updates what is stored
}

var replacedCases = []replacedCase{
	{name: "strong ETag, not replaced", first: h("ETag", `"a"`), updated: true},
	{name: "strong ETag, replaced by another ETag", first: h("ETag", `"a"`), replace: h("ETag", `"b"`)},
	{name: "strong ETag, replaced by a weak one of the same opaque-tag", first: h("ETag", `"a"`), replace: h("ETag", `W/"a"`)},
	{name: "strong ETag, refilled with the same ETag", first: h("ETag", `"a"`), replace: h("ETag", `"a"`), updated: true},
	{name: "strong ETag and Last-Modified, refilled with the same ETag", first: h("ETag", `"a"`, "Last-Modified", at(-3000)),
		replace: h("ETag", `"a"`, "Last-Modified", at(-20)), updated: true},
	{name: "Last-Modified, not replaced", first: h("Last-Modified", at(-3000)), updated: true},
	{name: "Last-Modified, replaced by a later one", first: h("Last-Modified", at(-3000)), replace: h("Last-Modified", at(-20))},
	{name: "Last-Modified, refilled with the same", first: h("Last-Modified", at(-3000)), replace: h("Last-Modified", at(-3000)), updated: true},
	{name: "Last-Modified, replaced by one with an ETag too", first: h("Last-Modified", at(-3000)),
		replace: h("Last-Modified", at(-3000), "ETag", `"b"`)},
	{name: "weak ETag and Last-Modified, replaced by another weak ETag", first: h("ETag", `W/"a"`, "Last-Modified", at(-3000)),
		replace: h("ETag", `W/"b"`, "Last-Modified", at(-3000))},
	{name: "weak ETag and Last-Modified, refilled with the same", first: h("ETag", `W/"a"`, "Last-Modified", at(-3000)),
		replace: h("ETag", `W/"a"`, "Last-Modified", at(-3000)), updated: true},
	{name: "no validator, not replaced", updated: true},
	{name: "no validator, replaced", replace: [][2]string{}},
}

// The ways a 304 (or a HEAD response) reaches the stored response.
var replacedPaths = []string{
	"GET",        // revalidation on the request path
	"HEAD",       // a HEAD response freshening the stored GET response (§4.3.5)
	"background", // stale-while-revalidate
}

func TestRevalidatedReplaced(t *testing.T) {
	t.Parallel()
	for _, tc := range replacedCases {
		for _, path := range replacedPaths {
			t.Run(tc.name+"/"+path, func(t *testing.T) {
				t.Parallel()
				forEachStore(t, func(t *testing.T, kind string) {
					st := newStore(t, kind)
					checkReplaced(t, kind, st, st, tc, path)
				})
			})
		}
	}
}

// TestRevalidatedReplacedSharedTier stores the replacement in the lower
// of two tiers only, as another instance does in a shared tier while
// this one's memory tier keeps the response it revalidates: the memory
// tier's copy is updated, the shared tier's is left alone.
func TestRevalidatedReplacedSharedTier(t *testing.T) {
	t.Parallel()
	for _, path := range replacedPaths {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			local := mem.New(mem.Options{Capacity: 16 << 20})
			shared := mem.New(mem.Options{Capacity: 16 << 20})
			t.Cleanup(func() { local.Close(); shared.Close() })
			tc := replacedCase{first: h("ETag", `"a"`), replace: h("ETag", `"b"`)}
			key := checkReplaced(t, "mem", tiered.New(local, shared), shared, tc, path)
			first := http.Header{"Etag": {`"a"`}, "X-Version": {"one"}, "Cache-Control": {"max-age=600"}, "X-Refresh": {"yes"}}
			if got, want := describe(t, local, key), summary(first, "body-1"); got != want {
				t.Errorf("memory tier after the 304:\n got %s\nwant %s", got, want)
			}
		})
	}
}

// checkReplaced stores a response over st, lets it go stale, and has
// the origin store a replacement (tc.replace) in into, standing for
// another instance, before it answers the revalidation with a 304 (or,
// for HEAD, a 200 with the same validators). It checks what into holds
// afterwards, and returns the key.
func checkReplaced(t *testing.T, kind string, st, into store.Store, tc replacedCase, path string) string {
	t.Helper()
	e := newEnvOver(t, kind, st, proxytest.Options{})
	cc := "max-age=10"
	if path == "background" {
		cc += ", stale-while-revalidate=3600"
	}
	refresh := append(h("Cache-Control", "max-age=600", "X-Refresh", "yes"), tc.first...)
	var key string
	var replacement *store.Meta
	o := e.origin(func(n int, w http.ResponseWriter, r *http.Request) {
		switch {
		case n == 1:
			e.write(w, n, reply{header: append(h("Cache-Control", cc, "X-Version", "one"), tc.first...)})
			return
		case n == 2 && tc.replace != nil:
			replacement = e.put(into, key, tc.replace, "two", "other")
		}
		if r.Method == http.MethodHead {
			e.write(w, n, reply{header: refresh, body: "body-1"})
			return
		}
		e.write(w, n, reply{status: http.StatusNotModified, header: refresh})
	})
	u := o.url("/replaced")
	pu, _ := url.Parse(u)
	key = cache.Key(pu)
	if r := e.get(u); r.body != "body-1" {
		t.Fatalf("request 1: body %q, want body-1", r.body)
	}
	// A tier may finish committing after the client has the body (the
	// Redis tier's followers end when its SET starts): the replacement
	// must come after.
	if !waitFor(func() bool { return describe(t, into, key) != "absent" }) {
		t.Fatalf("request 1 was not stored")
	}
	e.clock.Advance(100 * time.Second)
	method := http.MethodGet
	if path == "HEAD" {
		method = http.MethodHead
	}
	r := e.do(newReq(method, u))
	if r.status != http.StatusOK || (method == http.MethodGet && r.body != "body-1") {
		t.Errorf("request 2 (%s): status %d, body %q; want 200 and the response read, body-1", path, r.status, r.body)
	}
	if path == "background" && !waitFor(func() bool { return e.w.Cache.Stats().Revalidated == 1 }) {
		t.Fatalf("the background revalidation did not end")
	}
	if o.count() != 2 {
		t.Fatalf("origin saw %d requests, want 2", o.count())
	}

	stored, body := http.Header{"X-Version": {"one"}}, "body-1"
	for _, kv := range tc.first {
		stored.Set(kv[0], e.clock.expand(kv[1]))
	}
	if replacement != nil {
		stored, body = replacement.Header, "other"
	}
	if tc.updated {
		stored = stored.Clone()
		for _, kv := range refresh {
			stored.Set(kv[0], e.clock.expand(kv[1]))
		}
	}
	if got, want := describe(t, into, key), summary(stored, body); got != want {
		t.Errorf("stored after the 304:\n got %s\nwant %s", got, want)
	}
	if replacement != nil && !tc.updated && into == st {
		// The replacement is served with its own fields.
		r := e.get(u)
		if r.body != "other" || r.header.Get("X-Version") != "two" || r.header.Get("Cache-Control") != "max-age=3600" {
			t.Errorf("request 3: body %q, X-Version %q, Cache-Control %q; want other, two, max-age=3600 (the replacement's)",
				r.body, r.header.Get("X-Version"), r.header.Get("Cache-Control"))
		}
	}
	return key
}

// put commits a response with the given validators, X-Version and body
// in s under key, as another instance would, and returns its metadata.
func (e *env) put(s store.Store, key string, validators [][2]string, version, body string) *store.Meta {
	now := e.clock.Now()
	m := &store.Meta{
		Status: http.StatusOK,
		Header: http.Header{
			"Cache-Control":  {"max-age=3600"},
			"X-Version":      {version},
			"Date":           {httpDate(now)},
			"Content-Length": {"5"},
		},
		RequestTime:  now.Add(-time.Second),
		ResponseTime: now,
	}
	for _, kv := range validators {
		m.Header.Set(kv[0], e.clock.expand(kv[1]))
	}
	w, err := s.Create(context.Background(), key, m.Clone())
	if err != nil {
		e.t.Error(err)
		return m
	}
	io.WriteString(w, body)
	if err := w.Commit(); err != nil {
		e.t.Error(err)
	}
	return m
}

// describe returns the summary of the entry under key in s, or
// "absent".
func describe(t *testing.T, s store.Store, key string) string {
	t.Helper()
	e, err := s.Get(context.Background(), key)
	if errors.Is(err, store.ErrNotFound) {
		return "absent"
	}
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	b, err := io.ReadAll(io.NewSectionReader(e, 0, e.Size()))
	if err != nil {
		t.Fatal(err)
	}
	return summary(e.Meta().Header, string(b))
}

// summary is what the tests compare of a stored response: some fields
// and the body.
func summary(hdr http.Header, body string) string {
	var b strings.Builder
	for _, k := range []string{"Etag", "Last-Modified", "X-Version", "Cache-Control", "X-Refresh"} {
		b.WriteString(k + "=" + strings.Join(hdr[k], ",") + "; ")
	}
	return b.String() + "body=" + body
}
