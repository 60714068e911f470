//go:build !linux

package proxy_test

import (
	"net"
	"testing"
	"time"
)

// connectAcceptQueued returns the connection queued on ln, waiting at
// most d for one, or nil if none came. (On Linux the kernel is asked, so
// that a goroutine that runs late cannot miss the deadline.)
func connectAcceptQueued(t *testing.T, ln *net.TCPListener, d time.Duration) *net.TCPConn {
	t.Helper()
	ln.SetDeadline(time.Now().Add(d))
	c, err := ln.AcceptTCP()
	if err != nil {
		return nil
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c
}
