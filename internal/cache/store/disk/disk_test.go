package disk

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"sluice/internal/cache/store"
	"sluice/internal/cache/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Factory{
		Open: func(t *testing.T, dir string, capacity int64) store.Store {
			s, err := Open(Options{Dir: dir, Capacity: capacity, MaxObjectSize: 3 << 20, Logger: quiet()})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Persistent:    true,
		MaxObjectSize: 3 << 20,
	})
}

// quiet is a logger for tests that drops everything.
func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// openStore opens a store in dir, closed when t ends.
func openStore(t testing.TB, dir string, capacity int64) *Store {
	t.Helper()
	s, err := Open(Options{Dir: dir, Capacity: capacity, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func waitReady(t testing.TB, s *Store) {
	t.Helper()
	select {
	case <-s.Ready():
	case <-time.After(30 * time.Second):
		t.Fatal("Ready not closed after 30s")
	}
}

func meta(tag string) *store.Meta {
	return &store.Meta{
		Status:       200,
		Header:       http.Header{"Etag": {`"` + tag + `"`}, "Content-Type": {"text/plain"}},
		RequestTime:  time.Unix(1700000000, 1),
		ResponseTime: time.Unix(1700000001, 2),
	}
}

func body(n int, seed byte) []byte {
	b := make([]byte, n)
	x := uint32(seed)*2654435761 + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

func put(t testing.TB, s *Store, key string, m *store.Meta, b []byte) {
	t.Helper()
	w, err := s.Create(context.Background(), key, m)
	if err != nil {
		t.Fatalf("Create(%q): %v", key, err)
	}
	defer w.Abort()
	if _, err := w.Write(b); err != nil {
		t.Fatalf("Write(%q): %v", key, err)
	}
	if err := w.Commit(); err != nil {
		t.Fatalf("Commit(%q): %v", key, err)
	}
}

// get returns key's meta tag and body, or the error of Get or ReadAt.
func get(s *Store, key string) (string, []byte, error) {
	e, err := s.Get(context.Background(), key)
	if err != nil {
		return "", nil, err
	}
	defer e.Close()
	b := make([]byte, e.Size())
	if n, err := e.ReadAt(b, 0); n != len(b) || (err != nil && err != io.EOF) {
		return "", nil, err
	}
	return e.Meta().Header.Get("Etag"), b, nil
}

func check(t testing.TB, s *Store, key, tag string, want []byte) {
	t.Helper()
	gotTag, got, err := get(s, key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	if gotTag != `"`+tag+`"` || !bytes.Equal(got, want) {
		t.Fatalf("Get(%q): got tag %s and %d bytes, want %q and %d bytes", key, gotTag, len(got), tag, len(want))
	}
}

func checkMissing(t testing.TB, s *Store, key string) {
	t.Helper()
	if _, _, err := get(s, key); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get(%q): got %v, want store.ErrNotFound", key, err)
	}
}

// diskBytes sums the sizes of the entries' files.
func diskBytes(t testing.TB, dir string) (n int64, files int) {
	t.Helper()
	err := filepath.WalkDir(filepath.Join(dir, "v1"), func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil // evicted meanwhile
		}
		if err != nil {
			return err
		}
		n += fi.Size()
		files++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n, files
}

func TestRestart(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, 64<<20)
	big := body(200_000, 1)
	put(t, s, "small", meta("s"), body(100, 2))
	put(t, s, "big", meta("b1"), big)
	if err := s.Update(context.Background(), "big", meta("b2")); err != nil {
		t.Fatal(err)
	}
	put(t, s, "gone", meta("g"), body(10, 3))
	s.Delete(context.Background(), "gone")
	before := s.Stats()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, dir, 64<<20)
	waitReady(t, s)
	if got := s.Stats(); got.Entries != before.Entries || got.Bytes != before.Bytes {
		t.Errorf("Stats after reopening: got %+v, want %+v", got, before)
	}
	check(t, s, "small", "s", body(100, 2))
	check(t, s, "big", "b2", big)
	checkMissing(t, s, "gone")
}

func TestDirectoryLocked(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, 1<<20)
	if s2, err := Open(Options{Dir: dir, Capacity: 1 << 20, Logger: quiet()}); err == nil {
		s2.Close()
		t.Fatal("a second Open of a directory in use succeeded")
	}
	s.Close()
	s2, err := Open(Options{Dir: dir, Capacity: 1 << 20, Logger: quiet()})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	s2.Close()
}

func TestTempFilesRemoved(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, 1<<20)
	w, err := s.Create(context.Background(), "unfinished", meta("u"))
	if err != nil {
		t.Fatal(err)
	}
	w.Write(body(5000, 1))
	s.Close() // as if the process died: the temporary file stays
	os.WriteFile(filepath.Join(dir, "tmp", "stray"), []byte("x"), 0o600)
	if des, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(des) != 2 {
		t.Fatalf("%d temporary files before reopening, want 2", len(des))
	}

	s = openStore(t, dir, 1<<20)
	// A writer of the new store, started before the scan ends, is kept.
	w, err = s.Create(context.Background(), "new", meta("n"))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	waitReady(t, s)
	des, _ := os.ReadDir(filepath.Join(dir, "tmp"))
	if len(des) != 1 {
		t.Errorf("temporary files after the scan: got %d, want 1 (the open writer's)", len(des))
	}
	w.Write(body(10, 4))
	if err := w.Commit(); err != nil {
		t.Fatalf("Commit of a writer created during the scan: %v", err)
	}
	check(t, s, "new", "n", body(10, 4))
	checkMissing(t, s, "unfinished")
}

func TestOpenLargeDirectory(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 20,000 files")
	}
	const n = 20_000
	dir := t.TempDir()
	s := openStore(t, dir, 1<<30)
	b := body(100, 1)
	for i := range n {
		put(t, s, "http://example.com/"+strconv.Itoa(i), meta("x"), b)
	}
	s.Close()

	start := time.Now()
	s, err := Open(Options{Dir: dir, Capacity: 1 << 30, Logger: quiet()})
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t.Logf("Open of %d entries returned in %v", n, took)
	if took > 2*time.Second {
		t.Errorf("Open took %v, want well under 2s", took)
	}
	// Get works while the scan runs.
	check(t, s, "http://example.com/19999", "x", b)
	start = time.Now()
	waitReady(t, s)
	t.Logf("scan finished %v later", time.Since(start))
	if st := s.Stats(); st.Entries != n {
		t.Errorf("Stats().Entries after the scan: got %d, want %d", st.Entries, n)
	}
}

func TestEvictionAfterWrites(t *testing.T) {
	dir := t.TempDir()
	const capacity = 400_000
	s := openStore(t, dir, capacity)
	for i := range 200 {
		put(t, s, strconv.Itoa(i), meta("x"), body(10_000, byte(i)))
		if got, _ := diskBytes(t, dir); got > capacity {
			t.Fatalf("after %d entries: %d bytes on disk, capacity %d", i+1, got, capacity)
		}
	}
	st := s.Stats()
	if st.Bytes > capacity || st.Evictions == 0 {
		t.Errorf("Stats: got %+v, want Bytes <= %d and evictions", st, capacity)
	}
	// The background evictor may still be making room (down to 95% of
	// the capacity) after the last Commit; once it rests, the count and
	// the files agree.
	var got int64
	deadline := time.Now().Add(5 * time.Second)
	for {
		st = s.Stats()
		got, _ = diskBytes(t, dir)
		if got == st.Bytes || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got != st.Bytes {
		t.Errorf("%d bytes on disk, Stats().Bytes says %d", got, st.Bytes)
	}
}

func TestEvictionAfterScan(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, 64<<20)
	const n = 40
	b := body(10_000, 1)
	for i := range n {
		put(t, s, strconv.Itoa(i), meta("x"), b)
	}
	total, files := diskBytes(t, dir)
	per := total / int64(files)
	s.Close()
	// The first half was last used a day ago: the LRU order survives a
	// restart through the files' modification times.
	old := time.Now().Add(-24 * time.Hour)
	for i := range n / 2 {
		os.Chtimes(entryPath(filepath.Join(dir, "v1"), hashKey(strconv.Itoa(i))), old, old)
	}

	capacity := per * n / 2
	s = openStore(t, dir, capacity)
	waitReady(t, s)
	deadline := time.Now().Add(10 * time.Second)
	for s.Stats().Bytes > capacity-capacity/20 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got, _ := diskBytes(t, dir); got > capacity-capacity/20 {
		t.Fatalf("after the scan: %d bytes on disk, want at most 95%% of %d", got, capacity)
	}
	var oldLeft, newLeft int
	for i := range n {
		if _, err := os.Stat(entryPath(filepath.Join(dir, "v1"), hashKey(strconv.Itoa(i)))); err == nil {
			if i < n/2 {
				oldLeft++
			} else {
				newLeft++
			}
		}
	}
	t.Logf("left: %d old, %d recent", oldLeft, newLeft)
	if oldLeft >= newLeft {
		t.Errorf("eviction kept %d entries unused for a day and %d recent ones", oldLeft, newLeft)
	}
}

// TestReadersDuringUpdateAndDelete reads while the entry is updated,
// deleted and written again: every reader sees a whole body with a meta
// that belongs to it, or a miss.
func TestReadersDuringUpdateAndDelete(t *testing.T) {
	s := openStore(t, t.TempDir(), 64<<20)
	ctx := context.Background()
	b := body(100_000, 7)
	put(t, s, "k", meta("v0"), b)
	held, err := s.Get(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					errs <- nil
					return
				default:
				}
				_, got, err := get(s, "k")
				if errors.Is(err, store.ErrNotFound) {
					continue
				}
				if err == nil && !bytes.Equal(got, b) {
					err = errors.New("body differs")
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	for i := range 100 {
		switch i % 10 {
		case 9:
			s.Delete(ctx, "k")
			put(t, s, "k", meta("again"), b)
		default:
			if err := s.Update(ctx, "k", meta("v"+strconv.Itoa(i))); err != nil {
				t.Fatalf("Update #%d: %v", i, err)
			}
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	got := make([]byte, held.Size())
	if n, err := held.ReadAt(got, 0); n != len(b) || !bytes.Equal(got, b) || held.Meta().Header.Get("Etag") != `"v0"` {
		t.Errorf("entry held across updates: got %d bytes, %v", n, err)
	}
}

func TestFile(t *testing.T) {
	s := openStore(t, t.TempDir(), 64<<20)
	b := body(50_000, 9)
	put(t, s, "k", meta("f"), b)
	e, err := s.Get(context.Background(), "k")
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	f, off := e.(*entry).File()
	if f == nil {
		t.Fatal("File of a verified entry is nil")
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(io.LimitReader(f, e.Size()))
	if err != nil || !bytes.Equal(got, b) {
		t.Errorf("body through File: got %d bytes, %v", len(got), err)
	}
}

func TestNewReaderAfterCommit(t *testing.T) {
	s := openStore(t, t.TempDir(), 64<<20)
	b := body(10_000, 3)
	w, err := s.Create(context.Background(), "k", meta("c"))
	if err != nil {
		t.Fatal(err)
	}
	w.Write(b)
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	// No reader held the file: NewReader opens the committed one.
	r := w.NewReader()
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(got, b) {
		t.Errorf("reader created after Commit: got %d bytes, %v", len(got), err)
	}
	// Once the entry is replaced, the body is gone.
	put(t, s, "k", meta("d"), nil)
	r = w.NewReader()
	defer r.Close()
	if _, err := io.ReadAll(r); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("reader created after the entry was replaced: got %v, want store.ErrNotFound", err)
	}
}

func TestOptions(t *testing.T) {
	dir := t.TempDir()
	for _, o := range []Options{
		{Capacity: 1 << 20},
		{Dir: dir},
		{Dir: dir, Capacity: -1},
		{Dir: dir, Capacity: 1 << 20, MaxObjectSize: -1},
	} {
		if s, err := Open(o); err == nil {
			s.Close()
			t.Errorf("Open(%+v) succeeded", o)
		}
	}
	// One object may not take more than a quarter of the budget.
	s := openStore(t, filepath.Join(dir, "new"), 400_000)
	if fi, err := os.Stat(filepath.Join(dir, "new")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("created directory: got %v, %v, want mode 0700", fi.Mode(), err)
	}
	w, err := s.Create(context.Background(), "k", meta("x"))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	if _, err := w.Write(body(100_001, 1)); !errors.Is(err, store.ErrTooLarge) {
		t.Errorf("Write of more than a quarter of the capacity: got %v, want store.ErrTooLarge", err)
	}
}
