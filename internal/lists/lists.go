// Package lists reads the block and allow lists named in the
// configuration: files as they are, and lists given as URLs from a local
// copy of the last version that was fetched and found good, so that a
// proxy restarted without network still blocks. Fetch gets new versions.
//
// It does not parse lists (package filter does, through Options.Check) or
// decide when to fetch (the caller runs Fetch on its schedule), and it does
// not watch files.
package lists

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// MaxSize is the largest list read or fetched. EasyList is about 2 MiB and
// the largest common hosts lists about 15 MiB.
const MaxSize = 64 << 20

// Options configure a Store.
type Options struct {
	// Dir holds the last good copy of each URL list. Required for URL
	// lists; created if missing.
	Dir string
	// Client fetches URL lists. Nil means a client that cannot fetch, so
	// only last good copies are read.
	Client *http.Client
	// Check says whether fetched content is a usable list; content it
	// rejects never replaces the last good copy. Nil accepts anything
	// non-empty.
	Check func(source string, data []byte) error
	// Logger receives diagnostics; nil means slog.Default().
	Logger *slog.Logger
}

// Store reads and fetches lists. It is safe for concurrent use.
type Store struct {
	o Options
}

// New returns a Store.
func New(o Options) *Store {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Store{o: o}
}

// IsURL reports whether source is a URL to fetch rather than a file path.
func IsURL(source string) bool {
	return strings.HasPrefix(source, "http://") || strings.HasPrefix(source, "https://")
}

// ErrNoCopy is returned by Read for a URL list that has never been fetched
// successfully.
var ErrNoCopy = errors.New("not fetched yet")

// Read returns the content of source: a file's current content, or the
// last good copy of a URL list (ErrNoCopy if there is none yet).
func (s *Store) Read(source string) ([]byte, error) {
	if !IsURL(source) {
		return readFile(source)
	}
	b, err := readFile(s.copyPath(source))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", source, ErrNoCopy)
	}
	if err != nil {
		return nil, fmt.Errorf("last good copy of %s: %w", source, err)
	}
	return b, nil
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxSize {
		return nil, fmt.Errorf("%s: larger than %d MiB", path, MaxSize>>20)
	}
	return b, nil
}

// Fetch gets the current version of the URL list source and, if Check
// accepts it, makes it the last good copy. It reports whether the copy
// changed. On any failure the last good copy stays as it was.
func (s *Store) Fetch(ctx context.Context, source string) (changed bool, err error) {
	if s.o.Client == nil {
		return false, errors.New("no client to fetch lists with")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, source, nil)
	if err != nil {
		return false, err
	}
	resp, err := s.o.Client.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("%s: %s", source, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxSize+1))
	if err != nil {
		return false, fmt.Errorf("%s: %w", source, err)
	}
	if len(b) > MaxSize {
		return false, fmt.Errorf("%s: larger than %d MiB", source, MaxSize>>20)
	}
	if len(b) == 0 {
		return false, fmt.Errorf("%s: empty", source)
	}
	if s.o.Check != nil {
		if err := s.o.Check(source, b); err != nil {
			return false, fmt.Errorf("%s: not a usable list: %w", source, err)
		}
	}
	path := s.copyPath(source)
	if old, err := os.ReadFile(path); err == nil && string(old) == string(b) {
		return false, nil
	}
	if err := writeAtomic(path, b); err != nil {
		return false, fmt.Errorf("saving %s: %w", source, err)
	}
	s.o.Logger.Info("list updated", "source", source, "bytes", len(b))
	return true, nil
}

// copyPath is where the last good copy of a URL list lives: a name derived
// from the URL, so any URL maps to a safe file name.
func (s *Store) copyPath(source string) string {
	sum := sha256.Sum256([]byte(source))
	return filepath.Join(s.o.Dir, hex.EncodeToString(sum[:12])+".list")
}

// writeAtomic replaces path with b: a reader sees the old or the new
// content, never a mix, even after a crash.
func writeAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
