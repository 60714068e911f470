// Package storetest is the conformance suite every store.Store passes.
//
// A store's own test calls Run with a Factory that opens the store; Run
// checks the contract written in package store: visibility at Commit,
// atomic replacement, readers that outlive replacement, deletion and
// eviction, writers followed by readers, the object size limit, the byte
// budget, concurrency under the race detector, for persistent stores
// reopening, and for stores that implement store.Lister, listing keys.
//
// It does not measure performance or memory use, and it does not test what
// the interface leaves open (how a store picks its victims beyond "recently
// used entries tend to stay", what an entry read after Close returns).
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"testing"
	"time"

	"sluice/internal/cache/store"
)

// Factory opens the store under test.
type Factory struct {
	// Open opens a store with the given byte budget whose persistent
	// state (if any) lives in dir. Run calls it again with the same dir
	// to test reopening, after closing the first store.
	Open func(t *testing.T, dir string, capacity int64) store.Store
	// Persistent says committed entries survive Close and a new Open on
	// the same dir.
	Persistent bool
	// MaxObjectSize is the per-object limit the factory configures:
	// Write beyond it returns store.ErrTooLarge. Run needs at least
	// 1 MiB; a few MiB keeps the suite fast.
	MaxObjectSize int64
}

// Budgets the suite works with. Functional subtests use a budget large
// enough that nothing is evicted; eviction subtests use smallCapacity.
const (
	smallCapacity = 4 << 20
	minObjectSize = 1 << 20
)

// Run runs the conformance suite against the stores f opens, each subtest
// in its own t.Run with its own directory.
func Run(t *testing.T, f Factory) {
	if f.Open == nil {
		t.Fatal("storetest: Factory.Open is nil")
	}
	if f.MaxObjectSize < minObjectSize {
		t.Fatalf("storetest: MaxObjectSize %d is below the %d the suite needs", f.MaxObjectSize, minObjectSize)
	}
	tests := []struct {
		name string
		run  func(t *testing.T, f Factory)
	}{
		{"GetMissing", testGetMissing},
		{"RoundTrip", testRoundTrip},
		{"ReadAt", testReadAt},
		{"InvisibleBeforeCommit", testInvisibleBeforeCommit},
		{"Abort", testAbort},
		{"Replace", testReplace},
		{"ReaderOutlivesDelete", testReaderOutlivesDelete},
		{"ReaderOutlivesEviction", testReaderOutlivesEviction},
		{"Update", testUpdate},
		{"Delete", testDelete},
		{"EmptyBody", testEmptyBody},
		{"LargeBody", testLargeBody},
		{"TooLarge", testTooLarge},
		{"FollowWriter", testFollowWriter},
		{"FollowAbort", testFollowAbort},
		{"FollowTooLarge", testFollowTooLarge},
		{"ReaderAfterCommit", testReaderAfterCommit},
		{"Concurrent", testConcurrent},
		{"Eviction", testEviction},
		{"RecentlyUsedSurvives", testRecentlyUsedSurvives},
		{"Stats", testStats},
		{"CloseWithOpenEntry", testCloseWithOpenEntry},
		{"Reopen", testReopen},
		{"Keys", testKeys},
		{"KeysDelete", testKeysDelete},
		{"KeysStop", testKeysStop},
		{"KeysConcurrent", testKeysConcurrent},
		{"KeysReopen", testKeysReopen},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, f) })
	}
}

// bigCapacity is a budget under which the functional subtests never
// evict.
func (f Factory) bigCapacity() int64 {
	return max(32<<20, 4*f.MaxObjectSize)
}

// open opens a store in a fresh directory and closes it when t ends.
func open(t *testing.T, f Factory, capacity int64) store.Store {
	t.Helper()
	s := f.Open(t, t.TempDir(), capacity)
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// Sum headers carry a checksum of the body in the meta, so that a reader
// can check that the body it got belongs to the meta it got.
const (
	sumHeader = "X-Storetest-Crc32"
	lenHeader = "X-Storetest-Length"
)

// newMeta returns a meta describing body, with a repeated field and the
// two timestamps set to distinct values with nanoseconds.
func newMeta(body []byte, tag string) *store.Meta {
	h := http.Header{}
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Etag", `"`+tag+`"`)
	h.Add("Set-Cookie", "a=1; Path=/")
	h.Add("Set-Cookie", "b=2; Secure")
	h.Set(sumHeader, strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)), 16))
	h.Set(lenHeader, strconv.Itoa(len(body)))
	return &store.Meta{
		Status:       200,
		Header:       h,
		RequestTime:  time.Unix(1700000000, 123456789),
		ResponseTime: time.Unix(1700000001, 987654321),
	}
}

// body returns n bytes determined by seed.
func body(n int, seed uint64) []byte {
	b := make([]byte, n)
	x := seed*0x9e3779b97f4a7c15 + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	return b
}

// put stores body under key with meta and commits.
func put(t testing.TB, s store.Store, key string, meta *store.Meta, b []byte) {
	t.Helper()
	w, err := s.Create(context.Background(), key, meta)
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

// readAll reads e's whole body with ReadAt.
func readAll(e store.Entry) ([]byte, error) {
	b := make([]byte, e.Size())
	n, err := e.ReadAt(b, 0)
	if err == io.EOF && n == len(b) {
		err = nil
	}
	if len(b) == 0 {
		err = nil
	}
	return b[:n], err
}

// sameMeta reports how got differs from want, or "" when they are equal.
func sameMeta(got, want *store.Meta) string {
	switch {
	case got == nil:
		return "meta is nil"
	case got.Status != want.Status:
		return fmt.Sprintf("status: got %d, want %d", got.Status, want.Status)
	case !reflect.DeepEqual(got.Header, want.Header):
		return fmt.Sprintf("header: got %v, want %v", got.Header, want.Header)
	case !got.RequestTime.Equal(want.RequestTime):
		return fmt.Sprintf("request time: got %v, want %v", got.RequestTime, want.RequestTime)
	case !got.ResponseTime.Equal(want.ResponseTime):
		return fmt.Sprintf("response time: got %v, want %v", got.ResponseTime, want.ResponseTime)
	}
	return ""
}

// check gets key and checks its meta and body.
func check(t testing.TB, s store.Store, key string, meta *store.Meta, b []byte) {
	t.Helper()
	e, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer e.Close()
	checkEntry(t, e, key, meta, b)
}

func checkEntry(t testing.TB, e store.Entry, key string, meta *store.Meta, b []byte) {
	t.Helper()
	if d := sameMeta(e.Meta(), meta); d != "" {
		t.Errorf("Get(%q) %s", key, d)
	}
	if e.Size() != int64(len(b)) {
		t.Fatalf("Get(%q).Size() = %d, want %d", key, e.Size(), len(b))
	}
	got, err := readAll(e)
	if err != nil {
		t.Fatalf("Get(%q).ReadAt: %v", key, err)
	}
	if !bytes.Equal(got, b) {
		t.Fatalf("Get(%q) body differs: %d bytes, want %d (first difference at %d)", key, len(got), len(b), firstDiff(got, b))
	}
}

// verify checks that e's body matches the checksum in e's meta.
func verify(e store.Entry) error {
	m := e.Meta()
	b, err := readAll(e)
	if err != nil {
		return fmt.Errorf("ReadAt: %w", err)
	}
	if n := strconv.Itoa(len(b)); m.Header.Get(lenHeader) != n {
		return fmt.Errorf("body length %s, meta says %s", n, m.Header.Get(lenHeader))
	}
	if sum := strconv.FormatUint(uint64(crc32.ChecksumIEEE(b)), 16); m.Header.Get(sumHeader) != sum {
		return fmt.Errorf("body checksum %s, meta says %s", sum, m.Header.Get(sumHeader))
	}
	return nil
}

func checkMissing(t testing.TB, s store.Store, key string) {
	t.Helper()
	e, err := s.Get(context.Background(), key)
	if err == nil {
		e.Close()
		t.Fatalf("Get(%q) found an entry, want store.ErrNotFound", key)
	}
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get(%q): got error %v, want store.ErrNotFound", key, err)
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
