package cache_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"sluice/internal/proxytest"
)

// Hits on one object share its parsed stored header (the cache's memo).
// What the cache and the proxy add per response (Age, Cache-Status, this
// hop's Via) must land in that response only, however many are served at
// once.
func TestConcurrentHitsShareNothing(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, proxytest.Options{})
		o := e.scripted(reply{header: h("Cache-Control", "max-age=3600", "Via", "1.1 upstream-cache", "X-Stored", "yes")})
		u := o.url("/shared")
		first := e.get(u)
		if first.status != http.StatusOK {
			t.Fatalf("first: status %d", first.status)
		}
		var wg sync.WaitGroup
		errs := make(chan string, 100)
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 10 {
					r := e.try(newReq(http.MethodGet, u))
					if r.err != nil {
						errs <- r.err.Error()
						return
					}
					via := strings.Join(r.header["Via"], ", ")
					if n := strings.Count(via, ","); n != 1 || !strings.HasPrefix(via, "1.1 upstream-cache, ") {
						errs <- "Via " + via
					}
					if len(r.header["Age"]) != 1 || len(r.header["Cache-Status"]) != 1 || !csHas(r.cs(), "hit") {
						errs <- "Age " + strings.Join(r.header["Age"], "|") + " Cache-Status " + strings.Join(r.header["Cache-Status"], "|")
					}
					if r.header.Get("X-Stored") != "yes" {
						errs <- "stored field missing"
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if n := o.count(); n != 1 {
			t.Errorf("origin saw %d requests, want 1", n)
		}
	})
}

// A hit after a revalidation uses the updated stored header (RFC 9111
// §4.3.4), not a parse remembered from before the update.
func TestHitAfterUpdateSeesNewHeader(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, proxytest.Options{})
		o := e.origin(func(n int, w http.ResponseWriter, r *http.Request) {
			if n > 1 && r.Header.Get("If-None-Match") == `"v1"` {
				writeRaw304(w, http.Header{"Etag": {`"v1"`}, "Cache-Control": {"max-age=3600"}, "X-Rev": {"2"}, "Date": {e.clock.At(20)}})
				return
			}
			w.Header().Set("ETag", `"v1"`)
			w.Header().Set("Cache-Control", "max-age=10")
			w.Header().Set("X-Rev", "1")
			w.Header().Set("Date", e.clock.At(0))
			w.Write([]byte("body"))
		})
		u := o.url("/updated")
		e.get(u)
		if r := e.get(u); r.header.Get("X-Rev") != "1" || !csHas(r.cs(), "hit") {
			t.Fatalf("second: X-Rev %q, Cache-Status %q; want a hit with 1", r.header.Get("X-Rev"), r.cs())
		}
		e.clock.Advance(20e9)
		if r := e.get(u); r.header.Get("X-Rev") != "2" {
			t.Fatalf("revalidated: X-Rev %q, want 2", r.header.Get("X-Rev"))
		}
		r := e.get(u)
		if r.header.Get("X-Rev") != "2" || !csHas(r.cs(), "hit") {
			t.Fatalf("after update: X-Rev %q, Cache-Status %q; want a hit with 2", r.header.Get("X-Rev"), r.cs())
		}
		if o.count() != 2 {
			t.Errorf("origin saw %d requests, want 2", o.count())
		}
	})
}
