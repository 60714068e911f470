package accesslog

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
)

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func write(t *testing.T, f *File, s string) {
	t.Helper()
	if _, err := f.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
}

func TestFileReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	if err := os.WriteFile(path, []byte("before\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	write(t, f, "one\n") // appended, not truncating "before"
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	write(t, f, "two\n") // still the renamed file: nobody reopened yet
	if err := f.Reopen(); err != nil {
		t.Fatal(err)
	}
	write(t, f, "three\n")
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := readFile(t, path+".1"), "before\none\ntwo\n"; got != want {
		t.Errorf("renamed file: got %q, want %q", got, want)
	}
	if got, want := readFile(t, path), "three\n"; got != want {
		t.Errorf("new file: got %q, want %q", got, want)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm&^0o640 != 0 {
		t.Errorf("new file mode: got %v, want at most 0640", perm)
	}
}

// TestFileReopenFails keeps writing to the old file when the path cannot
// be opened again.
func TestFileReopenFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	f, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(path, 0o700); err != nil { // a directory cannot be opened for writing
		t.Fatal(err)
	}
	if err := f.Reopen(); err == nil {
		t.Fatal("Reopen onto a directory: got no error")
	}
	write(t, f, "kept\n")
	if got, want := readFile(t, path+".1"), "kept\n"; got != want {
		t.Errorf("old file: got %q, want %q", got, want)
	}
}

// TestFileReopenConcurrent rotates the file while another goroutine
// writes: every line lands whole in exactly one of the files.
func TestFileReopenConcurrent(t *testing.T) {
	const lines, rotations = 2000, 20
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	f, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range lines {
			if _, err := fmt.Fprintf(f, "line %d\n", i); err != nil {
				t.Error(err)
				return
			}
		}
	})
	for i := range rotations {
		if err := os.Rename(path, fmt.Sprintf("%s.%d", path, i)); err != nil {
			t.Fatal(err)
		}
		if err := f.Reopen(); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	names, err := filepath.Glob(path + "*")
	if err != nil {
		t.Fatal(err)
	}
	seen := make(map[string]bool)
	for _, name := range names {
		for line := range strings.Lines(readFile(t, name)) {
			if seen[line] || !strings.HasPrefix(line, "line ") || !strings.HasSuffix(line, "\n") {
				t.Fatalf("%s: torn or repeated line %q", name, line)
			}
			seen[line] = true
		}
	}
	if len(seen) != lines {
		t.Errorf("lines across %d files: got %d, want %d", len(names), len(seen), lines)
	}
}

func TestFileClosed(t *testing.T) {
	f, err := OpenFile(filepath.Join(t.TempDir(), "access.log"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("x\n")); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Write after Close: got %v, want %v", err, os.ErrClosed)
	}
	if err := f.Reopen(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Reopen after Close: got %v, want %v", err, os.ErrClosed)
	}
	if err := f.Close(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("second Close: got %v, want %v", err, os.ErrClosed)
	}
}

// TestLoggerReopen is the logrotate sequence end to end: lines logged
// before the rename stay in the renamed file, later ones go to the path.
func TestLoggerReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	before, after := records["miss"], records["tunnel-ipv6"]
	synctest.Test(t, func(t *testing.T) {
		w, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		l := New(w, Squid)
		l.Log(before)
		synctest.Wait() // written and flushed
		if err := os.Rename(path, path+".1"); err != nil {
			t.Fatal(err)
		}
		if err := l.Reopen(); err != nil {
			t.Fatal(err)
		}
		l.Log(after)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte("x")); !errors.Is(err, os.ErrClosed) {
			t.Errorf("Write after Logger.Close: got %v, want %v (Close must close the file)", err, os.ErrClosed)
		}
	})
	if got, want := readFile(t, path+".1"), string(appendSquid(nil, &before)); got != want {
		t.Errorf("renamed file: got %q, want %q", got, want)
	}
	if got, want := readFile(t, path), string(appendSquid(nil, &after)); got != want {
		t.Errorf("new file: got %q, want %q", got, want)
	}
}

func TestOpen(t *testing.T) {
	if w, err := Open("-"); w != os.Stdout || err != nil {
		t.Errorf(`Open("-"): got %v, %v, want os.Stdout`, w, err)
	}
	if w, err := Open("off"); w != nil || err != nil {
		t.Errorf(`Open("off"): got %#v, %v, want nil, nil`, w, err)
	}
	if w, err := Open(""); w != nil || err == nil {
		t.Errorf(`Open(""): got %#v, %v, want an error`, w, err)
	}
	missing := filepath.Join(t.TempDir(), "no-such-dir", "access.log")
	w, err := Open(missing)
	if w != nil || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open(%q): got %#v, %v, want nil and a not-exist error", missing, w, err)
	}
	if err != nil && !strings.Contains(err.Error(), missing) {
		t.Errorf("error %q does not name the path", err)
	}
}

// TestReopenIfMoved: a rotator that renames or deletes the file without a
// signal is noticed, and later lines go to a new file at the path.
func TestReopenIfMoved(t *testing.T) {
	for _, how := range []string{"rename", "remove"} {
		t.Run(how, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "access.log")
			f, err := OpenFile(path)
			if err != nil {
				t.Fatal(err)
			}
			l := New(f, Squid)
			if moved, err := l.ReopenIfMoved(); moved || err != nil {
				t.Fatalf("fresh file: moved %v, err %v", moved, err)
			}
			write(t, f, "http://before/\n")
			if how == "rename" {
				err = os.Rename(path, path+".1")
			} else {
				err = os.Remove(path)
			}
			if err != nil {
				t.Fatal(err)
			}
			if moved, err := l.ReopenIfMoved(); !moved || err != nil {
				t.Fatalf("after %s: moved %v, err %v", how, moved, err)
			}
			l.Log(Record{Method: "GET", URL: "http://after/", Status: 200})
			l.Close()
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), "http://after/") || strings.Contains(string(b), "http://before/") {
				t.Errorf("new file holds %q", b)
			}
			if how == "rename" {
				old, _ := os.ReadFile(path + ".1")
				if !strings.Contains(string(old), "http://before/") || strings.Contains(string(old), "http://after/") {
					t.Errorf("rotated file holds %q", old)
				}
			}
		})
	}
}
