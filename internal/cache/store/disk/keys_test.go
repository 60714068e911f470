package disk

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestKeysSkipsDamaged checks that Keys lists whole entries only: not a
// file too short for a header, one with a bad header, one whose key is
// not the key its name is the hash of (copied under another name, or a
// key damaged on disk), nor a file whose name is not a hash.
func TestKeysSkipsDamaged(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, 1<<30)
	long := "http://example.com/" + strings.Repeat("x", 2000) // beyond Keys' first read
	for _, k := range []string{"a", "b", "c", "d", long} {
		put(t, s, k, meta(k), body(100, 1))
	}
	objDir := filepath.Join(dir, "v1")
	pathOf := func(key string) string { return entryPath(objDir, hashKey(key)) }
	write := func(path string, b []byte) {
		t.Helper()
		os.MkdirAll(filepath.Dir(path), 0o700)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	whole, err := os.ReadFile(pathOf("a"))
	if err != nil {
		t.Fatal(err)
	}
	write(pathOf("short"), whole[:headerSize-1])
	write(pathOf("bad header"), append([]byte("NOTSLUICE"), whole[9:]...))
	write(pathOf("copied"), whole) // holds "a" under another key's name
	damage(t, pathOf("b"), headerSize, 'z')
	damaged, _ := os.ReadFile(pathOf(long))
	damaged[headerSize+1500] ^= 1
	write(pathOf(long), damaged)
	write(filepath.Join(objDir, "00", "not-a-hash"), whole)

	var got []string
	if err := s.Keys(context.Background(), func(k string) bool {
		got = append(got, k)
		return true
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	if want := []string{"a", "c", "d"}; !slices.Equal(got, want) {
		t.Errorf("Keys listed %q, want %q", got, want)
	}
}
