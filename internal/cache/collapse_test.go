package cache_test

// Collapsed forwarding: concurrent misses for one URL share one origin
// response while it arrives (RFC 9111 §4: "a cache can … collapse
// requests"), and requests that cannot share one are not made to wait
// for each other.

import (
	"context"
	"io"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sluice/internal/proxytest"
)

// gate is closed once n parties have arrived.
type gate struct {
	n  atomic.Int64
	ch chan struct{}
}

func newGate(n int) *gate {
	g := &gate{ch: make(chan struct{})}
	g.n.Store(int64(n))
	return g
}

func (g *gate) arrive() {
	if g.n.Add(-1) == 0 {
		close(g.ch)
	}
}

// wait reports whether the gate opened within 5 s.
func (g *gate) wait() bool {
	select {
	case <-g.ch:
		return true
	case <-time.After(5 * time.Second):
		return false
	}
}

// fetch is one client's view of a response read in two parts.
type fetch struct {
	status int
	cs     string
	body   string
	err    error
}

// startFetch sends a GET for u on its own goroutine: sent is told when
// the request has been written, firstPart when the first part bytes of
// the body have arrived, and the result is delivered on done.
func startFetch(ctx context.Context, e *env, u string, part int, sent, firstPart func(), done chan<- fetch, kv ...string) {
	req := newReq(http.MethodGet, u, kv...)
	trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { sent() }}
	req = req.WithContext(httptrace.WithClientTrace(ctx, trace))
	go func() {
		resp, err := e.client.Do(req)
		if err != nil {
			sent()
			firstPart()
			done <- fetch{err: err}
			return
		}
		defer resp.Body.Close()
		f := fetch{status: resp.StatusCode, cs: cacheStatus(resp.Header)}
		buf := make([]byte, part)
		_, err = io.ReadFull(resp.Body, buf)
		firstPart()
		if err != nil {
			f.err = err
			done <- f
			return
		}
		rest, err := io.ReadAll(resp.Body)
		f.body, f.err = string(buf)+string(rest), err
		done <- f
	}()
}

// TestCollapsedForwarding checks that N concurrent misses for one URL
// make one origin request, and that the followers read the body as it
// arrives: every client has the first half while the origin still holds
// the second.
func TestCollapsedForwarding(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		const n = 5
		e := newEnv(t, kind, proxytest.Options{})
		first, second := strings.Repeat("a", 3000), strings.Repeat("b", 3000)
		allSent := newGate(n)
		allFirst := newGate(n)
		o := e.origin(func(k int, w http.ResponseWriter, r *http.Request) {
			if k > 1 {
				e.write(w, k, reply{header: h("Cache-Control", "max-age=3600"), body: "a second origin request"})
				return
			}
			allSent.wait()
			w.Header().Set("Cache-Control", "max-age=3600")
			w.Header().Set("Date", httpDate(e.clock.Now()))
			w.Header().Set("Content-Length", strconv.Itoa(len(first)+len(second)))
			w.WriteHeader(http.StatusOK)
			io.WriteString(w, first)
			http.NewResponseController(w).Flush()
			allFirst.wait()
			io.WriteString(w, second)
		})
		u := o.url("/collapse")
		done := make(chan fetch, n)
		for i := 0; i < n; i++ {
			var once1, once2 sync.Once
			startFetch(context.Background(), e, u, len(first),
				func() { once1.Do(allSent.arrive) }, func() { once2.Do(allFirst.arrive) }, done)
		}
		if !allFirst.wait() {
			t.Errorf("not every client received the first half while the origin held the second: followers do not read while the body is written")
		}
		stored, collapsed := 0, 0
		for i := 0; i < n; i++ {
			f := <-done
			if f.err != nil {
				t.Errorf("client: %v", f.err)
				continue
			}
			if f.status != 200 || f.body != first+second {
				t.Errorf("client: status %d, %d body bytes; want 200 and %d", f.status, len(f.body), len(first+second))
			}
			switch {
			case csHas(f.cs, "collapsed"):
				collapsed++
			case csHas(f.cs, "stored"):
				stored++
			default:
				t.Errorf("client: Cache-Status %q, want stored or collapsed", f.cs)
			}
		}
		if o.count() != 1 {
			t.Errorf("origin saw %d requests for %d concurrent misses, want 1", o.count(), n)
		}
		if stored != 1 || collapsed != n-1 {
			t.Errorf("Cache-Status: %d stored and %d collapsed, want 1 and %d", stored, collapsed, n-1)
		}
		recs := e.w.Records(n)
		cf := 0
		for _, rec := range recs {
			if rec.Result == "TCP_CF_MISS" {
				cf++
			}
		}
		if cf != n-1 {
			t.Errorf("access log has %d TCP_CF_MISS records, want %d", cf, n-1)
		}
		r := e.get(u)
		if o.count() != 1 || r.body != first+second || !csHas(r.cs(), "hit") {
			t.Errorf("after the collapsed fill: origin saw %d, Cache-Status %q; want a hit with the whole body", o.count(), r.cs())
		}
	})
}

// TestCollapsedLeaderLeaves checks that followers still get the whole
// body, and the response is stored, when the client that caused the
// origin request goes away in the middle.
func TestCollapsedLeaderLeaves(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		const n = 4
		e := newEnv(t, kind, proxytest.Options{})
		first, second := strings.Repeat("a", 3000), strings.Repeat("b", 3000)
		followersSent := newGate(n - 1)
		allFirst := newGate(n)
		leaderGone := make(chan struct{})
		o := e.origin(func(k int, w http.ResponseWriter, r *http.Request) {
			if k > 1 {
				e.write(w, k, reply{header: h("Cache-Control", "max-age=3600"), body: "a second origin request"})
				return
			}
			followersSent.wait()
			w.Header().Set("Cache-Control", "max-age=3600")
			w.Header().Set("Date", httpDate(e.clock.Now()))
			w.Header().Set("Content-Length", strconv.Itoa(len(first)+len(second)))
			w.WriteHeader(http.StatusOK)
			io.WriteString(w, first)
			http.NewResponseController(w).Flush()
			select {
			case <-leaderGone:
			case <-time.After(5 * time.Second):
			}
			io.WriteString(w, second)
		})
		u := o.url("/leader")
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		leader := make(chan fetch, 1)
		var lonce sync.Once
		startFetch(ctx, e, u, len(first), func() {}, func() { lonce.Do(allFirst.arrive) }, leader)
		if !waitFor(func() bool { return o.count() == 1 }) {
			t.Fatal("the leader's request did not reach the origin")
		}
		done := make(chan fetch, n-1)
		for i := 0; i < n-1; i++ {
			var once1, once2 sync.Once
			startFetch(context.Background(), e, u, len(first),
				func() { once1.Do(followersSent.arrive) }, func() { once2.Do(allFirst.arrive) }, done)
		}
		if !allFirst.wait() {
			t.Errorf("not every client received the first half")
		}
		cancel()
		<-leader
		close(leaderGone)
		for i := 0; i < n-1; i++ {
			f := <-done
			if f.err != nil || f.body != first+second {
				t.Errorf("follower after the leader left: %d body bytes, err %v; want %d", len(f.body), f.err, len(first+second))
			}
		}
		if o.count() != 1 {
			t.Errorf("origin saw %d requests, want 1", o.count())
		}
		r := e.get(u)
		if !csHas(r.cs(), "hit") || o.count() != 1 || r.body != first+second {
			t.Errorf("after the fill: origin saw %d, Cache-Status %q, %d body bytes; want a hit with the whole body", o.count(), r.cs(), len(r.body))
		}
	})
}

// TestCollapsedUnknownLength checks concurrent misses for a response
// without Content-Length (chunked): every client gets the whole body.
func TestCollapsedUnknownLength(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		const n = 4
		e := newEnv(t, kind, proxytest.Options{})
		first, second := strings.Repeat("a", 3000), strings.Repeat("b", 3000)
		allSent := newGate(n)
		o := e.origin(func(k int, w http.ResponseWriter, r *http.Request) {
			if k == 1 {
				allSent.wait()
			}
			w.Header().Set("Cache-Control", "max-age=3600")
			w.Header().Set("Date", httpDate(e.clock.Now()))
			w.WriteHeader(http.StatusOK)
			io.WriteString(w, first)
			http.NewResponseController(w).Flush()
			io.WriteString(w, second)
		})
		u := o.url("/chunked")
		done := make(chan fetch, n)
		for i := 0; i < n; i++ {
			var once sync.Once
			startFetch(context.Background(), e, u, len(first), func() { once.Do(allSent.arrive) }, func() {}, done)
		}
		for i := 0; i < n; i++ {
			f := <-done
			if f.err != nil || f.status != 200 || f.body != first+second {
				t.Errorf("client: status %d, %d body bytes, err %v; want 200 and %d", f.status, len(f.body), f.err, len(first+second))
			}
		}
		t.Logf("origin saw %d requests for %d concurrent misses of a chunked response", o.count(), n)
		if o.count() > n {
			t.Errorf("origin saw %d requests for %d clients", o.count(), n)
		}
	})
}

// TestUncacheableNotSerialised checks that requests which cannot share a
// response reach the origin concurrently: the first wave for a URL whose
// response turns out not storable waits only for the first response's
// head; later waves, and requests that ask for a new response
// (no-cache, no-store), do not wait for each other at all. The origin
// holds each response until all the wave's requests have arrived.
func TestUncacheableNotSerialised(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		const n = 4
		e := newEnv(t, kind, proxytest.Options{})
		var cur atomic.Pointer[gate]
		var headFirst atomic.Bool
		var timeouts atomic.Int64
		o := e.origin(func(k int, w http.ResponseWriter, r *http.Request) {
			g := cur.Load()
			g.arrive()
			cc := "private"
			if strings.HasPrefix(r.URL.Path, "/cacheable") {
				cc = "max-age=3600"
			}
			w.Header().Set("Cache-Control", cc)
			w.Header().Set("Date", httpDate(e.clock.Now()))
			if headFirst.Load() {
				w.WriteHeader(http.StatusOK)
				http.NewResponseController(w).Flush()
			}
			if !g.wait() {
				timeouts.Add(1)
			}
			io.WriteString(w, "body")
		})
		wave := func(name, path string, head bool, kv ...string) {
			t.Helper()
			cur.Store(newGate(n))
			headFirst.Store(head)
			timeouts.Store(0)
			before := o.count()
			done := make(chan fetch, n)
			for i := 0; i < n; i++ {
				startFetch(context.Background(), e, o.url(path), 1, func() {}, func() {}, done, kv...)
			}
			for i := 0; i < n; i++ {
				if f := <-done; f.err != nil || f.body != "body" {
					t.Errorf("%s: client got %q, err %v", name, f.body, f.err)
				}
			}
			if got := o.count() - before; got != n {
				t.Errorf("%s: origin saw %d requests for %d clients, want %d", name, got, n, n)
			}
			if timeouts.Load() > 0 {
				t.Errorf("%s: the origin waited in vain for all %d requests to arrive: they were serialised", name, n)
			}
		}
		wave("first wave, head sent at once", "/private", true)
		wave("known uncacheable URL", "/private", false)
		wave("request no-cache", "/cacheable-1", false, "Cache-Control", "no-cache")
		wave("request no-store", "/cacheable-2", false, "Cache-Control", "no-store")
		wave("request Pragma: no-cache", "/cacheable-3", false, "Pragma", "no-cache")
	})
}

// TestCollapsedVary checks that concurrent misses for a URL whose
// response varies each get the variant for their own request (RFC 9111
// §4.1), never another request's.
func TestCollapsedVary(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		const perLang = 3
		langs := []string{"en", "de"}
		e := newEnv(t, kind, proxytest.Options{})
		allSent := newGate(perLang * len(langs))
		o := e.origin(func(k int, w http.ResponseWriter, r *http.Request) {
			allSent.wait()
			lang := r.Header.Get("Accept-Language")
			e.write(w, k, reply{header: h("Cache-Control", "max-age=3600", "Vary", "Accept-Language"), body: "lang=" + lang + strings.Repeat(".", 2000)})
		})
		u := o.url("/cvary")
		type tagged struct {
			lang string
			f    fetch
		}
		done := make(chan tagged, perLang*len(langs))
		for _, lang := range langs {
			for i := 0; i < perLang; i++ {
				ch := make(chan fetch, 1)
				var once sync.Once
				startFetch(context.Background(), e, u, 1, func() { once.Do(allSent.arrive) }, func() {}, ch, "Accept-Language", lang)
				go func() { done <- tagged{lang, <-ch} }()
			}
		}
		for i := 0; i < perLang*len(langs); i++ {
			got := <-done
			want := "lang=" + got.lang + strings.Repeat(".", 2000)
			if got.f.err != nil || got.f.body != want {
				t.Errorf("client with Accept-Language %s: err %v, body starting %q", got.lang, got.f.err, got.f.body[:min(len(got.f.body), 10)])
			}
		}
		if o.count() < len(langs) {
			t.Errorf("origin saw %d requests for %d languages", o.count(), len(langs))
		}
		for _, lang := range langs {
			n := o.count()
			if r := e.get(u, "Accept-Language", lang); o.count() != n || r.body[:7] != "lang="+lang {
				t.Errorf("after the fills: Accept-Language %s served %q (origin saw %d more)", lang, r.body[:7], o.count()-n)
			}
		}
	})
}
