// Package splice moves bytes from one TCP socket to another inside the
// kernel (splice(2) through a pipe), and batches wake-ups on busy streams.
//
// The standard library's TCPConn.ReadFrom splices too, but it wakes for
// every segment that arrives: on a fast stream that is tens of thousands
// of wake-ups a second, each a context switch, and on a loaded machine the
// CPU they take is CPU the origin and the client do not get. A Stream that
// has moved BusyAfter bytes without pausing asks the kernel (SO_RCVLOWAT)
// to wake it only once Batch bytes are waiting, and never waits more than
// BatchWait for them: a busy stream's bytes may be held up to BatchWait,
// and a quiet one's never are. The first wait that finds nothing after
// BatchWait ends the batching.
//
// A Stream holds a pipe only while bytes are on their way through it: an
// idle tunnel costs no file descriptors beyond its two sockets.
package splice

import (
	"errors"
	"net"
	"os"
	"time"
)

const (
	// Batch is how many bytes a busy stream waits for before it wakes.
	Batch = 512 << 10
	// BatchWait is the longest a busy stream's bytes wait for a batch.
	BatchWait = time.Millisecond
	// BusyAfter is how many bytes a stream moves without pausing before
	// it batches.
	BusyAfter = 1 << 20
)

// Stream copies from Src to Dst. Both must be plain TCP sockets; the zero
// values of the other fields mean no bound and no callbacks.
type Stream struct {
	Dst, Src *net.TCPConn

	// Idle bounds each wait for Src's next bytes: a longer wait ends Copy
	// with a timeout error (os.ErrDeadlineExceeded).
	Idle time.Duration
	// Stopped reports that another goroutine wants Copy to end. It is
	// asked after every change of Src's read deadline, so a caller that
	// first makes Stopped true and then sets a past read deadline on Src
	// always ends Copy.
	Stopped func() bool
	// BeforeWrite runs before each write to Dst (to refresh a write
	// deadline).
	BeforeWrite func()
	// Moved runs after bytes reach Dst, with their count.
	Moved func(n int64)

	st state
}

// TCPWriterTo is a source that can splice itself into a TCP socket: a
// ResponseWriter's ReadFrom offers its client socket to one. It moves at
// most limit bytes (no bound when limit < 0) and returns nil when it has
// moved all it had to.
type TCPWriterTo interface {
	WriteToTCP(dst *net.TCPConn, limit int64) (int64, error)
}

// Supported reports whether Copy can be used on this system.
func Supported() bool { return supported }

// ErrStopped is what Copy returns when Stopped reported true.
var ErrStopped = errors.New("splice: stopped")

// isTimeout reports a deadline error from the poller.
func isTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }
