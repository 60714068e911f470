package accesslog

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
)

const (
	// queueSize is how many records may wait for the writer goroutine
	// before Log starts dropping them. A Record is about 250 bytes, so a
	// full queue holds about 2 MiB.
	queueSize = 8192
	// bufferSize is the size of the bufio.Writer in front of the
	// destination: under load, this many bytes of lines share one write.
	bufferSize = 32 << 10
	// maxLineBuffer bounds the formatting buffer kept between records, so
	// one huge hostile URL does not pin its memory for the process lifetime.
	maxLineBuffer = 64 << 10
)

// Logger formats records and writes them on its own goroutine.
//
// Log never waits for I/O: when the queue (8192 records) is full the record
// is dropped and counted. All methods are safe for concurrent use. The zero
// value is not usable; create Loggers with [New]. A nil *Logger is valid and
// does nothing, which is how "--access-log off" is wired.
//
// The writer goroutine formats each record into a reused buffer, writes it
// to a bufio.Writer and flushes whenever the queue runs empty: under low
// load every line reaches the destination promptly, under high load many
// lines share one write.
type Logger struct {
	w      io.Writer
	format Format
	queue  chan Record
	done   chan struct{} // closed when the writer goroutine has exited

	dropped atomic.Uint64

	// mu is held for reading while sending on queue and for writing while
	// closing it, so that Log never sends on a closed channel. Readers hold
	// it only for a non-blocking send, so Close waits for no I/O to take it.
	mu     sync.RWMutex
	closed bool

	// err is the first write error. It is written only by the writer
	// goroutine and read only after done is closed.
	err error
}

// New returns a Logger that writes records to w in format f, starting its
// writer goroutine; the caller must call Close to stop it. An unknown
// Format is written as [Squid]. New(nil, f) returns a nil *Logger, so the
// result of Open("off") can be passed straight through.
func New(w io.Writer, f Format) *Logger {
	return newLogger(w, f, queueSize)
}

func newLogger(w io.Writer, f Format, size int) *Logger {
	if w == nil {
		return nil
	}
	l := &Logger{
		w:      w,
		format: f,
		queue:  make(chan Record, size),
		done:   make(chan struct{}),
	}
	go l.run(bufio.NewWriterSize(w, bufferSize))
	return l
}

// Log queues r to be written and returns at once. If the queue is full the
// record is dropped and counted in Dropped; after Close it is dropped
// silently.
func (l *Logger) Log(r Record) {
	if l == nil {
		return
	}
	l.mu.RLock()
	if !l.closed {
		select {
		case l.queue <- r:
		default:
			l.dropped.Add(1)
		}
	}
	l.mu.RUnlock()
}

// Dropped returns how many records Log dropped because the queue was full.
func (l *Logger) Dropped() uint64 {
	if l == nil {
		return 0
	}
	return l.dropped.Load()
}

// Close stops accepting records, waits until every queued record has been
// written and flushed, and then closes the destination if it is an
// io.Closer other than os.Stdout or os.Stderr. It returns the first write
// error the Logger met, if any, joined with the error from closing. Close
// blocks for as long as the destination blocks; calls after the first
// return nil.
func (l *Logger) Close() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		<-l.done
		return nil
	}
	l.closed = true
	close(l.queue)
	l.mu.Unlock()

	<-l.done
	err := l.err
	if c, ok := l.w.(io.Closer); ok && l.w != os.Stdout && l.w != os.Stderr {
		if cerr := c.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("access log: close: %w", cerr))
		}
	}
	return err
}

// Reopen reopens the destination if it is a [*File], so that a log rotated
// by renaming continues in a new file at the original path; for any other
// destination it does nothing. Lines still buffered when Reopen is called
// are written to the new file.
func (l *Logger) Reopen() error {
	if l == nil {
		return nil
	}
	if f, ok := l.w.(*File); ok {
		return f.Reopen()
	}
	return nil
}

// ReopenIfMoved reopens the log file if its path no longer names the file
// being written (a rotator renamed or deleted it without signalling), and
// reports whether it did. Standard output and a nil Logger are never moved.
func (l *Logger) ReopenIfMoved() (bool, error) {
	if l == nil {
		return false, nil
	}
	f, ok := l.w.(*File)
	if !ok || !f.Moved() {
		return false, nil
	}
	return true, f.Reopen()
}

// run is the writer goroutine: the only reader of queue and the only user
// of bw. It exits, closing done, once Close has closed queue and every
// record in it has been written.
func (l *Logger) run(bw *bufio.Writer) {
	defer close(l.done)
	var line []byte
	for r := range l.queue {
		line = l.format.append(line[:0], &r)
		if _, err := bw.Write(line); err != nil {
			l.fail(bw, err)
		}
		if cap(line) > maxLineBuffer {
			line = nil
		}
		if len(l.queue) == 0 {
			if err := bw.Flush(); err != nil {
				l.fail(bw, err)
			}
		}
	}
	// The last record flushed already unless its write failed; this is
	// then a no-op, but keeps the exit path obviously complete.
	if err := bw.Flush(); err != nil {
		l.fail(bw, err)
	}
}

// fail records the first write error and discards what bw holds: a
// bufio.Writer keeps failing after one error, and a disk that was full may
// have room again for the next lines.
func (l *Logger) fail(bw *bufio.Writer, err error) {
	if l.err == nil {
		l.err = fmt.Errorf("access log: write: %w", err)
	}
	bw.Reset(l.w)
}
