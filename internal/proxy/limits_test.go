package proxy_test

import (
	"bufio"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"sluice/internal/proxytest"
)

// TestBodyLimit: with max_body_bytes, a declared oversized body never
// reaches the origin, and a chunked one that grows past the limit is cut
// off there and answered 413; bodies within the limit pass whole.
func TestBodyLimit(t *testing.T) {
	w := proxytest.New(t, proxytest.Options{MaxBodyBytes: 1000})
	var requests, complete atomic.Int32
	origin := w.Origin(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		n, err := io.Copy(io.Discard, r.Body)
		if err == nil {
			complete.Add(1)
		}
		io.WriteString(rw, strings.Repeat("x", int(n%10)))
	}))
	host := origin.Listener.Addr().String()
	send := func(head, body string) (int, string) {
		t.Helper()
		c := w.Dial()
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		go io.WriteString(c, head+body) // the proxy may answer before reading it all
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("no answer: %v", err)
		}
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	if st, _ := send("POST http://"+host+"/ HTTP/1.1\r\nHost: "+host+"\r\nContent-Length: 1000\r\n\r\n", strings.Repeat("a", 1000)); st != 200 {
		t.Fatalf("1000 bytes with Content-Length: %d", st)
	}
	st, body := send("POST http://"+host+"/ HTTP/1.1\r\nHost: "+host+"\r\nContent-Length: 1001\r\n\r\n", strings.Repeat("a", 1001))
	if st != http.StatusRequestEntityTooLarge {
		t.Fatalf("1001 bytes with Content-Length: %d %q", st, body)
	}
	if requests.Load() != 1 {
		t.Fatalf("the oversized declared body reached the origin")
	}

	chunk := strings.Repeat("b", 600)
	st, body = send("POST http://"+host+"/ HTTP/1.1\r\nHost: "+host+"\r\nTransfer-Encoding: chunked\r\n\r\n",
		"258\r\n"+chunk+"\r\n258\r\n"+chunk+"\r\n0\r\n\r\n")
	if st != http.StatusRequestEntityTooLarge || !strings.Contains(body, host) {
		t.Fatalf("1200 chunked bytes: %d %q", st, body)
	}
	if complete.Load() != 1 {
		t.Fatalf("the origin received %d complete bodies, want only the first", complete.Load())
	}
	if st, _ := send("POST http://"+host+"/ HTTP/1.1\r\nHost: "+host+"\r\nTransfer-Encoding: chunked\r\n\r\n", "258\r\n"+chunk+"\r\n0\r\n\r\n"); st != 200 {
		t.Fatalf("600 chunked bytes: %d", st)
	}
}
