package redisstore

import (
	"errors"
	"io"
	"net/http"

	"sluice/internal/cache/store"
)

// entry is a value read whole from Redis: replacing, deleting or evicting
// the key afterwards does not touch it.
type entry struct {
	v       []byte // the whole value: header, metadata, body
	bodyOff int
	gen     uint64
}

var (
	_ store.Entry     = (*entry)(nil)
	_ store.MetaBytes = (*entry)(nil)
)

// Meta decodes the stored metadata; the caller owns the result. A value
// whose metadata does not decode gives an empty meta.
func (e *entry) Meta() *store.Meta {
	if m, err := store.DecodeMeta(e.MetaBytes()); err == nil {
		return m
	}
	return &store.Meta{Header: http.Header{}}
}

// MetaBytes returns the encoded metadata, valid as long as e is.
func (e *entry) MetaBytes() []byte { return e.v[headerSize:e.bodyOff:e.bodyOff] }

func (e *entry) Size() int64 { return int64(len(e.v) - e.bodyOff) }

func (e *entry) Tier() string { return tier }

// Generation identifies the committed body e holds: Commit draws a new
// one, Update keeps it. UpdateIf takes it.
func (e *entry) Generation() uint64 { return e.gen }

func (e *entry) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("redis: negative offset")
	}
	body := e.v[e.bodyOff:]
	if off >= int64(len(body)) {
		return 0, io.EOF
	}
	n := copy(p, body[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Close does nothing: the value is garbage once unreferenced.
func (e *entry) Close() error { return nil }
