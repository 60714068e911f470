package proxy_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"sluice/internal/accesslog"
	"sluice/internal/proxytest"
)

// connectWait bounds every wait in these tests. It is generous: a healthy
// proxy answers in milliseconds, and the bound only turns a hang into a
// failure.
const connectWait = 5 * time.Second

// connectListen starts a raw TCP origin on 127.0.0.1 that accepts nothing
// until the test asks (connectAccept), so the test sees exactly which
// connections the proxy made. It returns the listener and its port.
func connectListen(t *testing.T) (*net.TCPListener, int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.(*net.TCPListener), ln.Addr().(*net.TCPAddr).Port
}

// connectAccept returns the next connection the proxy made to ln.
func connectAccept(t *testing.T, ln *net.TCPListener) *net.TCPConn {
	t.Helper()
	ln.SetDeadline(time.Now().Add(connectWait))
	c, err := ln.AcceptTCP()
	if err != nil {
		t.Fatalf("origin accept: %v", err)
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c
}

// connectNoAccept fails the test if the proxy connected to ln. The proxy
// answers only after its dial has finished, and a finished dial is already
// in the listener's backlog, so a short wait is enough.
func connectNoAccept(t *testing.T, ln *net.TCPListener) {
	t.Helper()
	ln.SetDeadline(time.Now().Add(100 * time.Millisecond))
	c, err := ln.Accept()
	if err == nil {
		c.Close()
		t.Errorf("origin got a connection from %s, want none", c.RemoteAddr())
		return
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("origin accept: %v", err)
	}
}

// connectHead is a CONNECT request head for target, with extra header
// lines (each ending in CRLF).
func connectHead(target, extra string) string {
	return "CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n" + extra + "\r\n"
}

// connectAsk sends raw on a new connection and returns the response's
// status and body, all within connectWait. A 2xx to CONNECT has no body
// (the connection is a tunnel then), so none is read for it.
func connectAsk(t *testing.T, w *proxytest.World, raw, method string) (int, string) {
	t.Helper()
	c := w.Dial()
	c.SetDeadline(time.Now().Add(connectWait))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("reading response: %v", err)
	}
	if method == http.MethodConnect && resp.StatusCode/100 == 2 {
		return resp.StatusCode, ""
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading %d response body: %v", resp.StatusCode, err)
	}
	return resp.StatusCode, string(body)
}

// connectOpen sends CONNECT for target on a new connection and requires a
// 200 with no framing headers (RFC 9110 §9.3.6: a 2xx to CONNECT has no
// content). It returns the client end of the tunnel and its reader, which
// may hold bytes the origin sent early.
func connectOpen(t *testing.T, w *proxytest.World, target string) (*net.TCPConn, *bufio.Reader) {
	t.Helper()
	c := w.Dial().(*net.TCPConn)
	if _, err := io.WriteString(c, connectHead(target, "")); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		t.Fatalf("reading CONNECT response: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
		t.Fatalf("CONNECT %s: got %q %q, want 200", target, resp.Status, body)
	}
	for _, k := range []string{"Content-Length", "Transfer-Encoding"} {
		if v := resp.Header.Values(k); len(v) > 0 {
			t.Errorf("200 to CONNECT has %s %q, want none", k, v)
		}
	}
	return c, br
}

// connectReadN reads exactly n bytes from r.
func connectReadN(t *testing.T, r io.Reader, n int) string {
	t.Helper()
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		t.Fatalf("read %d bytes: got %q, %v", n, buf, err)
	}
	return string(buf)
}

// connectExpectClosed requires that c's peer closes c within connectWait:
// a read ends with EOF or a reset, not with the test's deadline.
func connectExpectClosed(t *testing.T, c net.Conn, r io.Reader, who string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(connectWait))
	rest, err := io.ReadAll(r)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("%s: still open after %v, want closed", who, connectWait)
	}
	if len(rest) > 0 {
		t.Errorf("%s: got %q before the close, want nothing", who, rest)
	}
}

// connectRecord returns the access-log record for the CONNECT to target,
// which is written when the tunnel has ended.
func connectRecord(t *testing.T, w *proxytest.World, target string) accesslog.Record {
	t.Helper()
	deadline := time.Now().Add(connectWait)
	for {
		for _, r := range w.Records(1) {
			if r.Method == http.MethodConnect && r.URL == target {
				return r
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no access-log record for CONNECT %s in %+v", target, w.Records(0))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// connectPoll waits until cond holds, failing with msg after connectWait.
func connectPoll(t *testing.T, msg string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(connectWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestConnectHTTPSRoundTrip(t *testing.T) {
	t.Parallel()
	origin := httptest.NewTLSServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		io.WriteString(rw, "secret at "+r.URL.Path)
	}))
	t.Cleanup(origin.Close)
	port := origin.Listener.Addr().(*net.TCPAddr).Port
	w := proxytest.New(t, proxytest.Options{ConnectPorts: []int{port}})

	tr := &http.Transport{
		Proxy:           http.ProxyURL(w.URL),
		TLSClientConfig: origin.Client().Transport.(*http.Transport).TLSClientConfig,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: connectWait}
	resp, err := client.Get(origin.URL + "/vault")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Errorf("got status %q, want 200", resp.Status)
	}
	if got, want := string(body), "secret at /vault"; got != want {
		t.Errorf("got body %q, want %q", got, want)
	}
	if resp.TLS == nil {
		t.Error("response did not come over TLS, want the origin's TLS through the tunnel")
	}

	// The record is written when the tunnel ends.
	tr.CloseIdleConnections()
	target := "127.0.0.1:" + strconv.Itoa(port)
	rec := connectRecord(t, w, target)
	if got, want := rec.Result, "TCP_TUNNEL"; got != want {
		t.Errorf("got result %q, want %q", got, want)
	}
	if rec.Status != http.StatusOK {
		t.Errorf("got status %d, want 200", rec.Status)
	}
	if rec.BytesIn <= 0 || rec.BytesOut <= 0 {
		t.Errorf("got bytes in %d, out %d, want both > 0", rec.BytesIn, rec.BytesOut)
	}
	if got, want := rec.Upstream, "127.0.0.1"; got != want {
		t.Errorf("got upstream %q, want %q", got, want)
	}
}

func TestConnectPortNotAllowed(t *testing.T) {
	t.Parallel()
	ln, port := connectListen(t)
	// Default ConnectPorts: 443 only.
	w := proxytest.New(t, proxytest.Options{})
	target := "127.0.0.1:" + strconv.Itoa(port)
	status, body := connectAsk(t, w, connectHead(target, ""), http.MethodConnect)
	if status != http.StatusForbidden {
		t.Errorf("got status %d, want 403", status)
	}
	if want := "port " + strconv.Itoa(port); !strings.Contains(body, want) {
		t.Errorf("got body %q, want it to name %q", body, want)
	}
	connectNoAccept(t, ln)
}

func TestConnectDialFailure(t *testing.T) {
	t.Parallel()
	// The listener holds port on 127.0.0.1 only, so a connection to the
	// same port on 127.0.0.2 is refused, and no other test can take the
	// port meanwhile (as it could after closing a listener).
	ln, port := connectListen(t)
	w := proxytest.New(t, proxytest.Options{ConnectPorts: []int{port}})
	target := "127.0.0.2:" + strconv.Itoa(port)

	c := w.Dial()
	c.SetDeadline(time.Now().Add(connectWait))
	if _, err := io.WriteString(c, connectHead(target, "")); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("reading status line: %v", err)
	}
	if got, want := line, "HTTP/1.1 502 Bad Gateway\r\n"; got != want {
		t.Fatalf("got status line %q, want %q", got, want)
	}
	resp, err := http.ReadResponse(bufio.NewReader(io.MultiReader(strings.NewReader(line), br)), &http.Request{Method: http.MethodConnect})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), target) {
		t.Errorf("got body %q, want it to name %q", body, target)
	}
	connectNoAccept(t, ln)
}

func TestConnectOKOnlyAfterDial(t *testing.T) {
	t.Parallel()
	ln, port := connectListen(t)
	w := proxytest.New(t, proxytest.Options{ConnectPorts: []int{port}})

	c, br := connectOpen(t, w, "127.0.0.1:"+strconv.Itoa(port))
	// The 200 has arrived, so the proxy's connection is already made.
	oc := connectAcceptQueued(t, ln, 100*time.Millisecond)
	if oc == nil {
		t.Fatal("after the 200, no connection queued at the origin; want the proxy's connection waiting")
	}
	defer oc.Close()
	oc.SetDeadline(time.Now().Add(connectWait))

	io.WriteString(c, "client hello")
	if got, want := connectReadN(t, oc, len("client hello")), "client hello"; got != want {
		t.Errorf("origin got %q, want %q", got, want)
	}
	io.WriteString(oc, "server hello")
	if got, want := connectReadN(t, br, len("server hello")), "server hello"; got != want {
		t.Errorf("client got %q, want %q", got, want)
	}
}

func TestConnectPipelinedBytes(t *testing.T) {
	t.Parallel()
	ln, port := connectListen(t)
	w := proxytest.New(t, proxytest.Options{ConnectPorts: []int{port}})
	target := "127.0.0.1:" + strconv.Itoa(port)

	// A client that does not wait for the 200 (as TLS false start or a
	// pipelining client might) sends its first bytes with the head.
	c := w.Dial()
	const early = "\x16\x03\x01 early bytes"
	if _, err := io.WriteString(c, connectHead(target, "")+early); err != nil {
		t.Fatal(err)
	}
	oc := connectAccept(t, ln)
	if got := connectReadN(t, oc, len(early)); got != early {
		t.Errorf("origin got %q, want %q", got, early)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("got status %q, want 200", resp.Status)
	}
	io.WriteString(c, "more")
	if got, want := connectReadN(t, oc, 4), "more"; got != want {
		t.Errorf("origin got %q, want %q", got, want)
	}
}

func TestConnectHalfClose(t *testing.T) {
	t.Parallel()
	ln, port := connectListen(t)
	w := proxytest.New(t, proxytest.Options{ConnectPorts: []int{port}})
	c, br := connectOpen(t, w, "127.0.0.1:"+strconv.Itoa(port))
	oc := connectAccept(t, ln)

	io.WriteString(c, "ping")
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	// The origin sees the client's half-close as EOF, and can still answer.
	oc.SetReadDeadline(time.Now().Add(connectWait))
	got, err := io.ReadAll(oc)
	if err != nil {
		t.Fatalf("origin read to EOF: got %q, %v", got, err)
	}
	if string(got) != "ping" {
		t.Errorf("origin got %q, want %q", got, "ping")
	}
	if _, err := io.WriteString(oc, "pong"); err != nil {
		t.Fatalf("origin write after client half-close: %v", err)
	}
	oc.Close()

	c.SetReadDeadline(time.Now().Add(connectWait))
	got, err = io.ReadAll(br)
	if err != nil {
		t.Fatalf("client read to EOF: got %q, %v", got, err)
	}
	if string(got) != "pong" {
		t.Errorf("client got %q, want %q", got, "pong")
	}
}

func TestConnectIdleTunnelClosed(t *testing.T) {
	t.Parallel()
	ln, port := connectListen(t)
	w := proxytest.New(t, proxytest.Options{ConnectPorts: []int{port}, TunnelIdleTimeout: 300 * time.Millisecond})
	target := "127.0.0.1:" + strconv.Itoa(port)
	c, br := connectOpen(t, w, target)
	oc := connectAccept(t, ln)

	connectExpectClosed(t, c, br, "client end of an idle tunnel")
	connectExpectClosed(t, oc, oc, "origin end of an idle tunnel")
	rec := connectRecord(t, w, target)
	if got, want := rec.Error, "tunnel idle timeout"; got != want {
		t.Errorf("got log error %q, want %q", got, want)
	}
}

// TestConnectTricklingTunnelSurvives: the idle timeout is an idle
// deadline, not a total one. Bytes every 100ms keep a tunnel with a 2s
// idle timeout open for twice that, whichever way they flow: a
// download's client is silent for as long as the download runs. (The
// timeout is long next to the 100ms gaps so that a slow test machine
// cannot make the tunnel really idle: a 1s timeout was seen to expire.)
func TestConnectTricklingTunnelSurvives(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		up, down bool // which directions carry the trickle
	}{
		{"both ways", true, true},
		{"client to origin only", true, false},
		{"origin to client only", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ln, port := connectListen(t)
			w := proxytest.New(t, proxytest.Options{ConnectPorts: []int{port}, TunnelIdleTimeout: 2 * time.Second})
			c, br := connectOpen(t, w, "127.0.0.1:"+strconv.Itoa(port))
			oc := connectAccept(t, ln)

			const ticks = 40
			upGot, downGot := make(chan error, 1), make(chan error, 1)
			if tc.up {
				go func() { _, err := io.ReadFull(oc, make([]byte, ticks)); upGot <- err }()
			}
			if tc.down {
				go func() { _, err := io.ReadFull(br, make([]byte, ticks)); downGot <- err }()
			}
			for range ticks {
				if tc.up {
					if _, err := io.WriteString(c, "u"); err != nil {
						t.Fatalf("client write: %v", err)
					}
				}
				if tc.down {
					if _, err := io.WriteString(oc, "d"); err != nil {
						t.Fatalf("origin write: %v", err)
					}
				}
				time.Sleep(100 * time.Millisecond)
			}
			if tc.up {
				if err := <-upGot; err != nil {
					t.Fatalf("origin reading the trickle: %v", err)
				}
			}
			if tc.down {
				if err := <-downGot; err != nil {
					t.Fatalf("client reading the trickle: %v", err)
				}
			}
			// Still open both ways.
			io.WriteString(c, "still")
			if got, want := connectReadN(t, oc, 5), "still"; got != want {
				t.Errorf("origin got %q, want %q", got, want)
			}
			io.WriteString(oc, "here")
			if got, want := connectReadN(t, br, 4), "here"; got != want {
				t.Errorf("client got %q, want %q", got, want)
			}
		})
	}
}

// TestConnectBulkThenInteractive: after megabytes have gone through a
// tunnel one way (the direction now batches its wake-ups), small messages
// still cross it both ways as they are sent, not when more bytes come.
func TestConnectBulkThenInteractive(t *testing.T) {
	t.Parallel()
	for _, down := range []bool{true, false} {
		ln, port := connectListen(t)
		w := proxytest.New(t, proxytest.Options{ConnectPorts: []int{port}, TunnelIdleTimeout: 5 * time.Second})
		c, br := connectOpen(t, w, "127.0.0.1:"+strconv.Itoa(port))
		oc := connectAccept(t, ln)
		bulk := bytes.Repeat([]byte("bulk"), 1<<20) // 4 MiB
		var from io.Writer = c
		var to io.Reader = oc
		if down {
			from, to = oc, br
		}
		go from.Write(bulk)
		got := make([]byte, len(bulk))
		if _, err := io.ReadFull(to, got); err != nil || !bytes.Equal(got, bulk) {
			t.Fatalf("down=%v: bulk transfer: %v", down, err)
		}
		c.SetReadDeadline(time.Now().Add(connectWait))
		oc.SetReadDeadline(time.Now().Add(connectWait))
		for i := range 10 {
			ping := fmt.Sprintf("ping %d", i)
			io.WriteString(c, ping)
			if got := connectReadN(t, oc, len(ping)); got != ping {
				t.Fatalf("down=%v: origin got %q, want %q", down, got, ping)
			}
			pong := fmt.Sprintf("pong %d", i)
			io.WriteString(oc, pong)
			if got := connectReadN(t, br, len(pong)); got != pong {
				t.Fatalf("down=%v: client got %q, want %q", down, got, pong)
			}
		}
	}
}

// TestConnectSlowReaderLosesNothing: an origin that stops reading for
// twice the idle timeout, while it keeps sending, neither gets its tunnel
// closed (bytes are moving) nor loses any of the bytes that queued up for
// it meanwhile. (The timeout is 20 times the gaps in the origin's
// sending, so that a slow test machine cannot make the tunnel idle.)
func TestConnectSlowReaderLosesNothing(t *testing.T) {
	t.Parallel()
	// More than loopback socket buffers hold, so the proxy's writes to
	// the origin block while it does not read.
	sent := bytes.Repeat([]byte("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!"), 16<<20/63)
	ln, port := connectListen(t)
	w := proxytest.New(t, proxytest.Options{ConnectPorts: []int{port}, TunnelIdleTimeout: 2 * time.Second})
	c, br := connectOpen(t, w, "127.0.0.1:"+strconv.Itoa(port))
	oc := connectAccept(t, ln)

	wrote := make(chan error, 1)
	go func() {
		_, err := c.Write(sent)
		if err == nil {
			err = c.CloseWrite()
		}
		wrote <- err
	}()
	const ticks = 40
	trickled := make(chan error, 1)
	go func() { _, err := io.ReadFull(br, make([]byte, ticks)); trickled <- err }()
	for range ticks {
		if _, err := io.WriteString(oc, "d"); err != nil {
			t.Fatalf("origin write: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := <-trickled; err != nil {
		t.Fatalf("client reading the trickle: %v", err)
	}

	// Moving the bytes takes a moment on a slow machine; the generous
	// bound only turns a hang into a failure.
	oc.SetReadDeadline(time.Now().Add(30 * time.Second))
	got := make([]byte, len(sent)+1)
	n, err := io.ReadFull(oc, got)
	got = got[:n]
	if err != io.ErrUnexpectedEOF {
		t.Errorf("origin read: got %v after %d bytes, want EOF after %d", err, n, len(sent))
	}
	if err := <-wrote; err != nil {
		t.Errorf("client write: %v", err)
	}
	if !bytes.Equal(got, sent) {
		i := 0
		for i < len(got) && got[i] == sent[i] {
			i++
		}
		t.Fatalf("origin got %d bytes, want %d; they differ from byte %d on", len(got), len(sent), i)
	}
}

// TestConnectIdleWhenNeitherEndReads: when both ends stop reading, every
// byte in flight is stuck and nothing moves, so the idle timeout closes
// the tunnel even though both directions have writes pending.
func TestConnectIdleWhenNeitherEndReads(t *testing.T) {
	t.Parallel()
	ln, port := connectListen(t)
	w := proxytest.New(t, proxytest.Options{ConnectPorts: []int{port}, TunnelIdleTimeout: 300 * time.Millisecond})
	c, _ := connectOpen(t, w, "127.0.0.1:"+strconv.Itoa(port))
	oc := connectAccept(t, ln)

	// Each end writes until something gives: with nobody reading, the
	// buffers on the way fill and the writes block, until the proxy
	// closes the tunnel (the write fails) or the test's deadline passes.
	chunk := make([]byte, 1<<20)
	type result struct {
		who string
		err error
	}
	results := make(chan result, 2)
	for who, end := range map[string]net.Conn{"client": c, "origin": oc} {
		end.SetWriteDeadline(time.Now().Add(connectWait))
		go func() {
			for {
				if _, err := end.Write(chunk); err != nil {
					results <- result{who, err}
					return
				}
			}
		}()
	}
	for range 2 {
		if r := <-results; errors.Is(r.err, os.ErrDeadlineExceeded) {
			t.Errorf("%s: write still blocked after %v; want the proxy to close the idle tunnel", r.who, connectWait)
		}
	}
}

func TestConnectTunnelsTracked(t *testing.T) {
	t.Parallel()
	ln, port := connectListen(t)
	w := proxytest.New(t, proxytest.Options{ConnectPorts: []int{port}})
	if n := w.Tunnels.Open(); n != 0 {
		t.Fatalf("before any tunnel: got %d open, want 0", n)
	}
	c, _ := connectOpen(t, w, "127.0.0.1:"+strconv.Itoa(port))
	oc := connectAccept(t, ln)
	connectPoll(t, "open tunnel not tracked", func() bool { return w.Tunnels.Open() == 1 })

	c.Close()
	oc.Close()
	connectPoll(t, "closed tunnel still tracked", func() bool { return w.Tunnels.Open() == 0 })
}

func TestConnectViaLoop(t *testing.T) {
	t.Parallel()
	const pseudonym = "sluice-test"
	for _, tc := range []struct {
		via  string
		want int
	}{
		{"1.1 sluice-test", http.StatusLoopDetected},
		{"1.0 sluice-test", http.StatusLoopDetected},
		{"1.1 sluice-test:3128", http.StatusLoopDetected},
		{"1.1 sluice-test (sluice)", http.StatusLoopDetected},
		{"1.1 corp-proxy, HTTP/1.1 sluice-test", http.StatusLoopDetected},
		{"1.1 sluice-testing", http.StatusOK},
		{"1.1 corp-proxy", http.StatusOK},
	} {
		t.Run(tc.via, func(t *testing.T) {
			t.Parallel()
			ln, port := connectListen(t)
			w := proxytest.New(t, proxytest.Options{ConnectPorts: []int{port}, Pseudonym: pseudonym})
			target := "127.0.0.1:" + strconv.Itoa(port)
			status, body := connectAsk(t, w, connectHead(target, "Via: "+tc.via+"\r\n"), http.MethodConnect)
			if status != tc.want {
				t.Fatalf("got status %d, want %d (body %q)", status, tc.want, body)
			}
			if tc.want == http.StatusOK {
				connectAccept(t, ln)
				return
			}
			connectNoAccept(t, ln)
		})
	}
}

// The RFC 6455 §1.3 example key and its accept value.
const (
	connectWSKey    = "dGhlIHNhbXBsZSBub25jZQ=="
	connectWSAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
)

// connectWSOrigin completes a WebSocket handshake if the request arrived
// with the upgrade intact, then echoes bytes until the client closes.
func connectWSOrigin(t *testing.T, w *proxytest.World) *httptest.Server {
	return w.Origin(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if !connectHasToken(r.Header.Values("Connection"), "upgrade") ||
			!strings.EqualFold(r.Header.Get("Upgrade"), "websocket") ||
			r.Header.Get("Sec-WebSocket-Key") != connectWSKey ||
			r.Header.Get("Sec-WebSocket-Version") != "13" {
			http.Error(rw, fmt.Sprintf("not a WebSocket handshake: %q", r.Header), http.StatusBadRequest)
			return
		}
		c, brw, err := http.NewResponseController(rw).Hijack()
		if err != nil {
			t.Errorf("origin hijack: %v", err)
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Accept: " + connectWSAccept + "\r\n\r\n")
		if err := brw.Flush(); err != nil {
			return
		}
		io.Copy(c, brw)
	}))
}

func connectHasToken(vals []string, token string) bool {
	for _, v := range vals {
		for part := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), token) {
				return true
			}
		}
	}
	return false
}

func TestWebSocketUpgrade(t *testing.T) {
	t.Parallel()
	const pseudonym = "sluice-ws"
	for _, conn := range []string{"Upgrade", "upgrade", "keep-alive, Upgrade"} {
		t.Run(conn, func(t *testing.T) {
			t.Parallel()
			w := proxytest.New(t, proxytest.Options{Pseudonym: pseudonym})
			origin := connectWSOrigin(t, w)
			host := strings.TrimPrefix(origin.URL, "http://")

			c := w.Dial()
			io.WriteString(c, "GET http://"+host+"/chat HTTP/1.1\r\nHost: "+host+"\r\n"+
				"Upgrade: websocket\r\nConnection: "+conn+"\r\n"+
				"Sec-WebSocket-Key: "+connectWSKey+"\r\nSec-WebSocket-Version: 13\r\n\r\n")
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet})
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusSwitchingProtocols {
				body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
				t.Fatalf("got %q %q, want 101", resp.Status, body)
			}
			for _, h := range []struct{ name, want string }{
				{"Upgrade", "websocket"},
				{"Connection", "Upgrade"},
				{"Sec-WebSocket-Accept", connectWSAccept},
				{"Via", "1.1 " + pseudonym},
			} {
				if got := resp.Header.Get(h.name); got != h.want {
					t.Errorf("got %s %q, want %q", h.name, got, h.want)
				}
			}

			for _, msg := range []string{"hello", "and again"} {
				io.WriteString(c, msg)
				if got := connectReadN(t, br, len(msg)); got != msg {
					t.Errorf("got echo %q, want %q", got, msg)
				}
			}
		})
	}
}

func TestUpgradeOtherThanWebSocketStripped(t *testing.T) {
	t.Parallel()
	w := proxytest.New(t, proxytest.Options{})
	origin := w.Origin(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(rw, "upgrade=%q connection=%q settings=%q",
			r.Header.Values("Upgrade"), r.Header.Values("Connection"), r.Header.Values("Http2-Settings"))
	}))
	host := strings.TrimPrefix(origin.URL, "http://")
	resp := w.Raw("GET http://"+host+"/ HTTP/1.1\r\nHost: "+host+"\r\n"+
		"Upgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n", http.MethodGet)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("got status %q, want 200", resp.Status)
	}
	body, _ := io.ReadAll(resp.Body)
	if got, want := string(body), `upgrade=[] connection=[] settings=[]`; got != want {
		t.Errorf("origin saw %q, want %q", got, want)
	}
	if v := resp.Header.Values("Upgrade"); len(v) > 0 {
		t.Errorf("got response Upgrade %q, want none", v)
	}
}
