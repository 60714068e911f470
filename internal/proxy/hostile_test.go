package proxy_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sluice/internal/proxytest"
)

// hostileWait bounds every read and wait in the hostile-input tests: the
// proxy answers a malformed request at once, and a hostile origin within
// the upstream timeout (2s), so a test that reaches it has found a hang,
// not a slow machine.
const hostileWait = 10 * time.Second

// hostileOrigin is an httptest origin that counts what reaches it: every
// TCP connection its listener accepts (so that a head forwarded without a
// body, or a bare dial, is seen), every request head its handler gets, and
// every request it reads whole, body included.
type hostileOrigin struct {
	srv  *httptest.Server
	port string
	ln   *hostileListener

	heads  atomic.Int64
	whole  atomic.Int64
	active atomic.Int64 // handlers running

	mu  sync.Mutex
	got []*http.Request // whole requests, Body replaced by the body read
}

// hostileListener records the remote address of every connection it
// accepts. Connections from sentinel addresses (see connections) are not
// the proxy's and are not counted.
type hostileListener struct {
	net.Listener
	mu       sync.Mutex
	accepted []string
	sentinel map[string]bool
}

func (l *hostileListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.mu.Lock()
		l.accepted = append(l.accepted, c.RemoteAddr().String())
		l.mu.Unlock()
	}
	return c, err
}

func newHostileOrigin(t *testing.T) *hostileOrigin {
	t.Helper()
	o := &hostileOrigin{}
	o.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		o.active.Add(1)
		defer o.active.Add(-1)
		o.heads.Add(1)
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return // the body broke off: not a whole request
		}
		o.whole.Add(1)
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		o.mu.Lock()
		o.got = append(o.got, r)
		o.mu.Unlock()
		io.WriteString(rw, "ok")
	}))
	o.ln = &hostileListener{Listener: o.srv.Listener, sentinel: map[string]bool{}}
	o.srv.Listener = o.ln
	o.srv.Start()
	t.Cleanup(o.srv.Close)
	_, o.port, _ = net.SplitHostPort(o.srv.Listener.Addr().String())
	return o
}

// connections returns how many connections the proxy opened to the
// origin. It first makes sure that any connection the proxy opened so
// far has been accepted: the listen queue is first in, first out, so once
// a sentinel connection dialled now has come out of Accept, every earlier
// one has too.
func (o *hostileOrigin) connections(t *testing.T) int {
	t.Helper()
	c, err := net.DialTimeout("tcp", o.ln.Addr().String(), hostileWait)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	me := c.LocalAddr().String()
	o.ln.mu.Lock()
	o.ln.sentinel[me] = true
	o.ln.mu.Unlock()
	deadline := time.Now().Add(hostileWait)
	for {
		o.ln.mu.Lock()
		n, seen := 0, false
		for _, a := range o.ln.accepted {
			switch {
			case a == me:
				seen = true
			case !o.ln.sentinel[a]:
				n++
			}
		}
		o.ln.mu.Unlock()
		if seen {
			return n
		}
		if time.Now().After(deadline) {
			t.Fatal("the origin did not accept a sentinel connection")
		}
		time.Sleep(time.Millisecond)
	}
}

// settle waits until no origin handler is running, so that a request
// whose body the proxy broke off has been counted as broken.
func (o *hostileOrigin) settle(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(hostileWait)
	for o.active.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("an origin handler is still reading a request body")
		}
		time.Sleep(time.Millisecond)
	}
}

func (o *hostileOrigin) requests() []*http.Request {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]*http.Request(nil), o.got...)
}

// What a hostile request may cause at the origin.
const (
	// reachNothing: no connection, no byte.
	reachNothing = iota
	// reachCut: the framing error comes after the head was forwarded
	// (a later write of the client's), so the origin may see a head
	// and a body that breaks off, but never a whole request.
	reachCut
	// reachWhole: the request is valid and arrives whole (check says
	// how).
	reachWhole
)

// hostileRequests are raw requests as a client sends them. In raw, {o}
// stands for origin.test:port (a name that resolves to the origin, so
// that a request the proxy wrongly forwards does reach it) and {p} for
// the port; "{pause}" splits the bytes into two writes 100ms apart.
//
// status is the answer to the last request; a case with reach ==
// reachWhole and status 400 is a pipeline whose first request is good
// (answered 200) and whose second is not. After a status other than 200
// the proxy must close the connection (unless keep), so nothing behind
// the rejected request is read as a request; every request hidden in a
// body goes to /smuggled, which must never reach the origin.
var hostileRequests = []struct {
	name   string
	raw    string
	status int
	reach  int
	keep   bool // the refusal is the handler's, after a well-framed request: the connection may stay open
	check  func(t *testing.T, r *http.Request)
}{
	// Content-Length and Transfer-Encoding together (RFC 9112 §6.3 ¶3:
	// a server may reject; a proxy that forwarded either reading would
	// let the other be smuggled).
	{name: "CL then TE", status: 400, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nContent-Length: 48\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET http://{o}/smuggled HTTP/1.1\r\nHost: {o}\r\n\r\n"},
	{name: "TE then CL", status: 400, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n5c\r\nGET http://{o}/smuggled HTTP/1.1\r\nHost: {o}\r\nContent-Length: 15\r\n\r\nx=\r\n0\r\n\r\n"},
	{name: "TE and CL 0", status: 400, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n0\r\n\r\n"},
	{name: "TE twice and CL", status: 400, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\nhello"},
	{name: "TE in HTTP/1.0", status: 400, raw: "POST http://{o}/ HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET http://{o}/smuggled HTTP/1.0\r\n\r\n"},

	// Obfuscated Transfer-Encoding. chunked must be the final coding and
	// appear once (RFC 9112 §6.1, §6.3 ¶4: otherwise 400 and close); a
	// known-final chunked after a coding sluice does not implement is
	// 501 (RFC 9112 §6.1).
	{name: "TE chunked, identity", status: 400, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n"},
	{name: "TE identity, chunked", status: 501, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nTransfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n"},
	{name: "TE gzip, chunked", status: 501, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"},
	{name: "TE gzip then chunked lines", status: 501, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
	{name: "TE gzip only", status: 400, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nTransfer-Encoding: gzip\r\n\r\n0\r\n\r\n"},
	{name: "TE xchunked", status: 400, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n"},
	{name: "TE chunkedx", status: 400, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nTransfer-Encoding: chunkedx\r\n\r\n0\r\n\r\n"},
	{name: "TE chunk", status: 400, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nTransfer-Encoding: chunk\r\n\r\n0\r\n\r\n"},
	{name: "TE chunked, chunked", status: 400, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n"},
	{name: "TE chunked twice", status: 400, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
	{name: "TE empty element first", status: 400, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nTransfer-Encoding: , chunked\r\n\r\n0\r\n\r\n"},
	{name: "TE empty element last", status: 400, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nTransfer-Encoding: chunked,\r\n\r\n0\r\n\r\n"},
	{name: "TE empty", status: 400, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nTransfer-Encoding:\r\n\r\n0\r\n\r\n"},
	{name: "TE quoted", status: 400, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nTransfer-Encoding: \"chunked\"\r\n\r\n0\r\n\r\n"},
	{name: "TE with parameter", status: 400, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nTransfer-Encoding: chunked;q=1\r\n\r\n0\r\n\r\n"},
	{name: "TE vertical tab", status: 400, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nTransfer-Encoding:\x0bchunked\r\n\r\n0\r\n\r\n"},
	{name: "TE form feed", status: 400, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nTransfer-Encoding: chunked\x0c\r\n\r\n0\r\n\r\n"},
	{name: "TE NUL", status: 400, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nTransfer-Encoding: chunked\x00\r\n\r\n0\r\n\r\n"},
	{name: "TE space before colon", status: 400, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n"},
	{name: "TE tab before colon", status: 400, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nTransfer-Encoding\t: chunked\r\n\r\n0\r\n\r\n"},
	{name: "TE folded onto request line", status: 400, raw: "POST http://{o}/ HTTP/1.1\r\n Transfer-Encoding: chunked\r\nHost: {o}\r\n\r\n0\r\n\r\n"},
	{name: "TE folded into a field", status: 400, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nX-Pad: a\r\n Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
	{name: "TE with underscore", status: 400, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nTransfer_Encoding: chunked\r\n\r\n0\r\n\r\n"},
	{name: "CL with underscore", status: 400, raw: "GET http://{o}/ HTTP/1.1\r\nHost: {o}\r\nContent_Length: 48\r\n\r\nGET http://{o}/smuggled HTTP/1.1\r\nHost: {o}\r\n\r\n"},

	// Content-Length: 1*DIGIT (RFC 9110 §8.6); a list of identical values
	// is tolerated, anything else is refused.
	{name: "CL list differing", status: 400, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nContent-Length: 5, 6\r\n\r\nhello!"},
	{name: "CL lines differing", status: 400, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"},
	{name: "CL plus", status: 400, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nContent-Length: +5\r\n\r\nhello"},
	{name: "CL minus", status: 400, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nContent-Length: -5\r\n\r\nhello"},
	{name: "CL hex", status: 400, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nContent-Length: 0x5\r\n\r\nhello"},
	{name: "CL exponent", status: 400, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nContent-Length: 5e0\r\n\r\nhello"},
	{name: "CL inner space", status: 400, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nContent-Length: 5 5\r\n\r\nhello"},
	{name: "CL trailing comma", status: 400, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nContent-Length: 5,\r\n\r\nhello"},
	{name: "CL leading comma", status: 400, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nContent-Length: ,5\r\n\r\nhello"},
	{name: "CL empty", status: 400, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nContent-Length: \r\n\r\nhello"},
	{name: "CL fullwidth digit", status: 400, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nContent-Length: \uff15\r\n\r\nhello"},
	{name: "CL overflow", status: 400, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nContent-Length: 18446744073709551621\r\n\r\nhello"},
	{name: "CL semicolon", status: 400, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nContent-Length: 5;\r\n\r\nhello"},
	{name: "CL on CONNECT", status: 400, raw: "CONNECT {o} HTTP/1.1\r\nHost: {o}\r\nContent-Length: 48\r\n\r\nGET http://{o}/smuggled HTTP/1.1\r\nHost: {o}\r\n\r\n"},
	{name: "TE on CONNECT", status: 400, raw: "CONNECT {o} HTTP/1.1\r\nHost: {o}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},

	// Chunk sizes (RFC 9112 §7.1: chunk-size = 1*HEXDIG, then optional
	// extensions after BWS ";", then CRLF). The whole body comes in the
	// same write as the head, so the server sees it before forwarding.
	{name: "chunk size 0x5", status: 400, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n"},
	{name: "chunk size -1", status: 400, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\nhello\r\n0\r\n\r\n"},
	{name: "chunk size +5", status: 400, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nTransfer-Encoding: chunked\r\n\r\n+5\r\nhello\r\n0\r\n\r\n"},
	{name: "chunk size space semicolon", status: 400, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nTransfer-Encoding: chunked\r\n\r\n5 ;\r\nhello\r\n0\r\n\r\n"},
	{name: "chunk size trailing space", status: 400, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n"},
	{name: "chunk size leading space", status: 400, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nTransfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n0\r\n\r\n"},
	{name: "chunk size empty", status: 400, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nTransfer-Encoding: chunked\r\n\r\n\r\nhello\r\n0\r\n\r\n"},
	{name: "chunk size bare LF", status: 400, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n"},
	{name: "chunk size 17 hex digits", status: 400, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000005\r\nhello\r\n0\r\n\r\n"},
	{name: "chunk size over int64", status: 400, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nhello\r\n0\r\n\r\n"},
	{name: "chunk size not hex", status: 400, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"},
	{name: "chunk ext without name", status: 400, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nTransfer-Encoding: chunked\r\n\r\n5;=x\r\nhello\r\n0\r\n\r\n"},
	{name: "chunk ext with CR", status: 400, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nTransfer-Encoding: chunked\r\n\r\n5;a\rb\r\nhello\r\n0\r\n\r\n"},
	{name: "chunk data too long", status: 400, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello!\r\n0\r\n\r\n"},
	{name: "chunk data without CRLF", status: 400, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello0\r\n\r\n"},
	{name: "chunk data bare LF", status: 400, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n"},
	{name: "second chunk invalid", status: 400, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n\r\n0\r\n\r\nGET http://{o}/smuggled HTTP/1.1\r\nHost: {o}\r\n\r\n"},
	{name: "trailer without colon", status: 400, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-Sum\r\n\r\n"},
	{name: "trailer NUL", status: 400, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-Sum: a\x00b\r\n\r\n"},
	{name: "trailer folded", status: 400, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-Sum: a\r\n b\r\n\r\n"},
	{name: "chunk invalid in a later write", status: 400, reach: reachCut, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n{pause}zz\r\n\r\n0\r\n\r\nGET http://{o}/smuggled HTTP/1.1\r\nHost: {o}\r\n\r\n"},
	{name: "chunk size 0x in a later write", status: 400, reach: reachCut, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nTransfer-Encoding: chunked\r\n\r\n{pause}0x5\r\nhello\r\n0\r\n\r\n"},

	// obs-fold (RFC 9112 §5.2: a server must reject it or unfold; sluice
	// rejects) and whitespace before the colon (RFC 9112 §5.1: 400).
	{name: "obs-fold space", status: 400, raw: "GET http://{o}/ HTTP/1.1\r\nHost: {o}\r\nX-A: a\r\n b\r\n\r\n"},
	{name: "obs-fold tab", status: 400, raw: "GET http://{o}/ HTTP/1.1\r\nHost: {o}\r\nX-A: a\r\n\tb\r\n\r\n"},
	{name: "obs-fold of Host", status: 400, raw: "GET http://{o}/ HTTP/1.1\r\nHost:\r\n {o}\r\n\r\n"},
	{name: "space before colon", status: 400, raw: "GET http://{o}/ HTTP/1.1\r\nHost : {o}\r\n\r\n"},
	{name: "tab before colon", status: 400, raw: "GET http://{o}/ HTTP/1.1\r\nHost: {o}\r\nX-A\t: b\r\n\r\n"},
	{name: "CL space before colon", status: 400, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nContent-Length : 5\r\n\r\nhello"},

	// NUL, CR and LF in a field (RFC 9110 §5.5: never valid).
	{name: "NUL in value", status: 400, raw: "GET http://{o}/ HTTP/1.1\r\nHost: {o}\r\nX-A: a\x00b\r\n\r\n"},
	{name: "NUL in name", status: 400, raw: "GET http://{o}/ HTTP/1.1\r\nHost: {o}\r\nX\x00A: b\r\n\r\n"},
	{name: "NUL in Host", status: 400, raw: "GET http://{o}/ HTTP/1.1\r\nHost: {o}\x00.evil.test\r\n\r\n"},
	{name: "CR in value", status: 400, raw: "GET http://{o}/ HTTP/1.1\r\nHost: {o}\r\nX-A: a\rTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
	{name: "CR before CRLF", status: 400, raw: "GET http://{o}/ HTTP/1.1\r\nHost: {o}\r\nX-A: a\r\r\n\r\n"},
	{name: "CR line", status: 400, raw: "GET http://{o}/ HTTP/1.1\r\nHost: {o}\r\n\r\r\n\r\n"},
	{name: "CR alone ends request line", status: 400, raw: "GET http://{o}/ HTTP/1.1\rHost: {o}\r\n\r\n"},
	{name: "DEL in value", status: 400, raw: "GET http://{o}/ HTTP/1.1\r\nHost: {o}\r\nX-A: \x7f\r\n\r\n"},
	{name: "escape in value", status: 400, raw: "GET http://{o}/ HTTP/1.1\r\nHost: {o}\r\nX-A: \x1b[31m\r\n\r\n"},

	// Bare LF as a line end. RFC 9112 §2.2 lets a recipient accept it;
	// sluice does not: an intermediary that reads lines differently from
	// the hop before it is how requests get smuggled.
	{name: "bare LF everywhere", status: 400, raw: "GET http://{o}/ HTTP/1.1\nHost: {o}\n\n"},
	{name: "bare LF after a field", status: 400, raw: "GET http://{o}/ HTTP/1.1\r\nHost: {o}\nX-A: b\r\n\r\n"},
	{name: "bare LF inside a value", status: 400, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nX-A: a\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
	{name: "bare LF blank line", status: 400, raw: "GET http://{o}/ HTTP/1.1\r\nHost: {o}\r\n\n"},
	{name: "bare LF before request line", status: 400, raw: "\nGET http://{o}/ HTTP/1.1\r\nHost: {o}\r\n\r\n"},

	// Request lines (RFC 9112 §3: method SP request-target SP version).
	{name: "two spaces after method", status: 400, raw: "GET  http://{o}/ HTTP/1.1\r\nHost: {o}\r\n\r\n"},
	{name: "two spaces before version", status: 400, raw: "GET http://{o}/  HTTP/1.1\r\nHost: {o}\r\n\r\n"},
	{name: "space after version", status: 400, raw: "GET http://{o}/ HTTP/1.1 \r\nHost: {o}\r\n\r\n"},
	{name: "tab separator", status: 400, raw: "GET\thttp://{o}/ HTTP/1.1\r\nHost: {o}\r\n\r\n"},
	{name: "leading space", status: 400, raw: " GET http://{o}/ HTTP/1.1\r\nHost: {o}\r\n\r\n"},
	{name: "no version", status: 400, raw: "GET http://{o}/\r\nHost: {o}\r\n\r\n"},
	{name: "lower-case version", status: 400, raw: "GET http://{o}/ http/1.1\r\nHost: {o}\r\n\r\n"},
	{name: "version suffix", status: 400, raw: "GET http://{o}/ HTTP/1.1x\r\nHost: {o}\r\n\r\n"},
	{name: "version 1.10", status: 400, raw: "GET http://{o}/ HTTP/1.10\r\nHost: {o}\r\n\r\n"},
	{name: "version 1.2", status: 505, raw: "GET http://{o}/ HTTP/1.2\r\nHost: {o}\r\n\r\n"},
	{name: "version 2.0", status: 505, raw: "GET http://{o}/ HTTP/2.0\r\nHost: {o}\r\n\r\n"},
	{name: "method not a token", status: 400, raw: "G(T http://{o}/ HTTP/1.1\r\nHost: {o}\r\n\r\n"},
	{name: "method non-ASCII", status: 400, raw: "G\xc3\x89T http://{o}/ HTTP/1.1\r\nHost: {o}\r\n\r\n"},
	{name: "space in target", status: 400, raw: "GET http://{o}/a b HTTP/1.1\r\nHost: {o}\r\n\r\n"},
	{name: "NUL in target", status: 400, raw: "GET http://{o}/a\x00b HTTP/1.1\r\nHost: {o}\r\n\r\n"},
	{name: "non-ASCII in target", status: 400, raw: "GET http://{o}/\xc3\xa9 HTTP/1.1\r\nHost: {o}\r\n\r\n"},
	{name: "fragment in target", status: 400, raw: "GET http://{o}/a#b HTTP/1.1\r\nHost: {o}\r\n\r\n"},
	{name: "fragment in origin-form", status: 400, raw: "GET /a#b HTTP/1.1\r\nHost: {o}\r\n\r\n"},
	{name: "bad percent escape", status: 400, raw: "GET http://{o}/%zz HTTP/1.1\r\nHost: {o}\r\n\r\n"},
	{name: "no scheme", status: 400, raw: "GET {o}/ HTTP/1.1\r\nHost: {o}\r\n\r\n"},
	{name: "one slash after scheme", status: 400, raw: "GET http:/{o}/ HTTP/1.1\r\nHost: {o}\r\n\r\n"},
	{name: "unsupported scheme", status: 501, keep: true, raw: "GET ftp://{o}/ HTTP/1.1\r\nHost: {o}\r\n\r\n"},
	{name: "asterisk for GET", status: 400, raw: "GET * HTTP/1.1\r\nHost: {o}\r\n\r\n"},
	{name: "request line too long", status: 431, raw: "GET http://{o}/" + strings.Repeat("a", 9<<10) + " HTTP/1.1\r\nHost: {o}\r\n\r\n"},
	{name: "header too large", status: 431, raw: "GET http://{o}/ HTTP/1.1\r\nHost: {o}\r\nX-Big: " + strings.Repeat("b", 9<<10) + "\r\n\r\n"},
	{name: "too many fields", status: 431, raw: "GET http://{o}/ HTTP/1.1\r\nHost: {o}\r\n" + strings.Repeat("X-A: b\r\n", 2000) + "\r\n"},
	{name: "five empty lines first", status: 400, raw: "\r\n\r\n\r\n\r\n\r\nGET http://{o}/ HTTP/1.1\r\nHost: {o}\r\n\r\n"},
	{name: "Expect other than 100-continue", status: 417, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nContent-Length: 5\r\nExpect: 200-ok\r\n\r\nhello"},

	// Hosts in the target (RFC 9112 §3.2.2; RFC 9110 §4.2.4: no
	// userinfo) and in Host. An IPv6 zone names an interface of the
	// proxy's machine; percent-encoding and raw non-ASCII let two
	// parsers read two hosts; IDNs arrive as valid punycode or not at
	// all.
	{name: "userinfo", status: 400, raw: "GET http://u:p@{o}/ HTTP/1.1\r\nHost: {o}\r\n\r\n"},
	{name: "user only", status: 400, raw: "GET http://u@{o}/ HTTP/1.1\r\nHost: {o}\r\n\r\n"},
	{name: "empty userinfo", status: 400, raw: "GET http://@{o}/ HTTP/1.1\r\nHost: {o}\r\n\r\n"},
	{name: "userinfo naming another host", status: 400, raw: "GET http://{o}@evil.test/ HTTP/1.1\r\nHost: {o}\r\n\r\n"},
	{name: "backslash before @", status: 400, raw: "GET http://{o}\\@evil.test/ HTTP/1.1\r\nHost: {o}\r\n\r\n"},
	{name: "IPv6 zone encoded", status: 400, raw: "GET http://[fe80::1%25eth0]:{p}/ HTTP/1.1\r\nHost: x\r\n\r\n"},
	{name: "IPv6 zone raw", status: 400, raw: "GET http://[::1%lo]:{p}/ HTTP/1.1\r\nHost: x\r\n\r\n"},
	{name: "IPv4 in brackets", status: 400, raw: "GET http://[127.0.0.1]:{p}/ HTTP/1.1\r\nHost: x\r\n\r\n"},
	{name: "not IPv6 in brackets", status: 400, raw: "GET http://[gg::1]:{p}/ HTTP/1.1\r\nHost: x\r\n\r\n"},
	{name: "IPv6 without brackets", status: 400, raw: "GET http://::1:{p}/ HTTP/1.1\r\nHost: x\r\n\r\n"},
	{name: "text after brackets", status: 400, raw: "GET http://[::1]x:{p}/ HTTP/1.1\r\nHost: x\r\n\r\n"},
	{name: "percent-encoded host", status: 400, raw: "GET http://ex%61mple.com:{p}/ HTTP/1.1\r\nHost: x\r\n\r\n"},
	{name: "percent-encoded dot", status: 400, raw: "GET http://origin%2etest:{p}/ HTTP/1.1\r\nHost: x\r\n\r\n"},
	{name: "raw non-ASCII host", status: 400, raw: "GET http://ex\xc3\xa4mple.test:{p}/ HTTP/1.1\r\nHost: x\r\n\r\n"},
	{name: "IDN empty punycode", status: 400, raw: "GET http://xn--:{p}/ HTTP/1.1\r\nHost: x\r\n\r\n"},
	{name: "IDN invalid punycode", status: 400, raw: "GET http://xn--zz.test:{p}/ HTTP/1.1\r\nHost: x\r\n\r\n"},
	{name: "IDN disallowed code point", status: 400, raw: "GET http://xn--a.test:{p}/ HTTP/1.1\r\nHost: x\r\n\r\n"},
	{name: "IDN ASCII only", status: 400, raw: "GET http://xn--abc-.test:{p}/ HTTP/1.1\r\nHost: x\r\n\r\n"},
	{name: "empty label", status: 400, raw: "GET http://origin..test:{p}/ HTTP/1.1\r\nHost: x\r\n\r\n"},
	{name: "leading dot", status: 400, raw: "GET http://.origin.test:{p}/ HTTP/1.1\r\nHost: x\r\n\r\n"},
	{name: "label too long", status: 400, raw: "GET http://" + strings.Repeat("a", 64) + ".test:{p}/ HTTP/1.1\r\nHost: x\r\n\r\n"},
	{name: "two ports", status: 400, raw: "GET http://{o}:{p}/ HTTP/1.1\r\nHost: x\r\n\r\n"},
	{name: "empty port", status: 400, raw: "GET http://origin.test:/ HTTP/1.1\r\nHost: x\r\n\r\n"},
	{name: "port 0", status: 400, raw: "GET http://origin.test:0/ HTTP/1.1\r\nHost: x\r\n\r\n"},
	{name: "port too big", status: 400, raw: "GET http://origin.test:65536/ HTTP/1.1\r\nHost: x\r\n\r\n"},
	{name: "port negative", status: 400, raw: "GET http://origin.test:-80/ HTTP/1.1\r\nHost: x\r\n\r\n"},
	{name: "space in host", status: 400, raw: "GET http://exa mple.com/ HTTP/1.1\r\nHost: x\r\n\r\n"},
	{name: "Host with userinfo", status: 400, raw: "GET http://{o}/ HTTP/1.1\r\nHost: u@{o}\r\n\r\n"},
	{name: "Host percent-encoded", status: 400, raw: "GET http://{o}/ HTTP/1.1\r\nHost: ex%61mple.com\r\n\r\n"},
	{name: "Host with zone", status: 400, raw: "GET http://{o}/ HTTP/1.1\r\nHost: [::1%25lo]\r\n\r\n"},
	{name: "Host bad IDN", status: 400, raw: "GET http://{o}/ HTTP/1.1\r\nHost: xn--\r\n\r\n"},
	{name: "Host list", status: 400, raw: "GET http://{o}/ HTTP/1.1\r\nHost: {o}, evil.test\r\n\r\n"},
	{name: "Host twice, same", status: 400, raw: "GET http://{o}/ HTTP/1.1\r\nHost: {o}\r\nHost: {o}\r\n\r\n"},
	{name: "Host twice, different", status: 400, raw: "GET http://{o}/ HTTP/1.1\r\nHost: {o}\r\nHost: evil.test\r\n\r\n"},
	{name: "Host missing, absolute-form", status: 400, raw: "GET http://{o}/ HTTP/1.1\r\n\r\n"},
	{name: "Host missing, origin-form", status: 400, raw: "GET / HTTP/1.1\r\n\r\n"},

	// Keep-alive: nothing behind a rejected request is read as a request.
	{name: "rejected then pipelined", status: 400, raw: "GET http://{o}/ HTTP/1.1\r\nHost : {o}\r\n\r\nGET http://{o}/smuggled HTTP/1.1\r\nHost: {o}\r\n\r\n"},
	{name: "good then rejected then pipelined", status: 400, reach: reachWhole, raw: "GET http://{o}/first HTTP/1.1\r\nHost: {o}\r\n\r\nGET http://{o}/ HTTP/1.1\r\nHost: {o}\r\nX-A: a\r\n b\r\n\r\nGET http://{o}/smuggled HTTP/1.1\r\nHost: {o}\r\n\r\n",
		check: hostilePath("/first")},
	{name: "Expect refused then pipelined", status: 417, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nContent-Length: 48\r\nExpect: 200-ok\r\n\r\nGET http://{o}/smuggled HTTP/1.1\r\nHost: {o}\r\n\r\n"},

	// Valid, if unusual: forwarded, and how.
	{name: "absolute-form wins over Host", status: 200, reach: reachWhole, raw: "GET http://{o}/h HTTP/1.1\r\nHost: evil.test\r\n\r\n",
		check: hostileHost("origin.test:{p}")},
	{name: "empty Host with absolute-form", status: 200, reach: reachWhole, raw: "GET http://{o}/h HTTP/1.1\r\nHost:\r\n\r\n",
		check: hostileHost("origin.test:{p}")},
	{name: "HTTP/1.0 without Host", status: 200, reach: reachWhole, raw: "GET http://{o}/h HTTP/1.0\r\n\r\n",
		check: hostileHost("origin.test:{p}")},
	// Methods are case-sensitive tokens (RFC 9110 §9.1): "get" is an
	// extension method, not GET, and is passed on as such.
	{name: "lower-case method", status: 200, reach: reachWhole, raw: "get http://{o}/m HTTP/1.1\r\nHost: {o}\r\n\r\n",
		check: hostileMethod("get")},
	// 1*DIGIT allows leading zeros; the origin gets the canonical form.
	{name: "CL leading zero", status: 200, reach: reachWhole, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nContent-Length: 05\r\n\r\nhello",
		check: hostileBody("hello", "5")},
	{name: "CL identical list", status: 200, reach: reachWhole, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nContent-Length: 5, 5\r\nContent-Length: 5\r\n\r\nhello",
		check: hostileBody("hello", "5")},
	{name: "TE with OWS and capitals", status: 200, reach: reachWhole, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nTransfer-Encoding: \t CHUNKED \t\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		check: hostileBody("hello", "")},
	{name: "chunk extensions", status: 200, reach: reachWhole, raw: "POST http://{o}/ HTTP/1.1\r\nHost: {o}\r\nTransfer-Encoding: chunked\r\n\r\n2 ; a=b;c\r\nhe\r\n3;d=\"x;y\"\r\nllo\r\n0;e\r\nX-Sum: 1\r\n\r\n",
		check: hostileBody("hello", "")},
	{name: "IDN punycode", status: 200, reach: reachWhole, raw: "GET http://xn--bcher-kva.test:{p}/ HTTP/1.1\r\nHost: xn--bcher-kva.test:{p}\r\n\r\n",
		check: hostileHost("xn--bcher-kva.test:{p}")},
	{name: "trailing dot", status: 200, reach: reachWhole, raw: "GET http://origin.test.:{p}/ HTTP/1.1\r\nHost: x\r\n\r\n",
		check: hostileHost("origin.test.:{p}")},
	{name: "one empty line first", status: 200, reach: reachWhole, raw: "\r\nGET http://{o}/ HTTP/1.1\r\nHost: {o}\r\n\r\n"},
}

func hostilePath(path string) func(*testing.T, *http.Request) {
	return func(t *testing.T, r *http.Request) {
		if r.URL.Path != path {
			t.Errorf("origin got path %q, want %q", r.URL.Path, path)
		}
	}
}

// hostileHost checks the Host the origin got; {p} is left for the caller
// to expand, as in raw.
func hostileHost(host string) func(*testing.T, *http.Request) {
	return func(t *testing.T, r *http.Request) {
		_, port, _ := net.SplitHostPort(r.Context().Value(http.LocalAddrContextKey).(net.Addr).String())
		if want := strings.ReplaceAll(host, "{p}", port); r.Host != want {
			t.Errorf("origin got Host %q, want %q", r.Host, want)
		}
	}
}

func hostileMethod(m string) func(*testing.T, *http.Request) {
	return func(t *testing.T, r *http.Request) {
		if r.Method != m {
			t.Errorf("origin got method %q, want %q", r.Method, m)
		}
	}
}

// hostileBody checks the body and the Content-Length ("" for chunked).
func hostileBody(body, cl string) func(*testing.T, *http.Request) {
	return func(t *testing.T, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if string(b) != body {
			t.Errorf("origin got body %q, want %q", b, body)
		}
		if got := r.Header.Get("Content-Length"); got != cl {
			t.Errorf("origin got Content-Length %q, want %q", got, cl)
		}
		if cl == "" && (len(r.TransferEncoding) != 1 || r.TransferEncoding[0] != "chunked") {
			t.Errorf("origin got Transfer-Encoding %q, want chunked", r.TransferEncoding)
		}
	}
}

// TestHostileRequests sends each hostile request on its own connection to
// a real proxy in front of a fresh origin, and checks the status, that
// the connection closes after a refusal, and what reached the origin:
// for a refused request nothing at all, not even a connection.
func TestHostileRequests(t *testing.T) {
	lo := []netip.Addr{netip.MustParseAddr("127.0.0.1")}
	// Every name a lenient parser might make of a hostile target leads
	// to the origin, so that forwarding it would be seen there.
	res := proxytest.StaticResolver{"origin.test": lo, "origin.test.": lo, "example.com": lo, "xn--": lo,
		"xn--zz.test": lo, "xn--a.test": lo, "xn--abc-.test": lo, "xn--bcher-kva.test": lo, "origin..test": lo}
	w := proxytest.New(t, proxytest.Options{Resolver: res, MaxHeaderBytes: 8 << 10, UpstreamTimeout: 2 * time.Second, NoAccessLog: true})
	for _, tc := range hostileRequests {
		t.Run(tc.name, func(t *testing.T) {
			o := newHostileOrigin(t)
			raw := strings.ReplaceAll(tc.raw, "{o}", "origin.test:{p}")
			raw = strings.ReplaceAll(raw, "{p}", o.port)
			c := w.Dial()
			defer c.Close() // at once: a request the proxy is still streaming holds the origin
			c.SetDeadline(time.Now().Add(hostileWait))
			for i, part := range strings.Split(raw, "{pause}") {
				if i > 0 {
					time.Sleep(100 * time.Millisecond)
				}
				if _, err := io.WriteString(c, part); err != nil {
					t.Fatalf("write: %v", err)
				}
			}
			want := []int{tc.status}
			if tc.reach == reachWhole && tc.status != 200 {
				want = []int{200, tc.status}
			}
			br := bufio.NewReader(c)
			var got []int
			for len(got) < len(want) {
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("after statuses %v: reading a response: %v; want statuses %v", got, err, want)
				}
				io.Copy(io.Discard, resp.Body)
				got = append(got, resp.StatusCode)
			}
			if !slices.Equal(got, want) {
				t.Errorf("got statuses %v, want %v", got, want)
			}
			if tc.status != 200 && !tc.keep {
				hostileExpectClosed(t, c, br)
			}

			conns := o.connections(t)
			o.settle(t)
			heads, whole := o.heads.Load(), o.whole.Load()
			for _, r := range o.requests() {
				if r.URL.Path == "/smuggled" {
					t.Errorf("a request smuggled in the body reached the origin: %s %s", r.Method, r.URL)
				}
			}
			switch tc.reach {
			case reachNothing:
				if conns != 0 || heads != 0 {
					t.Errorf("origin got %d connections and %d request heads, want nothing", conns, heads)
				}
			case reachCut:
				if whole != 0 {
					t.Errorf("origin got %d whole requests, want none", whole)
				}
			case reachWhole:
				if whole != 1 || heads != 1 {
					t.Fatalf("origin got %d request heads, %d whole, want exactly one", heads, whole)
				}
				if tc.check != nil {
					tc.check(t, o.requests()[0])
				}
			}
		})
	}
}

// hostileExpectClosed requires the proxy to close c, sending nothing more.
func hostileExpectClosed(t *testing.T, c net.Conn, br *bufio.Reader) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(hostileWait))
	rest, err := io.ReadAll(br)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("connection still open %v after a refusal", hostileWait)
	}
	if len(rest) > 0 {
		t.Errorf("got %q after the refusal, want the connection closed", rest)
	}
}
