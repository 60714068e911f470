package proxy_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"sluice/internal/proxytest"
	"sluice/internal/testwait"
)

// lifeWait bounds waits for something the proxy should do soon. Timeouts
// under test are a few hundred milliseconds; the bound is far above them
// and far below the defaults (10s header, 1m idle), so a limit that is not
// applied fails the test instead of passing late.
const lifeWait = 5 * time.Second

// lifeExpectClosed requires that the proxy closes c within lifeWait. What
// it sends first, if anything, must start with allowedPrefix (empty means
// nothing may be sent).
func lifeExpectClosed(t *testing.T, c net.Conn, r io.Reader, allowedPrefix string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(lifeWait))
	got, err := io.ReadAll(r)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("connection still open after %v (got %q), want it closed", lifeWait, got)
	}
	if len(got) > 0 && (allowedPrefix == "" || !bytes.HasPrefix(got, []byte(allowedPrefix))) {
		t.Errorf("got %q before the close, want nothing or %q…", got, allowedPrefix)
	}
}

// lifeOrigin is an origin that counts requests and answers "ok".
func lifeOrigin(w *proxytest.World) (host string, served *atomic.Int32) {
	served = new(atomic.Int32)
	srv := w.Origin(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		served.Add(1)
		io.WriteString(rw, "ok")
	}))
	return strings.TrimPrefix(srv.URL, "http://"), served
}

func TestLifecycleHeaderTimeout(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		trickle bool
	}{
		{"stalled", false},
		// The header timeout bounds the whole head, not each read: a
		// slowloris client that keeps sending a byte at a time is cut off
		// too.
		{"trickling", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := proxytest.New(t, proxytest.Options{HeaderTimeout: 300 * time.Millisecond})
			c := w.Dial()
			io.WriteString(c, "GET http://x/ HTTP/1.1\r\nHo")
			if tc.trickle {
				stop := make(chan struct{})
				defer close(stop)
				go func() {
					for {
						select {
						case <-stop:
							return
						case <-time.After(50 * time.Millisecond):
						}
						if _, err := io.WriteString(c, "o"); err != nil {
							return
						}
					}
				}()
			}
			// net/http may answer first: 408, or 400 when the timeout
			// cut a header line in half (it then parses the fragment).
			lifeExpectClosed(t, c, c, "HTTP/1.1 4")
		})
	}
}

func TestLifecycleIdleKeepAliveTimeout(t *testing.T) {
	t.Parallel()
	w := proxytest.New(t, proxytest.Options{IdleTimeout: 300 * time.Millisecond})
	host, _ := lifeOrigin(w)
	c := w.Dial()
	br := bufio.NewReader(c)
	io.WriteString(c, "GET http://"+host+"/ HTTP/1.1\r\nHost: "+host+"\r\n\r\n")
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(body) != "ok" {
		t.Fatalf("got %q %q, want 200 %q", resp.Status, body, "ok")
	}
	if resp.Close {
		t.Fatal("proxy closed the connection after the response; want keep-alive")
	}
	lifeExpectClosed(t, c, br, "")
}

func TestLifecycleHeaderTooLarge(t *testing.T) {
	t.Parallel()
	w := proxytest.New(t, proxytest.Options{MaxHeaderBytes: 4096})
	host, served := lifeOrigin(w)
	for _, tc := range []struct {
		size int
		want int
	}{
		{2 << 10, http.StatusOK},
		{10 << 10, http.StatusRequestHeaderFieldsTooLarge},
	} {
		t.Run(strconv.Itoa(tc.size), func(t *testing.T) {
			before := served.Load()
			resp := w.Raw("GET http://"+host+"/ HTTP/1.1\r\nHost: "+host+"\r\nX-Big: "+strings.Repeat("b", tc.size)+"\r\n\r\n", http.MethodGet)
			if resp.StatusCode != tc.want {
				t.Errorf("got status %q, want %d", resp.Status, tc.want)
			}
			wantServed := int32(0)
			if tc.want == http.StatusOK {
				wantServed = 1
			}
			if got := served.Load() - before; got != wantServed {
				t.Errorf("origin served %d requests, want %d", got, wantServed)
			}
		})
	}
}

func TestLifecycleMalformedRequests(t *testing.T) {
	t.Parallel()
	w := proxytest.New(t, proxytest.Options{})
	host, served := lifeOrigin(w)
	target := "http://" + host + "/"
	for _, tc := range []struct {
		name string
		raw  string
		want []int // acceptable statuses
	}{
		{"garbage", "GARBAGE\r\n\r\n", []int{400}},
		{"unknown version", "GET " + target + " HTTP/9.9\r\nHost: " + host + "\r\n\r\n", []int{400, 505}},
		{"no version", "GET " + target + "\r\nHost: " + host + "\r\n\r\n", []int{400}},
		{"space before colon", "GET " + target + " HTTP/1.1\r\nHost : " + host + "\r\n\r\n", []int{400}},
		{"header without colon", "GET " + target + " HTTP/1.1\r\nHost: " + host + "\r\nNoColon\r\n\r\n", []int{400}},
		{"invalid header name", "GET " + target + " HTTP/1.1\r\nHost: " + host + "\r\nBad[Name]: x\r\n\r\n", []int{400}},
		{"NUL in header value", "GET " + target + " HTTP/1.1\r\nHost: " + host + "\r\nX-A: a\x00b\r\n\r\n", []int{400}},
		{"invalid method", "G@T " + target + " HTTP/1.1\r\nHost: " + host + "\r\n\r\n", []int{400}},
		{"missing Host", "GET " + target + " HTTP/1.1\r\n\r\n", []int{400}},
		{"conflicting Content-Length", "POST " + target + " HTTP/1.1\r\nHost: " + host + "\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", []int{400}},
		{"unknown transfer coding", "POST " + target + " HTTP/1.1\r\nHost: " + host + "\r\nTransfer-Encoding: gzip\r\n\r\n", []int{400, 501}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := w.Raw(tc.raw, http.MethodGet)
			ok := false
			for _, s := range tc.want {
				ok = ok || resp.StatusCode == s
			}
			if !ok {
				t.Errorf("got status %q, want one of %v", resp.Status, tc.want)
			}
		})
	}
	if n := served.Load(); n != 0 {
		t.Errorf("origin served %d malformed requests, want 0", n)
	}
}

func TestLifecycleGracefulShutdown(t *testing.T) {
	t.Parallel()
	w := proxytest.New(t, proxytest.Options{})
	want := bytes.Repeat([]byte("in flight "), 10<<10)
	started := make(chan struct{})
	release := make(chan struct{})
	origin := w.Origin(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		close(started)
		select {
		case <-release: // Shutdown is under way
		case <-time.After(lifeWait):
		}
		rw.Write(want)
	}))

	type result struct {
		status int
		body   []byte
		err    error
	}
	done := make(chan result, 1)
	client := w.Client()
	go func() {
		resp, err := client.Get(origin.URL + "/slow")
		if err != nil {
			done <- result{err: err}
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		done <- result{resp.StatusCode, body, err}
	}()
	select {
	case <-started:
	case <-time.After(lifeWait):
		t.Fatal("request did not reach the origin")
	}

	shut := make(chan bool, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		shut <- w.Server.Shutdown(ctx)
	}()
	// Shutdown has begun once the listener is closed; only then does the
	// origin answer, so the request is in flight throughout.
	testwait.Until(t, "the proxy's listener closed", lifeWait, func() bool {
		c, err := net.Dial("tcp", w.Addr)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	close(release)
	select {
	case clean := <-shut:
		if !clean {
			t.Error("Shutdown reported an unclean stop, want the in-flight request to finish in time")
		}
	case <-time.After(lifeWait + 5*time.Second):
		t.Fatal("Shutdown did not return")
	}
	res := <-done
	if res.err != nil {
		t.Fatalf("in-flight request: %v", res.err)
	}
	if res.status != http.StatusOK || !bytes.Equal(res.body, want) {
		t.Errorf("in-flight request: got %d and %d bytes, want 200 and %d bytes", res.status, len(res.body), len(want))
	}

	if c, err := net.DialTimeout("tcp", w.Addr, lifeWait); err == nil {
		c.Close()
		t.Error("new connection accepted after Shutdown, want it refused")
	}
}

func TestLifecycleShutdownClosesTunnels(t *testing.T) {
	t.Parallel()
	ln, port := connectListen(t)
	w := proxytest.New(t, proxytest.Options{ConnectPorts: []int{port}})
	c, br := connectOpen(t, w, "127.0.0.1:"+strconv.Itoa(port))
	oc := connectAccept(t, ln)
	connectPoll(t, "tunnel not tracked", func() bool { return w.Tunnels.Open() == 1 })

	shut := make(chan bool, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		shut <- w.Server.Shutdown(ctx)
	}()
	select {
	case clean := <-shut:
		if clean {
			t.Error("Shutdown reported a clean stop with a tunnel open, want unclean")
		}
	case <-time.After(lifeWait):
		t.Fatal("Shutdown did not return with a tunnel open")
	}
	lifeExpectClosed(t, c, br, "")
	lifeExpectClosed(t, oc, oc, "")
	connectPoll(t, "force-closed tunnel still tracked", func() bool { return w.Tunnels.Open() == 0 })
}

// TestLifecycleClientDisconnectReleasesOrigin: when the client goes away
// mid-download, the proxy stops reading from the origin and closes that
// connection, so an endless origin does not stream into the void.
func TestLifecycleClientDisconnectReleasesOrigin(t *testing.T) {
	t.Parallel()
	w := proxytest.New(t, proxytest.Options{})
	released := make(chan string, 1)
	origin := w.Origin(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(rw)
		chunk := bytes.Repeat([]byte("x"), 1<<10)
		for {
			if _, err := rw.Write(chunk); err != nil {
				released <- "write failed"
				return
			}
			if err := rc.Flush(); err != nil {
				released <- "flush failed"
				return
			}
			select {
			case <-r.Context().Done():
				released <- "request context done"
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}))
	host := strings.TrimPrefix(origin.URL, "http://")

	c := w.Dial()
	io.WriteString(c, "GET http://"+host+"/endless HTTP/1.1\r\nHost: "+host+"\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("got status %q, want 200", resp.Status)
	}
	if _, err := io.ReadFull(resp.Body, make([]byte, 4<<10)); err != nil {
		t.Fatalf("reading the first 4 KiB: %v", err)
	}
	c.Close()

	select {
	case how := <-released:
		t.Logf("origin released: %s", how)
	case <-time.After(lifeWait):
		t.Fatalf("origin still streaming %v after the client left", lifeWait)
	}
	var found bool
	for _, rec := range w.Records(1) {
		if rec.URL == "http://"+host+"/endless" {
			found = true
			if got, want := rec.Result, "TCP_MISS_ABORTED"; got != want {
				t.Errorf("got log result %q, want %q", got, want)
			}
		}
	}
	if !found {
		t.Errorf("no access-log record for the aborted download in %+v", w.Records(0))
	}
}

func TestLifecycleOriginTooSlow(t *testing.T) {
	t.Parallel()
	// The timeout is long enough that a loaded machine still gets the
	// trickle's header across in time.
	w := proxytest.New(t, proxytest.Options{UpstreamTimeout: 2 * time.Second})
	origin := w.Origin(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(rw)
		switch r.URL.Path {
		case "/sleepy":
			select {
			case <-time.After(10 * time.Second):
			case <-r.Context().Done():
				return
			}
			io.WriteString(rw, "too late")
		case "/trickle":
			// The header comes at once; the body takes longer than the
			// timeout, which bounds only the wait for the header.
			rw.WriteHeader(http.StatusOK)
			rc.Flush()
			for i := range 4 {
				time.Sleep(600 * time.Millisecond)
				io.WriteString(rw, strconv.Itoa(i))
				rc.Flush()
			}
		}
	}))
	host := strings.TrimPrefix(origin.URL, "http://")
	client := w.Client()
	for _, tc := range []struct {
		path     string
		status   int
		contains string
	}{
		{"/sleepy", http.StatusGatewayTimeout, host},
		{"/trickle", http.StatusOK, "0123"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			t.Parallel()
			resp, err := client.Get(origin.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatalf("reading body: %v", err)
			}
			if resp.StatusCode != tc.status {
				t.Errorf("got status %q, want %d", resp.Status, tc.status)
			}
			if !strings.Contains(string(body), tc.contains) {
				t.Errorf("got body %q, want it to contain %q", body, tc.contains)
			}
		})
	}
}

// TestLifecycleLongPollClientLeaves: a client that hangs up while its
// request waits on a slow origin (a long poll) releases the origin
// connection without waiting for the origin to answer.
func TestLifecycleLongPollClientLeaves(t *testing.T) {
	w := proxytest.New(t, proxytest.Options{UpstreamTimeout: time.Minute})
	released := make(chan struct{})
	arrived := make(chan struct{})
	origin := w.Origin(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		close(arrived)
		select {
		case <-r.Context().Done():
			close(released)
		case <-time.After(30 * time.Second):
		}
	}))
	c := w.Dial()
	fmt.Fprintf(c, "GET %s/poll HTTP/1.1\r\nHost: x\r\n\r\n", origin.URL)
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the request never reached the origin")
	}
	c.Close()
	select {
	case <-released:
	case <-time.After(10 * time.Second):
		t.Fatal("the origin connection was still held 10 s after the client left")
	}
}

// TestLifecycleStalledUploadCutOff: a client that stops sending its request
// body for the idle timeout is cut off, and the origin's request ends.
func TestLifecycleStalledUploadCutOff(t *testing.T) {
	w := proxytest.New(t, proxytest.Options{IdleTimeout: 300 * time.Millisecond})
	ended := make(chan error, 1)
	origin := w.Origin(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		ended <- err
	}))
	c := w.Dial()
	fmt.Fprintf(c, "POST %s/upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789", origin.URL)
	select {
	case err := <-ended:
		if err == nil {
			t.Fatal("the origin read a complete body from a stalled upload")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a stalled upload was not cut off")
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	io.Copy(io.Discard, c) // the proxy closes the client connection
}
