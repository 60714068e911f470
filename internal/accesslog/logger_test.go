package accesslog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
)

// lockedBuffer is a bytes.Buffer safe to read while the Logger writes.
type lockedBuffer struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
	closed bool
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.writes++
	return b.buf.Write(p)
}

func (b *lockedBuffer) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	return nil
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// gate is a writer whose writes wait until it is opened, and which reports
// on entered when the first write starts.
type gate struct {
	lockedBuffer
	entered chan struct{}
	open    chan struct{}
	once    sync.Once
}

func newGate() *gate {
	return &gate{entered: make(chan struct{}), open: make(chan struct{})}
}

func (g *gate) Write(p []byte) (int, error) {
	g.once.Do(func() { close(g.entered) })
	<-g.open
	return g.lockedBuffer.Write(p)
}

func lineCount(s string) int { return strings.Count(s, "\n") }

func TestLoggerFlushesWhenIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out lockedBuffer
		l := New(&out, Squid)
		r := records["miss"]
		l.Log(r)
		synctest.Wait() // the writer goroutine is idle again: the line must be out
		if got, want := out.String(), string(appendSquid(nil, &r)); got != want {
			t.Errorf("before Close: got %q, want %q", got, want)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if !out.closed {
			t.Error("Close did not close the writer")
		}
	})
}

// TestLoggerBatches holds the first write while 100 records queue up; they
// must then reach the writer in one write, not one write each.
func TestLoggerBatches(t *testing.T) {
	g := newGate()
	l := New(g, Squid)
	r := records["miss"]
	l.Log(r)
	<-g.entered
	for range 100 {
		l.Log(r)
	}
	close(g.open)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := lineCount(g.String()), 101; got != want {
		t.Errorf("lines: got %d, want %d", got, want)
	}
	if got, want := g.writes, 2; got != want {
		t.Errorf("writes: got %d, want %d (the first line, then the 100 queued in one batch)", got, want)
	}
}

func TestLogNeverBlocks(t *testing.T) {
	const n = 20_000
	g := newGate() // blocks every write until opened
	l := New(g, Squid)
	r := records["miss"]
	for range n {
		l.Log(r) // would hang here if Log waited for the writer
	}
	dropped := l.Dropped()
	if dropped == 0 {
		t.Errorf("Dropped: got 0 with a stuck writer and %d records, want > 0", n)
	}
	if dropped > n-queueSize {
		t.Errorf("Dropped: got %d, want at most %d (the queue holds %d)", dropped, n-queueSize, queueSize)
	}
	close(g.open)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := lineCount(g.String()), n-int(dropped); got != want {
		t.Errorf("lines: got %d, want %d logged - %d dropped", got, n, dropped)
	}
}

func TestLoggerConcurrent(t *testing.T) {
	const goroutines, each = 16, 2_000
	var out lockedBuffer
	l := newLogger(&out, JSON, 1024) // a small queue so that some records may drop
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			r := records["hostile"]
			for i := range each {
				r.URL = fmt.Sprintf("http://example.com/%d/%d", g, i)
				l.Log(r)
			}
		})
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	want := records["hostile"]
	seen := make(map[string]bool)
	for line := range strings.Lines(out.String()) {
		var got struct {
			URL       string `json:"url"`
			UserAgent string `json:"user_agent"`
		}
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatalf("torn line %q: %v", line, err)
		}
		if seen[got.URL] {
			t.Fatalf("line for %s written twice", got.URL)
		}
		seen[got.URL] = true
		if got.UserAgent != validUTF8(want.UserAgent) {
			t.Fatalf("user_agent: got %q, want %q", got.UserAgent, validUTF8(want.UserAgent))
		}
	}
	if got, want := len(seen), goroutines*each-int(l.Dropped()); got != want {
		t.Errorf("lines: got %d, want %d logged - %d dropped", got, goroutines*each, l.Dropped())
	}
}

func TestLogAfterClose(t *testing.T) {
	var out lockedBuffer
	l := New(&out, Squid)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l.Log(records["miss"])
	if got := out.String(); got != "" {
		t.Errorf("Log after Close wrote %q", got)
	}
	if got := l.Dropped(); got != 0 {
		t.Errorf("Dropped after Close: got %d, want 0", got)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: got %v, want nil", err)
	}
}

// TestLogRacesClose logs from many goroutines while Close runs: nothing
// may panic, and every record is either written or not, never torn.
func TestLogRacesClose(t *testing.T) {
	var out lockedBuffer
	l := New(&out, Squid)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				l.Log(records["miss"])
			}
		})
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for line := range strings.Lines(out.String()) {
		if n := len(strings.Fields(line)); n != 10 {
			t.Fatalf("torn line %q", line)
		}
	}
}

func TestNilLogger(t *testing.T) {
	if l := New(nil, Squid); l != nil {
		t.Fatalf("New(nil): got %p, want nil", l)
	}
	var l *Logger
	l.Log(records["miss"])
	if got := l.Dropped(); got != 0 {
		t.Errorf("Dropped: got %d, want 0", got)
	}
	if err := l.Reopen(); err != nil {
		t.Errorf("Reopen: got %v, want nil", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("Close: got %v, want nil", err)
	}
}

func TestCloseLeavesStdStreamsOpen(t *testing.T) {
	for _, f := range []*os.File{os.Stdout, os.Stderr} {
		if err := New(f, Squid).Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := f.Stat(); err != nil {
			t.Errorf("%s after Close: %v", f.Name(), err)
		}
	}
}

// flakyWriter fails its first write and succeeds afterwards.
type flakyWriter struct {
	lockedBuffer
	failed bool
}

var errDiskFull = errors.New("disk full")

func (w *flakyWriter) Write(p []byte) (int, error) {
	if !w.failed {
		w.failed = true
		return 0, errDiskFull
	}
	return w.lockedBuffer.Write(p)
}

func TestWriteErrorReportedAndRecovered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out flakyWriter
		l := New(&out, Squid)
		lost, kept := records["miss"], records["tunnel-ipv6"]
		l.Log(lost)
		synctest.Wait() // the first flush has failed
		l.Log(kept)
		err := l.Close()
		if !errors.Is(err, errDiskFull) {
			t.Errorf("Close: got %v, want %v", err, errDiskFull)
		}
		if got, want := out.String(), string(appendSquid(nil, &kept)); got != want {
			t.Errorf("after the error: got %q, want %q", got, want)
		}
	})
}

func BenchmarkLog(b *testing.B) {
	l := New(io.Discard, Squid)
	defer l.Close()
	r := records["miss"]
	b.ReportAllocs()
	for b.Loop() {
		l.Log(r)
	}
	// A full queue makes Log take its cheaper drop path; say how often.
	b.ReportMetric(float64(l.Dropped())/float64(b.N), "drops/op")
}

func BenchmarkLogParallel(b *testing.B) {
	l := New(io.Discard, Squid)
	defer l.Close()
	r := records["miss"]
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l.Log(r)
		}
	})
	b.ReportMetric(float64(l.Dropped())/float64(b.N), "drops/op")
}
