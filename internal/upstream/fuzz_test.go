package upstream

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// FuzzParseHead feeds arbitrary bytes to the response head parser. Seeds
// are in testdata/fuzz/FuzzParseHead.
func FuzzParseHead(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		resp, err := parseHead(string(data), nil)
		if err != nil {
			if resp != nil {
				t.Errorf("got a response and error %v", err)
			}
			return
		}
		if resp.StatusCode < 100 || resp.StatusCode > 599 {
			t.Errorf("StatusCode %d out of range", resp.StatusCode)
		}
		if resp.ProtoMajor != 1 || resp.ProtoMinor < 0 || resp.ProtoMinor > 9 {
			t.Errorf("Proto %d.%d", resp.ProtoMajor, resp.ProtoMinor)
		}
		if hasCTL(resp.Status) {
			t.Errorf("control character in Status %q", resp.Status)
		}
		for name, vals := range resp.Header {
			if _, ok := checkName(name); !ok || name == "" {
				t.Errorf("invalid header name %q", name)
			}
			if len(vals) == 0 {
				t.Errorf("header %q has no values", name)
			}
			for _, v := range vals {
				if hasCTL(v) {
					t.Errorf("control character in %s value %q", name, v)
				}
			}
		}
		if _, err := contentLength(resp.Header["Content-Length"]); err != nil && !errors.Is(err, ErrProtocol) {
			t.Errorf("contentLength: %v does not wrap ErrProtocol", err)
		}
	})
}

// hasCTL reports whether s holds a control character other than tab.
func hasCTL(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return true
		}
	}
	return false
}

// Flags for FuzzResponse's request.
const (
	fuzzHead    = 1 << iota // HEAD instead of GET
	fuzzUpgrade             // ask to switch protocols
	fuzzSmall               // MaxResponseHeaderBytes 256
)

// FuzzResponse has an origin on loopback answer with the fuzz bytes and
// close; a round trip and reading the body must end, without a panic or a
// hang. Seeds are in testdata/fuzz/FuzzResponse.
func FuzzResponse(f *testing.F) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	payloads := make(chan []byte, 1)
	served := make(chan struct{})
	go func() {
		defer close(served)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			// Read the request first, so that closing does not reset
			// the connection under a response the client has not read.
			c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
				c.Write(<-payloads)
			}
			c.Close()
		}
	}()
	f.Cleanup(func() {
		ln.Close()
		<-served
	})
	url := "http://" + ln.Addr().String() + "/"

	f.Fuzz(func(t *testing.T, resp []byte, flags byte) {
		tr := &Transport{
			DialContext:    (&net.Dialer{}).DialContext,
			MaxIdlePerHost: -1, // one connection, and one payload, per round trip
		}
		defer tr.CloseIdleConnections()
		if flags&fuzzSmall != 0 {
			tr.MaxResponseHeaderBytes = 256
		}
		method := http.MethodGet
		if flags&fuzzHead != 0 {
			method = http.MethodHead
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, method, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if flags&fuzzUpgrade != 0 {
			req.Header.Set("Connection", "Upgrade")
			req.Header.Set("Upgrade", "fuzz")
		}
		payloads <- resp
		done := make(chan struct{})
		go func() {
			defer close(done)
			res, err := tr.RoundTrip(req)
			if err != nil {
				return
			}
			if res.Body == nil {
				t.Errorf("nil Body with status %d", res.StatusCode)
				return
			}
			io.ReadAll(res.Body)
			res.Body.Close()
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("round trip hung on %q", resp)
		}
		// A round trip that failed before dialling leaves its payload.
		select {
		case <-payloads:
		default:
		}
	})
}
