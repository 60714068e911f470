package splice

import (
	"net"
	"testing"

	"golang.org/x/sys/unix"
)

// rawSplice must never sleep: it runs without the scheduler's knowledge,
// so a blocking descriptor would hold a P for as long as the peer waits.
func TestSpliceDescriptorsNeverBlock(t *testing.T) {
	nonblock := func(what string, fd int) {
		t.Helper()
		fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
		if err != nil {
			t.Fatal(err)
		}
		if fl&unix.O_NONBLOCK == 0 {
			t.Errorf("%s (fd %d) is blocking", what, fd)
		}
	}
	p, err := getPipe()
	if err != nil {
		t.Fatal(err)
	}
	nonblock("pipe read end", p.r)
	nonblock("pipe write end", p.w)
	pipes.Put(p)

	w, s, _ := relay(t)
	defer w.Close()
	for what, c := range map[string]*net.TCPConn{"source": s.Src, "destination": s.Dst} {
		rc, err := c.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		rc.Control(func(fd uintptr) { nonblock(what+" socket", int(fd)) })
	}
}
