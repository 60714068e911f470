package cache_test

// Shared fixture for the end-to-end conformance tests: a controlled
// clock, a store per tier, a proxy with the cache (proxytest), scriptable
// origins that record what reached them, and small assertion helpers.
//
// Each case builds its own env (clock, store, proxy, origin), so cases
// are independent and run in parallel. The clock is frozen: time moves
// only when a test calls Advance, so ages are exact to the second.

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sluice/internal/cache/store"
	"sluice/internal/cache/store/disk"
	"sluice/internal/cache/store/mem"
	"sluice/internal/proxytest"
)

// storeKinds are the tiers the end-to-end tests run against.
var storeKinds = []string{"mem", "disk"}

// newStore returns an empty store of the given kind, closed when the test
// ends (after the proxy, whose cleanup is registered later).
func newStore(t testing.TB, kind string) store.Store {
	return newStoreCap(t, kind, 64<<20)
}

// newStoreCap is newStore with a capacity in bytes; each tier limits an
// object to a fraction of it (mem: 1/8, disk: 1/4).
func newStoreCap(t testing.TB, kind string, capacity int64) store.Store {
	t.Helper()
	switch kind {
	case "mem":
		s := mem.New(mem.Options{Capacity: capacity})
		t.Cleanup(func() { s.Close() })
		return s
	case "disk":
		d, err := disk.Open(disk.Options{Dir: t.TempDir(), Capacity: capacity, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		return d
	}
	t.Fatalf("unknown store kind %q", kind)
	return nil
}

// hitResult is the access-log result of a fresh hit from a store kind.
func hitResult(kind string) string {
	if kind == "mem" {
		return "TCP_MEM_HIT"
	}
	return "TCP_HIT"
}

// forEachStore runs f as a parallel subtest per store kind.
func forEachStore(t *testing.T, f func(t *testing.T, kind string)) {
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			f(t, kind)
		})
	}
}

// clock is the cache's clock in tests: frozen at a whole second an hour
// before the real time (so that a Date written by net/http instead of the
// test is told apart), moved only by Advance.
type clock struct {
	base time.Time
	off  atomic.Int64
}

func newClock() *clock {
	return &clock{base: time.Now().Add(-time.Hour).Truncate(time.Second)}
}

// Now returns the current test time.
func (c *clock) Now() time.Time { return c.base.Add(time.Duration(c.off.Load())) }

// Advance moves the clock forward by d.
func (c *clock) Advance(d time.Duration) { c.off.Add(int64(d)) }

// At returns the HTTP-date secs seconds after the clock's start.
func (c *clock) At(secs int) string { return httpDate(c.base.Add(time.Duration(secs) * time.Second)) }

func httpDate(t time.Time) string { return t.UTC().Format(http.TimeFormat) }

// at stands in header tables for the HTTP-date secs seconds after the
// test clock's start (IMF-fixdate); rfc850 and asctime for the two
// obsolete formats a recipient must also accept (RFC 9110 §5.6.7). The
// origin and the request helpers expand them.
func at(secs int) string      { return "{at " + strconv.Itoa(secs) + "}" }
func rfc850(secs int) string  { return "{rfc850 " + strconv.Itoa(secs) + "}" }
func asctime(secs int) string { return "{asctime " + strconv.Itoa(secs) + "}" }

// expand replaces a placeholder from at, rfc850 or asctime by its date.
func (c *clock) expand(v string) string {
	if !strings.HasPrefix(v, "{") || !strings.HasSuffix(v, "}") {
		return v
	}
	kind, n, ok := strings.Cut(v[1:len(v)-1], " ")
	secs, err := strconv.Atoi(n)
	if !ok || err != nil {
		return v
	}
	t := c.base.Add(time.Duration(secs) * time.Second).UTC()
	switch kind {
	case "at":
		return httpDate(t)
	case "rfc850":
		return t.Format("Monday, 02-Jan-06 15:04:05 GMT")
	case "asctime":
		return t.Format(time.ANSIC)
	}
	return v
}

// env is one proxy with a cache over a fresh store, and its clock.
type env struct {
	t      testing.TB
	kind   string
	clock  *clock
	w      *proxytest.World
	client *http.Client
}

// newEnv starts a proxy with a cache over a new store of kind. o's Store
// and CacheNow are filled in.
func newEnv(t testing.TB, kind string, o proxytest.Options) *env {
	t.Helper()
	return newEnvOver(t, kind, newStore(t, kind), o)
}

// newEnvCap is newEnv over a store of the given capacity.
func newEnvCap(t testing.TB, kind string, capacity int64, o proxytest.Options) *env {
	t.Helper()
	return newEnvOver(t, kind, newStoreCap(t, kind, capacity), o)
}

func newEnvOver(t testing.TB, kind string, st store.Store, o proxytest.Options) *env {
	t.Helper()
	e := &env{t: t, kind: kind, clock: newClock()}
	o.Store = st
	o.CacheNow = e.clock.Now
	e.w = proxytest.New(t, o)
	e.client = e.w.Client()
	return e
}

// hit is the access-log result of a fresh hit in this env's store.
func (e *env) hit() string { return hitResult(e.kind) }

// seen is a request as it reached an origin.
type seen struct {
	method string
	uri    string
	header http.Header
}

// origin is a test origin server that records every request.
type origin struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []seen
}

// count returns how many requests reached the origin.
func (o *origin) count() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.reqs)
}

// req returns the i-th request (0-based) that reached the origin.
func (o *origin) req(i int) seen {
	o.mu.Lock()
	defer o.mu.Unlock()
	if i >= len(o.reqs) {
		return seen{header: http.Header{}}
	}
	return o.reqs[i]
}

// last returns the latest request that reached the origin.
func (o *origin) last() seen {
	o.mu.Lock()
	n := len(o.reqs)
	o.mu.Unlock()
	return o.req(n - 1)
}

// url returns the origin's URL for path.
func (o *origin) url(path string) string { return o.URL + path }

// origin starts an origin whose handler h is given the 1-based number
// of the request.
func (e *env) origin(h func(n int, w http.ResponseWriter, r *http.Request)) *origin {
	o := &origin{}
	o.Server = e.w.Origin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		o.mu.Lock()
		o.reqs = append(o.reqs, seen{method: r.Method, uri: r.RequestURI, header: r.Header.Clone()})
		n := len(o.reqs)
		o.mu.Unlock()
		h(n, w, r)
	}))
	return o
}

// reply is a scripted origin response.
type reply struct {
	status int         // 0 means 200
	header [][2]string // field lines, values expanded (at…); a Date of "" means none
	body   string      // "" means "body-N", N the request's number
	empty  bool        // no body at all
}

// h builds header lines from name, value pairs.
func h(kv ...string) [][2]string {
	if len(kv)%2 != 0 {
		panic("h: odd number of arguments")
	}
	var out [][2]string
	for i := 0; i < len(kv); i += 2 {
		out = append(out, [2]string{kv[i], kv[i+1]})
	}
	return out
}

// scripted starts an origin that answers its n-th request with
// replies[n-1], or the last reply once they run out.
func (e *env) scripted(replies ...reply) *origin {
	return e.origin(func(n int, w http.ResponseWriter, r *http.Request) {
		e.write(w, n, replies[min(n, len(replies))-1])
	})
}

// write sends rep as the origin's response to request number n. Date is
// the test clock's time unless rep sets it.
func (e *env) write(w http.ResponseWriter, n int, rep reply) {
	hdr := w.Header()
	hasDate := false
	for _, kv := range rep.header {
		if http.CanonicalHeaderKey(kv[0]) == "Date" {
			hasDate = true
			if kv[1] == "" {
				hdr["Date"] = nil // net/http then adds none
				continue
			}
		}
		hdr[http.CanonicalHeaderKey(kv[0])] = append(hdr[http.CanonicalHeaderKey(kv[0])], e.clock.expand(kv[1]))
	}
	if !hasDate {
		hdr.Set("Date", httpDate(e.clock.Now()))
	}
	status := rep.status
	if status == 0 {
		status = http.StatusOK
	}
	if status == http.StatusNotModified {
		writeRaw304(w, hdr)
		return
	}
	body := rep.body
	if body == "" {
		body = "body-" + strconv.Itoa(n)
	}
	if rep.empty || status == http.StatusNoContent || status == http.StatusNotModified || status < 200 {
		body = ""
	}
	if _, ok := hdr["Content-Length"]; !ok && status != http.StatusNoContent && status != http.StatusNotModified {
		hdr.Set("Content-Length", strconv.Itoa(len(body)))
	}
	w.WriteHeader(status)
	io.WriteString(w, body)
}

// writeRaw304 sends a 304 with exactly the fields in hdr: net/http would
// drop Content-Type and Content-Length from it, and RFC 9111 §4.3.4 tests
// need them.
func writeRaw304(w http.ResponseWriter, hdr http.Header) {
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	buf.WriteString("HTTP/1.1 304 Not Modified\r\n")
	hdr.Write(buf)
	buf.WriteString("Connection: close\r\n\r\n")
	buf.Flush()
}

// result is a response as the client got it.
type result struct {
	status int
	header http.Header
	body   string
	err    error // a transport or body error
}

// cs returns sluice's member of the response's Cache-Status field.
func (r result) cs() string { return cacheStatus(r.header) }

// newReq builds a request with header lines from name, value pairs.
// Values are expanded like origin headers (at…) by the env's do.
func newReq(method, url string, kv ...string) *http.Request {
	if len(kv)%2 != 0 {
		panic("newReq: odd number of arguments")
	}
	var body io.Reader
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, "M-SEARCH", http.MethodDelete:
		body = strings.NewReader("abc")
	}
	r, err := http.NewRequest(method, url, body)
	if err != nil {
		panic(err)
	}
	for i := 0; i < len(kv); i += 2 {
		r.Header.Add(kv[i], kv[i+1])
	}
	return r
}

// try sends r through the proxy and reads the whole response; errors are
// returned in the result, not reported.
func (e *env) try(r *http.Request) result {
	for k, vv := range r.Header {
		for i, v := range vv {
			vv[i] = e.clock.expand(v)
		}
		r.Header[k] = vv
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := e.client.Do(r.WithContext(ctx))
	if err != nil {
		return result{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return result{status: resp.StatusCode, header: resp.Header, body: string(b), err: err}
}

// do is try that fails the test on an error.
func (e *env) do(r *http.Request) result {
	e.t.Helper()
	res := e.try(r)
	if res.err != nil {
		e.t.Fatalf("%s %s: %v", r.Method, r.URL, res.err)
	}
	return res
}

// get sends a GET with header lines from name, value pairs.
func (e *env) get(url string, kv ...string) result {
	e.t.Helper()
	return e.do(newReq(http.MethodGet, url, kv...))
}

// logged waits for the n-th access-log record (1-based) and returns its
// result code. Call it right after the n-th request, before sending the
// next, so that records are in request order.
func (e *env) logged(n int) string {
	e.t.Helper()
	recs := e.w.Records(n)
	if len(recs) < n {
		e.t.Fatalf("access log has %d records, want at least %d", len(recs), n)
	}
	return recs[n-1].Result
}

// waitFor polls cond for up to 10 s, for work the cache does in the
// background; it reports whether cond became true. Only a hang reaches
// the bound: every caller waits for something that must happen.
func waitFor(cond func() bool) bool {
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// cacheStatus returns sluice's member of the Cache-Status field lines in
// h (RFC 9211 §2), the last one if there are several.
func cacheStatus(h http.Header) string {
	var member string
	for _, line := range h.Values("Cache-Status") {
		for _, m := range strings.Split(line, ",") {
			if m = strings.TrimSpace(m); strings.HasPrefix(m, "sluice") {
				member = m
			}
		}
	}
	return member
}

// csHas reports whether the Cache-Status member cs has the parameter p,
// written as "hit" or "fwd=stale".
func csHas(cs, p string) bool {
	parts := strings.Split(cs, ";")
	for _, part := range parts[1:] {
		if strings.TrimSpace(part) == p {
			return true
		}
	}
	return false
}

// csParam returns the value of the Cache-Status parameter name in cs.
func csParam(cs, name string) (string, bool) {
	parts := strings.Split(cs, ";")
	for _, part := range parts[1:] {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		if k == name {
			return v, true
		}
	}
	return "", false
}

// reuseCase is the common shape of an RFC 9111 case: an origin response
// is fetched (request 1), the clock moves, and request 2 either is
// answered from the cache (reused) or reaches the origin.
type reuseCase struct {
	name    string
	status  int         // origin status; 0 means 200
	resp    [][2]string // origin response header lines
	req1    []string    // name, value pairs of request 1
	advance int         // seconds between the requests
	req2    []string    // name, value pairs of request 2
	reused  bool        // request 2 is answered without contacting the origin
	opts    proxytest.Options
}

// runReuse runs each case in a parallel subtest against every store.
func runReuse(t *testing.T, cases []reuseCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			forEachStore(t, func(t *testing.T, kind string) {
				checkReuse(t, kind, tc)
			})
		})
	}
}

func checkReuse(t *testing.T, kind string, tc reuseCase) {
	e := newEnv(t, kind, tc.opts)
	o := e.scripted(reply{status: tc.status, header: tc.resp})
	u := o.url("/r")
	first := e.do(newReq(http.MethodGet, u, tc.req1...))
	want := tc.status
	if want == 0 {
		want = http.StatusOK
	}
	if first.status != want {
		t.Fatalf("request 1: status %d, want %d", first.status, want)
	}
	e.clock.Advance(time.Duration(tc.advance) * time.Second)
	second := e.do(newReq(http.MethodGet, u, tc.req2...))
	reused := o.count() == 1
	if reused != tc.reused {
		t.Errorf("request 2 reused the stored response: %v, want %v (origin saw %d requests; Cache-Status %q)",
			reused, tc.reused, o.count(), second.cs())
	}
	if second.status != want {
		t.Errorf("request 2: status %d, want %d", second.status, want)
	}
	if reused && second.body != first.body {
		t.Errorf("request 2: body %q, want the stored %q", second.body, first.body)
	}
	if reused && !csHas(second.cs(), "hit") {
		t.Errorf("request 2: Cache-Status %q, want a hit", second.cs())
	}
}
