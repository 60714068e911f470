package browsertest

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestHTTPSViaConnect loads a page over https through sluice: Chromium
// opens a CONNECT tunnel and speaks TLS to the origin inside it, so the
// proxy sees only the tunnel and the origin sees a TLS request with no Via.
//
// Chromium trusts the test server's self-signed certificate through
// --ignore-certificate-errors-spki-list, which accepts that one key only
// (and is honoured only with a --user-data-dir, which startChromium sets);
// --ignore-certificate-errors would accept anything and prove less.
func TestHTTPSViaConnect(t *testing.T) {
	needChromium(t)
	type seen struct {
		path, via string
		tls       bool
	}
	var (
		mu   sync.Mutex
		reqs []seen
	)
	origin := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		reqs = append(reqs, seen{r.URL.Path, r.Header.Get("Via"), r.TLS != nil})
		mu.Unlock()
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(`<!doctype html><title>Secure</title>
<h1 id="title">Over a tunnel</h1>
<p id="where">script did not run</p>
<script>document.getElementById("where").textContent = location.protocol + (isSecureContext ? " secure" : " insecure");</script>
`))
	}))
	t.Cleanup(origin.Close)
	spki := sha256.Sum256(origin.Certificate().RawSubjectPublicKeyInfo)
	_, port, _ := net.SplitHostPort(origin.Listener.Addr().String())

	proxyAddr, accessLog := startProxy(t, "--connect-ports", port)
	ctx := startChromium(t, proxyAddr,
		chromedp.Flag("ignore-certificate-errors-spki-list", base64.StdEncoding.EncodeToString(spki[:])))

	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(origin.URL+"/"))
	if err != nil {
		t.Fatalf("load %s through the proxy: %v", origin.URL, err)
	}
	if resp.Status != http.StatusOK {
		t.Fatalf("load %s: status %d, want 200", origin.URL, resp.Status)
	}
	if got := run(t, ctx, chromedp.Text(chromedp.ID("where"))); got != "https: secure" {
		t.Errorf("#where: got %q, want %q", got, "https: secure")
	}
	screenshot(t, ctx, "https")

	// The tunnel's access log line is written when the tunnel closes, so
	// close the browser first.
	closeBrowser(ctx)
	target := origin.Listener.Addr().String()
	lines := waitForLog(t, accessLog, func(lines []logLine) error {
		for _, l := range lines {
			if l.method == "CONNECT" && l.url == target {
				return nil
			}
		}
		return fmt.Errorf("no CONNECT %s", target)
	})
	saveArtifact(t, "access.log", []byte(accessLog()))
	for _, l := range lines {
		if l.method == "CONNECT" && l.url == target && (l.result != "TCP_TUNNEL" || l.status != http.StatusOK) {
			t.Errorf("access log: CONNECT %s logged %s/%d, want TCP_TUNNEL/200", target, l.result, l.status)
		}
		if l.url == origin.URL+"/" {
			t.Errorf("access log: %s %s: the proxy saw inside the tunnel", l.method, l.url)
		}
	}

	mu.Lock()
	defer mu.Unlock()
	if len(reqs) == 0 {
		t.Fatal("the origin saw no requests")
	}
	for _, r := range reqs {
		if !r.tls || r.via != "" {
			t.Errorf("origin: %s arrived with TLS %v and Via %q, want TLS and no Via (end to end through a tunnel)", r.path, r.tls, r.via)
		}
	}
}
