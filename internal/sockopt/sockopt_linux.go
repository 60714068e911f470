package sockopt

import "golang.org/x/sys/unix"

func apply(fd uintptr) {
	unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT, UnsentLimit)
}
