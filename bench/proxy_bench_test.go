// Package bench holds end-to-end benchmarks of sluice's per-request path:
// a real proxy on loopback between a minimal origin and minimal clients,
// so that the numbers are dominated by the proxy. Run:
//
//	go test -run=^$ -bench=. -benchmem ./bench/
//	go test -run=^$ -bench=Pass1K -cpuprofile=cpu.out ./bench/ && go tool pprof -top cpu.out
//
// The side-by-side comparison with Squid and friends is
// ../shared/bench/compare.sh; see bench/README.md.
package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"sluice/internal/cache/store/mem"
	"sluice/internal/proxytest"
)

// rawOrigin answers every request on a keep-alive connection with the
// same canned response, at near-zero cost, so the benchmark measures the
// proxy, not net/http's server.
func rawOrigin(b *testing.B, body []byte) string { return rawOriginCC(b, body, "no-store") }

// rawOriginCC is rawOrigin with the given Cache-Control and a current Date.
func rawOriginCC(b *testing.B, body []byte, cc string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	date := time.Now().UTC().Format(http.TimeFormat)
	resp := fmt.Appendf(nil, "HTTP/1.1 200 OK\r\nServer: bench\r\nDate: %s\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\nLast-Modified: Tue, 24 Nov 2026 00:00:00 GMT\r\nConnection: keep-alive\r\nETag: \"abc-400\"\r\nCache-Control: %s\r\nAccept-Ranges: bytes\r\n\r\n%s", date, len(body), cc, body)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					// Read one request head (the benchmark sends no bodies).
					for {
						line, err := br.ReadSlice('\n')
						if err != nil {
							return
						}
						if len(line) <= 2 {
							break
						}
					}
					if _, err := c.Write(resp); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// client sends requests through the proxy on one keep-alive connection
// and reads each response fully.
type client struct {
	c   net.Conn
	br  *bufio.Reader
	req []byte
}

func newClient(b *testing.B, proxy, target string) *client {
	c, err := net.Dial("tcp", proxy)
	if err != nil {
		b.Fatal(err)
	}
	return &client{c: c, br: bufio.NewReaderSize(c, 64<<10),
		req: []byte("GET http://" + target + "/1k HTTP/1.1\r\nHost: " + target + "\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")}
}

func (cl *client) do() error {
	if _, err := cl.c.Write(cl.req); err != nil {
		return err
	}
	n := int64(-1)
	for {
		line, err := cl.br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) <= 2 {
			break
		}
		if bytes.HasPrefix(line, []byte("Content-Length: ")) {
			n, _ = strconv.ParseInt(string(bytes.TrimSpace(line[16:])), 10, 64)
		}
	}
	if n < 0 {
		return fmt.Errorf("no Content-Length")
	}
	_, err := cl.br.Discard(int(n))
	return err
}

func benchPass(b *testing.B, size int) {
	w := proxytest.New(b, proxytest.Options{NoAccessLog: true})
	origin := rawOrigin(b, bytes.Repeat([]byte("x"), size))
	benchClients(b, w, origin, size)
}

func benchClients(b *testing.B, w *proxytest.World, origin string, size int) {
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.SetParallelism(8) // 8 × GOMAXPROCS keep-alive clients
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		cl := newClient(b, w.Addr, origin)
		defer cl.c.Close()
		for pb.Next() {
			if err := cl.do(); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkPass1K is compare.sh's pass-1k scenario in miniature: 1 KiB
// responses forwarded through the proxy on keep-alive connections.
func BenchmarkPass1K(b *testing.B) { benchPass(b, 1024) }

// BenchmarkPass64K forwards larger responses, where body copying dominates.
func BenchmarkPass64K(b *testing.B) { benchPass(b, 64<<10) }

// BenchmarkSerial1K is one client, one request at a time: the latency
// added by the proxy per request.
func BenchmarkSerial1K(b *testing.B) {
	w := proxytest.New(b, proxytest.Options{NoAccessLog: true})
	origin := rawOrigin(b, bytes.Repeat([]byte("x"), 1024))
	cl := newClient(b, w.Addr, origin)
	defer cl.c.Close()
	b.ReportAllocs()
	for b.Loop() {
		if err := cl.do(); err != nil {
			b.Fatal(err)
		}
	}
}

func memStore(b *testing.B) *mem.Store {
	st := mem.New(mem.Options{Capacity: 64 << 20})
	b.Cleanup(func() { st.Close() })
	return st
}

// BenchmarkHit1K is compare.sh's hit-1k scenario in miniature: a cached
// 1 KiB response served from the memory tier on keep-alive connections.
func BenchmarkHit1K(b *testing.B) {
	w := proxytest.New(b, proxytest.Options{NoAccessLog: true, Store: memStore(b)})
	origin := rawOriginCC(b, bytes.Repeat([]byte("x"), 1024), "max-age=3600")
	benchClients(b, w, origin, 1024)
}

// BenchmarkPass1KCacheOn is BenchmarkPass1K with the cache in front: the
// cost the cache adds to responses it may not store.
func BenchmarkPass1KCacheOn(b *testing.B) {
	w := proxytest.New(b, proxytest.Options{NoAccessLog: true, Store: memStore(b)})
	origin := rawOrigin(b, bytes.Repeat([]byte("x"), 1024))
	benchClients(b, w, origin, 1024)
}
