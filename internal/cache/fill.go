package cache

import (
	"context"
	"io"
	"net/http"
	"sync"
	"time"

	"sluice/internal/accesslog"
	"sluice/internal/cache/semantics"
	"sluice/internal/cache/store"
	"sluice/internal/copybuf"
)

// fill is a miss being fetched, which concurrent requests for the same
// URL may join instead of asking the origin again (collapsed
// forwarding). The leader publishes the response head once it arrives;
// followers then read the body as it is written (store.Writer.NewReader).
//
// Lifetime: the origin request runs on a context detached from the
// leader's client and is cancelled when every interested client (the
// leader and each follower) has gone — unless the body is nearly
// complete, in which case the fill finishes for the cache's sake.
type fill struct {
	primary string
	ready   chan struct{} // closed by publish

	// Set before ready is closed, read-only afterwards.
	w         store.Writer // nil: the response is not shared
	meta      *store.Meta
	size      int64 // Content-Length
	varyKey   string
	fields    []string
	cancelCtx context.CancelFunc

	mu       sync.Mutex
	refs     int   // clients still interested
	written  int64 // body bytes stored so far
	finished bool  // committed or aborted
	// keep is a reader of w, opened at publish and closed once the fill
	// has finished and every client has let go. It keeps the body
	// readable for a follower that joined in time but opens its reader
	// after Commit: once no reader shares the writer's file, the disk
	// store opens the committed entry by name, which a purge, an
	// invalidation or eviction may have deleted by then.
	keep io.Closer
}

// maxUnattended is how much of a body a fill still fetches after every
// client has gone, to complete the stored object.
const maxUnattended = 1 << 20

// holder is one client's interest in a fill, released exactly once.
type holder struct {
	f    *fill
	once sync.Once
	stop func() bool
}

func (h *holder) release() {
	h.once.Do(func() {
		if h.stop != nil {
			h.stop()
		}
		h.f.unref()
	})
}

func (f *fill) unref() {
	f.mu.Lock()
	f.refs--
	idle := f.refs == 0 && !f.finished
	remaining := f.size - f.written
	pumping := f.w != nil
	keep := f.letGo()
	f.mu.Unlock()
	if keep != nil {
		keep.Close()
	}
	if idle && !(pumping && remaining <= maxUnattended) {
		f.cancelCtx()
	}
}

// letGo returns f.keep, for the caller to close, once the fill has
// finished and no client remains; nobody can join it then. f.mu is held.
func (f *fill) letGo() io.Closer {
	if !f.finished || f.refs > 0 {
		return nil
	}
	keep := f.keep
	f.keep = nil
	return keep
}

// join adds a client to the fill; it fails once the fill has finished
// or been abandoned by everyone.
func (f *fill) join(ctx context.Context) (*holder, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.finished || f.refs == 0 {
		return nil, false
	}
	f.refs++
	h := &holder{f: f}
	h.stop = context.AfterFunc(ctx, h.release)
	return h, true
}

// miss fetches a response that is not stored, as the leader of a fill
// that concurrent requests may join, or as a follower of one already
// under way.
func (c *Cache) miss(r *http.Request, rec *accesslog.Record, primary string, reqCC semantics.RequestDirectives, fwd string) (*http.Response, error) {
	result := "TCP_MISS"
	if reqCC.NoCache {
		result = "TCP_CLIENT_REFRESH_MISS"
	}
	if !collapsible(r, reqCC) {
		return c.fetch(r, rec, primary, reqCC, nil, fwd, result)
	}
	now := c.now()
	c.mu.Lock()
	if until, ok := c.pass[primary]; ok {
		if now.Before(until) {
			c.mu.Unlock()
			return c.fetch(r, rec, primary, reqCC, nil, fwd, result)
		}
		delete(c.pass, primary)
	}
	if f := c.inflight[primary]; f != nil {
		c.mu.Unlock()
		if h, ok := f.join(r.Context()); ok {
			if resp := c.follow(r, rec, f, h); resp != nil {
				return resp, nil
			}
		}
		return c.fetch(r, rec, primary, reqCC, nil, fwd, result)
	}
	f := &fill{primary: primary, ready: make(chan struct{}), refs: 1, size: -1}
	c.inflight[primary] = f
	c.mu.Unlock()

	// The fetch keeps the request's values (its trace relays 1xx) but not
	// its cancellation; it ends when every client has gone, or at Close.
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	stop := context.AfterFunc(c.ctx, cancel)
	f.cancelCtx = func() { stop(); cancel() }
	h := &holder{f: f}
	h.stop = context.AfterFunc(r.Context(), h.release)
	resp, err := c.fetch(r.WithContext(ctx), rec, primary, reqCC, f, fwd, result)
	if err != nil {
		h.release()
		return nil, err
	}
	// Whether the body is the origin's (not shared) or the store
	// writer's (shared), closing it ends the leader's interest.
	resp.Body = &releaseBody{ReadCloser: resp.Body, h: h}
	return resp, nil
}

// collapsible reports whether a request may share another's response:
// a plain GET whose answer the cache could store and reuse for it.
func collapsible(r *http.Request, reqCC semantics.RequestDirectives) bool {
	if r.Method != http.MethodGet || reqCC.NoStore || reqCC.NoCache {
		return false
	}
	for _, k := range validatorFields {
		if _, ok := r.Header[k]; ok {
			return false
		}
	}
	return true
}

// follow waits for the leader's response head and streams its body as it
// is written. It returns nil when the response cannot be shared with r;
// the caller then forwards r itself.
func (c *Cache) follow(r *http.Request, rec *accesslog.Record, f *fill, h *holder) *http.Response {
	select {
	case <-f.ready:
	case <-r.Context().Done():
		h.release()
		return nil
	}
	if f.w == nil || (len(f.fields) > 0 && semantics.VaryKey(f.fields, r.Header) != f.varyKey) {
		h.release()
		return nil
	}
	c.stats.collapsed.Add(1)
	record(rec, "TCP_CF_MISS", "HIER_NONE")
	hdr := f.meta.Header.Clone()
	hdr["Cache-Status"] = append(hdr["Cache-Status"], "sluice; fwd=uri-miss; collapsed")
	resp := &http.Response{
		Status: http.StatusText(f.meta.Status), StatusCode: f.meta.Status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: hdr, ContentLength: f.size, Request: r,
		Body: &releaseBody{ReadCloser: f.w.NewReader(), h: h},
	}
	return resp
}

// releaseBody releases a client's interest in a fill when its body is
// closed.
type releaseBody struct {
	io.ReadCloser
	h *holder
}

func (b *releaseBody) Close() error {
	err := b.ReadCloser.Close()
	b.h.release()
	return err
}

// fetch forwards r to the origin and stores the response if it may.
// f is the fill r leads, or nil.
func (c *Cache) fetch(r *http.Request, rec *accesslog.Record, primary string, reqCC semantics.RequestDirectives, f *fill, fwd, result string) (*http.Response, error) {
	c.stats.misses.Add(1)
	record(rec, result, "HIER_DIRECT")
	reqTime := c.now()
	resp, err := c.next.RoundTrip(r)
	if err != nil {
		if f != nil {
			c.publish(f, nil, 0)
		}
		return nil, err
	}
	respTime := c.now()
	ensureDate(resp.Header, respTime)
	return c.stored(r, rec, primary, reqCC, f, resp, reqTime, respTime, "sluice; fwd="+fwd, result), nil
}

// publish ends f's wait for a response head: with s, followers stream the
// body being stored; without, they forward on their own.
func (c *Cache) publish(f *fill, s *storing, size int64) {
	if s != nil {
		f.w, f.meta, f.size, f.fields, f.varyKey = s.w, s.meta, size, s.fields, s.varyKey
		f.mu.Lock()
		f.keep = s.w.NewReader()
		f.mu.Unlock()
	} else {
		c.mu.Lock()
		if c.inflight[f.primary] == f {
			delete(c.inflight, f.primary)
		}
		c.mu.Unlock()
	}
	close(f.ready)
}

// finish records the end of f's fill and forgets it.
func (c *Cache) finish(f *fill) {
	f.mu.Lock()
	f.finished = true
	keep := f.letGo()
	f.mu.Unlock()
	if keep != nil {
		keep.Close()
	}
	c.mu.Lock()
	if c.inflight[f.primary] == f {
		delete(c.inflight, f.primary)
	}
	c.mu.Unlock()
}

// stored decides whether resp may be stored and, if so, arranges for its
// body to be stored while it streams to the client. It returns the
// response to give the client.
func (c *Cache) stored(r *http.Request, rec *accesslog.Record, primary string, reqCC semantics.RequestDirectives, f *fill,
	resp *http.Response, reqTime, respTime time.Time, cs, result string) *http.Response {
	record(rec, result, "HIER_DIRECT")
	s, _ := c.startStore(context.WithoutCancel(r.Context()), r, resp, reqCC, reqTime, respTime, primary)
	if s == nil {
		resp.Header["Cache-Status"] = append(resp.Header["Cache-Status"], cs)
		if f != nil {
			c.mu.Lock()
			c.pass[primary] = respTime.Add(passFor)
			if len(c.pass) > 10000 {
				for k, until := range c.pass {
					if respTime.After(until) {
						delete(c.pass, k)
					}
				}
			}
			c.mu.Unlock()
			c.publish(f, nil, 0)
		}
		return resp
	}
	resp.Header["Cache-Status"] = append(resp.Header["Cache-Status"], cs+"; stored")
	if f != nil && resp.ContentLength >= 0 {
		// Shared: a pump stores the body at the origin's pace and every
		// client, the leader included, reads it from the store writer.
		c.publish(f, s, resp.ContentLength)
		src := resp.Body
		resp.Body = s.w.NewReader()
		c.bg.Add(1)
		go c.pump(f, s, src, resp.ContentLength)
		return resp
	}
	if f != nil {
		c.publish(f, nil, 0) // unknown length: not shared, see tee
	}
	resp.Body = &tee{c: c, src: resp.Body, s: s, want: resp.ContentLength}
	return resp
}

// pump copies the origin's body into the store writer and commits it
// when it is complete.
func (c *Cache) pump(f *fill, s *storing, src io.ReadCloser, want int64) {
	defer c.bg.Done()
	defer f.cancelCtx()
	bp := copybuf.Get()
	defer copybuf.Put(bp)
	buf := *bp
	var err error
	for {
		var n int
		n, err = src.Read(buf)
		if n > 0 {
			if _, werr := s.w.Write(buf[:n]); werr != nil {
				err = werr
				break
			}
			s.n += int64(n)
			f.mu.Lock()
			f.written = s.n
			f.mu.Unlock()
		}
		if err != nil {
			break
		}
	}
	src.Close()
	if err == io.EOF && s.n == want {
		if s.w.Commit() == nil {
			c.stats.stored.Add(1)
		}
	} else {
		// A truncated body is never stored as complete (RFC 9111 §3.3).
		s.w.Abort()
	}
	c.finish(f)
}

// tee stores a body as the client reads it; used when the response is not
// shared (no fill, or a body of unknown length). If the store refuses the
// body part-way (too large), the client still gets all of it.
type tee struct {
	c    *Cache
	src  io.ReadCloser
	s    *storing
	want int64
	done bool
}

func (t *tee) Read(p []byte) (int, error) {
	n, err := t.src.Read(p)
	if n > 0 && !t.done {
		if _, werr := t.s.w.Write(p[:n]); werr != nil {
			t.done = true // the writer aborted itself
		} else {
			t.s.n += int64(n)
		}
	}
	if err != nil && !t.done {
		t.done = true
		if err == io.EOF && (t.want < 0 || t.s.n == t.want) {
			if t.s.w.Commit() == nil {
				t.c.stats.stored.Add(1)
			}
		} else {
			t.s.w.Abort()
		}
	}
	return n, err
}

func (t *tee) Close() error {
	if !t.done {
		t.done = true
		t.s.w.Abort() // the client left before the end: the body is incomplete
	}
	return t.src.Close()
}

// storing is a response being stored.
type storing struct {
	w       store.Writer
	n       int64 // body bytes written
	meta    *store.Meta
	fields  []string // Vary fields
	varyKey string
}

// startStore checks whether resp to r may be stored (RFC 9111 §3) and, if
// so, creates its entry. It returns nil and the reason when it may not.
func (c *Cache) startStore(ctx context.Context, r *http.Request, resp *http.Response, reqCC semantics.RequestDirectives,
	reqTime, respTime time.Time, primary string) (*storing, string) {
	if r.Method != http.MethodGet {
		return nil, "method" // a HEAD response has no body to store
	}
	if reqCC.NoStore {
		return nil, "request no-store"
	}
	if ok, why := semantics.Storable(r.Method, r.Header, resp.StatusCode, resp.Header); !ok {
		return nil, why
	}
	if c.maxObj > 0 && resp.ContentLength > c.maxObj {
		return nil, "too large"
	}
	// A body the store would refuse part-way must not be started: the
	// clients following the fill would lose the rest of it.
	if l, ok := c.store.(store.Limiter); ok && resp.ContentLength > l.MaxObjectSize() && l.MaxObjectSize() > 0 {
		return nil, "too large for the store"
	}
	rcc := semantics.ParseResponseDirectives(resp.Header)
	meta := &store.Meta{
		Status:       resp.StatusCode,
		Header:       storedHeader(resp.Header, rcc),
		RequestTime:  reqTime,
		ResponseTime: respTime,
	}
	s := &storing{meta: meta}
	key := primary
	if fields, _ := semantics.VaryFields(resp.Header); len(fields) > 0 {
		gen, err := c.marker(ctx, primary, fields, respTime)
		if err != nil {
			return nil, "store: " + err.Error()
		}
		s.fields = fields
		s.varyKey = semantics.VaryKey(fields, r.Header)
		key = variantKey(primary, gen, s.varyKey)
	}
	w, err := c.store.Create(ctx, key, meta.Clone())
	if err != nil {
		return nil, "store: " + err.Error()
	}
	s.w = w
	return s, ""
}
