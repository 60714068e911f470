package redisstore

import (
	"bytes"
	"encoding/binary"
	"io"
	"net/http"
	"testing"
	"time"

	"sluice/internal/cache/store"
)

// FuzzDecodeValue feeds arbitrary values, as a Redis others can write to
// might hold, through what Get does with one: decode, metadata, reads. A
// value is accepted only with its exact length, and then reads back the
// body its header bounds.
func FuzzDecodeValue(f *testing.F) {
	meta := &store.Meta{Status: 200, Header: http.Header{"Etag": {`"x"`}}, RequestTime: time.Unix(1, 0), ResponseTime: time.Unix(2, 0)}
	good := appendHeader(nil, 7, store.MetaSize(meta))
	good = store.AppendMeta(good, meta)
	good = append(good, "hello body"...)
	binary.BigEndian.PutUint64(good[bodyLenOff:], uint64(len(good)-headerSize-store.MetaSize(meta)))
	if _, ok := decodeValue(good, 1<<20); !ok {
		f.Fatal("the well-formed seed does not decode")
	}
	f.Add(good, int64(1<<20))
	f.Add(good[:len(good)-1], int64(1<<20))
	f.Add(good, int64(3))
	f.Add([]byte("slc\x01"), int64(10))
	// A body length that wraps around int64 with a negative limit.
	wrap := append([]byte(nil), good...)
	binary.BigEndian.PutUint64(wrap[bodyLenOff:], ^uint64(0)-5)
	f.Add(wrap, int64(-1))
	f.Add([]byte{}, int64(0))
	f.Fuzz(func(t *testing.T, v []byte, maxObject int64) {
		e, ok := decodeValue(v, maxObject)
		if !ok {
			return
		}
		h, _ := parseHeader(v)
		if int64(len(v)) != h.total() || e.Size() != int64(h.bodyLen) {
			t.Fatalf("accepted a value of %d bytes whose header says %d (body %d, size %d)", len(v), h.total(), h.bodyLen, e.Size())
		}
		e.Meta()
		b, err := io.ReadAll(io.NewSectionReader(e, 0, e.Size()))
		if err != nil || !bytes.Equal(b, v[len(v)-len(b):]) || int64(len(b)) != e.Size() {
			t.Fatalf("body read back wrong: %d bytes, %v", len(b), err)
		}
	})
}
