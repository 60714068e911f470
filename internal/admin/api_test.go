package admin

import (
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestActionCrossSite checks the CSRF defences of the admin actions with
// the headers a browser (or curl) would send.
func TestActionCrossSite(t *testing.T) {
	const target = "http://example.com/app.js"
	tests := []struct {
		name    string
		headers func(self string) map[string]string
		status  int
	}{
		{"same origin, from the page", func(self string) map[string]string {
			return map[string]string{"Origin": self, "Sec-Fetch-Site": "same-origin", actionHeader: "1"}
		}, 200},
		{"curl", func(string) map[string]string {
			return map[string]string{actionHeader: "1"}
		}, 200},
		{"typed by the user", func(string) map[string]string {
			return map[string]string{"Sec-Fetch-Site": "none", actionHeader: "1"}
		}, 200},
		{"old browser, same origin", func(self string) map[string]string {
			return map[string]string{"Origin": self, actionHeader: "1"}
		}, 200},
		{"cross-site Origin", func(string) map[string]string {
			return map[string]string{"Origin": "http://attacker.example", actionHeader: "1"}
		}, 403},
		{"cross-site Sec-Fetch-Site", func(string) map[string]string {
			return map[string]string{"Sec-Fetch-Site": "cross-site", actionHeader: "1"}
		}, 403},
		{"same-site is not same-origin", func(string) map[string]string {
			return map[string]string{"Sec-Fetch-Site": "same-site", actionHeader: "1"}
		}, 403},
		{"same-origin claim with a foreign Origin", func(string) map[string]string {
			return map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://attacker.example", actionHeader: "1"}
		}, 403},
		{"opaque origin", func(string) map[string]string {
			return map[string]string{"Origin": "null", actionHeader: "1"}
		}, 403},
		{"same host, other scheme", func(self string) map[string]string {
			return map[string]string{"Origin": strings.Replace(self, "http:", "https:", 1), actionHeader: "1"}
		}, 403},
		{"same host, other port", func(self string) map[string]string {
			return map[string]string{"Origin": self + "1", actionHeader: "1"}
		}, 403},
		{"plain form post, no admin header", func(self string) map[string]string {
			return map[string]string{"Origin": self, "Sec-Fetch-Site": "same-origin"}
		}, 403},
		{"cross-site form", func(string) map[string]string {
			return map[string]string{"Origin": "http://attacker.example", "Sec-Fetch-Site": "cross-site"}
		}, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakes{found: true}
			srv := serve(t, f.options(t))
			hdr := tt.headers(srv.URL)
			hdr["Content-Type"] = "application/x-www-form-urlencoded"
			form := url.Values{"url": {target}}.Encode()
			resp, body := fetch(t, "POST", srv.URL+"/api/purge", strings.NewReader(form), hdr)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tt.status, body)
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatalf("body %q is not JSON: %v", body, err)
			}
			if tt.status == 403 {
				if len(f.purged) != 0 {
					t.Errorf("Purge called with %q for a refused request", f.purged)
				}
				if got["ok"] != false || got["error"] == "" {
					t.Errorf("body %q, want ok false with an error", body)
				}
				if !strings.Contains(f.logged(), "action refused") {
					t.Errorf("refusal not logged: %q", f.logged())
				}
				return
			}
			if !slices.Equal(f.purged, []string{target}) {
				t.Errorf("Purge called with %q, want [%q]", f.purged, target)
			}
			if got["ok"] != true || got["found"] != true {
				t.Errorf("body %q, want ok and found", body)
			}
		})
	}
}

func TestPurge(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		body        string
		found       bool
		removed     int
		purgeErr    error
		noHost      bool
		status      int
		want        map[string]any
		wantURLs    []string
		wantHosts   []string
	}{
		{
			name: "JSON url, stored", contentType: "application/json", body: `{"url":"https://example.com/a?b=1"}`,
			found: true, status: 200, want: map[string]any{"ok": true, "found": true},
			wantURLs: []string{"https://example.com/a?b=1"},
		},
		{
			name: "form url, not stored", contentType: "application/x-www-form-urlencoded", body: "url=" + url.QueryEscape(" http://example.com/x "),
			status: 200, want: map[string]any{"ok": true, "found": false},
			wantURLs: []string{"http://example.com/x"},
		},
		{
			name: "JSON host", contentType: "application/json; charset=utf-8", body: `{"host":"Static.Example.COM."}`,
			removed: 17, status: 200, want: map[string]any{"ok": true, "removed": float64(17)},
			wantHosts: []string{"static.example.com"},
		},
		{
			name: "form host", contentType: "application/x-www-form-urlencoded", body: "host=cdn.example",
			removed: 0, status: 200, want: map[string]any{"ok": true, "removed": float64(0)},
			wantHosts: []string{"cdn.example"},
		},
		{
			name: "host purge unavailable", contentType: "application/json", body: `{"host":"cdn.example"}`,
			noHost: true, status: 501,
		},
		{name: "both", contentType: "application/json", body: `{"url":"http://a.example/","host":"a.example"}`, status: 400},
		{name: "neither", contentType: "application/json", body: `{}`, status: 400},
		{name: "empty form", contentType: "application/x-www-form-urlencoded", body: "", status: 400},
		{name: "relative URL", contentType: "application/json", body: `{"url":"/a.js"}`, status: 400},
		{name: "not http", contentType: "application/json", body: `{"url":"ftp://example.com/a"}`, status: 400},
		{name: "no host in URL", contentType: "application/json", body: `{"url":"http:///a"}`, status: 400},
		{name: "host with a path", contentType: "application/json", body: `{"host":"example.com/a"}`, status: 400},
		{name: "bad JSON", contentType: "application/json", body: `{"url":`, status: 400},
		{name: "too large", contentType: "application/json", body: `{"url":"http://example.com/` + strings.Repeat("a", maxActionBody) + `"}`, status: 400},
		{
			name: "cache fails", contentType: "application/json", body: `{"url":"http://example.com/"}`,
			purgeErr: errors.New("disk: read-only file system"), status: 500,
			want:     map[string]any{"ok": false, "error": "purge http://example.com/: disk: read-only file system"},
			wantURLs: []string{"http://example.com/"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakes{found: tt.found, removed: tt.removed, purgeErr: tt.purgeErr}
			o := f.options(t)
			if tt.noHost {
				o.PurgeHost = nil
			}
			srv := serve(t, o)
			resp, body := fetch(t, "POST", srv.URL+"/api/purge", strings.NewReader(tt.body),
				map[string]string{"Content-Type": tt.contentType, actionHeader: "1"})
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d (%s)", resp.StatusCode, tt.status, body)
			}
			if got := resp.Header.Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type %q, want application/json", got)
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatalf("body %q: %v", body, err)
			}
			want := tt.want
			if want == nil { // every failure says ok false and why
				if got["ok"] != false || got["error"] == nil || got["error"] == "" {
					t.Errorf("body %q, want ok false with an error", body)
				}
			} else if !jsonEqual(got, want) {
				t.Errorf("body %q, want %v", body, want)
			}
			if !slices.Equal(f.purged, tt.wantURLs) {
				t.Errorf("Purge got %q, want %q", f.purged, tt.wantURLs)
			}
			if !slices.Equal(f.hosts, tt.wantHosts) {
				t.Errorf("PurgeHost got %q, want %q", f.hosts, tt.wantHosts)
			}
		})
	}
}

func jsonEqual(a, b map[string]any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func TestReload(t *testing.T) {
	f := &fakes{}
	srv := serve(t, f.options(t))
	hdr := map[string]string{actionHeader: "1"}
	resp, body := fetch(t, "POST", srv.URL+"/api/reload", nil, hdr)
	if resp.StatusCode != 200 || body != `{"ok":true}`+"\n" {
		t.Errorf("got %d %q, want 200 ok", resp.StatusCode, body)
	}
	if f.reloads != 1 {
		t.Errorf("Reload called %d times, want 1", f.reloads)
	}
	if !strings.Contains(f.logged(), "configuration reloaded") {
		t.Errorf("reload not logged: %q", f.logged())
	}

	f.mu.Lock()
	f.reloadErr = errors.New("config.yaml:12: unknown field \"lisen\"")
	f.mu.Unlock()
	resp, body = fetch(t, "POST", srv.URL+"/api/reload", nil, hdr)
	if want := `{"error":"reload: config.yaml:12: unknown field \"lisen\"","ok":false}` + "\n"; resp.StatusCode != 500 || body != want {
		t.Errorf("got %d %q, want 500 %q", resp.StatusCode, body, want)
	}

	resp, _ = fetch(t, "POST", srv.URL+"/api/reload", nil, map[string]string{"Origin": "http://attacker.example", actionHeader: "1"})
	if resp.StatusCode != 403 || f.reloads != 2 {
		t.Errorf("cross-site reload: status %d after %d reloads, want 403 after 2", resp.StatusCode, f.reloads)
	}

	o := f.options(t)
	o.Reload, o.Purge = nil, nil
	srv = serve(t, o)
	for _, path := range []string{"/api/reload", "/api/purge?url=http://a.example/"} {
		if resp, _ := fetch(t, "POST", srv.URL+path, nil, hdr); resp.StatusCode != 501 {
			t.Errorf("%s without a function: status %d, want 501", path, resp.StatusCode)
		}
	}
}
