// Package auth verifies Basic proxy credentials (RFC 7617, sent in
// Proxy-Authorization, RFC 9110 §11.7.2) against an Apache htpasswd file.
//
// It accepts bcrypt hashes, and apr1-MD5 hashes with a warning; it refuses
// plain-text, DES crypt and {SHA} entries at load time, so a weak file fails
// loudly instead of quietly protecting nothing.
//
// It deliberately does not write 407 responses or Proxy-Authenticate
// headers, and it does not decide what an authenticated user may do: the
// proxy does both. It does not watch the file either: to pick up changes the
// caller calls Load (or ParseHtpasswd) again and builds a new Verifier from
// the result, keeping the old one if the new file is bad.
package auth

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"unicode"

	"golang.org/x/crypto/bcrypt"
)

// maxLine bounds one htpasswd line; real entries are under 300 bytes.
const maxLine = 64 << 10

// File is a parsed htpasswd file. It is immutable once returned and safe
// for concurrent use.
type File struct {
	users    map[string]*entry
	warnings []string
}

type scheme uint8

const (
	schemeBcrypt scheme = iota + 1
	schemeAPR1
)

// entry is one user's line. user and hash are kept as loaded: the Verifier
// returns user without allocating and compares hash on every cache hit.
type entry struct {
	user   string
	hash   string
	scheme scheme
	// apr1 only: the salt and the 22-character checksum.
	salt, sum string
}

// Users returns the number of users in the file.
func (f *File) Users() int { return len(f.users) }

// Warnings returns one message per entry that was accepted but should be
// replaced, in line order, for example
// "htpasswd:4: user carol: apr1-MD5 hash is weak; rehash with bcrypt (htpasswd -B)".
func (f *File) Warnings() []string { return append([]string(nil), f.warnings...) }

// Load opens and parses the htpasswd file at path; see ParseHtpasswd.
func Load(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	return ParseHtpasswd(path, fh)
}

// ParseHtpasswd reads an htpasswd file from r; name prefixes every message
// ("name:line: ..."). Each entry is "user:hash" on its own line; blank lines
// and lines whose first non-blank character is '#' are ignored. As in
// Apache's mod_authn_file, anything after a second ':' is ignored.
//
// Accepted hashes are bcrypt ($2a$, $2b$, $2y$) and apr1-MD5 ($apr1$); apr1
// entries are reported by Warnings. Plain-text passwords, DES crypt, {SHA},
// and other schemes are refused. Duplicate users are an error naming both
// lines. ParseHtpasswd reports every problem in the file, one per line of
// the returned error, and returns a nil File if there is any. Messages never
// include the hash field, which might be a plain-text password.
func ParseHtpasswd(name string, r io.Reader) (*File, error) {
	f := &File{users: make(map[string]*entry)}
	firstLine := make(map[string]int)
	var errs []error
	problem := func(line int, user, format string, args ...any) string {
		msg := fmt.Sprintf(format, args...)
		if user != "" {
			msg = "user " + quoteUser(user) + ": " + msg
		}
		return fmt.Sprintf("%s:%d: %s", name, line, msg)
	}

	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), "\r")
		if t := strings.TrimSpace(line); t == "" || t[0] == '#' {
			continue
		}
		user, rest, found := strings.Cut(line, ":")
		if !found {
			errs = append(errs, errors.New(problem(n, "", "missing ':' between user and hash")))
			continue
		}
		if user == "" {
			errs = append(errs, errors.New(problem(n, "", "empty user name")))
			continue
		}
		hash, _, _ := strings.Cut(rest, ":")
		e, err := parseHash(hash)
		if err != nil {
			errs = append(errs, errors.New(problem(n, user, "%v", err)))
			// Still record the line so a later duplicate is reported too.
		}
		if first, dup := firstLine[user]; dup {
			errs = append(errs, errors.New(problem(n, user, "duplicate entry (first on line %d)", first)))
			continue
		}
		firstLine[user] = n
		if err != nil {
			continue
		}
		e.user = user
		f.users[user] = e
		if e.scheme == schemeAPR1 {
			f.warnings = append(f.warnings, problem(n, user, "apr1-MD5 hash is weak; rehash with bcrypt (htpasswd -B)"))
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			errs = append(errs, errors.New(problem(n+1, "", "line longer than %d bytes", maxLine)))
		} else {
			errs = append(errs, fmt.Errorf("read %s: %w", name, err))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return f, nil
}

const fixHint = "use bcrypt (htpasswd -B)"

// parseHash classifies and validates one hash field. Errors describe the
// scheme, never the field's contents.
func parseHash(h string) (*entry, error) {
	switch {
	case h == "":
		return nil, errors.New("empty hash")
	case strings.HasPrefix(h, "$2a$"), strings.HasPrefix(h, "$2b$"), strings.HasPrefix(h, "$2y$"):
		if err := checkBcrypt(h); err != nil {
			return nil, fmt.Errorf("malformed bcrypt hash: %v", err)
		}
		return &entry{hash: h, scheme: schemeBcrypt}, nil
	case strings.HasPrefix(h, "$apr1$"):
		salt, sum, err := splitAPR1(h)
		if err != nil {
			return nil, fmt.Errorf("malformed apr1-MD5 hash: %v", err)
		}
		return &entry{hash: h, scheme: schemeAPR1, salt: salt, sum: sum}, nil
	case strings.HasPrefix(h, "{SHA}"):
		return nil, errors.New("{SHA} hash is unsalted SHA-1 and weak; rehash with bcrypt (htpasswd -B)")
	case isDESCrypt(h):
		return nil, errors.New("DES crypt hash is weak (8-character passwords, 12-bit salt); rehash with bcrypt (htpasswd -B)")
	case strings.HasPrefix(h, "$"):
		// Name only well-known crypt(3) ids: an unknown "$...$" prefix may
		// be part of a plain-text password and must not reach a log.
		id, _, _ := strings.Cut(h[1:], "$")
		switch id {
		case "1", "2", "2x", "5", "6", "7", "y", "gy", "sha1", "md5":
			return nil, fmt.Errorf("unsupported hash scheme $%s$; %s", id, fixHint)
		}
		return nil, errors.New("plain-text password; " + fixHint)
	default:
		return nil, errors.New("plain-text password; " + fixHint)
	}
}

// checkBcrypt validates the shape "$2y$NN$" + 53 characters of bcrypt's
// base64 alphabet, so a malformed entry fails at load, not per request.
func checkBcrypt(h string) error {
	if len(h) != 60 {
		return fmt.Errorf("length %d, want 60", len(h))
	}
	if h[6] != '$' || !isCryptChars(h[7:]) {
		return errors.New("bad characters")
	}
	if _, err := bcrypt.Cost([]byte(h)); err != nil {
		return err
	}
	return nil
}

// isDESCrypt reports whether h looks like a traditional crypt(3) hash:
// 13 characters of the crypt alphabet (2 salt, 11 hash).
func isDESCrypt(h string) bool { return len(h) == 13 && isCryptChars(h) }

// isCryptChars reports whether s uses only the crypt base64 alphabet
// "./0-9A-Za-z", which bcrypt and apr1 share.
func isCryptChars(s string) bool {
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(cryptAlphabet, s[i]) < 0 {
			return false
		}
	}
	return true
}

// quoteUser returns u as is when it is plain printable text, quoted
// otherwise, so control characters in a file cannot forge log lines.
func quoteUser(u string) string {
	for _, r := range u {
		if !unicode.IsPrint(r) || r == ' ' || r == '"' {
			return strconv.Quote(u)
		}
	}
	return u
}
