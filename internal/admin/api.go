package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// actionHeader must accompany every admin action. A cross-site HTML form
// cannot set a header, and a cross-site fetch that sets one needs a CORS
// preflight this handler never grants.
const actionHeader = "X-Sluice-Admin"

// maxActionBody bounds what an admin action reads from its body.
const maxActionBody = 64 << 10

// stats serves Options.Stats as JSON, never cached.
func (a *admin) stats(w http.ResponseWriter, r *http.Request) {
	if a.o.Stats == nil {
		http.Error(w, "404 not found: stats are not enabled", http.StatusNotFound)
		return
	}
	b, err := json.Marshal(a.o.Stats())
	if err != nil {
		a.log.Error("admin: encode stats", "err", err)
		http.Error(w, "500 internal server error: stats could not be encoded", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.Write(append(b, '\n'))
}

// action wraps an admin action: it refuses cross-site requests and
// requests without the X-Sluice-Admin header with 403, then calls next.
// The method (POST) is enforced by the mux.
func (a *admin) action(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := crossSite(r); err != nil {
			a.log.Warn("admin: action refused", "path", r.URL.Path, "client", r.RemoteAddr, "reason", err)
			reply(w, http.StatusForbidden, map[string]any{"ok": false, "error": err.Error()})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxActionBody)
		next(w, r)
	})
}

// crossSite says why r might come from another site, or nil if it cannot.
// A browser announces where a request comes from in Sec-Fetch-Site (all
// current browsers) and Origin (all browsers, for a POST); either one
// naming another origin refuses the request, so does a missing
// X-Sluice-Admin header. Tools like curl send neither Sec-Fetch-Site nor
// Origin and only need the header.
//
// Unlike http.CrossOriginProtection, a same-origin Sec-Fetch-Site does not
// excuse a foreign Origin: both must agree.
func crossSite(r *http.Request) error {
	switch s := r.Header.Get("Sec-Fetch-Site"); s {
	case "", "same-origin", "none":
	default:
		return fmt.Errorf("cross-site request refused (Sec-Fetch-Site: %s)", s)
	}
	if o := r.Header.Get("Origin"); o != "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		u, err := url.Parse(o)
		if err != nil || u.Scheme != scheme || !strings.EqualFold(u.Host, r.Host) {
			return fmt.Errorf("cross-origin request refused (Origin: %s)", o)
		}
	}
	if r.Header.Get(actionHeader) == "" {
		return errors.New("admin actions need the " + actionHeader + " header")
	}
	return nil
}

// purgeRequest is the body of POST /api/purge: JSON, or a form
// (application/x-www-form-urlencoded or the query string) with the same
// names. Exactly one of URL and Host is set.
type purgeRequest struct {
	URL  string `json:"url"`
	Host string `json:"host"`
}

// purge removes a URL (Options.Purge) or a whole host (Options.PurgeHost)
// from the cache and answers {"ok":true,"found":bool} or
// {"ok":true,"removed":n}; failures answer {"ok":false,"error":"…"} with
// 400 (bad input), 501 (not supported) or 500 (the cache failed).
func (a *admin) purge(w http.ResponseWriter, r *http.Request) {
	var p purgeRequest
	if err := decodeAction(r, &p); err != nil {
		replyError(w, http.StatusBadRequest, err)
		return
	}
	p.URL, p.Host = strings.TrimSpace(p.URL), strings.TrimSpace(p.Host)
	switch {
	case p.URL != "" && p.Host != "":
		replyError(w, http.StatusBadRequest, errors.New("give a URL or a host, not both"))
	case p.URL != "":
		a.purgeURL(w, r, p.URL)
	case p.Host != "":
		a.purgeHost(w, r, p.Host)
	default:
		replyError(w, http.StatusBadRequest, errors.New("give a URL (url=…) or a host (host=…) to purge"))
	}
}

func (a *admin) purgeURL(w http.ResponseWriter, r *http.Request, raw string) {
	if a.o.Purge == nil {
		replyError(w, http.StatusNotImplemented, errors.New("this proxy has no cache to purge"))
		return
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		replyError(w, http.StatusBadRequest, fmt.Errorf("not an absolute http or https URL: %q", raw))
		return
	}
	found, err := a.o.Purge(r.Context(), raw)
	if err != nil {
		a.log.Warn("admin: purge failed", "url", raw, "client", r.RemoteAddr, "err", err)
		replyError(w, http.StatusInternalServerError, fmt.Errorf("purge %s: %w", raw, err))
		return
	}
	a.log.Info("admin: purged URL", "url", raw, "found", found, "client", r.RemoteAddr)
	reply(w, http.StatusOK, map[string]any{"ok": true, "found": found})
}

func (a *admin) purgeHost(w http.ResponseWriter, r *http.Request, host string) {
	if a.o.PurgeHost == nil {
		replyError(w, http.StatusNotImplemented, errors.New("this cache cannot purge a whole host"))
		return
	}
	host = normalHost(host)
	if host == "" || strings.ContainsAny(host, "/?#@ \t") {
		replyError(w, http.StatusBadRequest, fmt.Errorf("not a host name: %q", host))
		return
	}
	removed, err := a.o.PurgeHost(r.Context(), host)
	if err != nil {
		a.log.Warn("admin: host purge failed", "host", host, "client", r.RemoteAddr, "err", err)
		status := http.StatusInternalServerError
		if errors.Is(err, errors.ErrUnsupported) {
			status = http.StatusNotImplemented // a cache tier that cannot list its keys
		}
		replyError(w, status, fmt.Errorf("purge host %s: %w", host, err))
		return
	}
	a.log.Info("admin: purged host", "host", host, "removed", removed, "client", r.RemoteAddr)
	reply(w, http.StatusOK, map[string]any{"ok": true, "removed": removed})
}

// reload calls Options.Reload and answers {"ok":true}, or 500 with the
// reason the new configuration was refused.
func (a *admin) reload(w http.ResponseWriter, r *http.Request) {
	if a.o.Reload == nil {
		replyError(w, http.StatusNotImplemented, errors.New("reload is not available"))
		return
	}
	if err := a.o.Reload(); err != nil {
		a.log.Warn("admin: reload failed", "client", r.RemoteAddr, "err", err)
		replyError(w, http.StatusInternalServerError, fmt.Errorf("reload: %w", err))
		return
	}
	a.log.Info("admin: configuration reloaded", "client", r.RemoteAddr)
	reply(w, http.StatusOK, map[string]any{"ok": true})
}

// decodeAction fills v from a JSON body, or from form values for any other
// content type.
func decodeAction(r *http.Request, v *purgeRequest) error {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "application/json" {
		if err := json.NewDecoder(r.Body).Decode(v); err != nil {
			return fmt.Errorf("read JSON body: %w", err)
		}
		return nil
	}
	if err := r.ParseForm(); err != nil {
		return fmt.Errorf("read form: %w", err)
	}
	v.URL, v.Host = r.FormValue("url"), r.FormValue("host")
	return nil
}

func replyError(w http.ResponseWriter, status int, err error) {
	reply(w, status, map[string]any{"ok": false, "error": err.Error()})
}

func reply(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v) // maps of strings, bools and ints always encode
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
