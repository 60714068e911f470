// Package proxy is sluice's HTTP handler: it forwards absolute-form
// requests to origins, tunnels CONNECT, relays WebSocket upgrades, answers
// requests addressed to the proxy itself with a local page, and turns every
// failure into a short page with the right status.
//
// It does not listen, limit connections or enforce the client ACL (see
// internal/server), dial or check destinations itself (Options.DialContext
// and the Transport do, via internal/dial), or cache (a later RoundTripper
// wrapped around Transport).
package proxy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"net/textproto"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"sluice/internal/accesslog"
	"sluice/internal/copybuf"
	"sluice/internal/privacy"
	"sluice/internal/tunnel"
	"sluice/internal/upstream"
)

// Options configure a Handler. Fields are read once by New.
type Options struct {
	// Transport carries forwarded requests to origins. Required.
	Transport http.RoundTripper
	// DialContext opens CONNECT tunnels; it enforces destination policy.
	// Required.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// ConnectPorts are the ports CONNECT may reach. Empty means 443 only.
	ConnectPorts []int
	// Pseudonym names this proxy in Via (RFC 9110 §7.6.3) and detects
	// loops. Empty means DefaultPseudonym(ListenAddr).
	Pseudonym string
	// ForwardedFor is one of the Forwarded* modes; empty means off.
	ForwardedFor string
	// TunnelIdleTimeout closes tunnels, WebSockets and stalled transfers
	// with no bytes moving for this long. Zero means no limit.
	TunnelIdleTimeout time.Duration
	// Tunnels tracks open tunnels for graceful shutdown. Nil means a
	// private tracker.
	Tunnels *tunnel.Tracker
	// AccessLog receives one record per request; nil logs nothing.
	AccessLog *accesslog.Logger
	// Logger receives diagnostics; nil means slog.Default().
	Logger *slog.Logger
	// ListenAddr is the proxy's own address, to recognise requests
	// addressed to itself.
	ListenAddr string
	// Version is shown on the local status page.
	Version string
	// Cache answers PURGE requests; nil means there is no cache, and
	// PURGE is forwarded like any other method. The cache itself is part
	// of Transport.
	Cache Purger
	// PurgeClients may send PURGE; nil means nobody.
	PurgeClients []netip.Prefix
	// Rules returns the current filtering, privacy and rewriting rules;
	// it is called once per request. Nil, or returning nil, means none.
	Rules func() *Rules
	// Observe, if set, sees every request's access-log record once it is
	// complete (metrics and the status page). It must be fast. The record
	// is passed by value so that it stays on the handler's stack.
	Observe func(accesslog.Record)
	// TunnelOpened, if set, is told when a CONNECT tunnel opens, and the
	// function it returns when it closes (the status page's list).
	TunnelOpened func(host, client, user string) (closed func())
	// Resolve resolves and checks a destination host the way DialContext
	// will (dial.Dialer.Resolve); access rules about destination addresses
	// use it to decide before the cache is consulted. Nil means those
	// rules are enforced at connect time only.
	Resolve func(ctx context.Context, host string) ([]netip.Addr, error)
}

// Purger removes a URL and its variants from a cache (the PURGE method).
type Purger interface {
	Purge(ctx context.Context, url string) (found bool, err error)
}

// RecordingRoundTripper is a RoundTripper that annotates the request's
// access-log record itself, such as a cache setting TCP_HIT, and may
// answer without contacting the origin. The handler uses RoundTripRecord
// when its Transport has it, passing as upstream what must be done to a
// request about to go to the origin (attach the relay of 1xx responses),
// so that a request answered locally does not pay for it.
type RecordingRoundTripper interface {
	RoundTripRecord(r *http.Request, rec *accesslog.Record, upstream func(*http.Request) *http.Request) (*http.Response, error)
}

// Handler is the proxy. It is immutable after New and safe for concurrent
// use.
type Handler struct {
	transport    http.RoundTripper
	dial         func(ctx context.Context, network, addr string) (net.Conn, error)
	connectPorts []string
	pseudonym    string
	via10, via11 string
	// One-element Via values to share between messages that have no Via
	// yet (clipped when used, so an append copies).
	via10s, via11s []string
	forwarded      string
	idle           time.Duration
	tunnels        *tunnel.Tracker
	alog           *accesslog.Logger
	log            *slog.Logger
	listenAddr     string
	selfPort       string
	selfHosts      map[string]bool
	version        string
	started        time.Time
	cache          Purger
	purgeClients   []netip.Prefix
	recorder       RecordingRoundTripper
	rules          func() *Rules
	resolve        func(ctx context.Context, host string) ([]netip.Addr, error)
	observe        func(accesslog.Record)
	tunnelOpened   func(host, client, user string) func()

	requests atomic.Int64
}

var _ http.Handler = (*Handler)(nil)

// New builds a Handler from o.
func New(o Options) *Handler {
	h := &Handler{
		transport:  o.Transport,
		dial:       o.DialContext,
		pseudonym:  o.Pseudonym,
		forwarded:  o.ForwardedFor,
		idle:       o.TunnelIdleTimeout,
		tunnels:    o.Tunnels,
		alog:       o.AccessLog,
		log:        o.Logger,
		listenAddr: o.ListenAddr,
		version:    o.Version,
		started:    time.Now(),
		cache:      o.Cache,

		purgeClients: o.PurgeClients,
		rules:        o.Rules,
		resolve:      o.Resolve,
		observe:      o.Observe,
		tunnelOpened: o.TunnelOpened,
	}
	h.recorder, _ = o.Transport.(RecordingRoundTripper)
	if h.pseudonym == "" {
		h.pseudonym = DefaultPseudonym(o.ListenAddr)
	}
	h.via10 = "1.0 " + h.pseudonym
	h.via11 = "1.1 " + h.pseudonym
	h.via10s, h.via11s = []string{h.via10}, []string{h.via11}
	if h.tunnels == nil {
		h.tunnels = new(tunnel.Tracker)
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	ports := o.ConnectPorts
	if len(ports) == 0 {
		ports = []int{443}
	}
	for _, p := range ports {
		h.connectPorts = append(h.connectPorts, strconv.Itoa(p))
	}
	h.selfHosts, h.selfPort = selfAddresses(o.ListenAddr)
	return h
}

// DefaultPseudonym derives a Via pseudonym that is stable for a host and
// listen address, distinct between instances (so proxies chained to each
// other do not mistake each other for a loop), and reveals neither.
func DefaultPseudonym(listen string) string {
	host, _ := os.Hostname()
	sum := sha256.Sum256([]byte(host + "|" + listen))
	return "sluice-" + hex.EncodeToString(sum[:4])
}

// selfAddresses returns the host names and addresses under which this
// proxy can be reached, and its port.
func selfAddresses(listen string) (map[string]bool, string) {
	hosts := map[string]bool{"localhost": true}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return hosts, ""
	}
	if host != "" {
		hosts[strings.ToLower(host)] = true
	}
	ip := net.ParseIP(host)
	if host == "" || ip == nil || ip.IsUnspecified() || ip.IsLoopback() {
		hosts["127.0.0.1"], hosts["::1"], hosts["0.0.0.0"], hosts["::"] = true, true, true, true
		if name, err := os.Hostname(); err == nil {
			hosts[strings.ToLower(name)] = true
		}
	}
	if host == "" || (ip != nil && ip.IsUnspecified()) {
		if addrs, err := net.InterfaceAddrs(); err == nil {
			for _, a := range addrs {
				if n, ok := a.(*net.IPNet); ok {
					hosts[n.IP.String()] = true
				}
			}
		}
	}
	return hosts, port
}

// isSelf reports whether host:port names this proxy.
func (h *Handler) isSelf(hostport, defaultPort string) bool {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		host, port = hostport, defaultPort
	}
	if port != h.selfPort {
		return false
	}
	host = strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
	return h.selfHosts[host]
}

// ServeHTTP dispatches on the request's form: CONNECT, absolute-form
// (forward), or origin-form (a request for the proxy itself).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.requests.Add(1)
	rec := accesslog.Record{
		Start:     time.Now(),
		Client:    r.RemoteAddr,
		Method:    r.Method,
		URL:       r.RequestURI,
		Proto:     r.Proto,
		Referer:   first(r.Header, "Referer"),
		UserAgent: first(r.Header, "User-Agent"),
	}
	var abort bool
	rs := h.currentRules()
	user, ok := h.authenticate(w, r, &rec, rs)
	switch {
	case !ok:
	case rs.knocked(r):
		h.knock(w, r, &rec, user)
	case r.Method == http.MethodConnect:
		h.connect(w, r, &rec, rs, user)
	case r.URL.Scheme == "":
		rec.Result, rec.Hierarchy = "NONE", "HIER_NONE"
		rec.Status, rec.BytesOut = h.local(w, r)
	case r.Method == "PURGE" && h.cache != nil:
		h.purge(w, r, &rec)
	default:
		abort = h.forward(w, r, &rec, rs, user)
	}
	rec.Duration = time.Since(rec.Start)
	h.alog.Log(rec)
	if h.observe != nil {
		h.observe(rec)
	}
	if abort {
		// The origin failed mid-body: the client must not mistake what it
		// got for the whole response, so its connection is aborted.
		panic(http.ErrAbortHandler)
	}
}

func first(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// fail answers with a failure page and records it.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, rec *accesslog.Record, f failure, host string) {
	rec.Status = f.status
	rec.Error = f.title
	if rec.Result == "" {
		rec.Result = "NONE"
		if f.status == http.StatusForbidden {
			rec.Result = "TCP_DENIED"
		}
	}
	rec.BytesOut = h.writeError(w, r, f, host)
}

// forward relays an absolute-form request to its origin and streams the
// response back. It reports abort when the response was cut short by the
// origin and the client connection must be aborted.
func (h *Handler) forward(w http.ResponseWriter, r *http.Request, rec *accesslog.Record, rs *Rules, user string) (abort bool) {
	u := r.URL
	if u.Scheme != "http" && u.Scheme != "https" {
		h.fail(w, r, rec, failure{http.StatusNotImplemented, "Unsupported scheme", "sluice forwards http:// and https:// URLs only, not " + u.Scheme + "://."}, u.Host)
		return
	}
	if u.Host == "" {
		h.fail(w, r, rec, failure{http.StatusBadRequest, "Bad request", "The request URL has no host."}, "")
		return
	}
	if viaLoop(r.Header["Via"], h.pseudonym) {
		h.fail(w, r, rec, failure{http.StatusLoopDetected, "Loop detected", "This request has already passed through this proxy (" + h.pseudonym + "); forwarding it again would loop."}, u.Host)
		return
	}
	defPort := "80"
	if u.Scheme == "https" {
		defPort = "443"
	}
	if h.isSelf(u.Host, defPort) {
		rec.Result, rec.Hierarchy = "NONE", "HIER_NONE"
		rec.Status, rec.BytesOut = h.local(w, r)
		return
	}
	if maxForwards(r) {
		rec.Result, rec.Hierarchy = "NONE", "HIER_NONE"
		rec.Status, rec.BytesOut = h.answerMaxForwards(w, r)
		return
	}
	defPortN := 80
	if defPort == "443" {
		defPortN = 443
	}
	if ctx, ok := h.allowed(w, r, rec, rs, user, strings.ToLower(u.Hostname()), portOf(u.Host, defPortN)); !ok {
		return
	} else if ctx != r.Context() {
		r = r.WithContext(ctx)
	}
	if rs != nil && rs.Filter != nil {
		target := r.RequestURI // the absolute-form target, as the client sent it
		if !strings.Contains(target, "://") {
			target = u.String()
		}
		if h.blocked(w, r, rec, rs, target, strings.ToLower(u.Hostname()), false) {
			return
		}
	}

	// The outbound request is the inbound one, adjusted in place: the
	// handler owns r, and copying every header would cost more than the
	// rest of the request path.
	var upgrade []string
	if up := removeHopByHop(r.Header, true); up != "" {
		upgrade = []string{up}
	}
	if upgrade != nil {
		r.Header["Connection"] = []string{"Upgrade"}
		r.Header["Upgrade"] = upgrade
	}
	h.addVia(r.Header, r.ProtoMajor, r.ProtoMinor)
	// Privacy before the cache (a URL without tracking parameters shares
	// the cached response of the clean one) and before Forwarded (which
	// the operator asked for explicitly).
	var pc privacy.Changes
	if rs != nil && rs.Privacy != nil {
		pc = rs.Privacy.Request(r)
	}
	if h.forwarded != "" && h.forwarded != ForwardedOff {
		applyForwarded(r.Header, h.forwarded, r.RemoteAddr)
	}
	r.Host = u.Host // the absolute URI wins over Host (RFC 9112 §3.2.2)
	r.RequestURI = ""
	if rs != nil && rs.Rewrite != nil {
		rs.Rewrite.Request(r)
	}

	var tb *trackedBody
	if r.Body != nil && r.Body != http.NoBody {
		tb = &trackedBody{rc: r.Body, closed: make(chan struct{})}
		r.Body = tb
		defer tb.settle(w)
		// Net/http's HTTP/1 server otherwise discards an unread request
		// body once the response starts; a proxy streams both at once.
		http.NewResponseController(w).EnableFullDuplex()
	}
	// 1xx responses from the origin are relayed to HTTP/1.1 clients.
	relay1xx := func(r *http.Request) *http.Request {
		if !r.ProtoAtLeast(1, 1) {
			return r
		}
		return r.WithContext(httptrace.WithClientTrace(r.Context(), &httptrace.ClientTrace{
			Got1xxResponse: func(code int, header textproto.MIMEHeader) error {
				// 100 Continue reaches the client when the request body
				// is first read (net/http sends it); relay the others.
				if code == http.StatusContinue {
					return nil
				}
				dst := w.Header()
				for k, vv := range header {
					dst[k] = vv
				}
				w.WriteHeader(code)
				for k := range header {
					delete(dst, k)
				}
				return nil
			},
		}))
	}

	var resp *http.Response
	var err error
	if h.recorder != nil {
		resp, err = h.recorder.RoundTripRecord(r, rec, relay1xx)
	} else {
		resp, err = h.transport.RoundTrip(relay1xx(r))
	}
	if tb != nil {
		rec.BytesIn = tb.n.Load()
	}
	if err != nil {
		f, gone := classify(err, u.Host)
		if gone {
			rec.Result, rec.Status, rec.Error = "TCP_MISS_ABORTED", 0, f.title
			return
		}
		rec.Hierarchy = "HIER_DIRECT"
		h.fail(w, r, rec, f, u.Host)
		return
	}
	defer func() { resp.Body.Close() }() // resp.Body may be replaced (rewriting)
	if rec.Result == "" {
		rec.Result, rec.Hierarchy = "TCP_MISS", "HIER_DIRECT"
	}
	if rec.Hierarchy == "HIER_DIRECT" {
		rec.Upstream = u.Hostname()
	}

	if resp.StatusCode == http.StatusSwitchingProtocols {
		h.relayUpgrade(w, r, resp, rec)
		return
	}

	// Trailers the origin announced are announced to the client too, so the
	// response is sent chunked and has room for them (RFC 9110 §6.5).
	announced := resp.Header["Trailer"]
	removeHopByHop(resp.Header, false)
	h.addVia(resp.Header, resp.ProtoMajor, resp.ProtoMinor)
	if rs != nil {
		// After the cache, which keeps what the origin sent.
		if rs.Privacy != nil {
			rs.Privacy.Response(pc, resp.Header)
		}
		if rs.Rewrite != nil {
			rs.Rewrite.Response(r, resp)
		}
	}
	var hdr http.Header
	if hs, ok := w.(headerSetter); ok {
		hs.SetHeader(resp.Header) // the handler owns resp; no copy needed
		hdr = resp.Header
	} else {
		hdr = w.Header()
		for k, vv := range resp.Header {
			hdr[k] = vv
		}
	}
	if len(announced) > 0 && resp.ContentLength < 0 {
		hdr["Trailer"] = announced
	}
	rec.ContentType = first(resp.Header, "Content-Type")
	rec.Status = resp.StatusCode
	w.WriteHeader(resp.StatusCode)

	n, err := h.copyBody(w, resp.Body)
	if err != nil && err != errClientWrite && r.Context().Err() != nil {
		err = errClientWrite // the client left; the origin did nothing wrong
	}
	rec.BytesOut = n
	if tb != nil {
		rec.BytesIn = tb.n.Load()
	}
	if err != nil {
		if err == errClientWrite {
			rec.Result += "_ABORTED"
			return
		}
		// The origin failed mid-body: the client must not mistake what
		// it got for the whole response, so abort its connection.
		rec.Result += "_ABORTED"
		rec.Error = "origin failed mid-body"
		return true
	}
	for k, vv := range resp.Trailer {
		hdr[http.TrailerPrefix+k] = vv
	}
	return false
}

var errClientWrite = &clientWriteError{}

type clientWriteError struct{}

func (*clientWriteError) Error() string { return "writing to client failed" }

type writeDeadliner interface{ SetWriteDeadline(time.Time) error }

// headerSetter is implemented by ResponseWriters (internal/server's) that
// can adopt a whole header map.
type headerSetter interface{ SetHeader(http.Header) }

// splicer is implemented by upstream response bodies that can hand their
// bytes to a destination without copying them through user space.
type splicer interface {
	SpliceTo(dst upstream.WriterReaderFrom, before func()) (n int64, ok bool, err error)
}

// copyBody streams body to w. It flushes whenever a read returned less than
// a full buffer (so a trickling origin, such as server-sent events, reaches
// the client as it arrives), and bounds each write by the idle timeout so
// a client that stops reading releases the origin connection. Large
// Content-Length bodies from plain TCP origins are spliced.
func (h *Handler) copyBody(w http.ResponseWriter, body io.Reader) (int64, error) {
	wd, _ := w.(writeDeadliner)
	deadlineSet := false
	defer func() {
		if deadlineSet {
			wd.SetWriteDeadline(time.Time{})
		}
	}()
	if sp, ok := body.(splicer); ok {
		if rf, ok := w.(upstream.WriterReaderFrom); ok {
			var refresh func()
			if wd != nil && h.idle > 0 {
				refresh = func() {
					wd.SetWriteDeadline(time.Now().Add(h.idle))
					deadlineSet = true
				}
			}
			if n, ok, err := sp.SpliceTo(rf, refresh); ok {
				return n, err
			}
		}
	}
	bp := copybuf.Get()
	defer copybuf.Put(bp)
	buf := *bp
	var total int64
	flusher, _ := w.(http.Flusher)
	for first := true; ; first = false {
		n, rerr := body.Read(buf)
		if n > 0 {
			if !first && wd != nil && h.idle > 0 {
				wd.SetWriteDeadline(time.Now().Add(h.idle))
				deadlineSet = true
			}
			m, werr := w.Write(buf[:n])
			total += int64(m)
			if werr != nil {
				return total, errClientWrite
			}
			if rerr == nil && n < len(buf) && flusher != nil {
				flusher.Flush()
			}
		}
		if rerr == io.EOF {
			return total, nil
		}
		if rerr != nil {
			return total, rerr
		}
	}
}

// answerMaxForwards answers a TRACE or OPTIONS whose Max-Forwards reached
// zero (RFC 9110 §7.6.2).
func (h *Handler) answerMaxForwards(w http.ResponseWriter, r *http.Request) (int, int64) {
	hdr := w.Header()
	hdr["Via"] = []string{h.viaValue(r.ProtoMajor, r.ProtoMinor)}
	if r.Method == http.MethodOptions {
		hdr["Allow"] = []string{"GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS, TRACE, CONNECT"}
		hdr["Content-Length"] = []string{"0"}
		w.WriteHeader(http.StatusOK)
		return http.StatusOK, 0
	}
	// TRACE: echo the request as received, as message/http (RFC 9110 §9.3.8),
	// leaving out credentials.
	var sb strings.Builder
	sb.WriteString(r.Method + " " + r.RequestURI + " " + r.Proto + "\r\n")
	sb.WriteString("Host: " + r.Host + "\r\n")
	for k, vv := range r.Header {
		switch k {
		case "Authorization", "Proxy-Authorization", "Cookie":
			continue
		}
		for _, v := range vv {
			sb.WriteString(k + ": " + v + "\r\n")
		}
	}
	sb.WriteString("\r\n")
	hdr["Content-Type"] = []string{"message/http"}
	hdr["Content-Length"] = []string{strconv.Itoa(sb.Len())}
	w.WriteHeader(http.StatusOK)
	n, _ := io.WriteString(w, sb.String())
	return http.StatusOK, int64(n)
}

// trackedBody wraps a request body handed to the transport: it counts
// bytes and tells the handler when the transport has closed it, so the
// handler never returns while another goroutine still reads the body.
type trackedBody struct {
	rc     io.ReadCloser
	n      atomic.Int64 // read by the handler while the transport reads the body
	once   sync.Once
	closed chan struct{}
}

func (b *trackedBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.n.Add(int64(n))
	return n, err
}

func (b *trackedBody) Close() error {
	b.once.Do(func() { close(b.closed) })
	return nil
}

// settle waits until the transport has closed the body. If the body was
// not read to the end, a read may be blocked on a slow client: a past read
// deadline wakes it (the connection cannot be reused anyway, with an
// unread body on it).
func (b *trackedBody) settle(w http.ResponseWriter) {
	select {
	case <-b.closed:
		return
	default:
	}
	if rd, ok := w.(interface{ SetReadDeadline(time.Time) error }); ok {
		rd.SetReadDeadline(time.Unix(1, 0))
	}
	<-b.closed
}
