package cache_test

// PURGE (Squid's method, not an RFC): removes a stored URL and all its
// variants, answered by the proxy itself and allowed only to the
// configured clients.

import (
	"net/http"
	"net/netip"
	"testing"

	"sluice/internal/proxytest"
)

func TestPurge(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, proxytest.Options{})
		o := e.scripted(reply{header: h("Cache-Control", "max-age=3600")})
		u := o.url("/p")
		e.get(u)
		e.get(u)
		if o.count() != 1 {
			t.Fatalf("setup: origin saw %d requests, want 1", o.count())
		}
		r := e.do(newReq("PURGE", u))
		if r.status != http.StatusOK {
			t.Errorf("PURGE of a stored URL: status %d, want 200", r.status)
		}
		if got := e.logged(3); got != "TCP_HIT" {
			t.Errorf("PURGE of a stored URL: result %q, want TCP_HIT", got)
		}
		if o.count() != 1 {
			t.Errorf("PURGE reached the origin")
		}
		if r := e.get(u); o.count() != 2 || r.body != "body-2" {
			t.Errorf("GET after PURGE: origin saw %d, body %q; want a miss", o.count(), r.body)
		}
		r = e.do(newReq("PURGE", o.url("/never-stored")))
		if r.status != http.StatusNotFound {
			t.Errorf("PURGE of an unstored URL: status %d, want 404", r.status)
		}
		if got := e.logged(5); got != "TCP_MISS" {
			t.Errorf("PURGE of an unstored URL: result %q, want TCP_MISS", got)
		}
		if o.count() != 2 {
			t.Errorf("PURGE reached the origin")
		}
	})
}

// TestPurgeVariants checks that PURGE removes every variant of a URL
// whose responses vary.
func TestPurgeVariants(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, proxytest.Options{})
		o := e.scripted(reply{header: h("Cache-Control", "max-age=3600", "Vary", "Accept-Language")})
		u := o.url("/pv")
		for _, lang := range []string{"en", "de", "fr"} {
			e.get(u, "Accept-Language", lang)
			e.get(u, "Accept-Language", lang)
		}
		if o.count() != 3 {
			t.Fatalf("setup: origin saw %d requests, want 3", o.count())
		}
		if r := e.do(newReq("PURGE", u)); r.status != http.StatusOK {
			t.Fatalf("PURGE: status %d, want 200", r.status)
		}
		for _, lang := range []string{"en", "de", "fr"} {
			n := o.count()
			e.get(u, "Accept-Language", lang)
			if o.count() != n+1 {
				t.Errorf("variant %s survived PURGE", lang)
			}
		}
		if r := e.do(newReq("PURGE", o.url("/pv?other"))); r.status != http.StatusNotFound {
			t.Errorf("PURGE of another query: status %d, want 404", r.status)
		}
	})
}

// TestPurgeDenied checks that a client outside purge_clients gets 403 and
// the stored response stays.
func TestPurgeDenied(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, proxytest.Options{PurgeClients: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
		o := e.scripted(reply{header: h("Cache-Control", "max-age=3600")})
		u := o.url("/pd")
		e.get(u)
		r := e.do(newReq("PURGE", u))
		if r.status != http.StatusForbidden {
			t.Errorf("PURGE from a client not allowed: status %d, want 403", r.status)
		}
		if got := e.logged(2); got != "TCP_DENIED" {
			t.Errorf("denied PURGE: result %q, want TCP_DENIED", got)
		}
		if r := e.get(u); o.count() != 1 || r.body != "body-1" {
			t.Errorf("after a denied PURGE: origin saw %d, body %q; want the stored response", o.count(), r.body)
		}
	})
}
