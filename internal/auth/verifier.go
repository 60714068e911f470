package auth

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"runtime"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// MaxHeader bounds the Proxy-Authorization values Check will decode.
const MaxHeader = 4 << 10

// DefaultCacheSize is the number of verified credentials a Verifier keeps
// when NewVerifier is given a size <= 0.
const DefaultCacheSize = 1024

// Verifier checks Basic credentials against one File. Successful
// verifications are cached so bcrypt (tens of milliseconds) runs once per
// (user, password), not once per request; failures are not cached, so a
// wrong password always costs a full hash (rate limiting is the proxy's).
// A Verifier is safe for concurrent use. Build a new one for each loaded
// File: the cache belongs to the Verifier.
type Verifier struct {
	file *File
	// key makes cache keys a keyed hash, so the cache holds nothing an
	// attacker could brute-force without also knowing key.
	key [32]byte
	max int

	// dummyOnce builds dummy, a hash in the file's most expensive scheme
	// and cost, checked for unknown users so that they cost about what a
	// known user costs and user names cannot be probed by timing.
	dummyOnce sync.Once
	dummy     *entry

	mu    sync.RWMutex
	cache map[[sha256.Size]byte]string // key → entry hash it was verified against

	// hashing bounds the full hash checks running at once, so that a
	// client sending wrong passwords as fast as it can occupies at most
	// half the CPUs and cached users are still served.
	hashing chan struct{}
}

// NewVerifier returns a Verifier for f caching up to cacheSize successful
// verifications (DefaultCacheSize if cacheSize <= 0).
func NewVerifier(f *File, cacheSize int) *Verifier {
	if cacheSize <= 0 {
		cacheSize = DefaultCacheSize
	}
	v := &Verifier{file: f, max: cacheSize, cache: make(map[[sha256.Size]byte]string),
		hashing: make(chan struct{}, max(1, runtime.GOMAXPROCS(0)/2))}
	rand.Read(v.key[:]) // never fails (crypto/rand, Go 1.24+)
	return v
}

// Check reports whether proxyAuthorization, the value of a
// Proxy-Authorization header, holds valid Basic credentials for a user in
// the file, and returns that user. Malformed values, values longer than
// MaxHeader, unknown users and wrong passwords all return "", false.
func (v *Verifier) Check(proxyAuthorization string) (user string, ok bool) {
	if len(proxyAuthorization) > MaxHeader {
		return "", false
	}
	// buf holds key + decoded "user:pass", hashed as the cache key. Usual
	// credentials fit the stack array, so a cache hit does not allocate;
	// the array is small because Go zeroes it on every call.
	var small [len(v.key) + smallHeader*3/4]byte
	buf := small[:]
	if need := len(v.key) + base64.StdEncoding.DecodedLen(len(proxyAuthorization)); need > len(buf) {
		buf = make([]byte, need)
	}
	n := copy(buf, v.key[:])
	cred, ok := decodeBasic(proxyAuthorization, buf[n:])
	if !ok {
		return "", false
	}
	i := bytes.IndexByte(cred, ':')
	if i <= 0 { // RFC 7617 §2: user-id may not contain ':'; empty user refused
		return "", false
	}
	name, pass := cred[:i], cred[i+1:]

	e := v.file.users[string(name)]
	key := sha256.Sum256(buf[:n+len(cred)])

	if e != nil {
		v.mu.RLock()
		verified, hit := v.cache[key]
		v.mu.RUnlock()
		// The key already binds user and password; the hash check makes a
		// hit count only for the very entry that was verified.
		if hit && verified == e.hash {
			return e.user, true
		}
	}

	target := e
	if target == nil {
		target = v.dummyEntry()
	}
	v.hashing <- struct{}{}
	ok = verify(target, pass)
	<-v.hashing
	if !ok || e == nil {
		return "", false
	}

	v.mu.Lock()
	if len(v.cache) >= v.max {
		// Random eviction: Go randomises where map iteration starts.
		for k := range v.cache {
			delete(v.cache, k)
			break
		}
	}
	v.cache[key] = e.hash
	v.mu.Unlock()
	return e.user, true
}

// verify checks pass against e's hash in constant time (bcrypt compares
// with crypto/subtle itself). bcrypt reads only the first 72 bytes of a
// password, as Apache does.
func verify(e *entry, pass []byte) bool {
	switch e.scheme {
	case schemeBcrypt:
		return bcrypt.CompareHashAndPassword([]byte(e.hash), pass) == nil
	case schemeAPR1:
		sum := apr1(pass, []byte(e.salt))
		return subtle.ConstantTimeCompare(sum[:], []byte(e.sum)) == 1
	}
	return false
}

// dummyEntry returns an entry that no password matches, hashed like the
// costliest entry in the file: bcrypt at the highest cost present, or apr1
// if the file has no bcrypt entries.
func (v *Verifier) dummyEntry() *entry {
	v.dummyOnce.Do(func() {
		cost := 0
		for _, e := range v.file.users {
			if e.scheme == schemeBcrypt {
				if c, err := bcrypt.Cost([]byte(e.hash)); err == nil && c > cost {
					cost = c
				}
			}
		}
		var secret [32]byte
		rand.Read(secret[:])
		if cost == 0 {
			v.dummy = &entry{scheme: schemeAPR1, salt: "dummysal", sum: strings.Repeat(".", 22)}
			return
		}
		// A random 32-byte password hashed at that cost: bcrypt only fails
		// for passwords over 72 bytes or an invalid cost, neither possible.
		h, err := bcrypt.GenerateFromPassword(secret[:], cost)
		if err != nil {
			panic("auth: dummy bcrypt hash: " + err.Error())
		}
		v.dummy = &entry{scheme: schemeBcrypt, hash: string(h)}
	})
	return v.dummy
}

// smallHeader is the header length up to which Check works in stack
// buffers; longer (rare) values cost an allocation or two.
const smallHeader = 512

// decodeBasic parses a Basic credentials value (RFC 7617 §2; RFC 9110
// §11.4: credentials = auth-scheme [ 1*SP token68 ], scheme
// case-insensitive) and base64-decodes the token68 into dst, which must
// hold base64.StdEncoding.DecodedLen(len(h)) bytes. Values over MaxHeader are refused undecoded.
// Missing padding is tolerated; any other non-base64 byte is refused.
func decodeBasic(h string, dst []byte) ([]byte, bool) {
	if len(h) > MaxHeader {
		return nil, false
	}
	scheme, tok, found := strings.Cut(h, " ")
	if !found || !strings.EqualFold(scheme, "Basic") {
		return nil, false
	}
	tok = strings.TrimLeft(tok, " ")
	tok = strings.TrimRight(tok, " \t") // trailing OWS a header parser may leave
	if tok == "" {
		return nil, false
	}
	// base64.Decode skips '\r' and '\n'; token68 allows neither, so check
	// the alphabet first.
	pad := false
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		switch {
		case c == '=':
			pad = true
		case pad, !isBase64(c):
			return nil, false
		}
	}
	enc := base64.StdEncoding
	if !pad && len(tok)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	// Hand the decoder a []byte without allocating for usual sizes.
	var small [smallHeader]byte
	var src []byte
	if len(tok) <= len(small) {
		src = small[:copy(small[:], tok)]
	} else {
		src = []byte(tok)
	}
	m, err := enc.Decode(dst, src)
	if err != nil {
		return nil, false
	}
	return dst[:m], true
}

func isBase64(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/'
}
