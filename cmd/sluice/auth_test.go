package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func htpasswdLine(t *testing.T, user, pass string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return user + ":" + string(h) + "\n"
}

// TestHtpasswdBinary: --htpasswd protects the proxy, names the user in the
// access log, and a change to the file applies without a restart (the
// cache of verified passwords is forgotten); a broken file keeps the old.
func TestHtpasswdBinary(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Proxy-Authorization") != "" {
			w.WriteHeader(http.StatusTeapot) // must never happen
		}
		io.WriteString(w, "ok")
	}))
	defer origin.Close()
	dir := t.TempDir()
	pw := filepath.Join(dir, "htpasswd")
	write := func(s string) {
		t.Helper()
		// A rename, as editors and htpasswd do: readers see old or new.
		tmp := pw + ".tmp"
		if err := os.WriteFile(tmp, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, pw); err != nil {
			t.Fatal(err)
		}
	}
	write(htpasswdLine(t, "alice", "one") + htpasswdLine(t, "bob", "two"))

	alog := filepath.Join(dir, "access.log")
	_, stderr := startBinary(t, "--listen", "127.0.0.1:0", "--htpasswd", pw, "--allow-dest", "loopback", "--cache-dir", "off", "--access-log", alog)
	port, _ := listenPorts(t, stderr.String, false)
	status := func(userPass string) int {
		t.Helper()
		pu := &url.URL{Scheme: "http", Host: "127.0.0.1:" + port}
		if userPass != "" {
			u, p, _ := strings.Cut(userPass, ":")
			pu.User = url.UserPassword(u, p)
		}
		c := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(pu)}, Timeout: 5 * time.Second}
		defer c.CloseIdleConnections()
		resp, err := c.Get(origin.URL)
		if err != nil {
			return 0
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusProxyAuthRequired && resp.Header.Get("Proxy-Authenticate") != `Basic realm="sluice", charset="UTF-8"` {
			t.Errorf("407 with Proxy-Authenticate %q", resp.Header.Get("Proxy-Authenticate"))
		}
		return resp.StatusCode
	}
	eventually := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if cond() {
				return
			}
		}
		t.Fatalf("%s: not within 10s\n%s", what, stderr.String())
	}
	eventually("the proxy answers", func() bool { return status("") == http.StatusProxyAuthRequired })
	if got := status("alice:one"); got != 200 {
		t.Fatalf("alice: %d", got)
	}
	if got := status("alice:two"); got != 407 {
		t.Fatalf("alice with bob's password: %d", got)
	}
	if got := status("bob:two"); got != 200 {
		t.Fatalf("bob: %d", got)
	}

	// alice's password changes and bob is removed: the remembered
	// verifications must not outlive the file.
	write(htpasswdLine(t, "alice", "three"))
	eventually("the new file applies", func() bool { return status("alice:three") == 200 })
	for _, up := range []string{"alice:one", "bob:two"} {
		if got := status(up); got != 407 {
			t.Errorf("%s after the change: %d, want 407", up, got)
		}
	}

	// A file with a plain-text entry is refused; the previous one stays.
	write("alice:plaintext\n")
	eventually("the bad file is reported", func() bool { return strings.Contains(stderr.String(), "reload failed") })
	if got := status("alice:three"); got != 200 {
		t.Errorf("after a bad file: alice got %d, want 200 (the old file kept)", got)
	}
	b, _ := os.ReadFile(alog)
	if !bytes.Contains(b, []byte(" alice ")) || !bytes.Contains(b, []byte(" bob ")) {
		t.Errorf("access log does not name the users:\n%s", b)
	}
}

// TestHtpasswdRefused: a file with entries sluice will not trust stops it
// at start with a message naming the line; apr1 entries start with a
// warning.
func TestHtpasswdRefused(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, []byte(htpasswdLine(t, "alice", "x")+"carol:{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=\n"), 0o600)
	out, err := exec.Command(bin, "--htpasswd", bad, "--listen", "127.0.0.1:0").CombinedOutput()
	if err == nil {
		t.Fatalf("started with a {SHA} entry:\n%s", out)
	}
	if !strings.Contains(string(out), "bad:2") {
		t.Errorf("message does not name the line:\n%s", out)
	}

	apr := filepath.Join(dir, "apr1")
	os.WriteFile(apr, []byte("dave:$apr1$Q5l4v1o3$xYoh2b2Zr8pL1x9tYhqJ7/\n"), 0o600)
	_, stderr := startBinary(t, "--htpasswd", apr, "--listen", "127.0.0.1:0")
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(stderr.String(), "sluice listening"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("did not start with an apr1 file:\n%s", stderr.String())
		}
	}
	if !strings.Contains(stderr.String(), "apr1") || !strings.Contains(stderr.String(), "level=WARN") {
		t.Errorf("no warning about the apr1 entry:\n%s", stderr.String())
	}
}
