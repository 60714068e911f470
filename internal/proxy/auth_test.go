package proxy_test

import (
	"bufio"
	"encoding/base64"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"sluice/internal/auth"
	"sluice/internal/proxy"
	"sluice/internal/testwait"
)

// authRules returns rules requiring the users given as "name:password"
// pairs, hashed with bcrypt at its cheapest cost (tests need not be slow).
func authRules(t *testing.T, users ...string) *proxy.Rules {
	t.Helper()
	var file strings.Builder
	for _, u := range users {
		name, pass, _ := strings.Cut(u, ":")
		h, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		file.WriteString(name + ":" + string(h) + "\n")
	}
	f, err := auth.ParseHtpasswd("htpasswd", strings.NewReader(file.String()))
	if err != nil {
		t.Fatal(err)
	}
	return &proxy.Rules{Auth: &proxy.Auth{Verifier: auth.NewVerifier(f, 0), Realm: "test realm"}}
}

func basicAuth(userPass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(userPass))
}

func TestAuthChallenge(t *testing.T) {
	rw := newRulesWorld(t, nil)
	rw.rules.Store(authRules(t, "alice:wonderland"))

	for _, tc := range []struct {
		name, cred, title string
	}{
		{"no credentials", "", "Proxy authentication required"},
		{"wrong password", basicAuth("alice:looking-glass"), "Wrong user name or password"},
		{"unknown user", basicAuth("mallory:wonderland"), "Wrong user name or password"},
		{"not basic", "Bearer abc", "Wrong user name or password"},
		{"malformed", "Basic !!!", "Wrong user name or password"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var kv []string
			if tc.cred != "" {
				kv = []string{"Proxy-Authorization", tc.cred}
			}
			resp, body := rw.get(t, rw.url("ok.test", "/"), kv...)
			if resp.StatusCode != http.StatusProxyAuthRequired {
				t.Fatalf("status %d, want 407; body %q", resp.StatusCode, body)
			}
			if got := resp.Header.Get("Proxy-Authenticate"); got != `Basic realm="test realm", charset="UTF-8"` {
				t.Errorf("Proxy-Authenticate %q", got)
			}
			if tc.cred != "" && !strings.Contains(body, tc.title) {
				t.Errorf("body %q does not say %q", body, tc.title)
			}
		})
	}
	if n := rw.hits.Load(); n != 0 {
		t.Errorf("origin reached %d times without valid credentials", n)
	}
}

func TestAuthForwardsWithoutCredentials(t *testing.T) {
	rw := newRulesWorld(t, nil)
	rw.rules.Store(authRules(t, "alice:wonderland", "bob:builder"))
	for i, user := range []string{"alice:wonderland", "bob:builder", "alice:wonderland"} {
		resp, body := rw.get(t, rw.url("ok.test", "/"), "Proxy-Authorization", basicAuth(user))
		if resp.StatusCode != http.StatusOK || body != "origin body" {
			t.Fatalf("%s: status %d body %q", user, resp.StatusCode, body)
		}
		if got := rw.seen.Load().Header.Get("Proxy-Authorization"); got != "" {
			t.Fatalf("origin received Proxy-Authorization %q", got)
		}
		// The record is written after the response: wait for it, so
		// that the next request's cannot come first.
		testwait.Until(t, "the access-log record of request "+strconv.Itoa(i), 5*time.Second, func() bool {
			return len(rw.Records(0)) > i
		})
	}
	recs := rw.Records(3)
	for i, want := range []string{"alice", "bob", "alice"} {
		if recs[i].User != want {
			t.Errorf("access log record %d has user %q, want %q", i, recs[i].User, want)
		}
	}
}

func TestAuthConnect(t *testing.T) {
	rw := newRulesWorld(t, nil)
	rw.rules.Store(authRules(t, "alice:wonderland"))
	target := "ok.test:" + rw.port

	resp := rw.Raw("CONNECT "+target+" HTTP/1.1\r\nHost: "+target+"\r\n\r\n", http.MethodConnect)
	if resp.StatusCode != http.StatusProxyAuthRequired || resp.Header.Get("Proxy-Authenticate") == "" {
		t.Fatalf("CONNECT without credentials: status %d, Proxy-Authenticate %q", resp.StatusCode, resp.Header.Get("Proxy-Authenticate"))
	}

	c := rw.Dial()
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "CONNECT "+target+" HTTP/1.1\r\nHost: "+target+"\r\nProxy-Authorization: "+basicAuth("alice:wonderland")+"\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("CONNECT with credentials: %v %v", resp, err)
	}
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: ok.test\r\n\r\n")
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 100))
	if string(b) != "origin body" {
		t.Fatalf("through the tunnel: %q", b)
	}
	if got := rw.seen.Load().Header.Get("Proxy-Authorization"); got != "" {
		t.Fatalf("origin received Proxy-Authorization %q", got)
	}
}

// TestAuthProbeResistance: without credentials the proxy looks like a
// plain web server; the knock host still asks, and says who is logged in.
func TestAuthProbeResistance(t *testing.T) {
	rw := newRulesWorld(t, nil)
	rs := authRules(t, "alice:wonderland")
	rs.Auth.ProbeResistance = true
	rs.Auth.KnockHost = "knock.secret.test"
	rw.rules.Store(rs)

	plain := func(resp *http.Response, body string, status int) {
		t.Helper()
		if resp.StatusCode != status {
			t.Fatalf("status %d, want %d", resp.StatusCode, status)
		}
		for _, h := range []string{"Proxy-Authenticate", "Via", "Server"} {
			if v := resp.Header.Get(h); v != "" {
				t.Errorf("%s: %q gives the proxy away", h, v)
			}
		}
		if strings.Contains(strings.ToLower(body), "sluice") || strings.Contains(strings.ToLower(body), "proxy") {
			t.Errorf("body gives the proxy away: %q", body)
		}
	}
	resp, body := rw.get(t, rw.url("ok.test", "/"))
	plain(resp, body, http.StatusNotFound)
	resp, body = rw.get(t, rw.url("ok.test", "/"), "Proxy-Authorization", basicAuth("alice:wrong"))
	plain(resp, body, http.StatusNotFound)
	resp, body = rw.get(t, "http://"+rw.Addr+"/") // the status page is hidden too
	plain(resp, body, http.StatusNotFound)
	target := "ok.test:" + rw.port
	resp = rw.Raw("CONNECT "+target+" HTTP/1.1\r\nHost: "+target+"\r\n\r\n", http.MethodConnect)
	b, _ := io.ReadAll(resp.Body)
	plain(resp, string(b), http.StatusBadRequest)
	if rw.hits.Load() != 0 {
		t.Fatal("origin reached without credentials")
	}

	resp, _ = rw.get(t, "http://knock.secret.test/")
	if resp.StatusCode != http.StatusProxyAuthRequired || resp.Header.Get("Proxy-Authenticate") == "" {
		t.Fatalf("knock host: status %d, Proxy-Authenticate %q", resp.StatusCode, resp.Header.Get("Proxy-Authenticate"))
	}
	resp, body = rw.get(t, "http://KNOCK.secret.test/", "Proxy-Authorization", basicAuth("alice:wonderland"))
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "<b>alice</b>") {
		t.Fatalf("knock host with credentials: status %d body %q", resp.StatusCode, body)
	}
	resp, body = rw.get(t, rw.url("ok.test", "/"), "Proxy-Authorization", basicAuth("alice:wonderland"))
	if resp.StatusCode != http.StatusOK || body != "origin body" {
		t.Fatalf("with credentials: status %d body %q", resp.StatusCode, body)
	}
}
