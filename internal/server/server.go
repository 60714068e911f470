// Package server owns sluice's listener and client connections: the client
// ACL and the connection caps (checked at accept, before a byte is
// parsed), the request rate and size limits, timeouts, connection
// counting, and graceful drain that also waits for hijacked tunnels.
//
// It does not know about proxying: the handler it serves does that.
package server

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"sluice/internal/accesslog"
	"sluice/internal/limit"
	"sluice/internal/tunnel"
)

// Options configure a Server.
type Options struct {
	// Addr is the listen address, host:port.
	Addr string
	// Handler serves allowed clients' requests.
	Handler http.Handler
	// AllowClients are the client ranges allowed to connect. Empty means
	// loopback only.
	AllowClients []netip.Prefix
	// HeaderTimeout bounds the time to read a request's header.
	HeaderTimeout time.Duration
	// IdleTimeout closes a keep-alive connection idle for this long.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds a request's header; beyond it the client gets
	// 431.
	MaxHeaderBytes int
	// MaxBodyBytes bounds a request's body; 0 means no bound. A request
	// whose Content-Length is over it gets 413 before the handler runs; a
	// chunked body that grows past it fails with ErrBodyTooLarge. Either
	// way the connection is closed after the response.
	MaxBodyBytes int64
	// Limits caps connections (globally and per client, at accept) and
	// the request rate per client (before each request's handler); nil
	// means no limits. Over the global cap a new connection is closed
	// unanswered; over a client's cap, or its rate, the client gets 429.
	Limits *limit.Limiter
	// Tunnels are waited for on shutdown.
	Tunnels *tunnel.Tracker
	// AccessLog records refused clients; nil logs nothing.
	AccessLog *accesslog.Logger
	// Logger receives diagnostics; nil means slog.Default().
	Logger *slog.Logger
}

// Server is a listening proxy server.
type Server struct {
	eng     *engine
	ln      net.Listener
	tunnels *tunnel.Tracker
	log     *slog.Logger
	open    atomic.Int64
}

// DefaultAllowClients is the loopback-only client ACL.
func DefaultAllowClients() []netip.Prefix {
	return []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
}

// Listen binds the listener; Serve then serves on it.
func Listen(o Options) (*Server, error) {
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, err
	}
	return New(ln, o), nil
}

// New serves on an existing listener (tests use this with port 0).
func New(ln net.Listener, o Options) *Server {
	s := &Server{tunnels: o.Tunnels, log: o.Logger}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.tunnels == nil {
		s.tunnels = new(tunnel.Tracker)
	}
	allow := o.AllowClients
	if len(allow) == 0 {
		allow = DefaultAllowClients()
	}
	s.ln = &aclListener{Listener: ln, allow: allow, limits: o.Limits, alog: o.AccessLog, sem: make(chan struct{}, 256)}
	maxHeader := o.MaxHeaderBytes
	if maxHeader <= 0 {
		maxHeader = 64 << 10
	}
	s.eng = &engine{
		handler:        o.Handler,
		headerTimeout:  o.HeaderTimeout,
		idleTimeout:    o.IdleTimeout,
		maxHeaderBytes: maxHeader,
		maxBodyBytes:   max(o.MaxBodyBytes, 0),
		log:            s.log,
		alog:           o.AccessLog,
		connState: func(_ net.Conn, st http.ConnState) {
			switch st {
			case http.StateNew:
				s.open.Add(1)
			case http.StateClosed, http.StateHijacked:
				s.open.Add(-1)
			}
		},
	}
	return s
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// OpenConns reports client connections currently open (not counting
// hijacked tunnels, which the tunnel tracker counts).
func (s *Server) OpenConns() int64 { return s.open.Load() }

// Serve accepts connections until Shutdown. It returns nil after a
// graceful shutdown.
func (s *Server) Serve() error {
	err := s.eng.serve(s.ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting, lets in-flight requests and tunnels finish
// until ctx is done, then closes what is left. It reports whether
// everything finished in time.
func (s *Server) Shutdown(ctx context.Context) bool {
	clean := s.eng.shutdown(ctx)
	if !s.tunnels.Wait(ctx.Done()) {
		clean = false
	}
	return clean
}

// aclListener refuses clients outside the allowed ranges, and clients
// over the connection caps, at accept time.
type aclListener struct {
	net.Listener
	allow  []netip.Prefix
	limits *limit.Limiter // nil: no caps
	alog   *accesslog.Logger
	sem    chan struct{} // bounds concurrent refusals
}

// admitted is a connection the limiter let in. It carries its place under
// the connection caps to the engine, which unwraps it and gives the place
// back when the connection closes.
type admitted struct {
	net.Conn
	slot limit.Slot
}

func (l *aclListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip, ok := clientIP(c.RemoteAddr())
		if !ok || !l.allowed(ip) {
			l.refuseAsync(c, &forbidden)
			continue
		}
		if l.limits == nil {
			return c, nil
		}
		a := &admitted{Conn: c}
		switch err := l.limits.Conn(ip, &a.slot); {
		case err == nil:
			return a, nil
		case errors.Is(err, limit.ErrOverloaded):
			// The process holds all the connections it can afford:
			// answering would spend what it is short of. The limiter
			// logs the burst of refusals.
			c.Close()
		default:
			l.refuseAsync(c, &tooManyConns)
		}
	}
}

// clientIP is the client's address, IPv4-mapped addresses unmapped.
func clientIP(a net.Addr) (netip.Addr, bool) {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return netip.Addr{}, false
	}
	return ta.AddrPort().Addr().Unmap(), true
}

func (l *aclListener) allowed(ip netip.Addr) bool {
	for _, p := range l.allow {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// refusal is an answer given at accept time, before the server reads a
// request.
type refusal struct {
	status int
	body   string
	reason string // for the access log; empty: not logged (the limiter logs bursts)
}

const refusedBody = "403 Forbidden: this proxy does not accept clients from your address.\n"

var (
	forbidden    = refusal{http.StatusForbidden, refusedBody, "client not allowed"}
	tooManyConns = refusal{http.StatusTooManyRequests, "429 Too Many Requests: too many open connections from your address; close some and try again.\n", ""}
)

// refuseAsync answers c with ref on a goroutine of its own, at most 256
// at a time; beyond that c is closed unanswered, so a flood of refused
// clients gets no page and costs little.
func (l *aclListener) refuseAsync(c net.Conn, ref *refusal) {
	select {
	case l.sem <- struct{}{}:
		go func() {
			l.refuse(c, ref)
			<-l.sem
		}()
	default:
		c.Close()
	}
}

// refuse reads the refused client's request head (so closing does not
// reset the connection before the answer arrives), answers and closes.
func (l *aclListener) refuse(c net.Conn, ref *refusal) {
	defer c.Close()
	start := time.Now()
	c.SetDeadline(start.Add(2 * time.Second))
	br := bufio.NewReaderSize(io.LimitReader(c, 8<<10), 1024)
	var reqLine string
	for i := 0; ; i++ {
		line, err := br.ReadSlice('\n')
		if i == 0 {
			reqLine = string(bytes.TrimSpace(line))
		}
		if err != nil || len(bytes.TrimSpace(line)) == 0 {
			break
		}
	}
	io.WriteString(c, "HTTP/1.1 "+strconv.Itoa(ref.status)+" "+http.StatusText(ref.status)+
		"\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: "+
		strconv.Itoa(len(ref.body))+"\r\n\r\n"+ref.body)
	if tc, ok := c.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
	io.Copy(io.Discard, io.LimitReader(c, 64<<10))
	if ref.reason == "" {
		return
	}
	rec := accesslog.Record{
		Start: start, Duration: time.Since(start), Client: c.RemoteAddr().String(),
		Status: ref.status, Result: "TCP_DENIED", Hierarchy: "HIER_NONE",
		BytesOut: int64(len(ref.body)), Error: ref.reason,
	}
	if f := strings.Fields(reqLine); len(f) == 3 {
		rec.Method, rec.URL, rec.Proto = f[0], f[1], f[2]
	}
	l.alog.Log(rec)
}
