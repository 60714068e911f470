package upstream_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"sluice/internal/upstream"
)

// pipeOrigin returns a DialContext whose connections are in-memory pipes to
// an origin that reads each request's body and answers "ok" with keep-alive, and a count of connections the
// origin saw closed. For use in a synctest bubble.
func pipeOrigin() (dial func(context.Context, string, string) (net.Conn, error), closed *atomic.Int32) {
	closed = new(atomic.Int32)
	dial = func(context.Context, string, string) (net.Conn, error) {
		client, server := net.Pipe()
		go func() {
			defer closed.Add(1)
			defer server.Close()
			br := bufio.NewReader(server)
			for {
				req, err := http.ReadRequest(br)
				if err != nil {
					return
				}
				if _, err := io.Copy(io.Discard, req.Body); err != nil {
					return
				}
				io.WriteString(server, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			}
		}()
		return client, nil
	}
	return dial, closed
}

// TestJanitorDefaultTimeout checks the default IdleConnTimeout of 90s on a
// fake clock: a connection idle for less is kept, one idle for longer is
// closed by the janitor (which runs every 45s) without any request.
func TestJanitorDefaultTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dial, closed := pipeOrigin()
		tr := &upstream.Transport{DialContext: dial}
		defer tr.CloseIdleConnections()
		if _, body := get(t, tr, "http://origin.test/"); body != "ok" {
			t.Fatalf("got %q", body)
		}

		time.Sleep(89 * time.Second)
		synctest.Wait()
		if n := tr.IdleConns(); n != 1 {
			t.Fatalf("after 89s idle: IdleConns got %d, want 1", n)
		}
		// Still reusable: the clock restarts when it goes back idle.
		get(t, tr, "http://origin.test/")
		time.Sleep(89 * time.Second)
		synctest.Wait()
		if n, c := tr.IdleConns(), closed.Load(); n != 1 || c != 0 {
			t.Fatalf("after reuse and 89s idle: IdleConns %d, closed %d; want 1, 0", n, c)
		}

		time.Sleep(46 * time.Second) // past 90s, and past the next tick
		synctest.Wait()
		if n, c := tr.IdleConns(), closed.Load(); n != 0 || c != 1 {
			t.Fatalf("after 135s idle: IdleConns %d, closed %d; want 0, 1", n, c)
		}
	})
}

// TestJanitorStopsWithCloseIdleConnections: synctest fails the test if
// the janitor goroutine outlives the bubble.
func TestJanitorStopsWithCloseIdleConnections(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dial, closed := pipeOrigin()
		tr := &upstream.Transport{DialContext: dial, IdleConnTimeout: time.Minute}
		get(t, tr, "http://origin.test/")
		tr.CloseIdleConnections()
		synctest.Wait()
		if c := closed.Load(); c != 1 {
			t.Errorf("closed: got %d, want 1", c)
		}
	})
}

// lateEOFBody yields its data, then takes a moment to report EOF, like a
// body writer goroutine that is scheduled late.
type lateEOFBody struct {
	data string
	late time.Duration
}

func (b *lateEOFBody) Read(p []byte) (int, error) {
	if b.data == "" {
		time.Sleep(b.late)
		return 0, io.EOF
	}
	n := copy(p, b.data)
	b.data = b.data[n:]
	return n, nil
}

func (b *lateEOFBody) Close() error { return nil }

// TestUploadKeepsConn: the origin has the whole body and has answered; the
// body writer notices EOF a moment later. The connection is fine and must
// go back to the pool.
//
// It guards a fixed bug: exchange.finish called settle, which abandoned a
// writer that had not reported yet and closed the connection. On loopback
// that happened without any delay to about one upload in ten, whenever the
// writer goroutine was scheduled after the caller had read the response.
func TestUploadKeepsConn(t *testing.T) {
	for _, cl := range []int64{5, -1} {
		synctest.Test(t, func(t *testing.T) {
			dial, closed := pipeOrigin()
			tr := &upstream.Transport{DialContext: dial}
			defer tr.CloseIdleConnections()
			req, _ := http.NewRequest("POST", "http://origin.test/", &lateEOFBody{data: "hello", late: time.Millisecond})
			req.ContentLength = cl
			if cl < 0 {
				// The origin cannot answer before the chunked body ends.
				req.Body.(*lateEOFBody).late = 0
			}
			resp, err := tr.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			if b, err := io.ReadAll(resp.Body); err != nil || string(b) != "ok" {
				t.Fatalf("got %q, %v", b, err)
			}
			resp.Body.Close()
			time.Sleep(time.Second) // let any writer finish
			synctest.Wait()
			if n, c := tr.IdleConns(), closed.Load(); n != 1 || c != 0 {
				t.Errorf("ContentLength %d: IdleConns %d, closed %d; want 1, 0", cl, n, c)
			}
		})
	}
}
