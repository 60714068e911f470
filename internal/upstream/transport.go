// Package upstream is sluice's HTTP/1.1 client for talking to origin servers:
// an http.RoundTripper with a pool of keep-alive connections.
//
// It exists instead of net/http.Transport because a forward proxy sits on the
// hot path of every request: Transport hands each request between three
// goroutines (caller, writeLoop, readLoop) and keeps only two idle
// connections per host by default. Here a round trip runs on the caller's
// goroutine (a second goroutine only streams a request body), responses are
// parsed with one allocation for the whole header block, and the pool's
// limits are real knobs.
//
// It deliberately does not speak HTTP/2, does not follow redirects, does not
// add or decompress Content-Encoding, does not handle cookies, and does not
// resolve names or enforce destination policy: DialContext does that.
package upstream

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"time"
)

// Transport is an HTTP/1.1 round tripper with a connection pool. Exported
// fields must be set before the first RoundTrip and not changed after.
type Transport struct {
	// DialContext opens a TCP connection to "host:port". Required. It is
	// where destination policy is enforced (see internal/dial).
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)

	// ReuseCheck, if set, decides whether an idle pooled connection whose
	// peer is remote may carry a request with context ctx; an error is
	// returned to the caller and the connection stays in the pool for
	// others. Rules that differ per request (one user may reach an address
	// another may not) are enforced by DialContext for new connections and
	// by ReuseCheck for pooled ones.
	ReuseCheck func(ctx context.Context, remote net.Addr) error

	// FirstByte, if set, is told for every response how long the origin
	// took from the end of the request head to the end of the response
	// head (metrics).
	FirstByte func(time.Duration)

	// TLSClientConfig is used for https:// targets; nil means a default
	// configuration, which verifies the origin's certificate.
	TLSClientConfig *tls.Config

	// MaxIdlePerHost bounds idle keep-alive connections kept per origin.
	// Zero means 256; negative disables keep-alive.
	MaxIdlePerHost int
	// MaxIdle bounds idle connections across all origins. Zero means 4096.
	MaxIdle int
	// MaxConnsPerHost bounds connections per origin, idle or in use. A
	// request beyond it waits for a connection to come free, for at most
	// ResponseHeaderTimeout. Zero means no limit.
	MaxConnsPerHost int
	// IdleConnTimeout closes idle connections older than this. Zero means 90s.
	IdleConnTimeout time.Duration
	// ResponseHeaderTimeout bounds the wait for a response's header after
	// the request was written. Zero means no limit. Exceeding it returns an
	// error whose Timeout method reports true.
	ResponseHeaderTimeout time.Duration
	// ExpectContinueTimeout is how long to wait for "100 Continue" after
	// sending a request with "Expect: 100-continue" before sending the body
	// anyway. Zero means 1s.
	ExpectContinueTimeout time.Duration
	// ReadIdleTimeout aborts a response body whose origin sends nothing for
	// this long. Zero means no limit.
	ReadIdleTimeout time.Duration
	// MaxResponseHeaderBytes bounds a response's status line and header.
	// Zero means 256 KiB.
	MaxResponseHeaderBytes int

	pool pool
}

var _ http.RoundTripper = (*Transport)(nil)

// Errors a RoundTrip may return, classified by errors.Is.
var (
	// ErrProtocol wraps any malformed response from an origin.
	ErrProtocol = errors.New("origin broke the HTTP protocol")
	// ErrHeaderTimeout means the origin did not send a response header in
	// ResponseHeaderTimeout.
	ErrHeaderTimeout = timeoutError("origin did not answer in time")
)

type timeoutError string

func (e timeoutError) Error() string { return string(e) }
func (e timeoutError) Timeout() bool { return true }

func (t *Transport) maxIdlePerHost() int {
	if t.MaxIdlePerHost == 0 {
		return 256
	}
	return t.MaxIdlePerHost
}

func (t *Transport) maxIdle() int {
	if t.MaxIdle == 0 {
		return 4096
	}
	return t.MaxIdle
}

func (t *Transport) idleConnTimeout() time.Duration {
	if t.IdleConnTimeout == 0 {
		return 90 * time.Second
	}
	return t.IdleConnTimeout
}

func (t *Transport) expectContinueTimeout() time.Duration {
	if t.ExpectContinueTimeout == 0 {
		return time.Second
	}
	return t.ExpectContinueTimeout
}

func (t *Transport) maxHeaderBytes() int {
	if t.MaxResponseHeaderBytes == 0 {
		return 256 << 10
	}
	return t.MaxResponseHeaderBytes
}

// CloseIdleConnections closes every idle connection and stops the pool's
// janitor. Connections in use are closed when their responses finish.
func (t *Transport) CloseIdleConnections() { t.pool.closeAll() }

// RoundTrip sends req to the origin named by req.URL and returns its
// response. The response body streams from the connection; closing it
// before EOF closes the connection, reading it to EOF returns the connection
// to the pool. Informational (1xx) responses are reported to the
// httptrace.ClientTrace's Got1xxResponse in req's context, if any. A
// request that asks to switch protocols gets a 101 response whose Body is
// an io.ReadWriteCloser on the raw connection.
//
// RoundTrip always closes req.Body, possibly after it has returned.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	key, err := keyFor(req)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	ctx := req.Context()
	trace := httptrace.ContextClientTrace(ctx)
	for attempt := 0; ; attempt++ {
		pc, err := t.getConn(ctx, key)
		if err != nil {
			closeBody(req)
			return nil, err
		}
		resp, err := pc.roundTrip(req, trace)
		if err == nil {
			return resp, nil
		}
		// A kept-alive connection the origin had already closed fails on
		// first use; retry once on a fresh one when nothing can have
		// reached the origin's application (RFC 9112 §9.3.1).
		if pc.reused && attempt == 0 && canRetry(req, err) {
			continue
		}
		if !pc.bodyTaken {
			// Otherwise the body writer has it and closes it after its
			// last read, which may come after this returns.
			closeBody(req)
		}
		return nil, err
	}
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// canRetry reports whether req may be sent again after err on a reused
// connection: the method is idempotent (RFC 9110 §9.2.2), the request has
// no body, and the connection failed before any response byte arrived.
func canRetry(req *http.Request, err error) bool {
	if req.Body != nil && req.Body != http.NoBody {
		return false
	}
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
	default:
		return false
	}
	var ne *nothingReadError
	return errors.As(err, &ne)
}

// nothingReadError marks a failure before the first response byte.
type nothingReadError struct{ err error }

func (e *nothingReadError) Error() string { return e.err.Error() }
func (e *nothingReadError) Unwrap() error { return e.err }

type connKey struct {
	tls  bool
	addr string // host:port
}

func keyFor(req *http.Request) (connKey, error) {
	u := req.URL
	if u == nil {
		return connKey{}, errors.New("request has no URL")
	}
	var k connKey
	var port string
	switch u.Scheme {
	case "http":
		port = "80"
	case "https":
		k.tls = true
		port = "443"
	default:
		return connKey{}, fmt.Errorf("unsupported scheme %q", u.Scheme)
	}
	if u.Host == "" {
		return connKey{}, errors.New("request URL has no host")
	}
	k.addr = u.Host
	if u.Port() == "" {
		k.addr = net.JoinHostPort(strings.TrimSuffix(strings.TrimPrefix(u.Host, "["), "]"), port)
	}
	return k, nil
}

// getConn returns an idle connection for key or dials a new one, waiting
// for a free slot when the origin is at MaxConnsPerHost.
func (t *Transport) getConn(ctx context.Context, key connKey) (*conn, error) {
	var timeout <-chan time.Time
	for {
		pc, wait := t.pool.get(key, t.idleConnTimeout(), t.MaxConnsPerHost)
		if pc != nil && pc.stale() {
			// Closed by the origin, or holding a response nobody asked
			// for: never reuse it; try the next one or dial.
			pc.close()
			continue
		}
		if pc != nil {
			if t.ReuseCheck != nil {
				if err := t.ReuseCheck(ctx, pc.nc.RemoteAddr()); err != nil {
					t.pool.put(pc)
					return nil, err
				}
			}
			return pc, nil
		}
		if wait == nil {
			break // a slot is reserved for us: dial
		}
		if timeout == nil {
			d := t.ResponseHeaderTimeout
			if d <= 0 {
				d = 24 * time.Hour
			}
			timer := time.NewTimer(d)
			defer timer.Stop()
			timeout = timer.C
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-timeout:
			return nil, ErrHeaderTimeout
		}
	}
	nc, err := t.dial(ctx, key)
	if err != nil {
		t.pool.release(key, t.MaxConnsPerHost)
		return nil, err
	}
	t.pool.start(t)
	pc := newConn(t, key, nc)
	pc.counted = t.MaxConnsPerHost > 0
	return pc, nil
}

func (t *Transport) dial(ctx context.Context, key connKey) (net.Conn, error) {
	nc, err := t.DialContext(ctx, "tcp", key.addr)
	if err != nil {
		return nil, err
	}
	if !key.tls {
		return nc, nil
	}
	host, _, _ := net.SplitHostPort(key.addr)
	cfg := t.TLSClientConfig
	if cfg == nil {
		cfg = &tls.Config{}
	} else {
		cfg = cfg.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	cfg.NextProtos = []string{"http/1.1"}
	tc := tls.Client(nc, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		nc.Close()
		return nil, &TLSError{Host: host, Err: err}
	}
	return tc, nil
}

// TLSError is a failed TLS handshake with an origin.
type TLSError struct {
	Host string
	Err  error
}

func (e *TLSError) Error() string { return fmt.Sprintf("tls handshake with %s: %v", e.Host, e.Err) }
func (e *TLSError) Unwrap() error { return e.Err }

// pool holds idle connections, newest last (LIFO reuse keeps the working
// set small and lets old connections age out), and counts open connections
// per origin when there is a per-origin limit.
type pool struct {
	mu     sync.Mutex
	hosts  map[connKey]*hostPool
	n      int // idle connections, all origins
	closed bool
	once   sync.Once
	stop   chan struct{}
}

type hostPool struct {
	idle []*conn
	open int           // connections counted against MaxConnsPerHost
	wake chan struct{} // closed when a slot or an idle connection frees up
}

func (p *pool) host(key connKey) *hostPool {
	if p.hosts == nil {
		p.hosts = make(map[connKey]*hostPool)
	}
	hp := p.hosts[key]
	if hp == nil {
		hp = &hostPool{}
		p.hosts[key] = hp
	}
	return hp
}

// tidy forgets an origin with nothing idle, open or waiting, so the map
// does not grow with every host ever visited. Called with p.mu held.
func (p *pool) tidy(key connKey, hp *hostPool) {
	if len(hp.idle) == 0 && hp.open == 0 && hp.wake == nil {
		delete(p.hosts, key)
	}
}

// signal wakes requests waiting for this origin. Called with p.mu held.
func (hp *hostPool) signal() {
	if hp.wake != nil {
		close(hp.wake)
		hp.wake = nil
	}
}

func (p *pool) start(t *Transport) {
	p.once.Do(func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.closed {
			return
		}
		p.stop = make(chan struct{})
		go p.janitor(t.idleConnTimeout(), p.stop)
	})
}

// janitor closes connections that sat idle longer than timeout. It exits
// when the pool is closed.
func (p *pool) janitor(timeout time.Duration, stop chan struct{}) {
	tick := time.NewTicker(max(timeout/2, time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		var stale []*conn
		cutoff := time.Now().Add(-timeout)
		p.mu.Lock()
		for key, hp := range p.hosts {
			i := 0
			for i < len(hp.idle) && hp.idle[i].idleAt.Before(cutoff) {
				stale = append(stale, hp.idle[i])
				i++
			}
			if i > 0 {
				p.n -= i
				hp.idle = append(hp.idle[:0:0], hp.idle[i:]...)
			}
			p.tidy(key, hp)
		}
		p.mu.Unlock()
		for _, pc := range stale {
			pc.close()
		}
	}
}

// get pops a fresh idle connection for key. Without one, it either
// reserves a slot for a new connection (both results nil) or, when the
// origin is at maxConns, returns a channel that is closed when it is worth
// trying again.
func (p *pool) get(key connKey, timeout time.Duration, maxConns int) (*conn, <-chan struct{}) {
	cutoff := time.Now().Add(-timeout)
	var stale []*conn
	var pc *conn
	var wait chan struct{}
	p.mu.Lock()
	hp := p.host(key)
	for len(hp.idle) > 0 {
		c := hp.idle[len(hp.idle)-1]
		hp.idle[len(hp.idle)-1] = nil
		hp.idle = hp.idle[:len(hp.idle)-1]
		p.n--
		if c.idleAt.Before(cutoff) {
			stale = append(stale, c)
			continue
		}
		pc = c
		break
	}
	if pc == nil && maxConns > 0 {
		// Stale connections still count until closed below.
		if hp.open-len(stale) < maxConns {
			hp.open++
		} else {
			if hp.wake == nil {
				hp.wake = make(chan struct{})
			}
			wait = hp.wake
		}
	}
	p.tidy(key, hp)
	p.mu.Unlock()
	for _, c := range stale {
		c.close()
	}
	if pc != nil {
		pc.reused = true
	}
	return pc, wait
}

// release gives back a slot reserved for a connection that was never made
// or has been closed.
func (p *pool) release(key connKey, maxConns int) {
	if maxConns <= 0 {
		return
	}
	p.mu.Lock()
	hp := p.host(key)
	hp.open--
	hp.signal()
	p.tidy(key, hp)
	p.mu.Unlock()
}

// put offers pc for reuse; it closes pc when the pool is full or closed.
func (p *pool) put(pc *conn) {
	t := pc.t
	perHost := t.maxIdlePerHost()
	pc.idleAt = time.Now()
	p.mu.Lock()
	hp := p.host(pc.key)
	if p.closed || perHost < 0 || p.n >= t.maxIdle() || len(hp.idle) >= perHost {
		p.mu.Unlock()
		pc.close()
		return
	}
	hp.idle = append(hp.idle, pc)
	p.n++
	hp.signal()
	p.mu.Unlock()
}

func (p *pool) closeAll() {
	p.mu.Lock()
	var idle []*conn
	for _, hp := range p.hosts {
		idle = append(idle, hp.idle...)
		hp.idle = nil
	}
	p.n = 0
	p.closed = true
	if p.stop != nil {
		close(p.stop)
		p.stop = nil
	}
	p.mu.Unlock()
	for _, pc := range idle {
		pc.close()
	}
}

// IdleConns reports the number of idle pooled connections (for tests and
// metrics).
func (t *Transport) IdleConns() int {
	t.pool.mu.Lock()
	defer t.pool.mu.Unlock()
	return t.pool.n
}
