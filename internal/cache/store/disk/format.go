package disk

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash/crc32"
	"os"
)

// An entry's file, integers little-endian:
//
//	offset    size  field
//	0         8     magic "SLUICE1\n"
//	8         4     key length K
//	12        4     metadata length M
//	16        8     body length B
//	24        K     key
//	24+K      M     metadata (store.AppendMeta)
//	24+K+M    B     body
//	end-16    4     CRC-32C of bytes [0, 24+K+M): header, key and metadata
//	end-12    4     CRC-32C of the body
//	end-8     8     body length B again
//
// The file's length must be exactly 24+K+M+B+16. A file that fails any of
// these checks is torn or damaged; it is deleted and reads as a miss.
const (
	magic       = "SLUICE1\n"
	headerSize  = 24
	trailerSize = 16

	// maxKeyLen and maxMetaLen bound what a header may claim, so that a
	// damaged one cannot make Get allocate without bound.
	maxKeyLen  = 1 << 20
	maxMetaLen = 16 << 20
)

// castagnoli is the CRC-32C table; crc32 uses the CPU's instruction for it.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// keyHash names an entry: SHA-256 of its key.
type keyHash [sha256.Size]byte

func hashKey(key string) keyHash { return sha256.Sum256([]byte(key)) }

// entryPath returns objDir/xx/<64 hex digits>, xx being the first two.
func entryPath(objDir string, h keyHash) string {
	var x [2 * sha256.Size]byte
	hex.Encode(x[:], h[:])
	return objDir + string(os.PathSeparator) + string(x[:2]) + string(os.PathSeparator) + string(x[:])
}

// header is the fixed start of an entry's file.
type header struct {
	keyLen, metaLen int64
	bodyLen         int64
}

func (h header) bodyOff() int64  { return headerSize + h.keyLen + h.metaLen }
func (h header) fileSize() int64 { return h.bodyOff() + h.bodyLen + trailerSize }

func putHeader(b []byte, h header) {
	copy(b, magic)
	binary.LittleEndian.PutUint32(b[8:], uint32(h.keyLen))
	binary.LittleEndian.PutUint32(b[12:], uint32(h.metaLen))
	binary.LittleEndian.PutUint64(b[16:], uint64(h.bodyLen))
}

// parseHeader decodes b[:headerSize]; ok is false when the magic or the
// lengths are not plausible.
func parseHeader(b []byte) (h header, ok bool) {
	if string(b[:len(magic)]) != magic {
		return h, false
	}
	h.keyLen = int64(binary.LittleEndian.Uint32(b[8:]))
	h.metaLen = int64(binary.LittleEndian.Uint32(b[12:]))
	body := binary.LittleEndian.Uint64(b[16:])
	if h.keyLen > maxKeyLen || h.metaLen > maxMetaLen || body > 1<<62 {
		return h, false
	}
	h.bodyLen = int64(body)
	return h, true
}

// trailer is the fixed end of an entry's file.
type trailer struct {
	prefixCRC uint32 // header, key and metadata
	bodyCRC   uint32
	bodyLen   int64
}

func putTrailer(b []byte, t trailer) {
	binary.LittleEndian.PutUint32(b, t.prefixCRC)
	binary.LittleEndian.PutUint32(b[4:], t.bodyCRC)
	binary.LittleEndian.PutUint64(b[8:], uint64(t.bodyLen))
}

func parseTrailer(b []byte) trailer {
	return trailer{
		prefixCRC: binary.LittleEndian.Uint32(b),
		bodyCRC:   binary.LittleEndian.Uint32(b[4:]),
		bodyLen:   int64(binary.LittleEndian.Uint64(b[8:])),
	}
}

// validName reports whether name, found in the subdirectory sub ("00" to
// "ff"), is an entry's file name.
func validName(sub, name string) (keyHash, bool) {
	var h keyHash
	if len(name) != 2*len(h) || name[:2] != sub {
		return h, false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return h, false
		}
	}
	if _, err := hex.Decode(h[:], []byte(name)); err != nil {
		return h, false
	}
	return h, true
}

func crc32Checksum(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }
