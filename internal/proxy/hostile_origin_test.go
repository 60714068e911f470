package proxy_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"sluice/internal/proxytest"
)

// hostileServer is an origin on a bare listener: for each request it
// reads, answer writes whatever it likes to the connection. An answer
// that returns false is hostile: the origin then sends nothing more and
// waits for the proxy to close the connection, and records whether it
// did within hostileWait.
type hostileServer struct {
	ln   net.Listener
	host string // origin.test:port

	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []net.Conn
	ends  []error // one per hostile answer: nil when the proxy closed in time
}

func newHostileServer(t *testing.T, answer func(c net.Conn, r *http.Request) (keep bool)) *hostileServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	s := &hostileServer{ln: ln, host: "origin.test:" + port}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				s.serve(c, answer)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for _, c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

func (s *hostileServer) serve(c net.Conn, answer func(net.Conn, *http.Request) bool) {
	br := bufio.NewReader(c)
	for {
		// An idle keep-alive connection is the proxy's to keep; only a
		// hostile answer obliges it to close.
		c.SetReadDeadline(time.Time{})
		r, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		io.Copy(io.Discard, r.Body)
		c.SetWriteDeadline(time.Now().Add(hostileWait))
		if answer(c, r) {
			continue
		}
		c.SetReadDeadline(time.Now().Add(hostileWait))
		_, err = io.Copy(io.Discard, br)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			err = fmt.Errorf("the proxy left the connection open for %v after a hostile response", hostileWait)
		} else {
			err = nil // EOF or a reset: closed
		}
		s.mu.Lock()
		s.ends = append(s.ends, err)
		s.mu.Unlock()
		return
	}
}

// closedByProxy requires that every hostile answer was followed by the
// proxy closing that connection.
func (s *hostileServer) closedByProxy(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(2 * hostileWait)
	for {
		s.mu.Lock()
		ends := append([]error(nil), s.ends...)
		s.mu.Unlock()
		if len(ends) > 0 {
			for _, err := range ends {
				if err != nil {
					t.Error(err)
				}
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the origin never saw the end of its hostile connection")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// hostileWrite sends s, ignoring errors: a hostile origin does not care
// whether the proxy is still listening.
func hostileWrite(c net.Conn, s string) { io.WriteString(c, s) }

// hostileSecond is the answer to /second: what a fresh, honest exchange
// gives.
func hostileSecond(c net.Conn, r *http.Request) bool {
	hostileWrite(c, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond")
	return true
}

// hostileStatus answers with a fixed head or message.
func hostileStatus(resp string) func(net.Conn, *http.Request) bool {
	return func(c net.Conn, r *http.Request) bool {
		hostileWrite(c, resp)
		return false
	}
}

// hostileClose writes resp and closes the connection.
func hostileClose(resp string) func(net.Conn, *http.Request) bool {
	return func(c net.Conn, r *http.Request) bool {
		hostileWrite(c, resp)
		c.Close()
		return false
	}
}

// TestHostileOrigins points the proxy at origins that break HTTP in the
// ways a hostile or broken server does. The client gets 502 (504 where
// the proxy's upstream timeout fires) with a page naming the host; the
// proxy closes the origin's connection; and a second request on the
// same client connection gets its own answer or a closed connection,
// never bytes of the first response.
func TestHostileOrigins(t *testing.T) {
	lo := []netip.Addr{netip.MustParseAddr("127.0.0.1")}
	// Every origin but the slow drip must get its (bad) head to the proxy
	// within the upstream timeout, so it is long enough for a loaded
	// machine.
	const upstreamTimeout = 2 * time.Second
	w := proxytest.New(t, proxytest.Options{
		Resolver:        proxytest.StaticResolver{"origin.test": lo},
		UpstreamTimeout: upstreamTimeout,
		NoAccessLog:     true,
	})
	base := runtime.NumGoroutine()

	t.Run("head", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			answer func(net.Conn, *http.Request) bool
			status int
		}{
			{"huge header", hostileStatus("HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("a", 300<<10) + "\r\n\r\n"), 502},
			{"endless header", func(c net.Conn, r *http.Request) bool {
				hostileWrite(c, "HTTP/1.1 200 OK\r\n")
				lines := strings.Repeat("X-Endless: 0123456789abcdef\r\n", 64)
				for {
					if _, err := io.WriteString(c, lines); err != nil {
						return false
					}
				}
			}, 502},
			{"slow drip", func(c net.Conn, r *http.Request) bool {
				// One byte every 100ms, and the head never ends.
				drip := "HTTP/1.1 200 OK\r\n" + strings.Repeat("X-Drip: y\r\n", 100)
				for i := 0; i < len(drip); i++ {
					if _, err := io.WriteString(c, drip[i:i+1]); err != nil {
						return false
					}
					time.Sleep(100 * time.Millisecond)
				}
				return false
			}, 504},
			{"status 99", hostileStatus("HTTP/1.1 99 x\r\nContent-Length: 0\r\n\r\n"), 502},
			{"status 600", hostileStatus("HTTP/1.1 600 x\r\nContent-Length: 0\r\n\r\n"), 502},
			{"status -20", hostileStatus("HTTP/1.1 -20 x\r\nContent-Length: 0\r\n\r\n"), 502},
			{"status abc", hostileStatus("HTTP/1.1 abc\r\nContent-Length: 0\r\n\r\n"), 502},
			{"reason glued on", hostileStatus("HTTP/1.1 200OK\r\nContent-Length: 0\r\n\r\n"), 502},
			{"two spaces", hostileStatus("HTTP/1.1  200 OK\r\nContent-Length: 0\r\n\r\n"), 502},
			{"ICY", hostileStatus("ICY 200 OK\r\nContent-Length: 0\r\n\r\n"), 502},
			{"HTTP/2", hostileStatus("HTTP/2 200\r\nContent-Length: 0\r\n\r\n"), 502},
			{"HTTP/2.0", hostileStatus("HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n"), 502},
			{"empty line then garbage", hostileStatus("\r\n\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n"), 502},
			{"SSH banner", hostileStatus("SSH-2.0-OpenSSH_9.6\r\n"), 502},
			{"NUL in reason", hostileStatus("HTTP/1.1 200 O\x00K\r\nContent-Length: 0\r\n\r\n"), 502},
			{"obs-fold", hostileStatus("HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 0\r\n\r\n"), 502},
			{"space before colon", hostileStatus("HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n"), 502},
			{"CR in value", hostileStatus("HTTP/1.1 200 OK\r\nX-A: a\rContent-Length: 9\r\nContent-Length: 0\r\n\r\n"), 502},
			{"head cut short", hostileClose("HTTP/1.1 200 OK\r\nContent-Le"), 502},
			{"closed without a word", hostileClose(""), 502},
		} {
			t.Run(tc.name, func(t *testing.T) {
				o := newHostileServer(t, tc.answer)
				c := w.Dial()
				defer c.Close() // now, not when the parent test ends: see "goroutines"
				c.SetDeadline(time.Now().Add(hostileWait))
				br := bufio.NewReader(c)
				start := time.Now()
				status, body := hostileGet(t, c, br, o.host, "/first")
				if status != tc.status {
					t.Errorf("got status %d (%q), want %d", status, body, tc.status)
				}
				if !strings.Contains(body, o.host) {
					t.Errorf("error page %q does not name %s", body, o.host)
				}
				if tc.status == 504 && time.Since(start) > 2*upstreamTimeout {
					t.Errorf("504 after %v, want about the %v upstream timeout", time.Since(start), upstreamTimeout)
				}
				o.closedByProxy(t)
			})
		}
	})

	t.Run("framing", func(t *testing.T) {
		// Each origin answers /first as the case says and /second
		// honestly. The client sends both on one connection.
		lateSent := make(chan struct{}, 1)
		for _, tc := range []struct {
			name   string
			method string // of the first request
			first  func(net.Conn, *http.Request) bool
			status int           // of the first response; 0 when its body breaks off
			body   string        // of the first response, when status is 200
			late   chan struct{} // if not nil, signalled once first has sent its late bytes
		}{
			{name: "CL and TE", first: hostileStatus("HTTP/1.1 200 OK\r\nContent-Length: 48\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled"), status: 502},
			{name: "TE and CL", first: hostileStatus("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n2e\r\nHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled\r\n0\r\n\r\n"), status: 502},
			{name: "differing CLs", first: hostileStatus("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 43\r\n\r\nhelloHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled"), status: 502},
			{name: "CL list differing", first: hostileStatus("HTTP/1.1 200 OK\r\nContent-Length: 5, 43\r\n\r\nhelloHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled"), status: 502},
			{name: "CL not a number", first: hostileStatus("HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello"), status: 502},
			{name: "TE not chunked", first: hostileStatus("HTTP/1.1 200 OK\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n"), status: 502},
			{name: "invalid chunk size mid-body", first: hostileStatus("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\nHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled\r\n0\r\n\r\n")},
			{name: "chunk size overflow mid-body", first: hostileStatus("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n10000000000000005\r\nworld\r\n0\r\n\r\n")},
			{name: "chunk data overlong", first: hostileStatus("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello, world\r\n0\r\n\r\n")},
			// Responses whose bytes go on past their end: the extra bytes
			// must not become the answer to the next request.
			{name: "bytes after a CL body", first: hostileStatus("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled"), status: 200, body: "hello"},
			{name: "bytes after the last chunk", first: hostileStatus("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled"), status: 200, body: "hello"},
			{name: "body on a 204", first: hostileStatus("HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled"), status: 204},
			{name: "body on a 304", first: hostileStatus("HTTP/1.1 304 Not Modified\r\nContent-Length: 43\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled"), status: 304},
			{name: "body on a HEAD response", method: "HEAD", first: hostileStatus("HTTP/1.1 200 OK\r\nContent-Length: 43\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled"), status: 200},
			{name: "unsolicited response later", first: func(c net.Conn, r *http.Request) bool {
				hostileWrite(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
				time.Sleep(50 * time.Millisecond)
				hostileWrite(c, "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled")
				select {
				case lateSent <- struct{}{}:
				default:
				}
				return false
			}, status: 200, body: "hello", late: lateSent},
		} {
			t.Run(tc.name, func(t *testing.T) {
				o := newHostileServer(t, func(c net.Conn, r *http.Request) bool {
					if r.URL.Path == "/second" {
						return hostileSecond(c, r)
					}
					return tc.first(c, r)
				})
				c := w.Dial()
				defer c.Close() // now, not when the parent test ends: see "goroutines"
				c.SetDeadline(time.Now().Add(hostileWait))
				br := bufio.NewReader(c)
				method := tc.method
				if method == "" {
					method = "GET"
				}
				io.WriteString(c, method+" http://"+o.host+"/first HTTP/1.1\r\nHost: "+o.host+"\r\n\r\n")
				resp, err := http.ReadResponse(br, &http.Request{Method: method})
				if err != nil && tc.status == 0 {
					// The body broke before any of it was sent, and the
					// connection was closed without a response: allowed.
					if errors.Is(err, os.ErrDeadlineExceeded) {
						t.Fatalf("no response and no close within %v", hostileWait)
					}
					o.closedByProxy(t)
					return
				}
				if err != nil {
					t.Fatalf("first response: %v", err)
				}
				body, err := io.ReadAll(resp.Body)
				switch {
				case tc.status == 0:
					// The headers went out before the body broke: the
					// client must see the body fail, not end.
					if err == nil {
						t.Errorf("first body %q ended cleanly, want it cut off", body)
					}
					if strings.Contains(string(body), "smuggled") {
						t.Errorf("first body %q carries the smuggled response", body)
					}
				case err != nil:
					t.Fatalf("first body: %v", err)
				case resp.StatusCode != tc.status:
					t.Errorf("first: got %d %q, want %d", resp.StatusCode, body, tc.status)
				case tc.status == 502 && !strings.Contains(string(body), o.host):
					t.Errorf("error page %q does not name %s", body, o.host)
				case tc.status == 200 && string(body) != tc.body:
					t.Errorf("first body: got %q, want %q", body, tc.body)
				}
				// Late bytes have time to arrive before the next request.
				if tc.late != nil {
					select {
					case <-tc.late:
					case <-time.After(hostileWait):
						t.Fatal("the origin did not send its late bytes")
					}
				}
				time.Sleep(100 * time.Millisecond)

				status, second := hostileGet(t, c, br, o.host, "/second")
				switch {
				case status == 0:
					// The proxy closed the client connection: allowed.
				case status != 200 || second != "second":
					t.Errorf("second: got %d %q, want 200 %q or a closed connection", status, second, "second")
				}
				o.closedByProxy(t)
			})
		}
	})

	// An origin that fails while the client is still sending the body:
	// the proxy answers 502, and the rest of the body is never read by
	// two goroutines at once, nor taken for a request.
	t.Run("fails mid-upload", func(t *testing.T) {
		o := newHostileServer(t, func(c net.Conn, r *http.Request) bool {
			if r.URL.Path == "/second" {
				return hostileSecond(c, r)
			}
			return false
		})
		// The origin above reads whole requests; this one answers as
		// soon as the head is in.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		done := make(chan struct{})
		go func() {
			defer close(done)
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(hostileWait))
			br := bufio.NewReader(c)
			if _, err := http.ReadRequest(br); err != nil {
				return
			}
			hostileWrite(c, "garbage\r\n\r\n")
			io.Copy(io.Discard, br) // until the proxy closes
		}()
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		host := "127.0.0.1:" + port

		c := w.Dial()
		defer c.Close()
		c.SetDeadline(time.Now().Add(hostileWait))
		br := bufio.NewReader(c)
		io.WriteString(c, "POST http://"+host+"/upload HTTP/1.1\r\nHost: "+host+"\r\nContent-Length: 10\r\n\r\nhello")
		resp, err := http.ReadResponse(br, &http.Request{Method: "POST"})
		if err != nil {
			t.Fatalf("response: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != 502 {
			t.Errorf("got %d, want 502", resp.StatusCode)
		}
		// The rest of the body, then a request that must be answered
		// on its own or not at all.
		io.WriteString(c, "world")
		status, body := hostileGet(t, c, br, o.host, "/second")
		if status != 0 && (status != 200 || body != "second") {
			t.Errorf("after the upload: got %d %q, want 200 %q or a closed connection", status, body, "second")
		}
		<-done
	})

	// Resources: every origin connection ended (checked above), and the
	// goroutines of those exchanges are gone once the clients are.
	t.Run("goroutines", func(t *testing.T) {
		w.Transport.CloseIdleConnections()
		deadline := time.Now().Add(hostileWait)
		for {
			n := runtime.NumGoroutine()
			if n <= base+3 {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Fatalf("%d goroutines, %d at the start:\n%s", n, base, buf)
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// hostileGet sends a GET for path on c and returns the status and body of
// the answer, or status 0 when the connection was closed instead.
func hostileGet(t *testing.T, c net.Conn, br *bufio.Reader, host, path string) (int, string) {
	t.Helper()
	if _, err := io.WriteString(c, "GET http://"+host+path+" HTTP/1.1\r\nHost: "+host+"\r\n\r\n"); err != nil {
		return 0, ""
	}
	resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("no answer to %s within %v", path, hostileWait)
		}
		return 0, ""
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the answer to %s: %v", path, err)
	}
	return resp.StatusCode, string(body)
}
