package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestHold5000 is the bounded loopback load test of issue 5: the real
// binary holds 5,000 client connections at once (4,000 idle keep-alive
// connections that have made a request, 1,000 in the middle of sending
// their headers, the way a slowloris crowd does) while fresh clients keep
// being served. It checks that all of them are still served afterwards and
// logs the fresh clients' latencies and the proxy's memory; the 100 ms
// target is a figure to report, not a pass/fail threshold (timing belongs
// in benchmarks, and CI machines are noisy), so the test fails only if a
// fresh client waits longer than a second.
func TestHold5000(t *testing.T) {
	const idle, partial, fresh = 4000, 1000, 200
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur < 2*(idle+partial)+1000 {
		msg := fmt.Sprintf("needs an open-file limit of at least %d (this process has %d): raise it with ulimit -n", 2*(idle+partial)+1000, lim.Cur)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + "; under CI=true the load test must run")
		}
		t.Skip(msg)
	}
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello from the origin")
	}))
	defer origin.Close()
	cmd, stderr := startBinary(t, "--listen", "127.0.0.1:0", "--allow-dest", "loopback", "--access-log", "off", "--cache-mem", "0", "--cache-dir", "off",
		"--header-timeout", "2m", "--idle-timeout", "5m")
	port, _ := listenPorts(t, stderr.String, false)
	resp := getWhenUp(t, proxyClient(port), origin.URL, stderr.String)
	resp.Body.Close()
	proxyAddr := "127.0.0.1:" + port
	rssBefore := rssKiB(cmd.Process.Pid)

	request := "GET " + origin.URL + "/ HTTP/1.1\r\nHost: x\r\n\r\n"
	type held struct {
		c  net.Conn
		br *bufio.Reader
	}
	var conns []held
	defer func() {
		for _, h := range conns {
			h.c.Close()
		}
	}()
	roundTrip := func(c net.Conn, br *bufio.Reader, req string) error {
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(c, req); err != nil {
			return err
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return err
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || string(b) != "hello from the origin" {
			return fmt.Errorf("status %d body %q err %v", resp.StatusCode, b, err)
		}
		return nil
	}
	dial := func() (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", proxyAddr)
		if err != nil {
			t.Fatalf("after %d connections: %v\n%s", len(conns), err, stderr.String())
		}
		return c, bufio.NewReader(c)
	}

	start := time.Now()
	for range idle {
		c, br := dial()
		conns = append(conns, held{c, br})
		if err := roundTrip(c, br, request); err != nil {
			t.Fatalf("connection %d: %v", len(conns), err)
		}
	}
	head := "GET " + origin.URL + "/ HTTP/1.1\r\nHost: x\r\n"
	for range partial {
		c, br := dial()
		conns = append(conns, held{c, br})
		if _, err := io.WriteString(c, head); err != nil {
			t.Fatal(err)
		}
	}
	opened := time.Since(start)
	rssHeld := rssKiB(cmd.Process.Pid)

	// Fresh clients, one after another, each on a new connection.
	lat := make([]time.Duration, 0, fresh)
	for i := range fresh {
		t0 := time.Now()
		c, br := dial()
		err := roundTrip(c, br, request)
		c.Close()
		if err != nil {
			t.Fatalf("fresh client %d: %v", i, err)
		}
		lat = append(lat, time.Since(t0))
	}
	slices.Sort(lat)
	p := func(q float64) time.Duration { return lat[int(q*float64(len(lat)-1))] }
	within := 0
	for _, d := range lat {
		if d <= 100*time.Millisecond {
			within++
		}
	}
	t.Logf("held %d connections (%d idle keep-alive, %d mid-header), opened in %v", idle+partial, idle, partial, opened.Round(time.Millisecond))
	t.Logf("fresh clients: %d of %d answered within 100 ms; p50 %v, p99 %v, max %v",
		within, fresh, p(0.5).Round(10*time.Microsecond), p(0.99).Round(10*time.Microsecond), lat[len(lat)-1].Round(10*time.Microsecond))
	if rssBefore > 0 && rssHeld > 0 {
		t.Logf("proxy RSS: %d KiB before, %d KiB holding them: %.1f KiB per connection",
			rssBefore, rssHeld, float64(rssHeld-rssBefore)/float64(idle+partial))
	}
	if p(0.5) > time.Second {
		t.Errorf("median fresh client waited %v with %d connections held", p(0.5), idle+partial)
	}

	// Every held connection is still served: idle ones take another
	// request, the partial ones finish their headers.
	for i, h := range conns {
		req := request
		if i >= idle {
			req = "\r\n"
		}
		if err := roundTrip(h.c, h.br, req); err != nil {
			t.Fatalf("held connection %d (%s) not served: %v", i, map[bool]string{true: "mid-header", false: "idle"}[i >= idle], err)
		}
	}
}

// rssKiB returns a process's resident set size in KiB, or 0 if unknown.
func rssKiB(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var n int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), &n)
			return n
		}
	}
	return 0
}

// TestLimitsBinary: the limit flags reach the server: a client over its
// connection cap gets 429 on the extra connection, a client over its rate
// gets 429 with Retry-After, and the log says so once, not per request.
func TestLimitsBinary(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello from the origin")
	}))
	defer origin.Close()
	_, stderr := startBinary(t, "--listen", "127.0.0.1:0", "--allow-dest", "loopback", "--access-log", "off", "--cache-dir", "off",
		"--max-conns-per-client", "3", "--rate-limit", "2")
	port, _ := listenPorts(t, stderr.String, false)
	pc := proxyClient(port)
	resp := getWhenUp(t, pc, origin.URL, stderr.String)
	resp.Body.Close()
	pc.CloseIdleConnections()

	send := func(c net.Conn, br *bufio.Reader) *http.Response {
		t.Helper()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, "GET "+origin.URL+"/ HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	// Rate: a burst of 10 (the minimum) passes, then 429 with Retry-After.
	c, err := net.Dial("tcp", "127.0.0.1:"+port)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	limited := 0
	for range 30 {
		resp := send(c, br)
		if resp.StatusCode == http.StatusTooManyRequests {
			limited++
			if resp.Header.Get("Retry-After") == "" {
				t.Fatal("429 without Retry-After")
			}
		}
	}
	if limited < 15 {
		t.Errorf("%d of 30 rapid requests were limited at 2/s with a burst of 10", limited)
	}
	if n := strings.Count(stderr.String(), "over its request rate"); n != 1 {
		t.Errorf("the rate limit was logged %d times, want once:\n%s", n, stderr.String())
	}

	// Connections: this one plus two more are the cap; the fourth is refused.
	var more []net.Conn
	for range 2 {
		m, err := net.Dial("tcp", "127.0.0.1:"+port)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		// An answer (200 or 429) shows the proxy has admitted it.
		if resp := send(m, bufio.NewReader(m)); resp.StatusCode != 200 && resp.StatusCode != 429 {
			t.Fatalf("connection %d: status %d", len(more)+2, resp.StatusCode)
		}
		more = append(more, m)
	}
	extra, err := net.Dial("tcp", "127.0.0.1:"+port)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	extra.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(extra, "GET "+origin.URL+"/ HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err = http.ReadResponse(bufio.NewReader(extra), nil)
	if err != nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("fourth connection: %v %v", resp, err)
	}
}
