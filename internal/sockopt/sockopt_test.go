package sockopt

import (
	"net"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

func unsentLimit(t *testing.T, c net.Conn) int {
	t.Helper()
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var gerr error
	rc.Control(func(fd uintptr) {
		v, gerr = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT)
	})
	if gerr != nil {
		t.Fatal(gerr)
	}
	return v
}

// Both ends get the bound: the accepted one through Tune, the dialed one
// through Control. The kernel's default (no bound) reads back as -1.
func TestBound(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("TCP_NOTSENT_LOWAT is set on Linux only")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	d := net.Dialer{Control: Control}
	dc, err := d.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	ac, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer ac.Close()
	if got := unsentLimit(t, ac); got == UnsentLimit {
		t.Fatalf("accepted socket has the bound before Tune: %d", got)
	}
	Tune(ac)
	if got := unsentLimit(t, ac); got != UnsentLimit {
		t.Errorf("accepted socket: unsent limit %d, want %d", got, UnsentLimit)
	}
	if got := unsentLimit(t, dc); got != UnsentLimit {
		t.Errorf("dialed socket: unsent limit %d, want %d", got, UnsentLimit)
	}
}
