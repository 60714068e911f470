package proxy

import (
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// wantsHTML reports whether the client prefers an HTML page to plain text:
// browsers send Accept with text/html; curl and scripts send */* or nothing.
func wantsHTML(r *http.Request) bool {
	for _, v := range r.Header["Accept"] {
		if strings.Contains(v, "text/html") {
			return true
		}
	}
	return false
}

var errorPage = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{{.Status}} {{.Title}}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40em;margin:3em auto;padding:0 1em;color:#222}
h1{font-size:1.4em;margin-bottom:.2em}p.s{color:#666;font-size:.9em}code{background:#f3f3f3;padding:0 .2em}</style>
</head><body>
<h1>{{.Title}}</h1>
<p>{{.Detail}}</p>
{{if .Host}}<p>Requested: <code>{{.Host}}</code></p>{{end}}
<p class="s">{{.Status}} {{.StatusText}} · sluice proxy {{.Via}} · {{.Time}}</p>
</body></html>
`))

// writeError sends a short page saying what failed and for which host, as
// HTML to browsers and plain text to everything else. It never includes
// internal error strings beyond f.detail, which classify wrote for users.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, f failure, host string) int64 {
	hdr := w.Header()
	hdr["Cache-Control"] = []string{"no-store"}
	hdr["Via"] = []string{h.viaValue(r.ProtoMajor, r.ProtoMinor)}
	if f.status == http.StatusBadRequest || f.status == http.StatusLoopDetected {
		hdr["Connection"] = []string{"close"}
	}
	var body []byte
	if wantsHTML(r) {
		var sb strings.Builder
		errorPage.Execute(&sb, map[string]string{
			"Status":     strconv.Itoa(f.status),
			"StatusText": http.StatusText(f.status),
			"Title":      f.title,
			"Detail":     f.detail,
			"Host":       host,
			"Via":        h.pseudonym,
			"Time":       time.Now().UTC().Format(time.RFC1123),
		})
		body = []byte(sb.String())
		hdr["Content-Type"] = []string{"text/html; charset=utf-8"}
	} else {
		body = fmt.Appendf(nil, "%d %s: %s\n", f.status, f.title, f.detail)
		hdr["Content-Type"] = []string{"text/plain; charset=utf-8"}
	}
	hdr["Content-Length"] = []string{strconv.Itoa(len(body))}
	hdr["X-Content-Type-Options"] = []string{"nosniff"}
	w.WriteHeader(f.status)
	if r.Method == http.MethodHead {
		return 0
	}
	n, _ := w.Write(body)
	return int64(n)
}

var statusPage = template.Must(template.New("status").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>sluice</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40em;margin:3em auto;padding:0 1em;color:#222}
td{padding:0 1em 0 0}code{background:#f3f3f3;padding:0 .2em}</style>
</head><body>
<h1>sluice {{.Version}}</h1>
<p>This is a forward web proxy. Point a client at it instead of visiting it:
<code>curl -x http://{{.Addr}} http://example.com/</code>, or set
<code>{{.Addr}}</code> as the HTTP and HTTPS proxy in your browser.</p>
<table>
<tr><td>Up since</td><td>{{.Started}} ({{.Uptime}})</td></tr>
<tr><td>Requests served</td><td>{{.Requests}}</td></tr>
<tr><td>Open tunnels</td><td>{{.Tunnels}}</td></tr>
<tr><td>Via pseudonym</td><td>{{.Via}}</td></tr>
</table>
</body></html>
`))

// local answers a request addressed to the proxy itself (origin-form, or
// absolute-form naming the proxy's own address) with a small status page.
// It never forwards, so it can never loop.
func (h *Handler) local(w http.ResponseWriter, r *http.Request) (status int, n int64) {
	hdr := w.Header()
	hdr["Cache-Control"] = []string{"no-store"}
	if r.Method == http.MethodOptions {
		// OPTIONS * (or for the proxy's own URL): what this proxy accepts.
		hdr["Allow"] = []string{"GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS, TRACE, CONNECT"}
		hdr["Content-Length"] = []string{"0"}
		w.WriteHeader(http.StatusOK)
		return http.StatusOK, 0
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr["Allow"] = []string{"GET, HEAD"}
		f := failure{http.StatusMethodNotAllowed, "Method not allowed", "This is sluice's own status page; only GET and HEAD are served here."}
		return f.status, h.writeError(w, r, f, "")
	}
	if p := r.URL.Path; p != "/" && p != "" && p != "/index.html" {
		f := failure{http.StatusNotFound, "Not found", "This is a proxy: there is nothing at " + p + " here. Configure your client to use it as a proxy instead."}
		return f.status, h.writeError(w, r, f, "")
	}
	up := time.Since(h.started).Round(time.Second)
	var sb strings.Builder
	statusPage.Execute(&sb, map[string]any{
		"Version":  h.version,
		"Addr":     h.listenAddr,
		"Started":  h.started.UTC().Format(time.RFC3339),
		"Uptime":   up.String(),
		"Requests": h.requests.Load(),
		"Tunnels":  h.tunnels.Open(),
		"Via":      h.pseudonym,
	})
	hdr["Content-Type"] = []string{"text/html; charset=utf-8"}
	hdr["Content-Length"] = []string{strconv.Itoa(sb.Len())}
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return http.StatusOK, 0
	}
	m, _ := w.Write([]byte(sb.String()))
	return http.StatusOK, int64(m)
}
