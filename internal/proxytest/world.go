// Package proxytest builds a whole sluice topology on loopback for tests:
// origin servers, the real proxy (server, handler, transport, dialer) on a
// real socket, and clients pointed at it. Each scenario test is then a few
// lines.
//
// It is test support only and does not replace any production wiring; the
// wiring mirrors cmd/sluice.
package proxytest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sluice/internal/accesslog"
	"sluice/internal/cache"
	"sluice/internal/cache/semantics"
	"sluice/internal/cache/store"
	"sluice/internal/dial"
	"sluice/internal/limit"
	"sluice/internal/proxy"
	"sluice/internal/server"
	"sluice/internal/tunnel"
	"sluice/internal/upstream"
)

// Options shape a World. Zero values give the production defaults, except
// AllowDest, which defaults to loopback so test origins are reachable.
type Options struct {
	AllowDest         []netip.Prefix // nil means 127.0.0.0/8 and ::1; use DenyLoopback for the real default
	DenyLoopback      bool           // use the production default deny set with no exemption
	AllowClients      []netip.Prefix
	ConnectPorts      []int
	UpstreamTimeout   time.Duration
	ConnectTimeout    time.Duration
	HeaderTimeout     time.Duration
	IdleTimeout       time.Duration
	TunnelIdleTimeout time.Duration
	MaxHeaderBytes    int
	MaxBodyBytes      int64
	Limits            *limit.Limiter
	ForwardedFor      string
	Pseudonym         string
	Resolver          dial.Resolver
	NoAccessLog       bool // benchmarks: like --access-log off

	// Store, when set, puts a cache (package cache) over it in front of
	// the transport. The world closes the cache, not the store.
	Store        store.Store
	CacheRules   semantics.Options
	CacheNow     func() time.Time // the cache's clock; nil means time.Now
	CacheMaxObj  int64
	PurgeClients []netip.Prefix // nil means loopback

	// Rules are the filtering, privacy and rewriting rules; nil means
	// none. Tests may swap what the function returns, as a reload does.
	Rules func() *proxy.Rules
}

// World is a running proxy with its parts exposed for assertions.
type World struct {
	t         testing.TB
	Addr      string   // proxy host:port
	URL       *url.URL // http://Addr
	Handler   *proxy.Handler
	Server    *server.Server
	Transport *upstream.Transport
	Cache     *cache.Cache // nil without Options.Store
	Tunnels   *tunnel.Tracker
	log       *logBuffer
	alog      *accesslog.Logger
	served    chan error
}

// New starts a proxy on 127.0.0.1:0 and stops it when the test ends.
func New(t testing.TB, o Options) *World {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	allow := o.AllowDest
	if allow == nil && !o.DenyLoopback {
		allow = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	}
	dialer := &dial.Dialer{Policy: dial.NewPolicy(allow), Resolver: o.Resolver, Timeout: o.ConnectTimeout}
	w := &World{t: t, Addr: ln.Addr().String(), log: &logBuffer{}, served: make(chan error, 1)}
	w.URL = &url.URL{Scheme: "http", Host: w.Addr}
	if !o.NoAccessLog {
		w.alog = accesslog.New(w.log, accesslog.JSON)
	}
	w.Transport = &upstream.Transport{
		DialContext:           dialer.DialContext,
		ReuseCheck:            dial.ReuseCheck,
		ResponseHeaderTimeout: or(o.UpstreamTimeout, 30*time.Second),
		ReadIdleTimeout:       o.TunnelIdleTimeout,
	}
	w.Tunnels = new(tunnel.Tracker)
	var rt http.RoundTripper = w.Transport
	var purger proxy.Purger
	if o.Store != nil {
		w.Cache = cache.New(cache.Options{Store: o.Store, Next: w.Transport, Rules: o.CacheRules, Now: o.CacheNow, MaxObjectSize: o.CacheMaxObj})
		rt, purger = w.Cache, w.Cache
	}
	purge := o.PurgeClients
	if purge == nil {
		purge = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	}
	w.Handler = proxy.New(proxy.Options{
		Transport:         rt,
		Cache:             purger,
		PurgeClients:      purge,
		DialContext:       dialer.DialContext,
		ConnectPorts:      o.ConnectPorts,
		Pseudonym:         o.Pseudonym,
		ForwardedFor:      o.ForwardedFor,
		TunnelIdleTimeout: o.TunnelIdleTimeout,
		Tunnels:           w.Tunnels,
		AccessLog:         w.alog,
		ListenAddr:        w.Addr,
		Version:           "test",
		Rules:             o.Rules,
		Resolve:           dialer.Resolve,
	})
	w.Server = server.New(ln, server.Options{
		Handler:        w.Handler,
		AllowClients:   o.AllowClients,
		HeaderTimeout:  or(o.HeaderTimeout, 10*time.Second),
		IdleTimeout:    or(o.IdleTimeout, time.Minute),
		MaxHeaderBytes: o.MaxHeaderBytes,
		MaxBodyBytes:   o.MaxBodyBytes,
		Limits:         o.Limits,
		Tunnels:        w.Tunnels,
		AccessLog:      w.alog,
	})
	go func() { w.served <- w.Server.Serve() }()
	t.Cleanup(w.Close)
	return w
}

func or(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// Close shuts the proxy down (idempotent).
func (w *World) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	w.Server.Shutdown(ctx)
	if w.Cache != nil {
		w.Cache.Close()
	}
	w.Transport.CloseIdleConnections()
	w.alog.Close()
}

// Origin starts an HTTP origin server, closed when the test ends.
func (w *World) Origin(h http.Handler) *httptest.Server {
	s := httptest.NewServer(h)
	w.t.Cleanup(s.Close)
	return s
}

// CountingOrigin is Origin that also counts the TCP connections the origin
// accepted, to prove connection reuse.
func (w *World) CountingOrigin(h http.Handler) (*httptest.Server, *atomic.Int64) {
	s := httptest.NewUnstartedServer(h)
	n := new(atomic.Int64)
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			n.Add(1)
		}
	}
	s.Start()
	w.t.Cleanup(s.Close)
	return s, n
}

// Client returns an HTTP client that uses the proxy for every request.
// Its transport is closed when the test ends.
func (w *World) Client() *http.Client {
	tr := &http.Transport{Proxy: http.ProxyURL(w.URL), DisableCompression: true}
	w.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       30 * time.Second,
	}
}

// Dial opens a raw TCP connection to the proxy, closed when the test ends.
func (w *World) Dial() net.Conn {
	w.t.Helper()
	c, err := net.DialTimeout("tcp", w.Addr, 5*time.Second)
	if err != nil {
		w.t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	w.t.Cleanup(func() { c.Close() })
	return c
}

// Raw sends raw bytes on a new connection and returns the parsed response
// (with its body read) for a request with the given method.
func (w *World) Raw(raw, method string) *http.Response {
	w.t.Helper()
	c := w.Dial()
	if _, err := io.WriteString(c, raw); err != nil {
		w.t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		w.t.Fatalf("reading response to %q: %v", clip(raw), err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// Records returns the access-log records written so far, waiting up to a
// few seconds for at least n of them (the log is written asynchronously).
func (w *World) Records(n int) []accesslog.Record {
	w.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		recs := w.log.records(w.t)
		if len(recs) >= n || time.Now().After(deadline) {
			return recs
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// logBuffer collects JSON access-log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

type jsonRecord struct {
	Client      string `json:"client"`
	User        string `json:"user"`
	Method      string `json:"method"`
	URL         string `json:"url"`
	Status      int    `json:"status"`
	BytesOut    int64  `json:"bytes_out"`
	BytesIn     int64  `json:"bytes_in"`
	Result      string `json:"result"`
	Hierarchy   string `json:"hierarchy"`
	Upstream    string `json:"upstream"`
	ContentType string `json:"content_type"`
	Error       string `json:"error"`
	Rule        string `json:"rule"`
}

func (b *logBuffer) records(t testing.TB) []accesslog.Record {
	b.mu.Lock()
	data := b.buf.String()
	b.mu.Unlock()
	var recs []accesslog.Record
	for _, line := range strings.Split(strings.TrimSpace(data), "\n") {
		if line == "" {
			continue
		}
		var j jsonRecord
		if err := json.Unmarshal([]byte(line), &j); err != nil {
			t.Fatalf("access log line is not JSON: %q: %v", line, err)
		}
		recs = append(recs, accesslog.Record{
			Client: j.Client, User: j.User, Method: j.Method, URL: j.URL, Status: j.Status,
			BytesOut: j.BytesOut, BytesIn: j.BytesIn, Result: j.Result, Hierarchy: j.Hierarchy,
			Upstream: j.Upstream, ContentType: j.ContentType, Error: j.Error, Rule: j.Rule,
		})
	}
	return recs
}

// StaticResolver resolves the names it holds and nothing else; it stands
// in for DNS, which tests cannot make answer with chosen addresses.
type StaticResolver map[string][]netip.Addr

// LookupNetIP implements dial.Resolver.
func (r StaticResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := r[host]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}
