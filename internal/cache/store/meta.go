package store

import (
	"encoding/binary"
	"errors"
	"net/http"
	"time"
)

// metaVersion is the first byte of an encoded Meta; a store that finds
// another value treats the entry as absent.
const metaVersion = 1

// Limits on decoded metadata, so that a corrupt or hostile record cannot
// make DecodeMeta allocate without bound.
const (
	maxFields    = 1 << 12
	maxFieldSize = 1 << 20
)

// errBadMeta reports a metadata record that cannot be decoded.
var errBadMeta = errors.New("store: malformed metadata")

// AppendMeta appends the binary encoding of m to b and returns the result.
// The encoding is compact (no per-field overhead beyond lengths) and
// stable across releases with the same metaVersion.
func AppendMeta(b []byte, m *Meta) []byte {
	b = append(b, metaVersion)
	b = binary.AppendUvarint(b, uint64(m.Status))
	b = binary.AppendVarint(b, unixNano(m.RequestTime))
	b = binary.AppendVarint(b, unixNano(m.ResponseTime))
	b = binary.AppendUvarint(b, uint64(len(m.Header)))
	for name, values := range m.Header {
		b = binary.AppendUvarint(b, uint64(len(name)))
		b = append(b, name...)
		b = binary.AppendUvarint(b, uint64(len(values)))
		for _, v := range values {
			b = binary.AppendUvarint(b, uint64(len(v)))
			b = append(b, v...)
		}
	}
	return b
}

// MetaSize returns an upper bound of len(AppendMeta(nil, m)) without
// encoding, to size buffers.
func MetaSize(m *Meta) int {
	n := 1 + uvarintLen(uint64(m.Status)) + 2*binary.MaxVarintLen64 + uvarintLen(uint64(len(m.Header)))
	for name, values := range m.Header {
		n += uvarintLen(uint64(len(name))) + len(name) + uvarintLen(uint64(len(values)))
		for _, v := range values {
			n += uvarintLen(uint64(len(v))) + len(v)
		}
	}
	return n
}

// DecodeMeta decodes a record written by AppendMeta. It returns an error,
// never panics, on any malformed input.
//
// It runs on every cache hit, so it allocates little: the field names and
// values are substrings of one copy of the record, and the value slices
// share one backing array (capped, so appending to one field cannot
// overwrite the next).
func DecodeMeta(b []byte) (*Meta, error) {
	d := decoder{b: b}
	if v := d.byte(); v != metaVersion {
		return nil, errBadMeta
	}
	m := &Meta{Status: int(d.uvarint(999))}
	m.RequestTime = fromUnixNano(d.varint())
	m.ResponseTime = fromUnixNano(d.varint())
	n := d.uvarint(maxFields)
	if d.err != nil || n > uint64(len(d.b)) {
		return nil, errBadMeta
	}
	d.s = string(d.b) // one copy; names and values are substrings of it
	d.base = len(b) - len(d.b)
	d.full = b
	m.Header = make(http.Header, n+6) // room for the fields added when served (Age, Cache-Status, Via …)
	values := make([]string, 0, n)
	for i := uint64(0); i < n && d.err == nil; i++ {
		name := d.str()
		nv := d.uvarint(maxFields)
		if d.err != nil || nv > uint64(len(d.b)) {
			d.err = errBadMeta
			break
		}
		start := len(values)
		for j := uint64(0); j < nv && d.err == nil; j++ {
			values = append(values, d.str())
		}
		m.Header[name] = values[start:len(values):len(values)]
	}
	if d.err != nil || len(d.b) != 0 {
		return nil, errBadMeta
	}
	return m, nil
}

type decoder struct {
	b    []byte
	err  error
	s    string // string(full[base:]), for str
	full []byte
	base int
}

// str reads a length-prefixed string as a substring of d.s.
func (d *decoder) str() string {
	n := d.uvarint(maxFieldSize)
	if d.err != nil || n > uint64(len(d.b)) {
		d.err = errBadMeta
		return ""
	}
	off := len(d.full) - len(d.b) - d.base
	d.b = d.b[n:]
	return d.s[off : off+int(n)]
}

func (d *decoder) byte() byte {
	if len(d.b) == 0 {
		d.err = errBadMeta
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint(max uint64) uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 || v > max {
		d.err = errBadMeta
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errBadMeta
		return 0
	}
	d.b = d.b[n:]
	return v
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// unixNano encodes t; the zero time encodes as 0.
func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}
