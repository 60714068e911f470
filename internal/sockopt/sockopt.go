// Package sockopt sets the socket options sluice wants on every TCP
// connection it accepts from a client or dials to an origin.
//
// There is one: a bound on the bytes a socket may hold that it has not yet
// sent (TCP_NOTSENT_LOWAT, on Linux). Without it a proxy that relays
// faster than its peer reads fills the kernel's send buffer (up to
// net.ipv4.tcp_wmem's maximum, 4 MiB by default) and the kernel then
// transmits that backlog from whichever process acknowledges it: on one
// machine the client, which so pays for the proxy's sending. With the
// bound the proxy is woken to send as the window opens and does that work
// itself. It also keeps a slow client from pinning megabytes of kernel
// memory per connection. Bytes in flight are not limited, so throughput
// over long, fast paths is not either.
//
// Measured on loopback (2 cores, nginx origin, wrk client, 10 MiB bodies
// through the splice path): the client's CPU per byte halved and
// throughput rose about 10%.
package sockopt

import (
	"net"
	"syscall"
)

// UnsentLimit is the most a socket holds unsent before a write waits.
const UnsentLimit = 128 << 10

// Tune applies the options to an accepted connection. Errors are ignored:
// a socket without the options still works.
func Tune(c net.Conn) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(apply)
}

// Control is a net.Dialer.Control function that applies the options to a
// socket before it connects.
func Control(_, _ string, rc syscall.RawConn) error {
	rc.Control(apply)
	return nil
}
