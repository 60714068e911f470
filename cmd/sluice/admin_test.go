package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestAdminBinary: --admin serves metrics that move with traffic, the
// stats JSON, health and readiness, the PAC file, and a purge that works,
// all on the real binary.
func TestAdminBinary(t *testing.T) {
	var hits atomic.Int32
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Cache-Control", "max-age=600")
		io.WriteString(w, "body of "+r.URL.Path)
	}))
	defer origin.Close()
	_, stderr := startBinary(t, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--allow-dest", "loopback",
		"--cache-dir", "off", "--access-log", "off")
	port, adminPort := listenPorts(t, stderr.String, true)
	admin := "http://127.0.0.1:" + adminPort
	pc := proxyClient(port)
	resp := getWhenUp(t, pc, origin.URL+"/warmup", stderr.String)
	resp.Body.Close()

	fetch := func(u string) (*http.Response, string) {
		t.Helper()
		resp, err := http.Get(u)
		if err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}
	// metric returns the value of the series whose line starts with
	// prefix (name and labels), or 0 if absent.
	metric := func(prefix string) float64 {
		t.Helper()
		_, body := fetch(admin + "/metrics")
		sc := bufio.NewScanner(strings.NewReader(body))
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), prefix+" "); ok {
				v, _ := strconv.ParseFloat(rest, 64)
				return v
			}
		}
		return 0
	}
	const misses = `sluice_requests_total{method="GET",result="miss",status_class="2xx"}`
	const hitsSeries = `sluice_requests_total{method="GET",result="hit",status_class="2xx"}`
	// A request is counted after its last byte went out, so a client
	// can read a whole response before it shows: wait for the count.
	counted := func(n float64) float64 {
		t.Helper()
		var m float64
		eventually(t, fmt.Sprintf("%v requests counted", n), 10*time.Second, func() bool {
			m = metric(misses) + metric(hitsSeries)
			return m >= n
		})
		return m
	}
	counted(1) // the warmup
	m0, h0, b0 := metric(misses), metric(hitsSeries), metric("sluice_client_sent_bytes_total")
	for range 5 {
		resp, err := pc.Get(origin.URL + "/doc")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	counted(m0 + h0 + 5)
	wantBytes := 5 * float64(len("body of /doc"))
	eventually(t, "the bytes counted", 10*time.Second, func() bool {
		return metric("sluice_client_sent_bytes_total")-b0 >= wantBytes
	})
	if m, h := metric(misses)-m0, metric(hitsSeries)-h0; m != 1 || h != 4 {
		t.Errorf("after 5 requests for one cacheable URL: misses +%v, hits +%v; want +1, +4", m, h)
	}
	if b := metric("sluice_client_sent_bytes_total") - b0; b != wantBytes {
		t.Errorf("bytes sent to clients +%v, want %v", b, wantBytes)
	}
	if n := metric("sluice_upstream_connect_duration_seconds_count"); n < 1 {
		t.Errorf("no upstream connect observed: %v", n)
	}
	if n := metric("sluice_upstream_first_byte_duration_seconds_count"); n < 2 {
		t.Errorf("first-byte times observed: %v, want at least 2", n)
	}
	if v := metric(`sluice_cache_objects{tier="memory"}`); v < 2 {
		t.Errorf("memory tier objects %v, want at least 2", v)
	}

	var st struct {
		Totals   struct{ Requests, Hits, Misses int } `json:"totals"`
		HitRatio float64                              `json:"hit_ratio"`
	}
	var body string
	eventually(t, "/api/stats to count 6 requests", 10*time.Second, func() bool {
		_, body = fetch(admin + "/api/stats")
		return json.Unmarshal([]byte(body), &st) == nil && st.Totals.Requests >= 6
	})
	if st.Totals.Requests != 6 || st.Totals.Hits != 4 {
		t.Errorf("/api/stats: %+v from %s", st, body)
	}
	for path, want := range map[string]string{"/healthz": "ok", "/readyz": "ready"} {
		if resp, body := fetch(admin + path); resp.StatusCode != 200 || !strings.Contains(body, want) {
			t.Errorf("%s: %d %q", path, resp.StatusCode, body)
		}
	}
	resp, pac := fetch(admin + "/proxy.pac")
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-ns-proxy-autoconfig") ||
		!strings.Contains(pac, "FindProxyForURL") || !strings.Contains(pac, "PROXY 127.0.0.1:"+port) {
		t.Errorf("PAC: %s\n%s", ct, pac)
	}

	// A purge needs the admin header; with it, the next request misses.
	purge := func(header bool) int {
		req, _ := http.NewRequest(http.MethodPost, admin+"/api/purge", strings.NewReader(url.Values{"url": {origin.URL + "/doc"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if header {
			req.Header.Set("X-Sluice-Admin", "1")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := purge(false); code != http.StatusForbidden {
		t.Errorf("purge without the admin header: %d, want 403", code)
	}
	if code := purge(true); code != 200 {
		t.Fatalf("purge: %d", code)
	}
	before := hits.Load()
	resp, err := pc.Get(origin.URL + "/doc")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if hits.Load() != before+1 {
		t.Error("the purged URL was still a hit")
	}
}

// TestReadyzWhileDraining: on SIGTERM, /readyz turns 503 while in-flight
// requests finish, so a load balancer stops sending new ones.
func TestReadyzWhileDraining(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{}, 1)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
		io.WriteString(w, "slow")
	}))
	defer origin.Close()
	defer close(release)
	cmd, stderr := startBinary(t, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--allow-dest", "loopback",
		"--cache-dir", "off", "--access-log", "off", "--drain-timeout", "10s")
	port, adminPort := listenPorts(t, stderr.String, true)
	readyz := "http://127.0.0.1:" + adminPort + "/readyz"
	pc := proxyClient(port)
	getWhenUp(t, pc, "http://127.0.0.1:"+port+"/", stderr.String).Body.Close()
	status := func() int {
		resp, err := http.Get(readyz)
		if err != nil {
			return -1
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := status(); got != 200 {
		t.Fatalf("/readyz before SIGTERM: %d", got)
	}
	done := make(chan error, 1)
	go func() {
		resp, err := pc.Get(origin.URL + "/slow")
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	select {
	case <-arrived:
	case err := <-done:
		t.Fatalf("the request failed before reaching the origin: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the request never reached the origin")
	}
	cmd.Process.Signal(syscall.SIGTERM)
	eventually(t, "/readyz to say 503 while draining", 10*time.Second, func() bool { return status() == 503 })
	release <- struct{}{}
	if err := <-done; err != nil {
		t.Errorf("the in-flight request failed during the drain: %v", err)
	}
}
