package redisstore

import (
	"encoding/binary"
	"math/rand/v2"
)

// A stored object is one Redis string, so that a reader gets a whole
// value, old or new, and never the metadata of one object with the body
// of another (SET and GETRANGE are atomic):
//
//	magic      4 bytes  "slc\x01"; a value without it is not an entry
//	generation 8 bytes  random, set at Commit and kept by Update: which
//	                    committed body this is
//	body len   8 bytes  big-endian
//	meta len   4 bytes  big-endian
//	meta       store.AppendMeta's encoding, as the mem and disk tiers keep it
//	body
//
// The lengths come first so that a reader of the first bytes knows the
// size of the whole value before fetching it.
const (
	magic      = "slc\x01"
	headerSize = 24
	genOff     = 4
	bodyLenOff = 12
	metaLenOff = 20
)

// maxMetaSize bounds the encoded metadata of an object, so that a value
// held in memory is at most MaxObjectSize plus this.
const maxMetaSize = 1 << 20

// header is the fixed part of a value.
type header struct {
	gen     uint64
	bodyLen uint64
	metaLen uint32
}

// total is the length of the whole value the header starts.
func (h header) total() int64 { return headerSize + int64(h.metaLen) + int64(h.bodyLen) }

// parseHeader reads the header at the start of v. It reports false when
// v does not start with one.
func parseHeader(v []byte) (header, bool) {
	if len(v) < headerSize || string(v[:len(magic)]) != magic {
		return header{}, false
	}
	return header{
		gen:     binary.BigEndian.Uint64(v[genOff:]),
		bodyLen: binary.BigEndian.Uint64(v[bodyLenOff:]),
		metaLen: binary.BigEndian.Uint32(v[metaLenOff:]),
	}, true
}

// newGeneration returns a random generation, never 0.
func newGeneration() uint64 {
	for {
		if g := rand.Uint64(); g != 0 {
			return g
		}
	}
}

// appendHeader appends a header with the body length still 0 (Commit
// sets it) to b.
func appendHeader(b []byte, gen uint64, metaLen int) []byte {
	b = append(b, magic...)
	b = binary.BigEndian.AppendUint64(b, gen)
	b = binary.BigEndian.AppendUint64(b, 0)
	return binary.BigEndian.AppendUint32(b, uint32(metaLen))
}

// decodeValue returns the entry a whole value read from Redis holds, or
// false when it is not one: not this format, metadata or body longer than
// allowed, or a length other than its header says. Values come from a
// Redis that others may write to; nothing in one can make this panic.
func decodeValue(v []byte, maxObject int64) (*entry, bool) {
	h, ok := parseHeader(v)
	if !ok || int64(h.metaLen) > maxMetaSize || h.bodyLen > uint64(max(maxObject, 0)) || int64(len(v)) != h.total() {
		return nil, false
	}
	return &entry{v: v, bodyOff: headerSize + int(h.metaLen), gen: h.gen}, true
}
