package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
)

// fakes records what the admin handler asked of the rest of sluice.
type fakes struct {
	mu        sync.Mutex
	purged    []string
	hosts     []string
	reloads   int
	found     bool
	removed   int
	purgeErr  error
	reloadErr error
	readyErr  error
	log       bytes.Buffer
}

// options returns Options wired to f, with every feature on and the
// fixture as the stats.
func (f *fakes) options(t *testing.T) Options {
	t.Helper()
	fixture, err := os.ReadFile("testdata/stats.json")
	if err != nil {
		t.Fatal(err)
	}
	return Options{
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; version=0.0.4")
			io.WriteString(w, "sluice_requests_total 42\n")
		}),
		Stats: func() any { return json.RawMessage(fixture) },
		Purge: func(ctx context.Context, url string) (bool, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.purged = append(f.purged, url)
			return f.found, f.purgeErr
		},
		PurgeHost: func(ctx context.Context, host string) (int, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.hosts = append(f.hosts, host)
			return f.removed, f.purgeErr
		},
		Reload: func() error {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.reloads++
			return f.reloadErr
		},
		Ready:     func() error { return f.readyErr },
		ProxyAddr: "127.0.0.1:3128",
		PACBypass: []string{".corp.example", "printer.example"},
		Logger:    slog.New(slog.NewTextHandler(&syncWriter{mu: &f.mu, w: &f.log}, nil)),
	}
}

func (f *fakes) logged() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.log.String()
}

type syncWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// serve starts a real HTTP server with the admin handler for o.
func serve(t *testing.T, o Options) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(New(o))
	t.Cleanup(srv.Close)
	return srv
}

// fetch makes a request and returns the response with its body read.
func fetch(t *testing.T, method, url string, body io.Reader, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestEndpoints(t *testing.T) {
	f := &fakes{}
	o := f.options(t)
	o.Pprof = true
	srv := serve(t, o)
	tests := []struct {
		path        string
		status      int
		contentType string
		contains    string
	}{
		{"/", 200, "text/html; charset=utf-8", `id="chart-throughput"`},
		{"/assets/style.css", 200, "text/css; charset=utf-8", "prefers-color-scheme"},
		{"/assets/app.js", 200, "text/javascript; charset=utf-8", "/api/stats"},
		{"/assets/favicon.svg", 200, "image/svg+xml", "<svg"},
		{"/assets/index.html", 404, "text/plain; charset=utf-8", "not found"},
		{"/assets/nope.js", 404, "text/plain; charset=utf-8", "not found"},
		{"/api/stats", 200, "application/json", `"hit_ratio"`},
		{"/metrics", 200, "text/plain; version=0.0.4", "sluice_requests_total 42"},
		{"/healthz", 200, "text/plain; charset=utf-8", "ok"},
		{"/readyz", 200, "text/plain; charset=utf-8", "ready"},
		{"/proxy.pac", 200, "application/x-ns-proxy-autoconfig", "FindProxyForURL"},
		{"/debug/pprof/", 200, "text/html; charset=utf-8", "goroutine"},
		{"/debug/pprof/cmdline", 200, "text/plain; charset=utf-8", ""},
		{"/nothing-here", 404, "text/plain; charset=utf-8", "not found"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, body := fetch(t, "GET", srv.URL+tt.path, nil, nil)
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if got := resp.Header.Get("Content-Type"); got != tt.contentType {
				t.Errorf("Content-Type %q, want %q", got, tt.contentType)
			}
			if !strings.Contains(body, tt.contains) {
				t.Errorf("body %.200q does not contain %q", body, tt.contains)
			}
		})
	}
}

func TestMethods(t *testing.T) {
	srv := serve(t, (&fakes{}).options(t))
	for _, tt := range []struct{ method, path, allow string }{
		{"GET", "/api/purge", "POST"},
		{"GET", "/api/reload", "POST"},
		{"POST", "/api/stats", "GET, HEAD"},
		{"POST", "/", "GET, HEAD"},
	} {
		resp, _ := fetch(t, tt.method, srv.URL+tt.path, nil, map[string]string{actionHeader: "1"})
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s %s: status %d, want 405", tt.method, tt.path, resp.StatusCode)
		}
		if got := resp.Header.Get("Allow"); got != tt.allow {
			t.Errorf("%s %s: Allow %q, want %q", tt.method, tt.path, got, tt.allow)
		}
	}
}

func TestSecurityHeaders(t *testing.T) {
	srv := serve(t, (&fakes{}).options(t))
	want := map[string]string{
		"X-Content-Type-Options":  "nosniff",
		"X-Frame-Options":         "DENY",
		"Content-Security-Policy": contentSecurityPolicy,
		"Referrer-Policy":         "no-referrer",
	}
	// Every kind of answer: page, asset, JSON, plain text, PAC, errors.
	for _, tt := range []struct{ method, path, host string }{
		{"GET", "/", ""},
		{"GET", "/assets/app.js", ""},
		{"GET", "/api/stats", ""},
		{"GET", "/healthz", ""},
		{"GET", "/proxy.pac", ""},
		{"GET", "/metrics", ""},
		{"GET", "/missing", ""},
		{"POST", "/api/purge", ""},        // 403: no admin header
		{"GET", "/api/purge", ""},         // 405
		{"GET", "/", "rebind.example:80"}, // 421
	} {
		resp, _ := fetch(t, tt.method, srv.URL+tt.path, nil, map[string]string{"Host": tt.host})
		for k, v := range want {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("%s %s (%d): %s %q, want %q", tt.method, tt.path, resp.StatusCode, k, got, v)
			}
		}
	}
	if !strings.Contains(contentSecurityPolicy, "script-src 'self'") || strings.Contains(contentSecurityPolicy, "unsafe") {
		t.Errorf("CSP %q must allow only this origin's scripts", contentSecurityPolicy)
	}
}

// TestClientACL runs the handler directly: httptest servers listen on
// loopback, so only a hand-made RemoteAddr can be anything else.
func TestClientACL(t *testing.T) {
	tests := []struct {
		name   string
		allow  []string
		remote string
		status int
	}{
		{"loopback v4", nil, "127.0.0.1:5000", 200},
		{"loopback v4 range", nil, "127.8.9.10:5000", 200},
		{"loopback v6", nil, "[::1]:5000", 200},
		{"mapped loopback", nil, "[::ffff:127.0.0.1]:5000", 200},
		{"LAN client by default", nil, "192.168.1.20:5000", 403},
		{"public client by default", nil, "[2001:db8::1]:5000", 403},
		{"unparsable address", nil, "somewhere", 403},
		{"listed network", []string{"10.0.0.0/8"}, "10.20.30.40:5000", 200},
		{"listed network, mapped", []string{"10.0.0.0/8"}, "[::ffff:10.1.1.1]:5000", 200},
		{"listed v6 network, zoned", []string{"fe80::/10"}, "[fe80::1%eth0]:5000", 200},
		{"loopback not listed", []string{"10.0.0.0/8"}, "127.0.0.1:5000", 403},
		{"outside the list", []string{"10.0.0.0/8"}, "11.0.0.1:5000", 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakes{}
			o := f.options(t)
			for _, p := range tt.allow {
				o.AllowClients = append(o.AllowClients, netip.MustParsePrefix(p))
			}
			h := New(o)
			r := httptest.NewRequest("GET", "http://127.0.0.1:9090/healthz", nil)
			r.RemoteAddr = tt.remote
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d", w.Code, tt.status)
			}
			refused := strings.Contains(f.logged(), "client refused")
			if refused != (tt.status == 403) {
				t.Errorf("log %q: refusal logged %v, want %v", f.logged(), refused, tt.status == 403)
			}
			if tt.status == 403 && w.Header().Get("X-Frame-Options") != "DENY" {
				t.Error("a refused client got no security headers")
			}
		})
	}
}

// TestHostNames checks the DNS-rebinding guard: the page and its API
// answer only under addresses, localhost and configured names.
func TestHostNames(t *testing.T) {
	tests := []struct {
		name   string
		hosts  []string
		path   string
		host   string
		status int
	}{
		{"IPv4 literal", nil, "/api/stats", "127.0.0.1:9090", 200},
		{"IPv6 literal", nil, "/api/stats", "[::1]:9090", 200},
		{"localhost", nil, "/api/stats", "localhost:9090", 200},
		{"localhost with root dot", nil, "/", "LOCALHOST.:9090", 200},
		{"a .localhost name", nil, "/", "sluice.localhost:9090", 200},
		{"no port", nil, "/", "127.0.0.1", 200},
		{"a rebound name", nil, "/api/stats", "attacker.example:9090", 421},
		{"a rebound name, page", nil, "/", "attacker.example", 421},
		{"a rebound name, asset", nil, "/assets/app.js", "attacker.example", 421},
		{"a rebound name, action", nil, "/api/reload", "attacker.example", 421},
		{"localhost lookalike", nil, "/", "localhost.attacker.example", 421},
		{"configured name", []string{"Admin.Corp.Example."}, "/api/stats", "admin.corp.example:9090", 200},
		{"other name with a list", []string{"admin.corp.example"}, "/api/stats", "evil.example:9090", 421},
		{"wildcard", []string{"*"}, "/api/stats", "anything.example", 200},
		{"metrics under any name", nil, "/metrics", "prometheus-target.example", 200},
		{"healthz under any name", nil, "/healthz", "lb.example", 200},
		{"PAC under any name", nil, "/proxy.pac", "wpad.corp.example", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := (&fakes{}).options(t)
			o.Hosts = tt.hosts
			srv := serve(t, o)
			method := "GET"
			if strings.HasPrefix(tt.path, "/api/reload") {
				method = "POST"
			}
			resp, _ := fetch(t, method, srv.URL+tt.path, nil, map[string]string{"Host": tt.host, actionHeader: "1"})
			if resp.StatusCode != tt.status {
				t.Errorf("Host %q %s: status %d, want %d", tt.host, tt.path, resp.StatusCode, tt.status)
			}
		})
	}
}

func TestStats(t *testing.T) {
	t.Run("passes Stats through", func(t *testing.T) {
		type tier struct {
			Tier  string `json:"tier"`
			Bytes int64  `json:"bytes"`
		}
		calls := 0
		o := (&fakes{}).options(t)
		o.Stats = func() any {
			calls++
			return map[string]any{"version": "v9", "cache": []tier{{"memory", 123}}}
		}
		srv := serve(t, o)
		resp, body := fetch(t, "GET", srv.URL+"/api/stats", nil, nil)
		if got := resp.Header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("Cache-Control %q, want no-store", got)
		}
		if want := `{"cache":[{"tier":"memory","bytes":123}],"version":"v9"}` + "\n"; body != want {
			t.Errorf("body %q, want %q", body, want)
		}
		resp, _ = fetch(t, "GET", srv.URL+"/api/stats", nil, nil)
		if calls != 2 {
			t.Errorf("Stats called %d times for 2 requests, want a fresh snapshot each time", calls)
		}
	})
	t.Run("fixture round trip", func(t *testing.T) {
		srv := serve(t, (&fakes{}).options(t))
		_, body := fetch(t, "GET", srv.URL+"/api/stats", nil, nil)
		var got, want any
		raw, _ := os.ReadFile("testdata/stats.json")
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatal(err)
		}
		json.Unmarshal(raw, &want)
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		if !bytes.Equal(g, w) {
			t.Errorf("got %.200s…, want the fixture", g)
		}
	})
	t.Run("unencodable", func(t *testing.T) {
		f := &fakes{}
		o := f.options(t)
		o.Stats = func() any { return map[string]any{"bad": make(chan int)} }
		resp, _ := fetch(t, "GET", serve(t, o).URL+"/api/stats", nil, nil)
		if resp.StatusCode != 500 {
			t.Errorf("status %d, want 500", resp.StatusCode)
		}
		if !strings.Contains(f.logged(), "encode stats") {
			t.Errorf("log %q does not say why", f.logged())
		}
	})
	t.Run("nil", func(t *testing.T) {
		o := (&fakes{}).options(t)
		o.Stats = nil
		resp, _ := fetch(t, "GET", serve(t, o).URL+"/api/stats", nil, nil)
		if resp.StatusCode != 404 {
			t.Errorf("status %d, want 404", resp.StatusCode)
		}
	})
}

func TestReadyz(t *testing.T) {
	f := &fakes{readyErr: errors.New("cache directory not writable")}
	srv := serve(t, f.options(t))
	resp, body := fetch(t, "GET", srv.URL+"/readyz", nil, nil)
	if resp.StatusCode != 503 || body != "not ready: cache directory not writable\n" {
		t.Errorf("got %d %q, want 503 with the reason", resp.StatusCode, body)
	}
	f.mu.Lock()
	f.readyErr = nil
	f.mu.Unlock()
	if resp, body = fetch(t, "GET", srv.URL+"/readyz", nil, nil); resp.StatusCode != 200 || body != "ready\n" {
		t.Errorf("got %d %q, want 200 ready", resp.StatusCode, body)
	}

	o := f.options(t)
	o.Ready = nil
	if resp, _ = fetch(t, "GET", serve(t, o).URL+"/readyz", nil, nil); resp.StatusCode != 200 {
		t.Errorf("nil Ready: status %d, want 200", resp.StatusCode)
	}
}

func TestOptional(t *testing.T) {
	o := (&fakes{}).options(t)
	o.Metrics, o.ProxyAddr, o.Pprof = nil, "", false
	srv := serve(t, o)
	for _, path := range []string{"/metrics", "/proxy.pac", "/debug/pprof/", "/debug/pprof/cmdline"} {
		if resp, _ := fetch(t, "GET", srv.URL+path, nil, nil); resp.StatusCode != 404 {
			t.Errorf("%s: status %d, want 404 when not configured", path, resp.StatusCode)
		}
	}
}
