package proxy

import (
	"net"
	"net/http"
	"net/netip"

	"sluice/internal/accesslog"
)

// purge answers PURGE for an absolute URL: it removes the stored response
// and all its variants (200), or says nothing was stored (404). Only
// PurgeClients may purge (403 otherwise). Like Squid, the method is local
// when there is a cache: it never reaches an origin.
func (h *Handler) purge(w http.ResponseWriter, r *http.Request, rec *accesslog.Record) {
	rec.Hierarchy = "HIER_NONE"
	if !h.mayPurge(r.RemoteAddr) {
		rec.Result = "TCP_DENIED"
		h.fail(w, r, rec, failure{http.StatusForbidden, "Purge not allowed", "This client may not remove URLs from the cache (see cache.purge_clients)."}, r.URL.Host)
		return
	}
	u := *r.URL
	found, err := h.cache.Purge(r.Context(), u.String())
	switch {
	case err != nil:
		h.log.Warn("purge failed", "url", u.String(), "err", err)
		h.fail(w, r, rec, failure{http.StatusInternalServerError, "Purge failed", "The cache could not remove this URL: " + err.Error()}, u.Host)
		return
	case !found:
		rec.Result = "TCP_MISS"
		h.fail(w, r, rec, failure{http.StatusNotFound, "Not in cache", "Nothing was stored for this URL."}, u.Host)
		return
	}
	rec.Result, rec.Status = "TCP_HIT", http.StatusOK
	body := "Purged " + u.String() + "\n"
	hdr := w.Header()
	hdr["Content-Type"] = []string{"text/plain; charset=utf-8"}
	hdr["Cache-Control"] = []string{"no-store"}
	w.WriteHeader(http.StatusOK)
	n, _ := w.Write([]byte(body))
	rec.BytesOut = int64(n)
}

func (h *Handler) mayPurge(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range h.purgeClients {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
