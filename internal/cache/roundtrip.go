package cache

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"sluice/internal/accesslog"
	"sluice/internal/cache/semantics"
	"sluice/internal/cache/store"
)

// RoundTripRecord answers r from the cache or forwards it through Next,
// and records the outcome as Squid result codes in rec when rec is not
// nil. r must be an outbound request (absolute URL, hop-by-hop fields
// already removed); the cache may modify its header. When upstream is not
// nil, a request about to contact the origin is first passed through it
// (the proxy attaches its relay of 1xx responses there, which a hit does
// not need).
func (c *Cache) RoundTripRecord(r *http.Request, rec *accesslog.Record, upstream func(*http.Request) *http.Request) (*http.Response, error) {
	if upstream == nil {
		upstream = noPrep
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	default:
		return c.forwardOther(upstream(r), rec)
	}
	if (r.Body != nil && r.Body != http.NoBody) || len(r.Header["Upgrade"]) > 0 {
		// A GET with a body or an upgrade is not a plain retrieval.
		return c.forward(upstream(r), rec, "bypass")
	}
	primary := Key(r.URL)
	reqCC := semantics.ParseRequestDirectives(r.Header)
	l := c.lookup(r.Context(), primary, r.Header)
	if l.entry == nil {
		if reqCC.OnlyIfCached {
			return c.notCached(r, rec), nil
		}
		fwd := "uri-miss"
		if l.varyMiss {
			fwd = "vary-miss"
		}
		return c.miss(upstream(r), rec, primary, reqCC, fwd)
	}

	age := l.p.age(c.now())
	life, rcc := l.p.life, l.p.rcc
	fresh := life > age
	staleness := age - life

	// Request directives that rule out the stored response without
	// revalidation (RFC 9111 §5.2.1).
	forced := reqCC.NoCache ||
		(reqCC.MaxAge.Present && (reqCC.MaxAge.Invalid || age > seconds(reqCC.MaxAge))) ||
		(reqCC.MinFresh.Present && (reqCC.MinFresh.Invalid || life-age < seconds(reqCC.MinFresh)))
	// RFC 9111 §5.2.2.4: no-cache on the response means every use needs a
	// successful revalidation.
	mustCheck := rcc.NoCache // unqualified; qualified fields were not stored
	mayStale := semantics.MayServeStale(rcc)

	if !forced && !mustCheck {
		if fresh {
			return c.hit(r, rec, l, age, life, "", false), nil
		}
		// RFC 9111 §5.2.1.2: max-stale lets the client accept a stale
		// response, unless the response forbids serving it stale.
		if mayStale && reqCC.MaxStale.Present && !reqCC.MaxStale.Invalid &&
			(reqCC.MaxStale.Any || staleness <= seconds(reqCC.MaxStale)) {
			return c.hit(r, rec, l, age, life, "max-stale", true), nil
		}
	}
	if reqCC.OnlyIfCached {
		// RFC 9111 §5.2.1.7: only a stored response usable without
		// contacting the origin; otherwise 504.
		l.entry.Close()
		return c.notCached(r, rec), nil
	}
	// RFC 5861 §3: within stale-while-revalidate, serve the stale
	// response and revalidate once in the background.
	if !fresh && !forced && !mustCheck && mayStale && rcc.StaleWhileRevalidate.Present &&
		!rcc.StaleWhileRevalidate.Invalid && staleness <= seconds(rcc.StaleWhileRevalidate) {
		c.revalidateInBackground(r, l.key, l.p.meta.Clone())
		return c.hit(r, rec, l, age, life, "stale-while-revalidate", true), nil
	}
	return c.revalidate(upstream(r), rec, primary, reqCC, l, age, life, rcc, forced && fresh)
}

func noPrep(r *http.Request) *http.Request { return r }

// lookup is what a cache lookup found.
type lookup struct {
	entry    store.Entry // nil on a miss
	p        *parsed     // entry's metadata, shared: read only
	key      string      // the store key of entry
	varyMiss bool        // the URL has variants, none for this request
}

// lookup finds the stored response for primary that matches a request
// with header h, following a Vary marker to the request's variant
// (RFC 9111 §4.1).
func (c *Cache) lookup(ctx context.Context, primary string, h http.Header) lookup {
	e, err := c.store.Get(ctx, primary)
	if err != nil {
		return lookup{}
	}
	p := c.parse(e)
	if p.meta.Status != markerStatus {
		return lookup{entry: e, p: p, key: primary}
	}
	e.Close()
	if p.gen == "" {
		return lookup{}
	}
	key := variantKey(primary, p.gen, semantics.VaryKey(p.fields, h))
	e, err = c.store.Get(ctx, key)
	if err != nil {
		return lookup{varyMiss: true, key: key}
	}
	if p = c.parse(e); p.meta.Status == markerStatus {
		e.Close() // a marker where a variant belongs: nothing usable
		return lookup{varyMiss: true, key: key}
	}
	return lookup{entry: e, p: p, key: key}
}

// hit serves a stored response without contacting the origin.
func (c *Cache) hit(r *http.Request, rec *accesslog.Record, l lookup, age, life time.Duration, detail string, stale bool) *http.Response {
	var buf [64]byte
	b := append(buf[:0], "sluice; hit; ttl="...)
	b = strconv.AppendInt(b, int64((life-age)/time.Second), 10)
	if detail != "" {
		b = append(append(b, "; detail="...), detail...)
	}
	cs := string(b)
	result := "TCP_HIT"
	switch l.entry.Tier() {
	case "mem":
		result = "TCP_MEM_HIT"
		c.stats.memHits.Add(1)
	case "redis":
		c.stats.sharedHits.Add(1)
	default:
		c.stats.diskHits.Add(1)
	}
	if stale {
		result = "TCP_STALE_HIT"
		c.stats.stale.Add(1)
	}
	return c.serve(r, rec, l.entry, l.p, age, cs, result, "HIER_NONE")
}

// notCached answers an only-if-cached request that the cache cannot
// satisfy (RFC 9111 §5.2.1.7).
func (c *Cache) notCached(r *http.Request, rec *accesslog.Record) *http.Response {
	record(rec, "TCP_MISS", "HIER_NONE")
	body := "The requested resource is not in the cache, and the request said only-if-cached.\n"
	h := http.Header{
		"Content-Type":   {"text/plain; charset=utf-8"},
		"Content-Length": {strconv.Itoa(len(body))},
		"Cache-Status":   {"sluice; detail=only-if-cached"},
		"Date":           {c.now().UTC().Format(http.TimeFormat)},
	}
	return synth(r, http.StatusGatewayTimeout, h, body)
}

func synth(r *http.Request, status int, h http.Header, body string) *http.Response {
	resp := &http.Response{
		Status: strconv.Itoa(status) + " " + http.StatusText(status), StatusCode: status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, ContentLength: int64(len(body)), Request: r, Body: http.NoBody,
	}
	if r.Method != http.MethodHead && body != "" {
		resp.Body = io.NopCloser(strings.NewReader(body))
	}
	return resp
}

// forward sends r to the origin without touching the store.
func (c *Cache) forward(r *http.Request, rec *accesslog.Record, fwd string) (*http.Response, error) {
	c.stats.misses.Add(1)
	record(rec, "TCP_MISS", "HIER_DIRECT")
	resp, err := c.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	ensureDate(resp.Header, c.now())
	resp.Header["Cache-Status"] = append(resp.Header["Cache-Status"], "sluice; fwd="+fwd)
	return resp, nil
}

// forwardOther forwards a request whose method the cache does not answer
// and invalidates what an unsafe method changed (RFC 9111 §4.4).
func (c *Cache) forwardOther(r *http.Request, rec *accesslog.Record) (*http.Response, error) {
	resp, err := c.forward(r, rec, "method")
	if err != nil {
		return nil, err
	}
	if semantics.Invalidates(r.Method, resp.StatusCode) {
		c.invalidate(r, resp.Header)
	}
	return resp, nil
}

// invalidate removes the target URI and the same-origin Location and
// Content-Location of a response to an unsafe request (RFC 9111 §4.4).
func (c *Cache) invalidate(r *http.Request, h http.Header) {
	ctx := context.WithoutCancel(r.Context())
	target := Key(r.URL)
	c.store.Delete(ctx, target)
	c.stats.invalidations.Add(1)
	for _, name := range []string{"Location", "Content-Location"} {
		v := h.Get(name)
		if v == "" {
			continue
		}
		u, err := r.URL.Parse(v)
		if err != nil || u.Host == "" {
			continue
		}
		// Only the same origin: another origin's responses must not be
		// removable by this one (a denial of service, RFC 9111 §4.4).
		if !sameOrigin(u, r.URL) {
			continue
		}
		if k := Key(u); k != target {
			c.store.Delete(ctx, k)
			c.stats.invalidations.Add(1)
		}
	}
}

// revalidate asks the origin whether the stored response l may still be
// used (RFC 9111 §4.3), serving it on a 304, serving it stale where
// stale-if-error allows on failure, and storing a new response otherwise.
// clientForced is set when the stored response was fresh but the
// request's directives asked for a check.
func (c *Cache) revalidate(r *http.Request, rec *accesslog.Record, primary string, reqCC semantics.RequestDirectives,
	l lookup, age, life time.Duration, rcc semantics.ResponseDirectives, clientForced bool) (*http.Response, error) {
	client := takeConditionals(r.Header)
	for k, v := range semantics.ValidatorHeaders(l.p.meta.Header) {
		r.Header[k] = v
	}
	staleness := age - life
	reqTime := c.now()
	resp, err := c.next.RoundTrip(r)
	restoreConditionals(r.Header, client)
	if err != nil {
		if c.staleIfError(rcc, reqCC, staleness) {
			return c.staleOnError(r, rec, l, age, life, 0), nil
		}
		l.entry.Close()
		record(rec, "TCP_REFRESH_FAIL_ERR", "HIER_DIRECT")
		return nil, err
	}
	respTime := c.now()
	ensureDate(resp.Header, respTime)
	fwd := "stale"
	if clientForced {
		fwd = "request"
	}
	switch {
	case resp.StatusCode == http.StatusNotModified && semantics.Matching304(l.p.meta.Header, resp.Header):
		discard(resp)
		// RFC 9111 §4.3.4: update the stored response with the 304's
		// fields, if it is still the one read, and use the one read.
		c.freshen(context.WithoutCancel(r.Context()), l.key, l.p.meta, resp.Header, reqTime, respTime)
		m := &store.Meta{
			Status:       l.p.meta.Status,
			Header:       semantics.UpdateStoredHeader(l.p.meta.Header, storedHeader(resp.Header, semantics.ResponseDirectives{})),
			RequestTime:  reqTime,
			ResponseTime: respTime,
		}
		c.stats.revalidated.Add(1)
		np := c.derive(m, nil)
		newAge := np.age(c.now())
		cs := "sluice; fwd=" + fwd + "; fwd-status=304; ttl=" + strconv.FormatInt(int64((np.life-newAge)/time.Second), 10)
		return c.serve(r, rec, l.entry, np, newAge, cs, "TCP_REFRESH_UNMODIFIED", "HIER_DIRECT"), nil
	case resp.StatusCode >= 500 && c.staleIfError(rcc, reqCC, staleness):
		discard(resp)
		return c.staleOnError(r, rec, l, age, life, resp.StatusCode), nil
	case resp.StatusCode == http.StatusNotModified:
		// A 304 for a different representation than the one stored
		// cannot be used; ask again without validators.
		discard(resp)
		l.entry.Close()
		for _, k := range validatorFields {
			delete(r.Header, k)
		}
		restoreConditionals(r.Header, client)
		return c.fetch(r, rec, primary, reqCC, nil, fwd, "TCP_REFRESH_MODIFIED")
	}
	if r.Method == http.MethodHead {
		// RFC 9111 §4.3.5: a HEAD response freshens or invalidates the
		// stored GET response; it is never stored itself.
		c.freshenWithHead(r, l, resp.Header, reqTime, respTime)
	} else if resp.StatusCode < 500 {
		// The stored response is outdated whether or not the new one
		// may be stored in its place. (A server error says nothing
		// about it: it stays, for stale-if-error.)
		c.store.Delete(context.WithoutCancel(r.Context()), l.key)
	}
	l.entry.Close()
	c.stats.refreshed.Add(1)
	return c.stored(r, rec, primary, reqCC, nil, resp, reqTime, respTime, "sluice; fwd="+fwd+"; fwd-status="+strconv.Itoa(resp.StatusCode), "TCP_REFRESH_MODIFIED"), nil
}

// staleIfError reports whether a stale response may be served because
// the origin failed (RFC 5861 §4): the response or the request allows it
// for at least the current staleness, and nothing forbids stale use.
func (c *Cache) staleIfError(rcc semantics.ResponseDirectives, reqCC semantics.RequestDirectives, staleness time.Duration) bool {
	if !semantics.MayServeStale(rcc) {
		return false
	}
	if staleness < 0 {
		staleness = 0
	}
	ok := func(s semantics.Seconds) bool {
		return s.Present && !s.Invalid && staleness <= seconds(s)
	}
	return ok(rcc.StaleIfError) || ok(reqCC.StaleIfError)
}

// staleOnError serves the stale l because the origin failed: status is
// what it answered, or 0 when it could not be reached.
func (c *Cache) staleOnError(r *http.Request, rec *accesslog.Record, l lookup, age, life time.Duration, status int) *http.Response {
	c.stats.stale.Add(1)
	// RFC 9211 §2.2: the request went forward; the stored response was
	// used because of what came back.
	cs := "sluice; fwd=stale"
	why := "origin unreachable"
	if status != 0 {
		cs += "; fwd-status=" + strconv.Itoa(status)
		why = "origin answered " + strconv.Itoa(status)
	}
	cs += "; ttl=" + strconv.FormatInt(int64((life-age)/time.Second), 10) + "; detail=stale-if-error"
	c.log.Debug("cache: serving stale", "key", l.key, "why", why)
	return c.serve(r, rec, l.entry, l.p, age, cs, "TCP_REFRESH_FAIL_OLD", "HIER_DIRECT")
}

// freshenWithHead applies RFC 9111 §4.3.5: a 200 to HEAD whose
// validators and length match the stored GET response updates its
// fields; one that differs means the stored response is out of date.
func (c *Cache) freshenWithHead(r *http.Request, l lookup, h http.Header, reqTime, respTime time.Time) {
	ctx := context.WithoutCancel(r.Context())
	same := h.Get("ETag") == l.p.meta.Header.Get("ETag") &&
		h.Get("Last-Modified") == l.p.meta.Header.Get("Last-Modified")
	if cl := h.Get("Content-Length"); cl != "" && l.entry != nil {
		same = same && cl == strconv.FormatInt(l.entry.Size(), 10)
	}
	if !same {
		c.store.Delete(ctx, l.key)
		return
	}
	c.freshen(ctx, l.key, l.p.meta, h, reqTime, respTime)
}

// revalidateInBackground refreshes the entry under key once, off the
// request path (RFC 5861 §3). Concurrent calls for one key start one.
func (c *Cache) revalidateInBackground(r *http.Request, key string, m *store.Meta) {
	c.mu.Lock()
	if c.reval[key] || c.ctx.Err() != nil {
		c.mu.Unlock()
		return
	}
	c.reval[key] = true
	c.bg.Add(1)
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(c.ctx, c.revalTO)
	br := r.Clone(ctx)
	br.Method = http.MethodGet
	takeConditionals(br.Header)
	for k, v := range semantics.ValidatorHeaders(m.Header) {
		br.Header[k] = v
	}
	go func() {
		defer c.bg.Done()
		defer cancel()
		defer func() {
			c.mu.Lock()
			delete(c.reval, key)
			c.mu.Unlock()
		}()
		reqTime := c.now()
		resp, err := c.next.RoundTrip(br)
		if err != nil {
			c.log.Debug("cache: background revalidation failed", "key", key, "err", err)
			return
		}
		respTime := c.now()
		ensureDate(resp.Header, respTime)
		if resp.StatusCode == http.StatusNotModified {
			discard(resp)
			if semantics.Matching304(m.Header, resp.Header) {
				c.freshen(ctx, key, m, resp.Header, reqTime, respTime)
				c.stats.revalidated.Add(1)
			}
			return
		}
		if resp.StatusCode >= 500 {
			discard(resp) // keep the stale response for stale-if-error
			return
		}
		primary := Key(br.URL)
		w, _ := c.startStore(ctx, br, resp, semantics.ParseRequestDirectives(br.Header), reqTime, respTime, primary)
		if w == nil {
			discard(resp)
			return
		}
		w.n, err = io.Copy(w.w, resp.Body)
		resp.Body.Close()
		if err == nil && (resp.ContentLength < 0 || w.n == resp.ContentLength) {
			if w.w.Commit() == nil {
				c.stats.stored.Add(1)
				c.stats.refreshed.Add(1)
			}
			return
		}
		w.w.Abort()
	}()
}

// validatorFields are the conditional request fields a client may send
// and the cache replaces with its own when revalidating.
var validatorFields = []string{"If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since", "If-Range", "Range"}

// takeConditionals removes the client's conditional and range fields
// from h and returns them.
func takeConditionals(h http.Header) http.Header {
	var saved http.Header
	for _, k := range validatorFields {
		if v, ok := h[k]; ok {
			if saved == nil {
				saved = make(http.Header, 2)
			}
			saved[k] = v
			delete(h, k)
		}
	}
	return saved
}

// restoreConditionals puts saved client fields back into h, replacing the
// cache's own validators.
func restoreConditionals(h, saved http.Header) {
	delete(h, "If-None-Match")
	delete(h, "If-Modified-Since")
	for k, v := range saved {
		h[k] = v
	}
}

// discard drains a little of an unwanted response body, so the upstream
// connection can be reused, and closes it.
func discard(resp *http.Response) {
	io.CopyN(io.Discard, resp.Body, 64<<10)
	resp.Body.Close()
}

// seconds converts a directive's delta-seconds to a Duration, saturating.
func seconds(s semantics.Seconds) time.Duration {
	const max = int64(1<<63-1) / int64(time.Second)
	if s.Value > max {
		return time.Duration(max) * time.Second
	}
	return time.Duration(s.Value) * time.Second
}

// ensureDate adds a Date field to a response that lacks one (RFC 9110
// §6.6.1: a recipient with a clock must add it before caching or
// forwarding).
func ensureDate(h http.Header, now time.Time) {
	if len(h["Date"]) == 0 {
		h["Date"] = []string{now.UTC().Format(http.TimeFormat)}
	}
}
