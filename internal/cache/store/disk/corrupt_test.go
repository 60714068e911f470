package disk

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"sluice/internal/cache/store"
)

// region names the part of an entry's file that offset off falls in.
func region(off, keyLen, metaLen, bodyLen int64) string {
	switch {
	case off < headerSize:
		return "header"
	case off < headerSize+keyLen:
		return "key"
	case off < headerSize+keyLen+metaLen:
		return "meta"
	case off < headerSize+keyLen+metaLen+bodyLen:
		return "body"
	}
	return "trailer"
}

// TestCorruptByte damages every byte of an entry's file in turn: Get must
// report a miss and remove the file.
func TestCorruptByte(t *testing.T) {
	s := openStore(t, t.TempDir(), 64<<20)
	const key = "http://example.com/corrupt"
	m := meta("c")
	b := body(1000, 5)
	path := entryPath(s.objDir, hashKey(key))
	metaLen := int64(len(store.AppendMeta(nil, m)))
	put(t, s, key, m, b)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for off := range fi.Size() {
		// Low, high and all bits, in turn.
		flip := []byte{0x01, 0x80, 0xff}[off%3]
		put(t, s, key, m, b)
		damage(t, path, off, flip)
		r := region(off, int64(len(key)), metaLen, int64(len(b)))
		seen[r]++
		if _, _, err := get(s, key); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("byte %d (%s) ^ %#x: Get returned %v, want store.ErrNotFound", off, r, flip, err)
		}
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("byte %d (%s) ^ %#x: file not removed (%v)", off, r, flip, err)
		}
	}
	for _, r := range []string{"header", "key", "meta", "body", "trailer"} {
		if seen[r] == 0 {
			t.Errorf("no damage done to the %s", r)
		}
	}
	if st := s.Stats(); st.Entries != 0 || st.Bytes != 0 {
		t.Errorf("Stats after dropping every damaged entry: got %+v", st)
	}
}

func damage(t *testing.T, path string, off int64, flip byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var c [1]byte
	if _, err := f.ReadAt(c[:], off); err != nil {
		t.Fatal(err)
	}
	c[0] ^= flip
	if _, err := f.WriteAt(c[:], off); err != nil {
		t.Fatal(err)
	}
}

// TestTruncated cuts an entry's file at every length and also lengthens
// it: Get must report a miss and remove the file.
func TestTruncated(t *testing.T) {
	s := openStore(t, t.TempDir(), 64<<20)
	const key = "k"
	b := body(700, 6)
	path := entryPath(s.objDir, hashKey(key))
	put(t, s, key, meta("t"), b)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	for size := int64(0); size <= fi.Size()+1; size++ {
		if size == fi.Size() {
			continue
		}
		put(t, s, key, meta("t"), b)
		if err := os.Truncate(path, size); err != nil {
			t.Fatal(err)
		}
		if _, _, err := get(s, key); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("cut to %d of %d bytes: Get returned %v, want store.ErrNotFound", size, fi.Size(), err)
		}
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("cut to %d of %d bytes: file not removed (%v)", size, fi.Size(), err)
		}
	}
}

// TestForeignFile finds, at start, a valid entry for another key at a
// key's path (the directory is locked while a store has it open, so this
// is what a restart can meet).
func TestForeignFile(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, 64<<20)
	put(t, s, "a", meta("a"), body(10, 1))
	pa, pb := entryPath(s.objDir, hashKey("a")), entryPath(s.objDir, hashKey("b"))
	s.Close()
	os.MkdirAll(filepath.Dir(pb), 0o700)
	if err := os.Rename(pa, pb); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir, 64<<20)
	waitReady(t, s) // indexed under b's name, so Get opens the file
	checkMissing(t, s, "b")
	if _, err := os.Stat(pb); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("foreign file not removed (%v)", err)
	}
}

// TestCorruptAfterVerified damages a file whose body this process has
// verified already: the change of the file is noticed.
func TestCorruptAfterVerified(t *testing.T) {
	s := openStore(t, t.TempDir(), 64<<20)
	b := body(300_000, 2) // beyond the first read of Get
	put(t, s, "k", meta("v"), b)
	check(t, s, "k", "v", b)
	if !s.verifiedBefore(hashKey("k"), fileIDOf(t, entryPath(s.objDir, hashKey("k")))) {
		t.Fatal("the body's verification was not recorded")
	}
	damage(t, entryPath(s.objDir, hashKey("k")), 200_000, 1)
	checkMissing(t, s, "k")
}

func fileIDOf(t *testing.T, path string) fileID {
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := fileIdentity(fi)
	return id
}

// TestCorruptBigBody covers bodies verified as they are read (over
// verifyLimit, lowered here): the read that reaches the end returns an
// error instead of the last bytes, in order or not.
func TestCorruptBigBody(t *testing.T) {
	const size = 200_000
	b := body(size, 8)
	read := map[string]func(e *entry) error{
		"in order": func(e *entry) error {
			p := make([]byte, 32<<10)
			for off := int64(0); off < size; {
				n, err := e.ReadAt(p, off)
				if err != nil && err != io.EOF {
					return err
				}
				if !bytes.Equal(p[:n], b[off:off+int64(n)]) && off+int64(n) < 150_000 {
					return errors.New("wrong bytes before the damage")
				}
				off += int64(n)
			}
			return nil
		},
		"last bytes only": func(e *entry) error {
			_, err := e.ReadAt(make([]byte, 10), size-10)
			return err
		},
		"backwards": func(e *entry) error {
			p := make([]byte, 50_000)
			for off := int64(size - 50_000); off >= 0; off -= 50_000 {
				if _, err := e.ReadAt(p, off); err != nil && err != io.EOF {
					return err
				}
			}
			return nil
		},
	}
	for name, readAll := range read {
		t.Run(name, func(t *testing.T) {
			s := openStore(t, t.TempDir(), 64<<20)
			s.verifyLimit = 0
			path := entryPath(s.objDir, hashKey("k"))

			// Intact: reading verifies, and File is then available.
			put(t, s, "k", meta("b"), b)
			e := mustGet(t, s, "k")
			if f, _ := e.File(); f != nil {
				t.Error("File of an unverified body is not nil")
			}
			if err := readAll(e); err != nil {
				t.Fatalf("intact body: %v", err)
			}
			if f, _ := e.File(); f == nil {
				t.Error("File after verifying the body is nil")
			}
			e.Close()
			check(t, s, "k", "b", b)

			put(t, s, "k", meta("b"), b)
			damage(t, path, entryPath2BodyOff(t, path)+150_000, 0x10)
			e = mustGet(t, s, "k")
			defer e.Close()
			if err := readAll(e); !errors.Is(err, errBodyCorrupt) {
				t.Fatalf("damaged body: got %v, want errBodyCorrupt", err)
			}
			if _, err := e.ReadAt(make([]byte, 1), size-1); err == nil {
				t.Error("last byte of a damaged body read without error")
			}
			if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("damaged file not removed (%v)", err)
			}
			checkMissing(t, s, "k")
		})
	}
}

func mustGet(t *testing.T, s *Store, key string) *entry {
	t.Helper()
	e, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return e.(*entry)
}

// entryPath2BodyOff returns the offset of the body in the file at path.
func entryPath2BodyOff(t *testing.T, path string) int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, headerSize)
	if _, err := f.ReadAt(b, 0); err != nil {
		t.Fatal(err)
	}
	h, ok := parseHeader(b)
	if !ok {
		t.Fatal("bad header")
	}
	return h.bodyOff()
}
