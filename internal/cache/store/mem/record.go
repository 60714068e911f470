package mem

import "encoding/binary"

// A record is one entry's bytes in slab memory:
//
//	keyLen uint32 | metaLen uint32 | key | meta (store.AppendMeta) | body
//
// (little endian). It is one chunk, or when longer than a page a chain of
// whole pages followed by a chunk for the rest.
const recordHeader = 8

// record addresses a record's bytes. Its slices point into mapped pages,
// which stay mapped while the record's slot is pinned.
type record struct {
	pages [][]byte // whole pages, in order
	tail  []byte   // the rest, exactly as long as it is
	n     int64
}

// at returns the record's bytes from off to the end of the page or chunk
// holding off.
func (r *record) at(off int64) []byte {
	if len(r.pages) == 0 {
		return r.tail[off:]
	}
	ps := int64(len(r.pages[0]))
	if k := off / ps; k < int64(len(r.pages)) {
		return r.pages[k][off%ps:]
	}
	return r.tail[off-int64(len(r.pages))*ps:]
}

// readAt copies record bytes from off into p, as many as there are.
func (r *record) readAt(p []byte, off int64) int {
	n := 0
	for n < len(p) && off < r.n {
		c := copy(p[n:], r.at(off))
		n += c
		off += int64(c)
	}
	return n
}

// writeAt copies p into the record at off; it must fit.
func (r *record) writeAt(p []byte, off int64) {
	for len(p) > 0 {
		c := copy(r.at(off), p)
		p = p[c:]
		off += int64(c)
	}
}

// slice returns the n record bytes at off: a slice of the record when
// they lie in one page or chunk, else a copy.
func (r *record) slice(off, n int64) []byte {
	if s := r.at(off); int64(len(s)) >= n {
		return s[:n:n]
	}
	b := make([]byte, n)
	r.readAt(b, off)
	return b
}

// header returns the key and meta lengths.
func (r *record) header() (keyLen, metaLen int64) {
	var h [recordHeader]byte
	r.readAt(h[:], 0)
	return int64(binary.LittleEndian.Uint32(h[0:])), int64(binary.LittleEndian.Uint32(h[4:]))
}

// hasKey reports whether the record is stored under key.
func (r *record) hasKey(key string) bool {
	keyLen, _ := r.header()
	if keyLen != int64(len(key)) {
		return false
	}
	for off := int64(recordHeader); len(key) > 0; {
		s := r.at(off)
		s = s[:min(len(s), len(key))]
		if string(s) != key[:len(s)] {
			return false
		}
		key = key[len(s):]
		off += int64(len(s))
	}
	return true
}

// key returns a copy of the record's key.
func (r *record) key() string {
	keyLen, _ := r.header()
	return string(r.slice(recordHeader, keyLen))
}

// writeHead writes the header, key and meta, and returns where the body
// starts.
func (r *record) writeHead(key string, meta []byte) int64 {
	var h [recordHeader]byte
	binary.LittleEndian.PutUint32(h[0:], uint32(len(key)))
	binary.LittleEndian.PutUint32(h[4:], uint32(len(meta)))
	r.writeAt(h[:], 0)
	off := int64(recordHeader)
	for len(key) > 0 { // without converting key to a []byte
		c := copy(r.at(off), key)
		key = key[c:]
		off += int64(c)
	}
	r.writeAt(meta, off)
	return off + int64(len(meta))
}

// recordLen is the length of a record.
func recordLen(key string, meta []byte, bodyLen int64) int64 {
	return recordHeader + int64(len(key)) + int64(len(meta)) + bodyLen
}
