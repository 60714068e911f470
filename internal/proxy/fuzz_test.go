package proxy_test

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"sluice/internal/proxytest"
)

// FuzzProxyRequest sends arbitrary bytes to a real proxy on loopback, in
// front of an origin that counts what it receives. "ORIGIN" in the input is
// replaced by the origin's host:port so the fuzzer can reach it. Whatever
// arrives, the proxy must not crash, must answer with a well-formed status
// line (or close), must not let a complete request reach the origin when
// it rejects the first request as malformed, and must still serve a normal
// request afterwards.
func FuzzProxyRequest(f *testing.F) {
	seeds := []string{
		"GET http://ORIGIN/ HTTP/1.1\r\nHost: ORIGIN\r\n\r\n",
		"POST http://ORIGIN/p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
		"POST http://ORIGIN/p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n",
		"POST http://ORIGIN/ HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"POST http://ORIGIN/ HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
		"POST http://ORIGIN/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n",
		"POST http://ORIGIN/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\n",
		"GET http://ORIGIN/ HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n",
		"GET http://ORIGIN/ HTTP/1.1\r\nHost : x\r\n\r\n",
		"GET http://ORIGIN/ HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n",
		"GET http://user:pass@ORIGIN/ HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET http://[::1%25eth0]:80/ HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET http://ex%61mple.com/ HTTP/1.1\r\nHost: x\r\n\r\n",
		"CONNECT ORIGIN HTTP/1.1\r\nHost: ORIGIN\r\n\r\n",
		"CONNECT :443 HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET http://ORIGIN/ HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET http://ORIGIN/ HTTP/1.0\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
		"TRACE http://ORIGIN/ HTTP/1.1\r\nMax-Forwards: 0\r\n\r\n",
		"GET http://ORIGIN/ HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
		"\r\n\r\nGET http://ORIGIN/ HTTP/1.1\r\n\r\n",
		"GARBAGE\r\n\r\n",
		"GET ftp://ORIGIN/ HTTP/1.1\r\n\r\n",
		"GET http://ORIGIN/ HTTP/2.0\r\n\r\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	// Names resolve through a table, never real DNS: on a machine without
	// a resolver a mutated host name would stall an input for seconds.
	w := proxytest.New(f, proxytest.Options{ConnectPorts: []int{443}, HeaderTimeout: time.Second,
		NoAccessLog: true, Resolver: proxytest.StaticResolver{}})
	var received atomic.Int64
	origin := w.Origin(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		// Count only complete requests: a head may be forwarded before a
		// malformed body is discovered, and the origin then sees the
		// body break off, never a whole request.
		if _, err := io.Copy(io.Discard, r.Body); err == nil {
			received.Add(1)
		}
		io.WriteString(rw, "ok")
	}))
	originAddr := []byte(origin.Listener.Addr().String())
	client := w.Client()

	f.Fuzz(func(t *testing.T, data []byte) {
		data = bytes.ReplaceAll(data, []byte("ORIGIN"), originAddr)
		before := received.Load()
		c, err := net.Dial("tcp", w.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(3 * time.Second))
		c.Write(data)
		c.(*net.TCPConn).CloseWrite()
		br := bufio.NewReader(c)
		line, err := br.ReadString('\n')
		if err == nil {
			if len(line) < 12 || (line[:9] != "HTTP/1.1 " && line[:9] != "HTTP/1.0 ") {
				t.Fatalf("malformed status line %q", line)
			}
			code, err := strconv.Atoi(line[9:12])
			if err != nil || code < 100 || code > 599 {
				t.Fatalf("bad status in %q", line)
			}
			if (code == 400 || code == 431) && received.Load() != before {
				t.Fatalf("rejected as %d yet the origin received a request", code)
			}
		}
		io.Copy(io.Discard, br)

		resp, err := client.Get(origin.URL + "/after")
		if err != nil {
			t.Fatalf("proxy no longer serves after input: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("proxy answers %d after input", resp.StatusCode)
		}
	})
}
