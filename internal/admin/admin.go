// Package admin serves sluice's admin listener: a live status page for
// operators, the JSON behind it, Prometheus metrics, health and readiness
// probes, a proxy auto-configuration (PAC) file, and two admin actions
// (purge from the cache, reload the configuration).
//
// It knows nothing about the proxy's internals: everything it shows or
// does comes through the functions and handlers in Options, so the cache,
// the metrics registry and the configuration stay where they are. It does
// not listen (the caller runs an http.Server with the handler from New),
// collect numbers (internal/stats and internal/metrics do) or decide what
// a reload means.
//
// Every response carries security headers that forbid framing, sniffing
// and any script or style not served by this handler. Only AllowClients
// (loopback by default) may use it at all; the page, its API and pprof
// also refuse host names that could be a DNS-rebinding attack (see
// Options.Hosts), and the actions refuse cross-site requests (see
// crossSite).
package admin

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"strings"
)

// Options configure the admin handler. New reads them once; the functions
// are called for every request that needs them and must be safe for
// concurrent use.
type Options struct {
	// Metrics serves /metrics (Prometheus text format). Nil answers 404.
	Metrics http.Handler
	// Stats returns the numbers for /api/stats and the status page. The
	// result is marshalled with encoding/json; its shape is the contract
	// shared with internal/stats (testdata/stats.json is an example).
	// Nil answers 404.
	Stats func() any
	// Purge removes the response stored for an absolute http or https URL
	// and reports whether one was stored. Nil answers 501.
	Purge func(ctx context.Context, url string) (found bool, err error)
	// PurgeHost removes everything stored for a host and reports how many
	// responses it removed. Nil hides host purge on the page and answers
	// 501.
	PurgeHost func(ctx context.Context, host string) (removed int, err error)
	// Reload re-reads the configuration and lists. An error means the old
	// configuration stays; its text is shown to the operator. Nil answers
	// 501.
	Reload func() error
	// Ready reports whether the proxy can serve: nil means /readyz
	// answers 200 "ready", an error 503 with its text. A nil Ready means
	// always ready.
	Ready func() error

	// ProxyAddr is the host:port the PAC file sends browsers to. An
	// unspecified host (0.0.0.0 or ::) is replaced by the host name the
	// PAC file was requested under. Empty answers /proxy.pac with 404.
	ProxyAddr string
	// PACBypass lists domains the PAC file sends DIRECT: ".example.com"
	// (or "*.example.com") means example.com and all its subdomains,
	// "example.com" that host only.
	PACBypass []string
	// PACFallback appends "; DIRECT" to the PAC file's proxy, so browsing
	// goes on without the proxy when it is down — and so bypasses any
	// policy it enforces. Off by default.
	PACFallback bool

	// AllowClients are the client networks that may use the admin
	// listener at all; others get 403 and are logged. Empty means
	// loopback only. Listing networks replaces loopback: include
	// 127.0.0.0/8 and ::1/128 to keep it.
	AllowClients []netip.Prefix
	// Hosts are the host names (without port) under which the status
	// page, its API and pprof answer, besides IP addresses, localhost
	// and *.localhost. This defeats DNS rebinding: a hostile web page
	// cannot point its own name at this listener and read or drive it
	// from a victim's browser. "*" allows every name. /metrics, /healthz,
	// /readyz and /proxy.pac answer under any name.
	Hosts []string

	// Pprof mounts net/http/pprof under /debug/pprof/.
	Pprof bool
	// Logger receives refused clients and admin actions; nil means
	// slog.Default().
	Logger *slog.Logger
}

// contentSecurityPolicy allows only this handler's own scripts, styles,
// images and fetches, forbids framing and plugins, and keeps forms here.
const contentSecurityPolicy = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// admin holds what New compiled from Options.
type admin struct {
	o     Options
	log   *slog.Logger
	hosts map[string]bool // Options.Hosts, lower-case; "*" allows all
	page  []byte          // the rendered status page
	files map[string]asset
	pac   pacScript
}

// New returns the admin handler: every endpoint behind the client ACL,
// with security headers on every response:
//
//	GET  /                 the live status page (assets under /assets/)
//	GET  /api/stats        Options.Stats as JSON
//	POST /api/purge        url=… or host=… (see purge)
//	POST /api/reload       Options.Reload
//	GET  /metrics          Options.Metrics
//	GET  /healthz          200 "ok"
//	GET  /readyz           Options.Ready
//	GET  /proxy.pac        the proxy auto-configuration file
//	GET  /debug/pprof/…    net/http/pprof, when Options.Pprof
func New(o Options) http.Handler {
	a := &admin{
		o:     o,
		log:   o.Logger,
		hosts: map[string]bool{},
		pac:   compilePAC(o.PACBypass),
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	for _, h := range o.Hosts {
		a.hosts[normalHost(h)] = true
	}
	a.page = renderPage(pageData{
		HostPurge: o.PurgeHost != nil,
		Metrics:   o.Metrics != nil,
		PAC:       o.ProxyAddr != "",
	})
	a.files = loadAssets()

	mux := http.NewServeMux()
	// Machine endpoints answer under any host name: nothing in them is
	// worth a rebinding attack, and scrapers use whatever name they like.
	mux.HandleFunc("GET /healthz", a.healthz)
	mux.HandleFunc("GET /readyz", a.readyz)
	mux.HandleFunc("GET /proxy.pac", a.servePAC)
	mux.Handle("GET /metrics", a.metrics())

	// What a browser reads or drives is for IP addresses and known names.
	mux.Handle("GET /{$}", a.named(http.HandlerFunc(a.servePage)))
	mux.Handle("GET /assets/{file}", a.named(http.HandlerFunc(a.serveAsset)))
	mux.Handle("GET /api/stats", a.named(http.HandlerFunc(a.stats)))
	mux.Handle("POST /api/purge", a.named(a.action(a.purge)))
	mux.Handle("POST /api/reload", a.named(a.action(a.reload)))
	if o.Pprof {
		// Importing net/http/pprof also registers these on
		// http.DefaultServeMux; sluice never serves that mux.
		mux.Handle("GET /debug/pprof/", a.named(http.HandlerFunc(pprof.Index)))
		mux.Handle("GET /debug/pprof/cmdline", a.named(http.HandlerFunc(pprof.Cmdline)))
		mux.Handle("GET /debug/pprof/profile", a.named(http.HandlerFunc(pprof.Profile)))
		mux.Handle("GET /debug/pprof/symbol", a.named(http.HandlerFunc(pprof.Symbol)))
		mux.Handle("POST /debug/pprof/symbol", a.named(http.HandlerFunc(pprof.Symbol)))
		mux.Handle("GET /debug/pprof/trace", a.named(http.HandlerFunc(pprof.Trace)))
	}
	return a.guard(mux)
}

// guard sets the security headers, then refuses clients outside
// AllowClients before next sees the request.
func (a *admin) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if !a.clientAllowed(r.RemoteAddr) {
			a.log.Warn("admin: client refused", "client", r.RemoteAddr, "method", r.Method, "path", r.URL.Path)
			http.Error(w, "403 forbidden: this client may not use the admin listener", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// clientAllowed reports whether remote ("ip:port", as in
// http.Request.RemoteAddr) is in AllowClients, or loopback when there are
// none. IPv4-mapped IPv6 addresses count as IPv4; zones are ignored.
func (a *admin) clientAllowed(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	ip = ip.Unmap().WithZone("")
	if len(a.o.AllowClients) == 0 {
		return ip.IsLoopback()
	}
	for _, p := range a.o.AllowClients {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// named refuses requests whose Host is a name other than an IP address,
// localhost or listed in Options.Hosts (421 Misdirected Request,
// RFC 9110 §15.5.20: this server is not configured to answer for it).
// An empty Host (HTTP/1.0) passes: browsers always send one.
func (a *admin) named(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.hostAllowed(r.Host) {
			a.log.Warn("admin: host name refused", "host", r.Host, "client", r.RemoteAddr, "path", r.URL.Path)
			http.Error(w, "421 misdirected request: the admin page answers only under IP addresses, localhost and configured host names",
				http.StatusMisdirectedRequest)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (a *admin) hostAllowed(hostport string) bool {
	if hostport == "" || a.hosts["*"] {
		return true
	}
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	host = normalHost(host)
	// RFC 6761 §6.3: localhost and its subdomains never leave the machine.
	return host == "localhost" || strings.HasSuffix(host, ".localhost") || a.hosts[host]
}

// normalHost lower-cases a host name and drops a trailing root dot.
func normalHost(h string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(h)), ".")
}

func (a *admin) metrics() http.Handler {
	if a.o.Metrics == nil {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "404 not found: metrics are not enabled", http.StatusNotFound)
		})
	}
	return a.o.Metrics
}

// healthz answers 200 while the process serves.
func (a *admin) healthz(w http.ResponseWriter, r *http.Request) {
	plain(w, http.StatusOK, "ok\n")
}

// readyz answers 200 when Options.Ready reports no error, else 503 with
// the reason.
func (a *admin) readyz(w http.ResponseWriter, r *http.Request) {
	if a.o.Ready != nil {
		if err := a.o.Ready(); err != nil {
			plain(w, http.StatusServiceUnavailable, "not ready: "+err.Error()+"\n")
			return
		}
	}
	plain(w, http.StatusOK, "ready\n")
}

func plain(w http.ResponseWriter, status int, body string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	io.WriteString(w, body)
}
