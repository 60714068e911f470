package disk

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"

	"sluice/internal/cache/store"
	"sluice/internal/copybuf"
)

// errBodyCorrupt is returned by entry.ReadAt, in place of the body's last
// bytes, when the body does not match its checksum.
var errBodyCorrupt = errors.New("disk: cached body fails its checksum")

// Get opens the entry's file and checks it: lengths, the checksum of
// header, key and metadata, the key itself, and for bodies up to 64 MiB
// the body's checksum (one sequential read, usually from the page cache,
// skipped when this process has verified the same file before). A bigger
// body is verified as it is read; see entry.ReadAt. A file that fails a
// check is deleted and Get returns store.ErrNotFound.
func (s *Store) Get(ctx context.Context, key string) (store.Entry, error) {
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	h := hashKey(key)
	if s.indexed.Load() {
		s.mu.Lock()
		_, ok := s.index[h]
		s.mu.Unlock()
		if !ok {
			return nil, store.ErrNotFound
		}
	}
	path := entryPath(s.objDir, h)
	f, err := s.open(h, path)
	if err != nil {
		return nil, err
	}
	e, err := s.load(f, h, path, key, true)
	if err != nil {
		f.Close()
		return nil, err
	}
	s.touch(h, path, e.fi)
	return e, nil
}

// open opens the file of h, mapping its absence to store.ErrNotFound.
func (s *Store) open(h keyHash, path string) (*os.File, error) {
	f, err := openRead(path)
	if err == nil {
		return f, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		s.forgetMissing(h, path)
		return nil, store.ErrNotFound
	}
	return nil, fmt.Errorf("disk: %w", err)
}

// load checks the file f of h and returns it as an entry; with verify it
// also checks the body as Get describes. A damaged or foreign file is
// deleted and reported as store.ErrNotFound.
func (s *Store) load(f *os.File, h keyHash, path, key string, verify bool) (*entry, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("disk: %w", err)
	}
	e, reason, err := s.parse(f, fi, h, key, verify)
	if err != nil {
		return nil, err
	}
	if reason != "" {
		s.drop(h, path, fi, reason)
		return nil, store.ErrNotFound
	}
	e.s, e.h, e.path, e.f, e.fi = s, h, path, f, fi
	return e, nil
}

// parse does load's checks; reason says why the file is unusable, err
// reports a failure to read it.
func (s *Store) parse(f *os.File, fi os.FileInfo, h keyHash, key string, verify bool) (e *entry, reason string, err error) {
	size := fi.Size()
	if size < headerSize+trailerSize {
		return nil, "shorter than header and trailer", nil
	}
	bp := copybuf.Get()
	defer copybuf.Put(bp)
	buf := *bp
	n := min(size, int64(len(buf)))
	if reason, err := readAt(f, buf[:n], 0); reason != "" || err != nil {
		return nil, reason, err
	}
	hd, ok := parseHeader(buf)
	if !ok {
		return nil, "bad header", nil
	}
	if want := hd.fileSize(); want != size {
		return nil, fmt.Sprintf("%d bytes long, header says %d", size, want), nil
	}
	prefix := buf[:min(hd.bodyOff(), n)]
	if hd.bodyOff() > n {
		prefix = make([]byte, hd.bodyOff())
		if reason, err := readAt(f, prefix, 0); reason != "" || err != nil {
			return nil, reason, err
		}
	}
	var tb [trailerSize]byte
	if size <= n {
		copy(tb[:], buf[size-trailerSize:size])
	} else if reason, err := readAt(f, tb[:], size-trailerSize); reason != "" || err != nil {
		return nil, reason, err
	}
	t := parseTrailer(tb[:])
	if t.bodyLen != hd.bodyLen {
		return nil, "trailer's body length differs from header's", nil
	}
	if crc32Checksum(prefix) != t.prefixCRC {
		return nil, "header, key or metadata fails checksum", nil
	}
	if string(prefix[headerSize:headerSize+hd.keyLen]) != key {
		return nil, "holds another key", nil
	}
	meta, err := store.DecodeMeta(prefix[headerSize+hd.keyLen:])
	if err != nil {
		return nil, "metadata: " + err.Error(), nil
	}
	e = &entry{meta: meta, bodyOff: hd.bodyOff(), size: hd.bodyLen, bodyCRC: t.bodyCRC}
	e.id, _ = fileIdentity(fi)
	switch {
	case !verify:
	case size <= n:
		// The whole file is in buf already.
		if crc32Checksum(buf[e.bodyOff:e.bodyOff+e.size]) != e.bodyCRC {
			return nil, "body fails checksum", nil
		}
		e.verified.Store(true)
	case s.verifiedBefore(h, e.id):
		e.verified.Store(true)
	case e.size <= s.verifyLimit:
		crc, reason, err := crcFile(f, e.bodyOff, e.size, 0, buf)
		if reason != "" || err != nil {
			return nil, reason, err
		}
		if crc != e.bodyCRC {
			return nil, "body fails checksum", nil
		}
		e.verified.Store(true)
		s.markVerified(h, e.id)
	}
	return e, "", nil
}

// readAt fills b from f at off; a file shorter than that is damaged.
func readAt(f *os.File, b []byte, off int64) (reason string, err error) {
	_, err = f.ReadAt(b, off)
	if errors.Is(err, io.EOF) {
		return "shrank while read", nil
	}
	if err != nil {
		return "", fmt.Errorf("disk: %w", err)
	}
	return "", nil
}

// crcFile continues crc over n bytes of f from off, reading through buf.
func crcFile(f *os.File, off, n int64, crc uint32, buf []byte) (uint32, string, error) {
	for n > 0 {
		b := buf[:min(n, int64(len(buf)))]
		if reason, err := readAt(f, b, off); reason != "" || err != nil {
			return 0, reason, err
		}
		crc = crc32.Update(crc, castagnoli, b)
		off += int64(len(b))
		n -= int64(len(b))
	}
	return crc, "", nil
}

// drop deletes the damaged file fi of h, unless another file has replaced
// it since it was opened, and forgets it.
func (s *Store) drop(h keyHash, path string, fi os.FileInfo, reason string) {
	s.mu.Lock()
	if cur, err := os.Lstat(path); err == nil && os.SameFile(cur, fi) {
		s.forget(h)
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.log.Warn("disk cache: cannot remove damaged entry", "err", err)
		}
	}
	s.mu.Unlock()
	s.log.Debug("disk cache: dropped damaged entry", "file", path, "reason", reason)
}

// entry is a committed entry open for reading. It keeps its file open,
// so it stays readable after the file is replaced or deleted.
type entry struct {
	s       *Store
	h       keyHash
	path    string
	f       *os.File
	fi      os.FileInfo
	id      fileID
	meta    *store.Meta
	bodyOff int64
	size    int64
	bodyCRC uint32

	// verified is set once the body has matched its checksum. Until
	// then ReadAt checksums what it reads in order (vpos, vcrc); bad is
	// set when the body failed.
	verified atomic.Bool
	vmu      sync.Mutex
	vpos     int64
	vcrc     uint32
	bad      bool
}

func (e *entry) Meta() *store.Meta { return e.meta.Clone() }
func (e *entry) Size() int64       { return e.size }
func (e *entry) Tier() string      { return "disk" }
func (e *entry) Close() error      { return e.f.Close() }

// ReadAt reads the body at off with pread(2); concurrent calls are safe.
//
// A body over 64 MiB is not verified by Get. ReadAt verifies it instead:
// bytes read in order (each read starting where the previous one ended)
// feed a running checksum, and a read that reaches the body's last byte
// first completes the checksum (reading whatever was skipped) and, if it
// does not match, returns an error and no bytes in place of the last
// ones. A caller streaming the body thus learns of damage before it has
// sent the whole body, and must abort the response rather than end it
// cleanly; the earlier bytes it sent are not checked.
func (e *entry) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("disk: read at negative offset %d", off)
	}
	if off >= e.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), e.size-off))
	if _, err := e.f.ReadAt(p[:n], e.bodyOff+off); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return 0, fmt.Errorf("disk: read %s: %w", e.path, err)
	}
	if !e.verified.Load() {
		if err := e.verify(p[:n], off); err != nil {
			return 0, err
		}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// verify feeds b, just read at off, to the running checksum, and checks
// the whole body when b ends it.
func (e *entry) verify(b []byte, off int64) error {
	e.vmu.Lock()
	defer e.vmu.Unlock()
	if e.bad {
		return errBodyCorrupt
	}
	if e.verified.Load() {
		return nil
	}
	end := off + int64(len(b))
	if off <= e.vpos && e.vpos < end {
		e.vcrc = crc32.Update(e.vcrc, castagnoli, b[e.vpos-off:])
		e.vpos = end
	}
	if end < e.size {
		return nil
	}
	if e.vpos < e.size {
		// The last bytes, read out of order: checksum what was skipped.
		bp := copybuf.Get()
		crc, reason, err := crcFile(e.f, e.bodyOff+e.vpos, e.size-e.vpos, e.vcrc, *bp)
		copybuf.Put(bp)
		if err != nil {
			return err
		}
		if reason != "" {
			crc = ^e.bodyCRC
		}
		e.vcrc, e.vpos = crc, e.size
	}
	if e.vcrc != e.bodyCRC {
		e.bad = true
		e.s.drop(e.h, e.path, e.fi, "body fails checksum (found while reading)")
		return errBodyCorrupt
	}
	e.verified.Store(true)
	e.s.markVerified(e.h, e.id)
	return nil
}

// File returns the entry's open file and the offset of the body in it, so
// that a caller can send the body with sendfile(2): Seek f to bodyOffset
// and io.Copy(conn, io.LimitReader(f, e.Size())); the net package turns
// that into sendfile. It returns nil when the body has not been verified
// yet (a body over 64 MiB read for the first time since its file was
// written); read through ReadAt then, which verifies it.
//
// The file belongs to the entry: do not close it, and do not use its
// offset from two goroutines. ReadAt does not move the offset.
func (e *entry) File() (f *os.File, bodyOffset int64) {
	if !e.verified.Load() {
		return nil, 0
	}
	return e.f, e.bodyOff
}
