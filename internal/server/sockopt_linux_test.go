package server

import (
	"net"
	"net/http"
	"testing"

	"golang.org/x/sys/unix"

	"sluice/internal/sockopt"
)

// Every accepted client socket carries sluice's bound on unsent bytes.
func TestAcceptBoundsUnsent(t *testing.T) {
	got := make(chan int, 1)
	ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		c, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			got <- -2
			return
		}
		defer c.Close()
		v := -2
		if tc, ok := c.(*net.TCPConn); ok {
			if rc, err := tc.SyscallConn(); err == nil {
				rc.Control(func(fd uintptr) { v, _ = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT) })
			}
		}
		got <- v
	}, nil)
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	if v := <-got; v != sockopt.UnsentLimit {
		t.Fatalf("accepted socket: TCP_NOTSENT_LOWAT = %d, want %d", v, sockopt.UnsentLimit)
	}
}
