package disk

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"sluice/internal/cache/store"
)

var _ store.Lister = (*Store)(nil)

// keysBatch is how many file names Keys reads from a directory at a time.
const keysBatch = 256

// Keys lists the keys of the entries' files, one subdirectory after the
// other. It walks the directories rather than the index, so it also
// finds the entries of an earlier run that the scan has not indexed yet,
// and it holds no lock: names are read a batch at a time, and of each
// file only the header and the key (one pread(2)), never the metadata or
// the body. A file deleted or replaced meanwhile is skipped or read as it
// now is; a file whose key does not hash to its name (damaged, or torn by
// a crash) is skipped, and left for Get to find and delete.
func (s *Store) Keys(ctx context.Context, fn func(key string) bool) error {
	for i := range 256 {
		more, err := s.keysIn(ctx, fmt.Sprintf("%02x", i), fn)
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// keysIn lists the keys in the subdirectory sub; more is false when fn
// asked to stop.
func (s *Store) keysIn(ctx context.Context, sub string, fn func(key string) bool) (more bool, err error) {
	if err := s.usable(ctx); err != nil {
		return false, err
	}
	dir := filepath.Join(s.objDir, sub)
	d, err := os.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("disk: %w", err)
	}
	defer d.Close()
	for {
		names, err := d.Readdirnames(keysBatch)
		for _, name := range names {
			if err := s.usable(ctx); err != nil {
				return false, err
			}
			h, ok := validName(sub, name)
			if !ok {
				continue
			}
			key, ok, kerr := readKey(filepath.Join(dir, name), h)
			if kerr != nil {
				// Get fails on this file too; one unreadable
				// file must not stop every purge.
				s.log.Warn("disk cache: list keys", "err", kerr)
			}
			if ok && !fn(key) {
				return false, nil
			}
		}
		if err == io.EOF {
			return true, nil
		}
		if err != nil {
			return false, fmt.Errorf("disk: %w", err)
		}
	}
}

// readKey returns the key in the header of the entry's file at path,
// named h. ok is false, with no error, when the file is gone or is not a
// whole entry of h.
func readKey(path string, h keyHash) (key string, ok bool, err error) {
	f, err := openRead(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("disk: %w", err)
	}
	defer f.Close()
	// Keys are URLs, mostly short: one read usually gets the whole.
	var buf [headerSize + 512]byte
	n, err := f.ReadAt(buf[:], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return "", false, fmt.Errorf("disk: read %s: %w", path, err)
	}
	if n < headerSize {
		return "", false, nil
	}
	hd, ok := parseHeader(buf[:n])
	if !ok {
		return "", false, nil
	}
	var k []byte
	if end := headerSize + hd.keyLen; end <= int64(n) {
		k = buf[headerSize:end]
	} else {
		k = make([]byte, hd.keyLen)
		if _, err := f.ReadAt(k, headerSize); errors.Is(err, io.EOF) {
			return "", false, nil
		} else if err != nil {
			return "", false, fmt.Errorf("disk: read %s: %w", path, err)
		}
	}
	if sha256.Sum256(k) != h {
		return "", false, nil
	}
	return string(k), true, nil
}
