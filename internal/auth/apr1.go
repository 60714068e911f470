package auth

import (
	"crypto/md5"
	"errors"
	"strings"
)

// cryptAlphabet is crypt(3)'s base64 alphabet, shared by apr1 and bcrypt.
const cryptAlphabet = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

const apr1Magic = "$apr1$"

// splitAPR1 splits "$apr1$salt$checksum" and validates its shape: a salt of
// 1 to 8 characters without '$', and a 22-character checksum.
func splitAPR1(h string) (salt, sum string, err error) {
	salt, sum, ok := strings.Cut(strings.TrimPrefix(h, apr1Magic), "$")
	switch {
	case !ok:
		return "", "", errors.New("missing '$' after salt")
	case salt == "" || len(salt) > 8:
		return "", "", errors.New("salt must be 1 to 8 characters")
	case len(sum) != 22 || !isCryptChars(sum):
		return "", "", errors.New("checksum must be 22 crypt characters")
	}
	return salt, sum, nil
}

// apr1 computes the 22-character apr1-MD5 checksum of password with salt
// (at most 8 bytes). It is Poul-Henning Kamp's FreeBSD MD5-crypt with the
// magic string "$apr1$" in place of "$1$":
//
//	alt   = MD5(pw + salt + pw)
//	ctx   = MD5(pw + magic + salt + alt repeated to len(pw) + one byte per
//	        bit of len(pw), low bit first: 0x00 if set, pw[0] if clear)
//	1000 rounds: MD5 of (pw or prev) + salt unless i%3==0 + pw unless
//	        i%7==0 + (prev or pw), choosing the first of each pair on odd i
//
// and the 16-byte result is written as 22 crypt-base64 characters in a
// fixed byte order.
func apr1(password, salt []byte) [22]byte {
	h := md5.New()
	var sum [md5.Size]byte

	h.Write(password)
	h.Write(salt)
	h.Write(password)
	alt := h.Sum(sum[:0])

	h.Reset()
	h.Write(password)
	h.Write([]byte(apr1Magic))
	h.Write(salt)
	for n := len(password); n > 0; n -= md5.Size {
		h.Write(alt[:min(n, md5.Size)])
	}
	var zero = []byte{0}
	for n := len(password); n > 0; n >>= 1 {
		if n&1 == 1 {
			h.Write(zero)
		} else {
			h.Write(password[:1])
		}
	}
	final := h.Sum(sum[:0])

	for i := range 1000 {
		h.Reset()
		if i&1 == 1 {
			h.Write(password)
		} else {
			h.Write(final)
		}
		if i%3 != 0 {
			h.Write(salt)
		}
		if i%7 != 0 {
			h.Write(password)
		}
		if i&1 == 1 {
			h.Write(final)
		} else {
			h.Write(password)
		}
		final = h.Sum(sum[:0])
	}

	var out [22]byte
	o := out[:0]
	put := func(v uint32, n int) {
		for ; n > 0; n-- {
			o = append(o, cryptAlphabet[v&0x3f])
			v >>= 6
		}
	}
	f := final
	put(uint32(f[0])<<16|uint32(f[6])<<8|uint32(f[12]), 4)
	put(uint32(f[1])<<16|uint32(f[7])<<8|uint32(f[13]), 4)
	put(uint32(f[2])<<16|uint32(f[8])<<8|uint32(f[14]), 4)
	put(uint32(f[3])<<16|uint32(f[9])<<8|uint32(f[15]), 4)
	put(uint32(f[4])<<16|uint32(f[10])<<8|uint32(f[5]), 4)
	put(uint32(f[11]), 2)
	return out
}
