package cache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"sluice/internal/accesslog"
	"sluice/internal/cache/semantics"
	"sluice/internal/cache/store"
	"sluice/internal/wire"
)

// serve builds the response to r from a stored entry: the whole body, a
// single range (206/416), headers only for HEAD, or 304 when the client's
// own conditions say it already has the response. It owns e; p is only
// read (it may be shared with concurrent requests).
func (c *Cache) serve(r *http.Request, rec *accesslog.Record, e store.Entry, p *parsed, age time.Duration, cs, result, hier string) *http.Response {
	// The response gets its own header map sharing the stored values,
	// which are clipped: appending to one (the proxy adds to Via) copies.
	h := maps.Clone(p.header)
	m := p.meta
	// RFC 9111 §5.1: a response served from cache carries its Age; RFC
	// 9211 §2: each cache appends its own Cache-Status member. (Stored
	// headers have no Cache-Status: storedHeader drops it.)
	hr := &hitResponse{vals: [2]string{ageValue(age), cs}}
	h["Age"] = hr.vals[0:1:1]
	if prev := h["Cache-Status"]; len(prev) > 0 {
		h["Cache-Status"] = append(prev, cs)
	} else {
		h["Cache-Status"] = hr.vals[1:2:2]
	}
	size := e.Size()
	status := m.Status

	if status >= 200 && status < 300 {
		// RFC 9111 §4.3.2: answer the client's conditional request.
		if nm, _ := semantics.EvaluateConditional(r.Method, r.Header, h); nm {
			e.Close()
			nh := semantics.NotModifiedHeader(h)
			nh["Age"] = h["Age"]
			nh["Cache-Status"] = h["Cache-Status"]
			if strings.HasSuffix(result, "_HIT") {
				result = "TCP_IMS_HIT"
			}
			record(rec, result, hier)
			resp := synth(r, http.StatusNotModified, nh, "")
			resp.ContentLength = 0
			return resp
		}
	}
	record(rec, result, hier)
	resp := &hr.resp
	*resp = http.Response{
		Status: statusLine(status), StatusCode: status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Request: r,
	}
	start, end := int64(0), size
	if status == http.StatusOK && r.Method == http.MethodGet {
		if rv := r.Header["Range"]; len(rv) == 1 && semantics.IfRangeAllows(r.Header.Get("If-Range"), h) {
			// RFC 9110 §14.2: one byte range from the complete stored
			// representation.
			switch kind, s, last := semantics.ParseRange(rv[0], size); kind {
			case semantics.RangeOK:
				start, end = s, last+1
				resp.StatusCode, resp.Status = http.StatusPartialContent, "206 Partial Content"
				h["Content-Range"] = []string{"bytes " + strconv.FormatInt(s, 10) + "-" + strconv.FormatInt(last, 10) + "/" + strconv.FormatInt(size, 10)}
			case semantics.RangeUnsatisfiable:
				e.Close()
				h["Content-Range"] = []string{"bytes */" + strconv.FormatInt(size, 10)}
				h["Content-Length"] = []string{"0"}
				delete(h, "Content-Type")
				resp.StatusCode, resp.Status = http.StatusRequestedRangeNotSatisfiable, "416 Range Not Satisfiable"
				resp.Body = http.NoBody
				return resp
			}
		}
	}
	resp.ContentLength = end - start
	if cl := h["Content-Length"]; len(cl) != 1 || !decimalIs(cl[0], end-start) {
		h["Content-Length"] = []string{strconv.FormatInt(end-start, 10)}
	}
	if r.Method == http.MethodHead || end == start {
		e.Close()
		resp.Body = http.NoBody
		return resp
	}
	b := &hr.body
	*b = entryBody{e: e, off: start, end: end, bytes: &c.stats.bytesDisk}
	switch e.Tier() {
	case "mem":
		b.bytes = &c.stats.bytesMem
	case "redis":
		b.bytes = &c.stats.bytesShared
	}
	resp.Body = b
	return resp
}

// hitResponse holds what serve allocates per response in one allocation.
type hitResponse struct {
	resp http.Response
	body entryBody
	vals [2]string // Age and Cache-Status values
}

// decimalIs reports whether s is the decimal form of n.
func decimalIs(s string, n int64) bool {
	v, err := strconv.ParseInt(s, 10, 64)
	return err == nil && v == n && s[0] != '+' && (len(s) == 1 || s[0] != '0')
}

// statusLine returns "200 OK" and the like, without allocating for 200.
func statusLine(code int) string {
	if code == http.StatusOK {
		return "200 OK"
	}
	return strconv.Itoa(code) + " " + http.StatusText(code)
}

// ageValue formats an Age field value: whole seconds, saturated at 2^31
// (RFC 9111 §1.2.2).
func ageValue(age time.Duration) string {
	s := int64(age / time.Second)
	if s < 0 {
		s = 0
	}
	if s > 1<<31 {
		s = 1 << 31
	}
	return strconv.FormatInt(s, 10)
}

// entryBody reads [off, end) of a stored body and releases the entry when
// closed. The last bytes come with io.EOF, so a copier need not ask again.
type entryBody struct {
	e        store.Entry
	off, end int64
	bytes    interface{ Add(int64) int64 }
	once     sync.Once
}

func (b *entryBody) Read(p []byte) (int, error) {
	if b.off >= b.end {
		return 0, io.EOF
	}
	if rem := b.end - b.off; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := b.e.ReadAt(p, b.off)
	b.off += int64(n)
	b.bytes.Add(int64(n))
	if err == io.EOF && b.off < b.end {
		err = io.ErrUnexpectedEOF
	}
	if err == nil && b.off >= b.end {
		err = io.EOF
	}
	return n, err
}

func (b *entryBody) Close() error {
	b.once.Do(func() { b.e.Close() })
	return nil
}

// Vary markers. A URL whose response varies is stored as a marker under
// its primary key, naming the Vary fields and a random generation, and one
// entry per variant under primary + generation + the request's normalised
// values. Replacing or deleting the marker (invalidation, PURGE) makes
// every variant of the old generation unreachable at once; the store
// evicts them in time.
const (
	markerStatus = 0
	genField     = "Sluice-Variant-Generation"
)

// marker returns the generation of primary's Vary marker for fields,
// creating or replacing the marker if it names other fields.
func (c *Cache) marker(ctx context.Context, primary string, fields []string, now time.Time) (string, error) {
	if e, err := c.store.Get(ctx, primary); err == nil {
		m := e.Meta()
		e.Close()
		if m.Status == markerStatus {
			if f, gen := parseMarker(m); gen != "" && slices.Equal(f, fields) {
				return gen, nil
			}
		}
	}
	var rb [8]byte
	rand.Read(rb[:])
	gen := hex.EncodeToString(rb[:])
	m := &store.Meta{
		Status:       markerStatus,
		Header:       http.Header{"Vary": {strings.Join(fields, ", ")}, genField: {gen}},
		RequestTime:  now,
		ResponseTime: now,
	}
	w, err := c.store.Create(ctx, primary, m)
	if err != nil {
		return "", err
	}
	if err := w.Commit(); err != nil {
		return "", err
	}
	return gen, nil
}

func parseMarker(m *store.Meta) (fields []string, gen string) {
	fields, _ = semantics.VaryFields(m.Header)
	if g := m.Header[genField]; len(g) == 1 {
		gen = g[0]
	}
	return fields, gen
}

func variantKey(primary, gen, varyKey string) string {
	return primary + "\x00" + gen + "\x00" + varyKey
}

// storedHeader returns the fields of h to store: without hop-by-hop
// fields (RFC 9111 §3.1), and without the fields a qualified private or
// no-cache directive names (§5.2.2.4, §5.2.2.7: a shared cache must not
// store or reuse them).
func storedHeader(h http.Header, rcc semantics.ResponseDirectives) http.Header {
	out := h.Clone()
	wire.RemoveHopByHop(out)
	for _, k := range rcc.PrivateFields {
		delete(out, http.CanonicalHeaderKey(k))
	}
	for _, k := range rcc.NoCacheFields {
		delete(out, http.CanonicalHeaderKey(k))
	}
	delete(out, "Cache-Status") // ours is added when served; upstream caches' are about another exchange
	return out
}

// sameOrigin reports whether a and b have the same scheme, host and port
// (RFC 6454).
func sameOrigin(a, b *url.URL) bool {
	return origin(a) == origin(b)
}

func origin(u *url.URL) string {
	k := Key(&url.URL{Scheme: u.Scheme, Host: u.Host})
	return k
}
