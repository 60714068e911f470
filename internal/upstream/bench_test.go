package upstream

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkRoundTrip is a keep-alive GET of a 1 KiB body from a loopback
// origin; most of its time is the origin and the network.
func BenchmarkRoundTrip(b *testing.B) {
	body := strings.Repeat("x", 1<<10)
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, body)
	}))
	defer o.Close()
	tr := &Transport{DialContext: (&net.Dialer{}).DialContext}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, o.URL+"/page", nil)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 4<<10)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		resp, err := tr.RoundTrip(req)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.ReadFull(resp.Body, buf[:len(body)])
		if err != nil || n != len(body) {
			b.Fatalf("read %d: %v", n, err)
		}
		if n, err := resp.Body.Read(buf); n != 0 || err != io.EOF {
			b.Fatalf("after the body: %d, %v", n, err)
		}
		resp.Body.Close()
	}
	if n := tr.IdleConns(); n != 1 {
		b.Errorf("IdleConns: got %d, want 1", n)
	}
}

// nginxHead is a typical response head with nine fields.
const nginxHead = "HTTP/1.1 200 OK\r\n" +
	"Server: nginx/1.25.3\r\n" +
	"Date: Mon, 01 Jan 2024 00:00:00 GMT\r\n" +
	"Content-Type: text/html; charset=utf-8\r\n" +
	"Content-Length: 1024\r\n" +
	"Connection: keep-alive\r\n" +
	"Vary: Accept-Encoding\r\n" +
	"ETag: \"65920c80-400\"\r\n" +
	"Accept-Ranges: bytes\r\n" +
	"Cache-Control: max-age=3600\r\n" +
	"\r\n"

func BenchmarkParseHead(b *testing.B) {
	req := &http.Request{Method: http.MethodGet}
	b.ReportAllocs()
	b.SetBytes(int64(len(nginxHead)))
	for b.Loop() {
		resp, err := parseHead(nginxHead, req)
		if err != nil {
			b.Fatal(err)
		}
		if len(resp.Header) != 9 {
			b.Fatalf("got %d fields", len(resp.Header))
		}
	}
}
