package disk

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// info is what the index knows of an entry's file. It holds no pointers,
// so the garbage collector does not scan the index however big it grows.
type info struct {
	size  int64 // the file's length
	atime int64 // last access, unix nanoseconds
	mtime int64 // the file's modification time as last set, unix nanoseconds
	// verified is the file whose body this process has checksummed, so
	// that later Gets of the same unchanged file skip the read.
	verified fileID
}

// fileID tells files apart: inode and change time (which any write,
// chmod or utimes moves, and which cannot be set back). The zero value
// matches nothing.
type fileID struct {
	ino   uint64
	ctime int64
}

const (
	// sampleSize is how many entries eviction compares per victim.
	sampleSize = 16
	// touchInterval is how often, at most, Get moves a file's
	// modification time to record an access that survives a restart.
	touchInterval = int64(time.Hour)
)

func now() int64 { return time.Now().UnixNano() }

// put indexes h as in, replacing what was there. s.mu is held.
func (s *Store) put(h keyHash, in info) {
	if old, ok := s.index[h]; ok {
		s.bytes -= old.size
	}
	s.index[h] = in
	s.bytes += in.size
}

// forget removes h from the index. s.mu is held.
func (s *Store) forget(h keyHash) {
	if old, ok := s.index[h]; ok {
		s.bytes -= old.size
		delete(s.index, h)
	}
}

// forgetMissing drops h from the index if its file is gone (deleted by
// someone else; Get found no file).
func (s *Store) forgetMissing(h keyHash, path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.index[h]; !ok {
		return
	}
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		s.forget(h)
	}
}

// touch records an access to the file fi of h, indexing it if the scan
// has not yet. Once an hour at most it also sets the file's modification
// time, which the next Open takes as the last access.
func (s *Store) touch(h keyHash, path string, fi os.FileInfo) {
	t := now()
	s.mu.Lock()
	in, ok := s.index[h]
	if !ok {
		// Index it only if it is still in place: it may have been
		// deleted or replaced since Get opened it.
		if cur, err := os.Lstat(path); err == nil && os.SameFile(cur, fi) {
			s.put(h, info{size: fi.Size(), atime: t, mtime: fi.ModTime().UnixNano()})
		}
		s.mu.Unlock()
		return
	}
	in.atime = t
	chtime := t-in.mtime >= touchInterval
	if chtime {
		in.mtime = t
	}
	s.index[h] = in
	s.mu.Unlock()
	if chtime {
		// Best effort: if another file is in place by now, it gets a
		// recent time, which it deserves as newly written.
		os.Chtimes(path, time.Time{}, time.Unix(0, t))
	}
}

// verifiedBefore reports whether id is the file of h whose body this
// process has verified.
func (s *Store) verifiedBefore(h keyHash, id fileID) bool {
	if id == (fileID{}) {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.index[h].verified == id
}

// markVerified records that the body of file id of h matched its checksum.
func (s *Store) markVerified(h keyHash, id fileID) {
	if id == (fileID{}) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if in, ok := s.index[h]; ok {
		in.verified = id
		s.index[h] = in
	}
}

// scan indexes the entries present at Open by their names and stat(2)
// alone, and removes temporary files left over from an earlier run. It
// runs once, in the background, and stops early at Close.
func (s *Store) scan() {
	defer s.wg.Done()
	defer close(s.ready)
	start := time.Now()
	tmp := s.removeTemp()
	var entries, bytes, skipped int64
	for i := range 256 {
		select {
		case <-s.stop:
			return
		default:
		}
		sub := fmt.Sprintf("%02x", i)
		dir := filepath.Join(s.objDir, sub)
		des, err := os.ReadDir(dir)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				s.log.Warn("disk cache: scan", "err", err)
			}
			continue
		}
		for _, de := range des {
			h, ok := validName(sub, de.Name())
			if !ok || !de.Type().IsRegular() {
				skipped++
				continue
			}
			if size, ok := s.scanned(h, filepath.Join(dir, de.Name())); ok {
				entries++
				bytes += size
			}
		}
	}
	s.indexed.Store(true)
	s.log.Info("disk cache: scanned", "dir", filepath.Dir(s.objDir), "entries", entries, "bytes", bytes,
		"foreign_files", skipped, "temp_files_removed", tmp, "took", time.Since(start).Round(time.Millisecond))
	s.kickEvictor()
}

// scanned indexes the file at path as h unless h is indexed already (a
// Get or Commit since Open knows better). The stat runs under s.mu so that
// a file deleted meanwhile is not indexed.
func (s *Store) scanned(h keyHash, path string) (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.index[h]; ok {
		return 0, false
	}
	fi, err := os.Lstat(path)
	if err != nil || !fi.Mode().IsRegular() {
		return 0, false
	}
	mtime := fi.ModTime().UnixNano()
	s.put(h, info{size: fi.Size(), atime: mtime, mtime: mtime})
	return fi.Size(), true
}

// removeTemp removes the temporary files of earlier runs, those not named
// with this Store's prefix, and returns how many.
func (s *Store) removeTemp() int {
	des, err := os.ReadDir(s.tmpDir)
	if err != nil {
		s.log.Warn("disk cache: scan temporary files", "err", err)
		return 0
	}
	n := 0
	for _, de := range des {
		if strings.HasPrefix(de.Name(), s.tmpPrefix) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(s.tmpDir, de.Name())); err == nil {
			n++
		}
	}
	return n
}

func (s *Store) kickEvictor() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// evictLoop is the one background evictor: whenever kicked, it removes
// entries until the files fit in 95% of the capacity, so that Commits
// rarely need to evict themselves. It exits at Close.
func (s *Store) evictLoop() {
	defer s.wg.Done()
	target := s.capacity - s.capacity/20
	for {
		select {
		case <-s.stop:
			return
		case <-s.kick:
		}
		// Batches under s.mu, so that Gets and Commits get their turn.
		for more := true; more; {
			s.mu.Lock()
			more = s.evictLocked(target, nil, 64)
			s.mu.Unlock()
			select {
			case <-s.stop:
				return
			default:
			}
		}
	}
}

// evictLocked removes up to n entries, the least recently used of
// sampleSize at a time, until the files fit in target bytes; it never
// removes keep. It reports whether more remain to remove. s.mu is held.
func (s *Store) evictLocked(target int64, keep *keyHash, n int) bool {
	for ; n > 0 && s.bytes > target; n-- {
		h, ok := s.victim(keep)
		if !ok {
			return false
		}
		s.forget(h)
		s.evictions++
		if err := os.Remove(entryPath(s.objDir, h)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.log.Warn("disk cache: evict", "err", err)
		}
	}
	return s.bytes > target
}

// victim returns the least recently used of sampleSize entries other than
// keep, taken from the index in map order, which Go randomises. s.mu is
// held.
func (s *Store) victim(keep *keyHash) (keyHash, bool) {
	var (
		best  keyHash
		atime int64
		n     int
	)
	for h, in := range s.index {
		if keep != nil && h == *keep {
			continue
		}
		if n == 0 || in.atime < atime {
			best, atime = h, in.atime
		}
		if n++; n == sampleSize {
			break
		}
	}
	return best, n > 0
}
