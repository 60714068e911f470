package proxy_test

import (
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// connectAcceptQueued returns the connection queued on ln, waiting at
// most d for one, or nil if none came. It asks the kernel (poll(2)), so
// the bound counts from when the kernel looks: a test goroutine that gets
// to run late still finds a connection that is already queued, where a
// deadline on Accept could have passed before Accept looked.
func connectAcceptQueued(t *testing.T, ln *net.TCPListener, d time.Duration) *net.TCPConn {
	t.Helper()
	rc, err := ln.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	end := time.Now().Add(d)
	ready := false
	var perr error
	if err := rc.Control(func(fd uintptr) {
		for {
			fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
			var n int
			n, perr = unix.Poll(fds, max(int(time.Until(end)/time.Millisecond), 0))
			if perr == unix.EINTR {
				continue
			}
			ready = perr == nil && n > 0 && fds[0].Revents&unix.POLLIN != 0
			return
		}
	}); err != nil {
		t.Fatal(err)
	}
	if perr != nil {
		t.Fatalf("poll on the origin listener: %v", perr)
	}
	if !ready {
		return nil
	}
	return connectAccept(t, ln)
}
