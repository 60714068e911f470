package storetest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"sluice/internal/cache/store"
)

// follower reads r in a goroutine and reports every read on a channel, so
// a test can wait for exactly the bytes it wrote without sleeping.
type follower struct {
	reads chan read
}

type read struct {
	b   []byte
	err error
}

func follow(r io.ReadCloser) *follower {
	f := &follower{reads: make(chan read)}
	go func() {
		defer close(f.reads)
		defer r.Close()
		buf := make([]byte, 3000) // smaller than some writes: several reads per write
		for {
			n, err := r.Read(buf)
			f.reads <- read{bytes.Clone(buf[:n]), err}
			if err != nil {
				return
			}
		}
	}()
	return f
}

// expect receives reads until it has len(want) bytes, and checks them.
func (f *follower) expect(t *testing.T, want []byte) {
	t.Helper()
	var got []byte
	for len(got) < len(want) {
		r, ok := <-f.reads
		if !ok {
			t.Fatalf("reader ended after %d of %d bytes", len(got), len(want))
		}
		got = append(got, r.b...)
		if r.err != nil {
			t.Fatalf("reader: got %v after %d of %d bytes", r.err, len(got), len(want))
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("reader: got %d bytes differing at %d from the %d written", len(got), firstDiff(got, want), len(want))
	}
}

// end receives reads until an error and returns it; bytes are unexpected.
func (f *follower) end(t *testing.T) error {
	t.Helper()
	for r := range f.reads {
		if len(r.b) != 0 {
			t.Fatalf("reader: got %d unexpected bytes", len(r.b))
		}
		if r.err != nil {
			return r.err
		}
	}
	t.Fatal("reader ended without an error")
	return nil
}

func testFollowWriter(t *testing.T, f Factory) {
	s := open(t, f, f.bigCapacity())
	b := body(300_000, 40)
	w, err := s.Create(context.Background(), "k", newMeta(b, "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	early := follow(w.NewReader()) // before the first byte
	steps := []int{1, 2999, 3000, 3001, 65536, 100_000}
	var late *follower
	off := 0
	for i, n := range steps {
		if _, err := w.Write(b[off : off+n]); err != nil {
			t.Fatal(err)
		}
		early.expect(t, b[off:off+n])
		if i == 2 {
			late = follow(w.NewReader()) // mid-body: starts from byte 0
			late.expect(t, b[:off+n])
		} else if late != nil {
			late.expect(t, b[off:off+n])
		}
		off += n
	}
	if _, err := w.Write(b[off:]); err != nil {
		t.Fatal(err)
	}
	early.expect(t, b[off:])
	late.expect(t, b[off:])
	checkMissing(t, s, "k")
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*follower{early, late} {
		if err := r.end(t); err != io.EOF {
			t.Errorf("reader after Commit: got %v, want io.EOF", err)
		}
	}
	check(t, s, "k", newMeta(b, "f"), b)
}

func testFollowAbort(t *testing.T, f Factory) {
	s := open(t, f, f.bigCapacity())
	b := body(10_000, 41)
	w, err := s.Create(context.Background(), "k", newMeta(b, "a"))
	if err != nil {
		t.Fatal(err)
	}
	waiting := follow(w.NewReader())
	if _, err := w.Write(b[:5000]); err != nil {
		t.Fatal(err)
	}
	waiting.expect(t, b[:5000])
	// The follower is now blocked waiting for more.
	w.Abort()
	if err := waiting.end(t); !errors.Is(err, store.ErrAborted) {
		t.Errorf("reader after Abort: got %v, want store.ErrAborted", err)
	}
	checkMissing(t, s, "k")
}

func testFollowTooLarge(t *testing.T, f Factory) {
	s := open(t, f, f.bigCapacity())
	b := body(int(f.MaxObjectSize)+1, 42)
	w, err := s.Create(context.Background(), "k", newMeta(b, "a"))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	r := w.NewReader()
	defer r.Close()
	if _, err := w.Write(b); !errors.Is(err, store.ErrTooLarge) {
		t.Fatalf("Write of %d bytes: got %v, want store.ErrTooLarge", len(b), err)
	}
	_, err = io.Copy(io.Discard, r)
	if !errors.Is(err, store.ErrAborted) {
		t.Errorf("reader after ErrTooLarge: got %v, want store.ErrAborted", err)
	}
	checkMissing(t, s, "k")
}

func testReaderAfterCommit(t *testing.T, f Factory) {
	s := open(t, f, f.bigCapacity())
	for _, n := range []int{0, 1, 70_001} {
		b := body(n, 43)
		w, err := s.Create(context.Background(), "k", newMeta(b, "c"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(b); err != nil {
			t.Fatal(err)
		}
		before := w.NewReader()
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		after := w.NewReader()
		// Replacing and deleting the entry does not disturb the readers.
		put(t, s, "k", newMeta(nil, "other"), nil)
		s.Delete(context.Background(), "k")
		for name, r := range map[string]io.ReadCloser{"before Commit": before, "after Commit": after} {
			got, err := io.ReadAll(r)
			if err != nil {
				t.Errorf("%d bytes, reader created %s: %v", n, name, err)
			}
			if !bytes.Equal(got, b) {
				t.Errorf("%d bytes, reader created %s: got %d bytes", n, name, len(got))
			}
			if err := r.Close(); err != nil {
				t.Errorf("reader Close: %v", err)
			}
		}
	}
}
