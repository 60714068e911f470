package mem

import (
	"errors"
	"io"
	"net/http"
	"sync"

	"sluice/internal/cache/store"
)

// entry is a pinned record being read. Its record stays in place (and
// mapped, even after the store closes) until Close.
type entry struct {
	sh      *shard
	slot    int32
	rec     record
	metaOff int64
	metaLen int64
	bodyOff int64

	// mu makes Close wait for reads in progress, so that no read touches
	// memory freed or unmapped after the unpin.
	mu     sync.RWMutex
	closed bool
}

var (
	_ store.Entry     = (*entry)(nil)
	_ store.MetaBytes = (*entry)(nil)
)

func newEntry(sh *shard, i int32, rec record) *entry {
	keyLen, metaLen := rec.header()
	metaOff := recordHeader + keyLen
	return &entry{sh: sh, slot: i, rec: rec, metaOff: metaOff, metaLen: metaLen, bodyOff: metaOff + metaLen}
}

// Meta decodes the stored meta. After Close it returns an empty meta.
func (e *entry) Meta() *store.Meta {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if !e.closed {
		if m, err := store.DecodeMeta(e.rec.slice(e.metaOff, e.metaLen)); err == nil {
			return m
		}
	}
	return &store.Meta{Header: http.Header{}}
}

// MetaBytes returns the encoded meta in slab memory, valid until Close.
func (e *entry) MetaBytes() []byte { return e.rec.slice(e.metaOff, e.metaLen) }

func (e *entry) Size() int64 { return e.rec.n - e.bodyOff }

func (e *entry) Tier() string { return tier }

// ReadAt copies body bytes straight from slab memory into p.
func (e *entry) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("mem: negative offset")
	}
	size := e.Size()
	if off >= size {
		return 0, io.EOF
	}
	want := p[:min(int64(len(p)), size-off)]
	e.mu.RLock()
	if e.closed {
		e.mu.RUnlock()
		return 0, errEntryClosed
	}
	n := e.rec.readAt(want, e.bodyOff+off)
	e.mu.RUnlock()
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Close unpins the record; a second Close does nothing.
func (e *entry) Close() error {
	e.mu.Lock()
	closed := e.closed
	e.closed = true
	e.mu.Unlock()
	if !closed {
		e.sh.mu.Lock()
		e.sh.unpin(e.slot)
		e.sh.mu.Unlock()
	}
	return nil
}
