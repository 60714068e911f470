package browsertest

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

var adminRE = regexp.MustCompile(`msg="admin listening" addr=(\S+)`)

// TestStatusPage opens the admin listener's live status page in Chromium
// after traffic has passed through the proxy: the numbers it shows are the
// proxy's, they move while the page is open, the charts draw, and a purge
// from the page's form really removes the response from the cache.
func TestStatusPage(t *testing.T) {
	needChromium(t)
	var originHits atomic.Int32
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		originHits.Add(1)
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, "cacheable "+r.URL.Path)
	}))
	defer origin.Close()

	proxyAddr, _, stderr := startProxyStderr(t, "--admin", "127.0.0.1:0")
	var adminAddr string
	for deadline := time.Now().Add(10 * time.Second); adminAddr == ""; time.Sleep(20 * time.Millisecond) {
		if m := adminRE.FindStringSubmatch(stderr()); m != nil {
			adminAddr = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("no admin listener address in the log:\n%s", stderr())
		}
	}

	proxyURL, _ := url.Parse("http://" + proxyAddr)
	client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL)}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	get := func(path string) {
		t.Helper()
		resp, err := client.Get(origin.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s through the proxy: %d", path, resp.StatusCode)
		}
	}
	// One miss and 19 hits of /doc, and five misses of other pages.
	for range 20 {
		get("/doc")
	}
	for i := range 5 {
		get(fmt.Sprintf("/page%d", i))
	}
	if n := originHits.Load(); n != 6 {
		t.Fatalf("origin saw %d requests, want 6 (the rest were cache hits)", n)
	}

	// The browser opens the admin listener directly (the admin page is no
	// proxied site), so only the Go client's traffic is counted.
	ctx := startChromium(t, proxyAddr, chromedp.Flag("proxy-bypass-list", "<local>;127.0.0.1"), chromedp.WindowSize(1400, 1000))
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+adminAddr+"/")); err != nil {
		t.Fatal(err)
	}

	attr := func(sel, name string) string {
		t.Helper()
		return run(t, ctx, chromedp.AttributeValue(chromedp.CSS(sel), name)).Value
	}
	valueOf := func(sel string) float64 {
		t.Helper()
		f, _ := strconv.ParseFloat(attr(sel, "data-value"), 64)
		return f
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				screenshot(t, ctx, "timeout")
				t.Fatalf("the page never showed %s", what)
			}
		}
	}
	waitFor("25 requests", func() bool { return valueOf("#total-requests") >= 25 })
	if r := valueOf("#hit-ratio"); r < 0.7 || r > 0.8 {
		t.Errorf("hit ratio on the page %.3f, want 19/25 = 0.76", r)
	}
	text := run(t, ctx, chromedp.Text(chromedp.CSS("#top-hosts")))
	if host := strings.Split(strings.TrimPrefix(origin.URL, "http://"), ":")[0]; !strings.Contains(text, host) {
		t.Errorf("top hosts %q do not list %s", text, host)
	}

	// Live: more traffic shows up without reloading the page.
	for range 10 {
		get("/doc")
	}
	waitFor("35 requests without a reload", func() bool { return valueOf("#total-requests") >= 35 })

	// The charts draw once the first 5 s interval is complete, with data.
	waitFor("a drawn throughput chart", func() bool {
		n, _ := strconv.Atoi(attr("#chart-throughput", "data-points"))
		return n > 0
	})
	blank := run(t, ctx, chromedp.Evaluate[bool](`(() => {
		const c = document.querySelector('#chart-throughput');
		const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
		for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) return false;
		return true;
	})()`))
	if blank {
		t.Error("the throughput chart canvas is blank")
	}
	screenshot(t, ctx, "status")

	// Purge /doc from the page; the next request for it reaches the origin.
	before := originHits.Load()
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS("#purge-url"), origin.URL+"/doc"),
		chromedp.Click(chromedp.CSS("#purge-submit"))); err != nil {
		t.Fatal(err)
	}
	waitFor("the purge result", func() bool { return attr("#purge-result", "data-state") == "ok" })
	text = run(t, ctx, chromedp.Text(chromedp.CSS("#purge-result")))
	if !strings.Contains(text, "Purged") {
		t.Errorf("purge result %q", text)
	}
	get("/doc")
	if originHits.Load() != before+1 {
		t.Errorf("after the purge, /doc was still served from the cache")
	}
	screenshot(t, ctx, "purged")
}
