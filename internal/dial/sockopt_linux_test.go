package dial

import (
	"net"
	"testing"

	"golang.org/x/sys/unix"

	"sluice/internal/sockopt"
)

// Every dialed origin socket carries sluice's bound on unsent bytes.
func TestDialBoundsUnsent(t *testing.T) {
	o := newOrigin(t)
	d := &Dialer{Policy: allowLoopback()}
	c, err := d.DialContext(t.Context(), "tcp", net.JoinHostPort("127.0.0.1", o.port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	rc.Control(func(fd uintptr) { v, err = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT) })
	if err != nil || v != sockopt.UnsentLimit {
		t.Fatalf("TCP_NOTSENT_LOWAT = %d (%v), want %d", v, err, sockopt.UnsentLimit)
	}
}
