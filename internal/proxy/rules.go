package proxy

import (
	"net/http"
	"strconv"
	"strings"

	"sluice/internal/access"
	"sluice/internal/accesslog"
	"sluice/internal/filter"
	"sluice/internal/privacy"
	"sluice/internal/rewrite"
)

// Rules are the filtering, privacy and rewriting rules of one
// configuration snapshot. A request uses the snapshot that was current
// when it started, to its end, however often the rules are reloaded
// meanwhile. Every field may be nil: nothing of that kind applies.
type Rules struct {
	// Filter decides which requests are blocked.
	Filter *filter.Matcher
	// ReportOnly logs what Filter would block and blocks nothing.
	ReportOnly bool
	// Privacy strips what identifies users from requests and responses.
	Privacy *privacy.Policy
	// Rewrite changes headers and HTML.
	Rewrite *rewrite.Rules
	// Auth asks clients for credentials; nil means nobody is asked.
	Auth *Auth
	// Access decides which user or client may go where.
	Access *access.List
}

// knocked reports whether r is an authenticated request for the knock
// host, which the proxy answers itself.
func (rs *Rules) knocked(r *http.Request) bool {
	return rs != nil && rs.Auth != nil && rs.Auth.KnockHost != "" && r.Method != http.MethodConnect &&
		r.URL.Scheme != "" && targetHost(r) == rs.Auth.KnockHost
}

// rules returns the current snapshot, or nil.
func (h *Handler) currentRules() *Rules {
	if h.rules == nil {
		return nil
	}
	return h.rules()
}

// blocked applies rs's filter to a request for host (lower case, no port)
// with the absolute URL u. It reports true when the request must not be
// forwarded, after answering it with the block page. In report-only mode
// it records the rule and reports false.
func (h *Handler) blocked(w http.ResponseWriter, r *http.Request, rec *accesslog.Record, rs *Rules, u, host string, connect bool) bool {
	if rs == nil || rs.Filter == nil {
		return false
	}
	q := filter.Request{URL: u, Host: host, Site: referringHost(r.Header), Connect: connect}
	d := rs.Filter.Decide(&q)
	if !d.Blocked || d.Rule == nil {
		return false
	}
	rec.Rule = d.Rule.String()
	if rs.ReportOnly {
		h.log.Info("would block", "url", rec.URL, "rule", rec.Rule)
		return false
	}
	rec.Result, rec.Hierarchy = "TCP_DENIED", "HIER_NONE"
	h.fail(w, r, rec, failure{http.StatusForbidden, "Blocked",
		"sluice did not forward this request: it matches the rule “" + d.Rule.Text + "” on line " +
			strconv.Itoa(d.Rule.Line) + " of the block list " + d.Rule.List + "."}, host)
	return true
}

// referringHost returns the host of the page a request comes from, from
// Referer or else Origin, lower case and without port; "" when unknown.
func referringHost(h http.Header) string {
	v := first(h, "Referer")
	if v == "" {
		v = first(h, "Origin")
	}
	_, rest, ok := strings.Cut(v, "://")
	if !ok {
		return ""
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		rest = rest[i+1:]
	}
	if strings.HasPrefix(rest, "[") {
		if i := strings.IndexByte(rest, ']'); i >= 0 {
			return strings.ToLower(rest[1:i])
		}
		return ""
	}
	if i := strings.IndexByte(rest, ':'); i >= 0 {
		rest = rest[:i]
	}
	return strings.ToLower(rest)
}
