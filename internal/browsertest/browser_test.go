package browsertest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// browserTimeout bounds everything a test does with its browser: when it
// runs out, the browser is killed and every pending action fails, so a
// stuck page cannot hang CI.
const browserTimeout = 60 * time.Second

// needChromium returns the path of a Chromium (or Chrome) binary on PATH.
// Without one it skips the test, or fails it under CI=true, where a missing
// browser means a broken CI image rather than a developer's laptop. Tests
// call it first, so they skip before building anything.
func needChromium(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("drives a browser; skipped with -short")
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	const msg = "chromium not on PATH; apt-get install chromium"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " (CI=true: browser tests must run)")
	}
	t.Skip(msg)
	return ""
}

// startChromium starts a headless Chromium with a fresh profile whose every
// request, loopback included, goes through the HTTP proxy at proxyAddr
// (host:port), and returns a chromedp context for its first tab. extra
// adds allocator options, such as a chromedp.Flag.
//
// Chromium runs with exactly the flags the project's browser tests call for
// (--headless --no-sandbox --disable-gpu --no-first-run
// --disable-background-networking --disable-component-update), plus
// --no-default-browser-check, its own --user-data-dir, the proxy flags and
// the --remote-debugging-pipe chromedp talks over. It does not use
// chromedp.DefaultExecAllocatorOptions, which adds two dozen more.
// --proxy-bypass-list=<-loopback> removes Chromium's implicit bypass of
// localhost and 127.0.0.1, which would otherwise send every request in
// these tests straight to the origin.
//
// The browser lives at most browserTimeout. It is closed when the test
// ends (gracefully, then killed), and its output is logged if the test
// failed.
func startChromium(t *testing.T, proxyAddr string, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	path := needChromium(t)
	var out syncBuffer
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true), // CI runs as root, where the sandbox cannot start
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("proxy-server", "http://"+proxyAddr),
		chromedp.Flag("proxy-bypass-list", "<-loopback>"),
		chromedp.CombinedOutput(&out),
	}
	opts = append(opts, extra...)

	base, cancelBase := context.WithTimeout(context.Background(), browserTimeout)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(base, opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx,
		chromedp.WithLogf(out.printf),
		chromedp.WithErrorf(out.printf),
		chromedp.WithBrowserOption(chromedp.WithBrowserLogf(out.printf), chromedp.WithBrowserErrorf(out.printf)),
	)
	ctx = context.WithValue(ctx, browserCloserKey{}, &browserCloser{})
	// Cleanups run last-in first-out, so this one runs before t.TempDir
	// removes the profile, and the browser has exited by then.
	t.Cleanup(func() {
		closeBrowser(ctx)
		cancelCtx()
		cancelAlloc()
		cancelBase()
		if t.Failed() {
			t.Logf("chromium output:\n%s", out.String())
		}
	})
	// The first action starts the browser and binds its life to ctx.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v\n%s", path, err, out.String())
	}
	return ctx
}

// browserCloser makes closeBrowser idempotent: chromedp.Cancel closes the
// browser gracefully but panics when called twice.
type browserCloser struct{ once sync.Once }

type browserCloserKey struct{}

// closeBrowser closes the browser that startChromium started for ctx,
// gracefully, waiting at most 10 s, and returns once it has exited. Tests
// call it to make the browser drop its connections (so the proxy logs its
// tunnels) before they read the access log; the test's cleanup calls it
// again, which does nothing.
func closeBrowser(ctx context.Context) {
	c, _ := ctx.Value(browserCloserKey{}).(*browserCloser)
	if c == nil {
		panic("closeBrowser: not a context from startChromium")
	}
	c.once.Do(func() {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		chromedp.Cancel(cctx) // an error here means the browser was gone already
	})
}

// run runs one chromedp action that returns a value and fails the test on
// error.
func run[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// screenshot saves a PNG of the whole page (beyond the viewport) in the
// test's artifact directory as name.png. t.ArtifactDir is kept under the
// -outputdir when the test runs with -artifacts and is a temporary
// directory otherwise; when SLUICE_ARTIFACTS names a directory, a copy also
// goes to SLUICE_ARTIFACTS/TestName/name.png, which outlives the run.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	saveArtifact(t, name+".png", png)
}

// saveArtifact writes data as the named file into t.ArtifactDir and, when
// SLUICE_ARTIFACTS is set, into SLUICE_ARTIFACTS/TestName as well, and logs
// where it went.
func saveArtifact(t *testing.T, name string, data []byte) {
	t.Helper()
	dirs := []string{t.ArtifactDir()}
	if root := os.Getenv("SLUICE_ARTIFACTS"); root != "" {
		dirs = append(dirs, filepath.Join(root, strings.ReplaceAll(t.Name(), "/", "_")))
	}
	for _, dir := range dirs {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Errorf("artifact %s: %v", name, err)
			continue
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Errorf("artifact %s: %v", name, err)
			continue
		}
		t.Logf("artifact: %s", path)
	}
}
