// Package disk is the persistent tier of sluice's HTTP cache: a
// store.Store that keeps each entry in a file of its own under a cache
// directory and finds the entries again after a restart.
//
// Layout: Dir/v1/xx/<SHA-256 of the key in hex>, xx being its first two
// digits, so no directory grows beyond 1/256 of the entries; the version
// directory lets a later format live next to this one. Files are written
// in Dir/tmp and renamed into place, so a reader sees a whole entry or
// none. Each file carries its key, metadata, body and two CRC-32C
// checksums (see format.go); a file that fails a check is deleted and
// reads as a miss.
//
// Durability: the store never calls fsync. After a power cut, a file
// renamed into place may hold zeros or stale blocks where its data did not
// reach the disk; the length check and the checksums catch that when the
// entry is next read, and the file is deleted: before Get returns for
// bodies up to 64 MiB, before the last byte is returned for bigger ones
// (entry.ReadAt). A rename that did not survive is a miss. A cache may
// forget entries in a crash but must never serve damaged ones, and an
// fsync per object (milliseconds on many disks) would cost more than the
// entries it saves.
//
// The index of what is stored (size and last access per entry) lives in
// memory and is rebuilt at Open by a background scan that stats the files
// without reading them, so Open returns at once whatever the directory's
// size; Get works meanwhile because it opens files by name. Eviction
// removes the least recently used of a random sample of entries, one at a
// time (approximate LRU, as Redis does): the Commit that takes the files
// over Capacity evicts until they fit, and wakes a background evictor that
// goes on down to 95% of Capacity, so that the next Commits need not.
// Last access survives a restart through the files' modification time,
// refreshed at most once an hour per entry.
//
// It does not share a directory between processes (Open locks it), does
// not compress, and does not know HTTP: keys are opaque.
package disk

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"sluice/internal/cache/store"
)

// Options configure a Store.
type Options struct {
	// Dir is the cache directory; it is created (mode 0700) if missing.
	Dir string
	// Capacity is the budget in bytes for the entries' files; required.
	Capacity int64
	// MaxObjectSize is the largest body accepted; 0 means 1 GiB. A
	// quarter of Capacity is the limit when that is less, so that one
	// object cannot flush the cache.
	MaxObjectSize int64
	// Logger receives dropped damaged entries (Debug) and the summary of
	// the startup scan (Info); nil means slog.Default().
	Logger *slog.Logger
}

// defaultMaxObjectSize is the body limit when Options.MaxObjectSize is 0.
const defaultMaxObjectSize = 1 << 30

// verifyLimit is the largest body whose checksum Get verifies before
// returning; bigger bodies are verified as they are read (entry.ReadAt).
const verifyLimit = 64 << 20

var errClosed = errors.New("disk: store closed")

var _ store.Store = (*Store)(nil)

// Store is a store.Store in files under a directory. Its methods are safe
// for concurrent use.
type Store struct {
	objDir    string // Dir/v1: the entries
	tmpDir    string // Dir/tmp: files being written
	tmpPrefix string // starts the names of this Store's temporary files
	capacity  int64
	maxObject int64
	log       *slog.Logger
	lock      *os.File // holds the directory's lock until Close

	// verifyLimit is verifyLimit except in tests.
	verifyLimit int64

	closed atomic.Bool   // set under mu
	stop   chan struct{} // closed by Close; the scan and the evictor exit
	ready  chan struct{} // closed when the scan has finished
	// indexed is set when the scan has indexed every file: from then on
	// a key absent from the index has no file, and Get answers a miss
	// without a system call (every uncacheable request asks).
	indexed atomic.Bool
	kick    chan struct{} // wakes the evictor; capacity 1, sends never block
	wg      sync.WaitGroup

	// mu guards the index and orders every change of an entry's file
	// (rename into place, removal) with the index's view of it, so the
	// two never disagree for long: the renames and removals run under it.
	mu        sync.Mutex
	index     map[keyHash]info
	bytes     int64 // sum of index[*].size
	evictions int64
}

// Open opens or creates the cache in o.Dir. It returns before the existing
// entries are indexed; Ready reports when they are.
func Open(o Options) (*Store, error) {
	if o.Dir == "" {
		return nil, errors.New("disk: no cache directory")
	}
	if o.Capacity <= 0 {
		return nil, fmt.Errorf("disk: capacity %d, want > 0", o.Capacity)
	}
	if o.MaxObjectSize < 0 {
		return nil, fmt.Errorf("disk: max object size %d, want >= 0", o.MaxObjectSize)
	}
	s := &Store{
		objDir:      filepath.Join(o.Dir, "v1"),
		tmpDir:      filepath.Join(o.Dir, "tmp"),
		capacity:    o.Capacity,
		maxObject:   o.MaxObjectSize,
		log:         o.Logger,
		verifyLimit: verifyLimit,
		stop:        make(chan struct{}),
		ready:       make(chan struct{}),
		kick:        make(chan struct{}, 1),
		index:       make(map[keyHash]info),
	}
	if s.maxObject == 0 {
		s.maxObject = defaultMaxObjectSize
	}
	s.maxObject = min(s.maxObject, s.capacity/4)
	if s.log == nil {
		s.log = slog.Default()
	}
	for _, d := range []string{o.Dir, s.objDir, s.tmpDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("disk: %w", err)
		}
	}
	lock, err := lockDir(o.Dir)
	if err != nil {
		return nil, err
	}
	s.lock = lock
	// Temporary files not named with this prefix are left over from an
	// earlier run; the scan removes them.
	s.tmpPrefix = rand.Text() + "-"

	s.wg.Add(2)
	go s.scan()
	go s.evictLoop()
	return s, nil
}

// Ready returns a channel closed when the scan of the entries found at
// Open has finished (or stopped at Close). Until then Stats counts only
// the entries seen so far; Get, Create and the rest work regardless.
func (s *Store) Ready() <-chan struct{} { return s.ready }

// Stats reports the entries indexed so far and their files' total size.
func (s *Store) Stats() store.Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return store.Stats{
		Entries:   int64(len(s.index)),
		Bytes:     s.bytes,
		Capacity:  s.capacity,
		Evictions: s.evictions,
	}
}

// Close stops the scan and the evictor, waits for them and releases the
// directory. Entries already returned stay readable until closed; writers
// still open fail at Commit.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		return nil
	}
	s.closed.Store(true)
	s.mu.Unlock()
	close(s.stop)
	s.wg.Wait()
	if s.lock == nil {
		return nil
	}
	return s.lock.Close()
}

// Delete removes the entry's file. Readers holding the entry keep their
// open file, which Linux keeps readable until closed.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	h := hashKey(key)
	path := entryPath(s.objDir, h)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forget(h)
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("disk: %w", err)
	}
	return nil
}

// Update writes a new file with meta and the old body, copied inside the
// kernel (copy_file_range), and renames it over the old one. The old
// body's checksum is kept, not recomputed, so damage in it stays
// detectable. Readers holding the old entry keep reading the old file.
func (s *Store) Update(ctx context.Context, key string, meta *store.Meta) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	h := hashKey(key)
	path := entryPath(s.objDir, h)
	old, err := s.open(h, path)
	if err != nil {
		return err
	}
	defer old.Close()
	e, err := s.load(old, h, path, key, false)
	if err != nil {
		return err
	}
	prefix, err := encodePrefix(key, meta, e.size)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(s.tmpDir, s.tmpPrefix+"*")
	if err != nil {
		return fmt.Errorf("disk: %w", err)
	}
	tmp := f.Name()
	err = writeUpdated(f, old, e, prefix)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("disk: %w", cerr)
	}
	if err == nil {
		// If the file changed since it was opened, a Commit or Delete
		// came after this Update and wins; the update is dropped.
		var done bool
		done, err = s.install(h, tmp, int64(len(prefix))+e.size+trailerSize, e.fi)
		if done {
			return nil
		}
	}
	os.Remove(tmp)
	return err
}

// writeUpdated writes prefix, e's body copied from old, and the trailer
// to f.
func writeUpdated(f, old *os.File, e *entry, prefix []byte) error {
	if _, err := f.Write(prefix); err != nil {
		return fmt.Errorf("disk: %w", err)
	}
	if _, err := old.Seek(e.bodyOff, io.SeekStart); err != nil {
		return fmt.Errorf("disk: %w", err)
	}
	// *os.File to *os.File through an io.LimitedReader is copy_file_range.
	n, err := io.Copy(f, io.LimitReader(old, e.size))
	if err == nil && n != e.size {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return fmt.Errorf("disk: copy body of %s: %w", old.Name(), err)
	}
	var t [trailerSize]byte
	putTrailer(t[:], trailer{crc32Checksum(prefix), e.bodyCRC, e.size})
	if _, err := f.Write(t[:]); err != nil {
		return fmt.Errorf("disk: %w", err)
	}
	return nil
}

// encodePrefix returns the header, key and metadata of a new file with a
// body of bodyLen bytes (0 while unknown).
func encodePrefix(key string, meta *store.Meta, bodyLen int64) ([]byte, error) {
	if len(key) > maxKeyLen {
		return nil, fmt.Errorf("disk: key of %d bytes, limit %d", len(key), maxKeyLen)
	}
	b := make([]byte, headerSize, headerSize+len(key)+store.MetaSize(meta))
	b = append(b, key...)
	b = store.AppendMeta(b, meta)
	h := header{keyLen: int64(len(key)), metaLen: int64(len(b) - headerSize - len(key)), bodyLen: bodyLen}
	if h.metaLen > maxMetaLen {
		return nil, fmt.Errorf("disk: metadata of %d bytes, limit %d", h.metaLen, maxMetaLen)
	}
	putHeader(b, h)
	return b, nil
}

// install renames the finished temporary file tmp of size bytes into the
// place of h and indexes it. With replace set it does so only if replace
// is still the file in place, and reports false otherwise.
func (s *Store) install(h keyHash, tmp string, size int64, replace os.FileInfo) (bool, error) {
	path := entryPath(s.objDir, h)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return false, errClosed
	}
	if replace != nil {
		if cur, err := os.Lstat(path); err != nil || !os.SameFile(cur, replace) {
			return false, nil
		}
	}
	err := os.Rename(tmp, path)
	if errors.Is(err, fs.ErrNotExist) {
		// The first entry of its subdirectory.
		if err = os.MkdirAll(filepath.Dir(path), 0o700); err == nil {
			err = os.Rename(tmp, path)
		}
	}
	if err != nil {
		return false, fmt.Errorf("disk: %w", err)
	}
	t := now()
	s.put(h, info{size: size, atime: t, mtime: t})
	if s.bytes > s.capacity {
		// The budget is a bound, so the Commit that crosses it evicts
		// until it holds again (usually one entry); the evictor then
		// makes room for the Commits to come.
		s.evictLocked(s.capacity, &h, math.MaxInt)
		s.kickEvictor()
	}
	return true, nil
}

// usable returns the error that stops an operation before it starts.
func (s *Store) usable(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return errClosed
	}
	return nil
}

// MaxObjectSize returns the largest body the store accepts.
func (s *Store) MaxObjectSize() int64 { return s.maxObject }
