package admin

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"time"
)

// assetFS holds the status page: index.html (a template) and the
// stylesheet, scripts and icon it loads from /assets/.
//
//go:embed assets
var assetFS embed.FS

// pageTemplate is assets/index.html.
var pageTemplate = template.Must(template.ParseFS(assetFS, "assets/index.html"))

// pageData is what index.html may vary on: only Options, never live
// numbers (the page fetches those itself).
type pageData struct {
	HostPurge bool // show the host purge form
	Metrics   bool // link /metrics
	PAC       bool // link /proxy.pac
}

func renderPage(d pageData) []byte {
	var b bytes.Buffer
	if err := pageTemplate.Execute(&b, d); err != nil {
		panic("admin: index.html: " + err.Error()) // the template is embedded; tests execute it
	}
	return b.Bytes()
}

// asset is one embedded file, with an ETag from its content so browsers
// revalidate cheaply and never keep a stale script after an upgrade.
type asset struct {
	body []byte
	etag string
}

// loadAssets reads every embedded file except the page template.
func loadAssets() map[string]asset {
	files := map[string]asset{}
	entries, _ := fs.ReadDir(assetFS, "assets") // the directory is embedded
	for _, e := range entries {
		if e.IsDir() || e.Name() == "index.html" {
			continue
		}
		b, _ := assetFS.ReadFile(path.Join("assets", e.Name()))
		sum := sha256.Sum256(b)
		files[e.Name()] = asset{body: b, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
	}
	return files
}

// servePage answers the status page.
func (a *admin) servePage(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("Content-Length", strconv.Itoa(len(a.page)))
	w.Write(a.page)
}

// serveAsset answers /assets/{file}; ServeContent handles If-None-Match,
// Range and the content type (from the file name).
func (a *admin) serveAsset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	f, ok := a.files[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("ETag", f.etag)
	h.Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(f.body))
}
