package splice

import (
	"io"
	"runtime"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

const supported = true

// pipeSize is what each pipe is asked to hold (fs.pipe-max-size allows
// 1 MiB by default; a smaller pipe still works).
const pipeSize = 1 << 20

type pipe struct {
	r, w    int
	cleanup runtime.Cleanup
}

var pipes = sync.Pool{New: func() any { return newPipe() }}

func newPipe() *pipe {
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return nil
	}
	unix.FcntlInt(uintptr(fds[0]), unix.F_SETPIPE_SZ, pipeSize)
	p := &pipe{r: fds[0], w: fds[1]}
	p.cleanup = runtime.AddCleanup(p, closePipe, fds)
	return p
}

func closePipe(fds [2]int) {
	unix.Close(fds[0])
	unix.Close(fds[1])
}

// close releases a pipe that may still hold bytes (after a failed write):
// such a pipe must not go back to the pool.
func (p *pipe) close() {
	p.cleanup.Stop()
	closePipe([2]int{p.r, p.w})
}

func getPipe() (*pipe, error) {
	p, _ := pipes.Get().(*pipe)
	if p == nil {
		return nil, syscall.EMFILE
	}
	return p, nil
}

// state is what a Stream carries between calls to Copy.
type state struct {
	rc, wc   syscall.RawConn
	looked   bool  // Src was seen to hold bytes or to be empty at least once
	lowat    int   // Src's SO_RCVLOWAT before batching, to put back
	run      int64 // bytes moved since the stream last paused
	batching bool  // SO_RCVLOWAT is Batch on Src
}

// Copy moves bytes from Src to Dst until Src reaches EOF (then it returns
// nil) or, if limit >= 0, until limit bytes have moved. It returns early
// with the error of a failed read or write, a timeout (Idle), or
// ErrStopped. A Stream's batching outlives Copy: call Done before Src is
// read any other way.
func (s *Stream) Copy(limit int64) (int64, error) {
	st := &s.st
	if st.rc == nil {
		var err error
		if st.rc, err = s.Src.SyscallConn(); err != nil {
			return 0, err
		}
		if st.wc, err = s.Dst.SyscallConn(); err != nil {
			return 0, err
		}
	}
	var total int64
	for limit < 0 || total < limit {
		want := pipeSize
		if limit >= 0 {
			want = int(min(int64(want), limit-total))
		}
		s.batch(limit < 0 || limit-total >= Batch)
		p, n, err := s.drain(want)
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return total, err
		}
		m, err := s.pump(p, n)
		total += m
		if err != nil {
			p.close()
			return total, err
		}
		pipes.Put(p)
	}
	return total, nil
}

// Done turns batching off, leaving Src as it was found (a pooled origin
// connection's next response head must not wait for Batch bytes).
func (s *Stream) Done() { s.batch(false) }

// batch turns batching on or off as the stream's recent run and want say.
func (s *Stream) batch(want bool) {
	st := &s.st
	on := want && st.run >= BusyAfter
	if on == st.batching || st.rc == nil {
		return
	}
	var err error
	st.rc.Control(func(fd uintptr) {
		v := st.lowat
		if on {
			if st.lowat, err = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVLOWAT); err != nil {
				return
			}
			v = Batch
		}
		err = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVLOWAT, v)
	})
	if err == nil {
		st.batching = on
	}
}

// drain waits for Src's bytes and moves up to want of them into a pipe,
// which it returns holding n > 0 bytes; at EOF it returns io.EOF. It holds
// a pipe only while bytes are going into it.
func (s *Stream) drain(want int) (*pipe, int, error) {
	st := &s.st
	retry := false // BatchWait passed: one more look before deciding the stream paused
	for {
		var deadline time.Time
		if st.batching && !retry {
			deadline = time.Now().Add(BatchWait)
		} else if s.Idle > 0 {
			deadline = time.Now().Add(s.Idle)
		}
		s.Src.SetReadDeadline(deadline)
		if s.Stopped != nil && s.Stopped() {
			return nil, 0, ErrStopped
		}
		var p *pipe
		var n int64
		var serr error
		// Always look before waiting, even when the last look found
		// nothing: rc.Read starts by forgetting any readiness the poller
		// recorded, so bytes that came since would otherwise sleep in
		// the socket until more arrive or Idle passes.
		err := st.rc.Read(func(fd uintptr) bool {
			if !st.looked {
				// Find out whether anything is there before taking a pipe.
				st.looked = true
				var b [1]byte
				_, _, perr := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
				if perr == unix.EAGAIN {
					return false
				}
			}
			if p, serr = getPipe(); serr != nil {
				return true
			}
			n, serr = rawSplice(int(fd), p.w, want)
			if serr == unix.EAGAIN {
				pipes.Put(p) // empty: don't hold it while waiting
				p = nil
				return retry // after BatchWait, find out rather than wait
			}
			return true
		})
		switch {
		case err == nil && serr == nil && n > 0:
			st.run += n
			return p, int(n), nil
		case err == nil && serr == nil:
			pipes.Put(p)
			return nil, 0, io.EOF
		case err == nil && serr == unix.EAGAIN && retry:
			// Nothing came for BatchWait: the stream has paused.
			st.run = 0
			s.batch(false)
			retry = false
		case err == nil:
			if p != nil {
				pipes.Put(p)
			}
			return nil, 0, serr
		case isTimeout(err) && st.batching && !retry:
			retry = true // less than Batch came in BatchWait: take it
		default:
			return nil, 0, err
		}
	}
}

// pump writes n bytes from p to Dst.
func (s *Stream) pump(p *pipe, n int) (int64, error) {
	var total int64
	for n > 0 {
		if s.BeforeWrite != nil {
			s.BeforeWrite()
		}
		var m int64
		var serr error
		err := s.st.wc.Write(func(fd uintptr) bool {
			m, serr = rawSplice(p.r, int(fd), n)
			return serr != unix.EAGAIN
		})
		if err == nil {
			err = serr
		}
		if m > 0 {
			total += m
			n -= int(m)
			if s.Moved != nil {
				s.Moved(m)
			}
		}
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// rawSplice moves up to n bytes from in to out without telling the Go
// scheduler that a system call is under way (syscall.RawSyscall6).
//
// Both ends are non-blocking (O_NONBLOCK sockets and pipes, and
// SPLICE_F_NONBLOCK), so the call never sleeps: it lasts as long as the
// kernel's work on at most pipeSize bytes, a few hundred microseconds.
// Through syscall.Syscall6 every such call outlived the scheduler's 20 µs
// patience, so its thread lost its P and another thread was woken to run
// what was queued behind it, and the monitor thread was kept waking every
// tick: on a busy stream thousands of context switches a second, for work
// that was about to return anyway. Measured on compare.sh's workloads
// (alternating A/B runs, see docs/architecture.md), the raw call cuts
// sluice's CPU per GB by 7-10% and small-request latency under that load
// does not change.
func rawSplice(in, out, n int) (int64, error) {
	r, _, e := syscall.RawSyscall6(unix.SYS_SPLICE, uintptr(in), 0, uintptr(out), 0, uintptr(n), unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
	if e != 0 {
		return 0, e
	}
	return int64(r), nil
}
