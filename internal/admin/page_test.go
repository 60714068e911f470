package admin

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// parsePage fetches / and parses it.
func parsePage(t *testing.T, base string) *html.Node {
	t.Helper()
	_, body := fetch(t, "GET", base+"/", nil, nil)
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func walk(n *html.Node, f func(*html.Node)) {
	f(n)
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, f)
	}
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

// TestPageReferences checks that everything the page loads or links to is
// served by the same handler: nothing from a CDN, no broken link.
func TestPageReferences(t *testing.T) {
	srv := serve(t, (&fakes{}).options(t))
	var refs []string
	walk(parsePage(t, srv.URL), func(n *html.Node) {
		if n.Type != html.ElementNode {
			return
		}
		for _, key := range []string{"src", "href", "action"} {
			if v, ok := attr(n, key); ok {
				refs = append(refs, v)
			}
		}
	})
	// Modules the scripts import are fetched too.
	imports := regexp.MustCompile(`from '\./([\w.-]+\.js)'`)
	for _, js := range []string{"app.js", "chart.js"} {
		_, body := fetch(t, "GET", srv.URL+"/assets/"+js, nil, nil)
		for _, m := range imports.FindAllStringSubmatch(body, -1) {
			refs = append(refs, "/assets/"+m[1])
		}
	}
	if len(refs) < 6 {
		t.Fatalf("found only %q; the page should load a stylesheet, scripts, an icon and link the endpoints", refs)
	}
	for _, ref := range refs {
		if !strings.HasPrefix(ref, "/") || strings.HasPrefix(ref, "//") {
			t.Errorf("%q is not a path on this listener", ref)
			continue
		}
		if resp, _ := fetch(t, "GET", srv.URL+ref, nil, nil); resp.StatusCode != 200 {
			t.Errorf("%s: status %d, want 200", ref, resp.StatusCode)
		}
	}
}

// TestPageNoInline checks the page needs nothing the Content-Security-
// Policy forbids: no inline script, style or event handler.
func TestPageNoInline(t *testing.T) {
	srv := serve(t, (&fakes{}).options(t))
	scripts := 0
	walk(parsePage(t, srv.URL), func(n *html.Node) {
		if n.Type != html.ElementNode {
			return
		}
		switch n.Data {
		case "script":
			scripts++
			if _, ok := attr(n, "src"); !ok || n.FirstChild != nil {
				t.Errorf("inline <script>")
			}
		case "style":
			t.Errorf("inline <style>")
		}
		for _, a := range n.Attr {
			if a.Key == "style" || strings.HasPrefix(a.Key, "on") {
				t.Errorf("<%s %s=%q>", n.Data, a.Key, a.Val)
			}
		}
	})
	if scripts == 0 {
		t.Error("the page loads no script")
	}
}

// pageIDs are the element ids a browser test may rely on.
var pageIDs = []string{
	"version", "uptime", "conn-status", "updated", "reload-submit", "reload-result",
	"rate-requests", "rate-bytes", "hit-ratio", "bytes-saved", "total-requests",
	"active-connections", "active-tunnels", "total-blocked", "total-errors",
	"chart-throughput", "chart-bandwidth", "chart-hit-ratio",
	"top-hosts", "top-blocked", "tunnels", "recent-errors", "totals", "cache-tiers", "config",
	"purge-form", "purge-url", "purge-submit", "purge-result",
}

func TestPageIDs(t *testing.T) {
	for _, hostPurge := range []bool{true, false} {
		o := (&fakes{}).options(t)
		if !hostPurge {
			o.PurgeHost = nil
		}
		ids := map[string]string{} // id → tag
		walk(parsePage(t, serve(t, o).URL), func(n *html.Node) {
			if id, ok := attr(n, "id"); ok && n.Type == html.ElementNode {
				if _, dup := ids[id]; dup {
					t.Errorf("id %q appears twice", id)
				}
				ids[id] = n.Data
			}
		})
		for _, id := range pageIDs {
			if _, ok := ids[id]; !ok {
				t.Errorf("no element with id %q", id)
			}
		}
		if ids["chart-throughput"] != "canvas" {
			t.Errorf("#chart-throughput is a <%s>, want <canvas>", ids["chart-throughput"])
		}
		for _, id := range []string{"purge-host", "purge-host-submit", "purge-host-result"} {
			if _, ok := ids[id]; ok != hostPurge {
				t.Errorf("PurgeHost set %v: #%s present %v", hostPurge, id, ok)
			}
		}
	}
}

func TestAssetRevalidation(t *testing.T) {
	srv := serve(t, (&fakes{}).options(t))
	resp, body := fetch(t, "GET", srv.URL+"/assets/app.js", nil, nil)
	etag := resp.Header.Get("ETag")
	if etag == "" || len(body) == 0 {
		t.Fatalf("ETag %q, %d bytes: want both", etag, len(body))
	}
	resp, body = fetch(t, "GET", srv.URL+"/assets/app.js", nil, map[string]string{"If-None-Match": etag})
	if resp.StatusCode != 304 || body != "" {
		t.Errorf("revalidation: status %d with %d bytes, want 304 and none", resp.StatusCode, len(body))
	}
	other, _ := fetch(t, "GET", srv.URL+"/assets/chart.js", nil, nil)
	if other.Header.Get("ETag") == etag {
		t.Error("two assets share an ETag")
	}
}

// TestPageScripts runs the page's scripts under node with a fake DOM
// (testdata/page_smoke.mjs) fed the fixture: they must fill in the
// numbers, draw the charts, survive a lost connection and drive the
// actions with the headers the server requires. A browser test covers
// what this cannot: layout and real pixels.
func TestPageScripts(t *testing.T) {
	node := needNode(t)
	dir := t.TempDir()
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, f := range loadAssets() {
		write(name, f.body)
	}
	write("package.json", []byte(`{"type":"module"}`))
	for _, name := range []string{"stats.json", "page_smoke.mjs"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		write(name, b)
	}
	tree, err := html.Parse(strings.NewReader(string(renderPage(pageData{HostPurge: true}))))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(jsonTree(tree))
	write("page.json", b)

	cmd := exec.Command(node, "page_smoke.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TZ=UTC")
	outb, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, outb)
	}
	var out struct {
		Rows        map[string][][]string
		Totals      map[string]string
		Legend      string
		CanvasCalls map[string]int
		Lost        struct {
			Status    struct{ Text, State string }
			BodyClass string
		}
		Recovered struct {
			Status    struct{ Text, State string }
			BodyClass string
		}
		Purge, PurgeHost, Reload struct{ Text, State string }
		Posts                    []struct {
			Path, Method string
			Headers      map[string]string
			Body         map[string]string
		}
	}
	if err := json.Unmarshal(outb, &out); err != nil {
		t.Fatalf("node printed %q: %v", outb, err)
	}
	var raw map[string]json.RawMessage
	json.Unmarshal(outb, &raw)
	field := func(id string) (f struct{ Text, Value, State string }) {
		json.Unmarshal(raw[id], &f)
		return f
	}

	// The summary, formatted from the fixture (TZ=UTC for clock times).
	for id, want := range map[string]string{
		"version":            "v0.5.0 (3f9c2e1)",
		"uptime":             "2d 03h 22m",
		"conn-status":        "live",
		"total-requests":     "7.4M",
		"hit-ratio":          "39.0%",
		"bytes-saved":        "97.2 GiB",
		"active-connections": "214",
		"active-tunnels":     "6",
		"total-blocked":      "188k",
		"total-errors":       "9.9k",
		"hit-detail":         "2.8M hits · 4.3M misses",
		"tunnels-count":      "6 open",
	} {
		if got := field(id).Text; got != want {
			t.Errorf("#%s shows %q, want %q", id, got, want)
		}
	}
	if got := field("total-requests").Value; got != "7423118" {
		t.Errorf("#total-requests data-value %q, want the exact count", got)
	}
	if got := field("rate-requests").Text; !regexp.MustCompile(`^\d+(\.\d)?/s$`).MatchString(got) {
		t.Errorf("#rate-requests shows %q, want a rate like 42.5/s", got)
	}
	if got := field("rate-bytes").Text; !regexp.MustCompile(`^\d+(\.\d)? [KMG]iB/s$`).MatchString(got) {
		t.Errorf("#rate-bytes shows %q, want a byte rate like 1.9 MiB/s", got)
	}

	// Charts: every point drawn, in device pixels (devicePixelRatio 2).
	for _, id := range []string{"chart-throughput", "chart-bandwidth", "chart-hit-ratio"} {
		var c struct {
			Points, Drawn string
			Width         int
		}
		json.Unmarshal(raw[id], &c)
		if c.Points != "180" || c.Drawn == "" || c.Drawn == "0" || c.Width != 960 {
			t.Errorf("#%s: data-points %q, data-drawn %q, width %d; want 180 points drawn at 960 device pixels", id, c.Points, c.Drawn, c.Width)
		}
	}
	if out.CanvasCalls["lineTo"] < 3*180 || out.CanvasCalls["fillText"] == 0 {
		t.Errorf("canvas calls %v: want lines through every point and axis labels", out.CanvasCalls)
	}
	if !strings.Contains(out.Legend, "requests") || !strings.Contains(out.Legend, "/s") {
		t.Errorf("throughput legend %q, want series names and rates", out.Legend)
	}

	// Tables.
	for id, n := range map[string]int{"top-hosts": 10, "top-blocked": 6, "tunnels": 6, "recent-errors": 5, "cache-tiers": 2, "config": 9} {
		if got := len(out.Rows[id]); got != n {
			t.Errorf("#%s has %d rows, want %d", id, got, n)
		}
	}
	if r := out.Rows["top-hosts"]; len(r) > 0 && (r[0][0] != "deb.debian.org" || r[0][1] != "912k" || r[0][2] != "91.4 GiB") {
		t.Errorf("first top host row %q", r[0])
	}
	if r := out.Rows["tunnels"]; len(r) > 0 && (r[0][0] != "mail.example.org:443" || r[0][3] != "1h 57m") {
		t.Errorf("first tunnel row %q, want mail.example.org:443 open for 1h 57m", r[0])
	}
	if r := out.Rows["recent-errors"]; len(r) > 0 && (r[0][0] != "05:09:38" || r[0][1] != "502") {
		t.Errorf("first error row %q, want 05:09:38 and 502", r[0])
	}
	if r := out.Rows["config"]; len(r) > 0 && r[0][0] != "access log" {
		t.Errorf("config rows %q, want keys sorted, access_log first", r)
	}
	if r := out.Rows["cache-tiers"]; len(r) > 0 && (r[0][0] != "memory" || r[0][1] != "250 MiB / 256 MiB") {
		t.Errorf("first cache row %q", r[0])
	}
	if got := out.Totals["bytes_out"]; got != "297 GiB" {
		t.Errorf("bytes out total %q, want 297 GiB", got)
	}

	// Losing the proxy and getting it back.
	if out.Lost.Status.State != "lost" || out.Lost.Status.Text != "connection lost, retrying…" || !strings.Contains(out.Lost.BodyClass, "lost") {
		t.Errorf("after a failed poll: %+v, want the lost state", out.Lost)
	}
	if out.Recovered.Status.State != "live" || strings.Contains(out.Recovered.BodyClass, "lost") {
		t.Errorf("after the proxy came back: %+v, want live", out.Recovered)
	}

	// Actions.
	if out.Purge.State != "ok" || out.Purge.Text != "Purged https://example.com/a.js" {
		t.Errorf("purge result %+v", out.Purge)
	}
	if out.PurgeHost.State != "ok" || out.PurgeHost.Text != "Removed 3 objects for example.com" {
		t.Errorf("host purge result %+v", out.PurgeHost)
	}
	if out.Reload.State != "error" || !strings.Contains(out.Reload.Text, "unknown field") {
		t.Errorf("failed reload result %+v, want the error shown", out.Reload)
	}
	if len(out.Posts) != 3 {
		t.Fatalf("posts %+v, want purge, host purge and reload", out.Posts)
	}
	for _, p := range out.Posts {
		if p.Method != "POST" || p.Headers[actionHeader] != "1" || p.Headers["Content-Type"] != "application/json" {
			t.Errorf("%s sent as %s with headers %v", p.Path, p.Method, p.Headers)
		}
	}
	if got := out.Posts[0].Body["url"]; got != "https://example.com/a.js" {
		t.Errorf("purge body url %q", got)
	}
}

// jsonTree turns parsed HTML into {t: tag, a: attrs, c: children} for
// page_smoke.mjs; text nodes become strings.
func jsonTree(n *html.Node) any {
	switch n.Type {
	case html.TextNode:
		return n.Data
	case html.ElementNode, html.DocumentNode:
	default:
		return nil
	}
	tag := n.Data
	if n.Type == html.DocumentNode {
		tag = "#document"
	}
	attrs := map[string]string{}
	for _, a := range n.Attr {
		attrs[a.Key] = a.Val
	}
	children := []any{}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if j := jsonTree(c); j != nil {
			children = append(children, j)
		}
	}
	return map[string]any{"t": tag, "a": attrs, "c": children}
}
