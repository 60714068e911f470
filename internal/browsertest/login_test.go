package browsertest

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"html"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowseAndLogin is the issue's "Chromium with --proxy-server pointing
// at sluice loads a multi-resource page from a local origin and logs in
// through a form": every byte the browser fetches, the proxy must have
// carried, and the page must work as it does without a proxy.
func TestBrowseAndLogin(t *testing.T) {
	needChromium(t)
	app := newSite()
	origin := httptest.NewServer(app)
	t.Cleanup(origin.Close)
	proxyAddr, accessLog := startProxy(t)
	ctx := startChromium(t, proxyAddr)
	u := origin.URL

	// Without a session, /welcome sends the browser to the login form; so
	// the greeting later proves the cookie.
	if err := chromedp.Do(ctx, chromedp.Navigate(u+"/welcome")); err != nil {
		t.Fatal(err)
	}
	if got := run(t, ctx, chromedp.Location()); got != u+"/login" {
		t.Fatalf("/welcome without a session: at %q, want %q", got, u+"/login")
	}

	// The page of several resources. Navigate returns after the load
	// event, which waits for the stylesheet, the script and both images;
	// the fetch() may still be running.
	if err := chromedp.Do(ctx, chromedp.Navigate(u+"/")); err != nil {
		t.Fatal(err)
	}
	if got := run(t, ctx, chromedp.Text(chromedp.ID("js-status"))); got != "script ran" {
		t.Errorf("#js-status: got %q, want %q (app.js did not run)", got, "script ran")
	}
	titleColor := run(t, ctx, chromedp.Evaluate[string](`getComputedStyle(document.getElementById("title")).color`))
	if want := "rgb(0, 102, 51)"; titleColor != want {
		t.Errorf("computed color of #title: got %q, want %q (style.css not applied)", titleColor, want)
	}
	type img struct {
		ID       string `json:"id"`
		Complete bool   `json:"complete"`
		Width    int    `json:"width"`
	}
	imgs := run(t, ctx, chromedp.Evaluate[[]img](
		`Array.from(document.images, i => ({id: i.id, complete: i.complete, width: i.naturalWidth}))`))
	wantImgs := []img{{"png", true, 32}, {"svg", true, 24}}
	if !slices.Equal(imgs, wantImgs) {
		t.Errorf("images: got %+v, want %+v (naturalWidth 0 means not loaded)", imgs, wantImgs)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`#items[data-loaded]`))); err != nil {
		t.Fatalf("fetch of /api/items.json never filled #items: %v", err)
	}
	items := run(t, ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#items li"), li => li.textContent)`))
	if want := []string{"alpha", "beta", "gamma"}; !slices.Equal(items, want) {
		t.Errorf("#items from fetch(): got %q, want %q", items, want)
	}
	screenshot(t, ctx, "home")

	// Log in: type into the form, submit (POST, urlencoded), follow the
	// 303 to /welcome.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(u+"/login"),
		chromedp.SendKeys(chromedp.ID("user"), "alice"),
		chromedp.SendKeys(chromedp.ID("password"), "correct horse"),
	); err != nil {
		t.Fatal(err)
	}
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.ID("submit")))
	if err != nil {
		t.Fatalf("submit the login form: %v", err)
	}
	if resp.URL != u+"/welcome" || resp.Status != http.StatusOK {
		t.Fatalf("after login: %d %s, want 200 %s/welcome", resp.Status, resp.URL, u)
	}
	if got := run(t, ctx, chromedp.Text(chromedp.ID("greeting"))); got != "Hello, alice" {
		t.Errorf("greeting after login: got %q, want %q", got, "Hello, alice")
	}
	// HttpOnly: the page's script cannot see the session cookie, though
	// the browser sends it.
	if got := run(t, ctx, chromedp.Evaluate[string](`document.cookie`)); got != "" {
		t.Errorf("document.cookie: got %q, want \"\" (the session cookie is HttpOnly)", got)
	}

	// A fresh load of /welcome: the browser kept the cookie.
	if err := chromedp.Do(ctx, chromedp.Navigate(u+"/welcome")); err != nil {
		t.Fatal(err)
	}
	if got := run(t, ctx, chromedp.Text(chromedp.ID("greeting"))); got != "Hello, alice" {
		t.Errorf("greeting on a fresh load of /welcome: got %q, want %q", got, "Hello, alice")
	}
	screenshot(t, ctx, "welcome")

	// The proxy's side: a line for every request the browser made, with
	// the status the origin gave.
	want := []struct {
		method, path string
		status, n    int
	}{
		{"GET", "/welcome", http.StatusSeeOther, 1},
		{"GET", "/login", http.StatusOK, 2},
		{"GET", "/", http.StatusOK, 1},
		{"GET", "/style.css", http.StatusOK, 1},
		{"GET", "/app.js", http.StatusOK, 1},
		{"GET", "/logo.png", http.StatusOK, 1},
		{"GET", "/icon.svg", http.StatusOK, 1},
		{"GET", "/api/items.json", http.StatusOK, 1},
		{"POST", "/login", http.StatusSeeOther, 1},
		{"GET", "/welcome", http.StatusOK, 2},
	}
	count := func(lines []logLine, method, path string, status int) int {
		n := 0
		for _, l := range lines {
			if l.method == method && l.url == u+path && l.status == status {
				n++
			}
		}
		return n
	}
	lines := waitForLog(t, accessLog, func(lines []logLine) error {
		var missing []string
		for _, w := range want {
			if got := count(lines, w.method, w.path, w.status); got < w.n {
				missing = append(missing, fmt.Sprintf("%s %s%s with status %d: %d lines, want %d", w.method, u, w.path, w.status, got, w.n))
			}
		}
		if missing != nil {
			return errors.New(strings.Join(missing, "; "))
		}
		return nil
	})
	saveArtifact(t, "access.log", []byte(accessLog()))
	for _, l := range lines {
		if strings.HasPrefix(l.url, u) && (l.result == "TCP_DENIED" || l.status >= 500) {
			t.Errorf("access log: %s %s %s/%d", l.method, l.url, l.result, l.status)
		}
	}

	// The origin's side: everything it served came through sluice, which
	// names itself in Via (RFC 9110 §7.6.3), and the form arrived as the
	// browser encodes it.
	seen := app.requests()
	if len(seen) == 0 {
		t.Fatal("the origin saw no requests")
	}
	posted := false
	for _, r := range seen {
		if !strings.Contains(r.via, "sluice") {
			t.Errorf("origin: %s %s arrived with Via %q, want one naming sluice", r.method, r.path, r.via)
		}
		if r.method == "POST" && r.path == "/login" {
			posted = true
			if r.contentType != "application/x-www-form-urlencoded" {
				t.Errorf("origin: POST /login Content-Type %q, want application/x-www-form-urlencoded", r.contentType)
			}
		}
	}
	if !posted {
		t.Error("origin: never saw POST /login")
	}
}

// site is the origin of TestBrowseAndLogin: a page of several resources and
// a form login, on real net/http, recording every request it was sent.
type site struct {
	mux  *http.ServeMux
	logo []byte // a 32×16 PNG

	mu       sync.Mutex
	seen     []seenRequest
	sessions map[string]string // session cookie value → user name
}

// seenRequest is what the origin noted of one request.
type seenRequest struct {
	method, path, via, contentType string
}

func newSite() *site {
	s := &site{mux: http.NewServeMux(), sessions: map[string]string{}}
	m := image.NewRGBA(image.Rect(0, 0, 32, 16))
	draw.Draw(m, m.Bounds(), image.NewUniform(color.RGBA{0, 102, 51, 0xff}), image.Point{}, draw.Src)
	var buf bytes.Buffer
	png.Encode(&buf, m)
	s.logo = buf.Bytes()

	s.mux.HandleFunc("GET /{$}", s.static("text/html; charset=utf-8", indexHTML))
	s.mux.HandleFunc("GET /style.css", s.static("text/css; charset=utf-8", styleCSS))
	s.mux.HandleFunc("GET /app.js", s.static("text/javascript; charset=utf-8", appJS))
	s.mux.HandleFunc("GET /icon.svg", s.static("image/svg+xml", iconSVG))
	s.mux.HandleFunc("GET /api/items.json", s.static("application/json", `{"items":["alpha","beta","gamma"]}`))
	s.mux.HandleFunc("GET /logo.png", s.static("image/png", string(s.logo)))
	s.mux.HandleFunc("GET /login", s.static("text/html; charset=utf-8", loginHTML))
	s.mux.HandleFunc("POST /login", s.login)
	s.mux.HandleFunc("GET /welcome", s.welcome)
	return s
}

func (s *site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.seen = append(s.seen, seenRequest{r.Method, r.URL.Path, r.Header.Get("Via"), r.Header.Get("Content-Type")})
	s.mu.Unlock()
	s.mux.ServeHTTP(w, r)
}

// requests returns a copy of the requests seen so far.
func (s *site) requests() []seenRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.seen)
}

func (s *site) static(contentType, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.Write([]byte(body))
	}
}

// login checks the form and, for alice, starts a session: an HttpOnly
// cookie and 303 See Other to /welcome (RFC 9110 §15.4.4: the browser
// follows it with GET).
func (s *site) login(w http.ResponseWriter, r *http.Request) {
	if r.PostFormValue("user") != "alice" || r.PostFormValue("password") != "correct horse" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`<!doctype html><title>Login failed</title><p id="error">Wrong user or password.</p>`))
		return
	}
	token := rand.Text()
	s.mu.Lock()
	s.sessions[token] = "alice"
	s.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: "session", Value: token, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, "/welcome", http.StatusSeeOther)
}

// welcome greets the user of the session cookie, or sends the browser to
// the login form.
func (s *site) welcome(w http.ResponseWriter, r *http.Request) {
	var user string
	if c, err := r.Cookie("session"); err == nil {
		s.mu.Lock()
		user = s.sessions[c.Value]
		s.mu.Unlock()
	}
	if user == "" {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	fmt.Fprintf(w, `<!doctype html><title>Welcome</title><h1 id="greeting">Hello, %s</h1>`, html.EscapeString(user))
}

const indexHTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>sluice browser test</title>
<link rel="stylesheet" href="/style.css">
<script src="/app.js" defer></script>
</head>
<body>
<h1 id="title">A page of several resources</h1>
<p id="js-status">script did not run</p>
<p><img id="png" src="/logo.png" alt="PNG"> <img id="svg" src="/icon.svg" alt="SVG"></p>
<ul id="items"></ul>
<p><a href="/login">Log in</a></p>
</body>
</html>
`

const styleCSS = `#title { color: rgb(0, 102, 51); border-bottom: 3px solid currentColor; }
img { border: 1px solid #999; }
`

const appJS = `document.getElementById("js-status").textContent = "script ran";
fetch("/api/items.json")
  .then(r => r.json())
  .then(d => {
    const ul = document.getElementById("items");
    for (const name of d.items) {
      const li = document.createElement("li");
      li.textContent = name;
      ul.appendChild(li);
    }
    ul.dataset.loaded = "true";
  });
`

const iconSVG = `<svg xmlns="http://www.w3.org/2000/svg" width="24" height="24" viewBox="0 0 24 24">
<circle cx="12" cy="12" r="10" fill="rgb(0, 102, 51)"/>
</svg>
`

const loginHTML = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Log in</title></head>
<body>
<form method="post" action="/login">
<p><label>User <input id="user" name="user" autocomplete="username"></label></p>
<p><label>Password <input id="password" name="password" type="password" autocomplete="current-password"></label></p>
<p><button id="submit" type="submit">Log in</button></p>
</form>
</body>
</html>
`
