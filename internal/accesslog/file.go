package accesslog

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// Open returns the destination named by an --access-log value: "-" is
// os.Stdout (which Close leaves open), "off" is (nil, nil), meaning no
// access log, and anything else is a path opened with [OpenFile].
func Open(spec string) (io.Writer, error) {
	switch spec {
	case "-":
		return os.Stdout, nil
	case "off":
		return nil, nil
	case "":
		return nil, errors.New(`access log: empty path (use "-" for standard output or "off")`)
	}
	f, err := OpenFile(spec)
	if err != nil {
		return nil, err // not a nil *File in a non-nil io.Writer
	}
	return f, nil
}

// File is an append-only log file that can be reopened at its path. This is
// what an external rotator needs: it renames the file, then tells the proxy
// (by SIGUSR1), which calls Reopen; lines written before Reopen stay in the
// renamed file and later ones go to a new file at the original path.
//
// All methods are safe for concurrent use.
type File struct {
	path string

	// mu guards f and is held across each write, so Reopen and Close never
	// close a file while a write to it is in progress.
	mu sync.Mutex
	f  *os.File // nil once closed
}

// OpenFile opens path for appending, creating it with mode 0640 if needed.
func OpenFile(path string) (*File, error) {
	f, err := openAppend(path)
	if err != nil {
		return nil, fmt.Errorf("access log: %w", err)
	}
	return &File{path: path, f: f}, nil
}

func openAppend(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o640)
}

// Write appends p to the current file. After Close it returns os.ErrClosed.
func (f *File) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.f == nil {
		return 0, os.ErrClosed
	}
	return f.f.Write(p)
}

// Reopen opens the path again and switches later writes to it, then closes
// the previous file. If the path cannot be opened, writes continue to the
// previous file and the error is returned. After Close it returns
// os.ErrClosed.
func (f *File) Reopen() error {
	nf, err := openAppend(f.path)
	if err != nil {
		return fmt.Errorf("access log: reopen: %w", err)
	}
	f.mu.Lock()
	old := f.f
	if old != nil {
		f.f = nf
	}
	f.mu.Unlock()
	if old == nil {
		nf.Close()
		return os.ErrClosed
	}
	if err := old.Close(); err != nil {
		return fmt.Errorf("access log: close previous file: %w", err)
	}
	return nil
}

// Moved reports whether the path no longer names the open file: it was
// renamed or removed (and perhaps replaced), as log rotators do. A closed
// File is not moved.
func (f *File) Moved() bool {
	f.mu.Lock()
	cur := f.f
	f.mu.Unlock()
	if cur == nil {
		return false
	}
	open, err := cur.Stat()
	if err != nil {
		return false
	}
	named, err := os.Stat(f.path)
	return err != nil || !os.SameFile(open, named)
}

// Close closes the file. Calls after the first return os.ErrClosed.
func (f *File) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.f == nil {
		return os.ErrClosed
	}
	err := f.f.Close()
	f.f = nil
	return err
}

var _ io.WriteCloser = (*File)(nil)
