package proxy

import (
	"context"
	"errors"
	"html/template"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"sluice/internal/access"
	"sluice/internal/accesslog"
	"sluice/internal/auth"
	"sluice/internal/dial"
)

// Auth is proxy authentication in a Rules snapshot. A reload builds a new
// Auth with a new Verifier, so a changed htpasswd file also forgets every
// cached verification.
type Auth struct {
	// Verifier checks Proxy-Authorization. Required.
	Verifier *auth.Verifier
	// Realm names the Basic challenge; empty means "sluice".
	Realm string
	// ProbeResistance answers unauthenticated requests like a plain web
	// server instead of with 407.
	ProbeResistance bool
	// KnockHost, under ProbeResistance, still gets the 407 challenge, and
	// once authenticated a page saying so.
	KnockHost string
}

// authenticate checks the request's credentials against rs.Auth. It
// returns the user name ("" without authentication), or ok false after
// answering the request with a challenge (or, under probe resistance, with
// what a plain web server would say).
func (h *Handler) authenticate(w http.ResponseWriter, r *http.Request, rec *accesslog.Record, rs *Rules) (user string, ok bool) {
	if rs == nil || rs.Auth == nil {
		return "", true
	}
	a := rs.Auth
	cred := first(r.Header, "Proxy-Authorization")
	if cred != "" {
		if user, ok := a.Verifier.Check(cred); ok {
			rec.User = user
			return user, true
		}
	}
	rec.Result, rec.Hierarchy = "TCP_DENIED", "HIER_NONE"
	if a.ProbeResistance && !(a.KnockHost != "" && targetHost(r) == a.KnockHost) {
		rec.Status, rec.BytesOut = plainServerAnswer(w, r)
		rec.Error = "Not authenticated (probe resistance)"
		return "", false
	}
	realm := a.Realm
	if realm == "" {
		realm = "sluice"
	}
	w.Header()["Proxy-Authenticate"] = []string{`Basic realm="` + realm + `", charset="UTF-8"`}
	detail := "This proxy needs a user name and password. Your browser should ask for them; other clients take them like curl -x http://USER:PASSWORD@proxy:port."
	title := "Proxy authentication required"
	if cred != "" {
		title = "Wrong user name or password"
		detail = "The credentials sent to this proxy were not accepted. " + detail
	}
	h.fail(w, r, rec, failure{http.StatusProxyAuthRequired, title, detail}, r.URL.Host)
	return "", false
}

// targetHost is the lower-case host a request is for, without port.
func targetHost(r *http.Request) string {
	host := r.URL.Host
	if host == "" {
		host = r.Host
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return strings.ToLower(strings.Trim(host, "[]"))
}

var plainNotFound = []byte("<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1></center>\r\n</body>\r\n</html>\r\n")
var plainBadRequest = []byte("<html>\r\n<head><title>400 Bad Request</title></head>\r\n<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n</body>\r\n</html>\r\n")

// plainServerAnswer answers as a plain web server would to a request it
// does not serve: 400 to CONNECT (which web servers do not implement),
// 404 to anything else. Nothing in it names sluice or a proxy.
func plainServerAnswer(w http.ResponseWriter, r *http.Request) (int, int64) {
	status, body := http.StatusNotFound, plainNotFound
	hdr := w.Header()
	if r.Method == http.MethodConnect {
		status, body = http.StatusBadRequest, plainBadRequest
		hdr["Connection"] = []string{"close"}
	}
	hdr["Content-Type"] = []string{"text/html"}
	hdr["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return status, 0
	}
	n, _ := w.Write(body)
	return status, int64(n)
}

var knockPage = template.Must(template.New("knock").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Logged in</title></head>
<body><p>You are logged in to this proxy as <b>{{.}}</b>. Your browser now sends your credentials with every request through it.</p></body></html>
`))

// knock answers an authenticated request for the knock host.
func (h *Handler) knock(w http.ResponseWriter, r *http.Request, rec *accesslog.Record, user string) {
	var sb strings.Builder
	knockPage.Execute(&sb, user)
	hdr := w.Header()
	hdr["Cache-Control"] = []string{"no-store"}
	hdr["Content-Type"] = []string{"text/html; charset=utf-8"}
	hdr["Content-Length"] = []string{strconv.Itoa(sb.Len())}
	w.WriteHeader(http.StatusOK)
	rec.Result, rec.Hierarchy, rec.Status = "NONE", "HIER_NONE", http.StatusOK
	if r.Method != http.MethodHead {
		n, _ := w.Write([]byte(sb.String()))
		rec.BytesOut = int64(n)
	}
}

// allowed applies rs's access rules to a request for host:port by user.
// When the rules depend on the destination's addresses, it resolves host
// (through the dialer, so the built-in destination policy applies too) and
// checks every address, and returns a context that makes the dialer and
// the connection pool check again what they actually connect to. It
// reports false after answering the request with 403 (or the resolver's
// error page).
func (h *Handler) allowed(w http.ResponseWriter, r *http.Request, rec *accesslog.Record, rs *Rules, user, host string, port int) (context.Context, bool) {
	ctx := r.Context()
	if rs == nil || rs.Access == nil {
		return ctx, true
	}
	client, _ := netip.ParseAddrPort(r.RemoteAddr)
	d := rs.Access.Decide(&access.Request{User: user, Client: client.Addr().Unmap(), Method: r.Method, Host: host, Port: port})
	if !d.NeedAddrs() {
		if d.Allowed() {
			return ctx, true
		}
		h.denyAccess(w, r, rec, d.Rule(), host)
		return ctx, false
	}
	check := func(a netip.Addr) error {
		if ok, rule := d.CheckAddr(a); !ok {
			if rule == "" {
				rule = "access.default"
			}
			return &dial.DeniedError{Addr: a, Rule: rule}
		}
		return nil
	}
	ctx = dial.WithCheck(ctx, check)
	if h.resolve == nil {
		return ctx, true // the dialer checks at connect time
	}
	if _, err := h.resolve(ctx, host); err != nil {
		f, gone := classify(err, host)
		if gone {
			rec.Result, rec.Error = "TCP_MISS_ABORTED", f.title
			return ctx, false
		}
		rec.Result, rec.Hierarchy = "TCP_DENIED", "HIER_NONE"
		if f.status != http.StatusForbidden {
			rec.Result = "NONE"
		}
		var denied *dial.DeniedError
		if errors.As(err, &denied) && denied.Rule != "" {
			rec.Rule = denied.Rule
		}
		h.fail(w, r, rec, f, host)
		return ctx, false
	}
	return ctx, true
}

func (h *Handler) denyAccess(w http.ResponseWriter, r *http.Request, rec *accesslog.Record, rule, host string) {
	if rule == "" {
		rule = "access.default"
	}
	rec.Rule = rule
	rec.Result, rec.Hierarchy = "TCP_DENIED", "HIER_NONE"
	h.fail(w, r, rec, failure{http.StatusForbidden, "Access denied",
		"sluice's access rules do not allow this request (" + rule + ")."}, host)
}

// portOf returns the port of an absolute URL's host, or def.
func portOf(hostport string, def int) int {
	_, p, err := net.SplitHostPort(hostport)
	if err != nil {
		return def
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		return def
	}
	return n
}
