package auth

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// bcryptHash hashes password at the minimum cost, to keep tests fast.
func bcryptHash(t testing.TB, password string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// fixed2y is a $2y$ line as Apache's htpasswd -B writes it (cost 5,
// password "hunter2"): made from a $2a$ hash by swapping the prefix, which
// bcrypt treats alike.
const fixed2y = "$2y$05$Cv/ZKx8oYyE/JliHEgiOPOUgaj2FOxPhq2A/u8yDAJz9FVrUvn9.K"

func TestParseHtpasswdAccepts(t *testing.T) {
	in := strings.Join([]string{
		"# users",
		"",
		"alice:" + bcryptHash(t, "a"),
		"   ",
		"  # indented comment",
		"bob:" + strings.Replace(bcryptHash(t, "b"), "$2a$", "$2b$", 1),
		"carol:" + fixed2y,
		"dave:$apr1$abcdefgh$FBwExRW4dCc8aL.OvjpIE1:extra field ignored\r",
	}, "\n")
	f, err := ParseHtpasswd("htpasswd", strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := f.Users(), 4; got != want {
		t.Errorf("Users() = %d, want %d", got, want)
	}
	for _, u := range []string{"alice", "bob", "carol", "dave"} {
		if f.users[u] == nil || f.users[u].user != u {
			t.Errorf("user %q missing", u)
		}
	}
	if got, want := f.users["dave"].hash, "$apr1$abcdefgh$FBwExRW4dCc8aL.OvjpIE1"; got != want {
		t.Errorf("dave hash: got %q, want %q", got, want)
	}
	want := []string{"htpasswd:8: user dave: apr1-MD5 hash is weak; rehash with bcrypt (htpasswd -B)"}
	if got := f.Warnings(); !slices.Equal(got, want) {
		t.Errorf("Warnings() = got %q, want %q", got, want)
	}
}

func TestParseHtpasswdRefuses(t *testing.T) {
	good := "$2a$04$" + strings.Repeat("a", 53)
	tests := []struct {
		name, line, want string
	}{
		{"plain", "bob:hunter2", "htpasswd:1: user bob: plain-text password; use bcrypt (htpasswd -B)"},
		{"plain dollar", "bob:$ecret$x", "htpasswd:1: user bob: plain-text password; use bcrypt (htpasswd -B)"},
		{"des", "bob:rEK1ecacw.7.c", "htpasswd:1: user bob: DES crypt hash is weak (8-character passwords, 12-bit salt); rehash with bcrypt (htpasswd -B)"},
		{"sha", "bob:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", "htpasswd:1: user bob: {SHA} hash is unsalted SHA-1 and weak; rehash with bcrypt (htpasswd -B)"},
		{"md5crypt", "bob:$1$saltsalt$qjXMvbEw8oaL.CzflDugX/", "htpasswd:1: user bob: unsupported hash scheme $1$; use bcrypt (htpasswd -B)"},
		{"sha512crypt", "bob:$6$salt$abc", "htpasswd:1: user bob: unsupported hash scheme $6$; use bcrypt (htpasswd -B)"},
		{"empty hash", "bob:", "htpasswd:1: user bob: empty hash"},
		{"empty user", ":" + good, "htpasswd:1: empty user name"},
		{"no colon", "bob", "htpasswd:1: missing ':' between user and hash"},
		{"bcrypt short", "bob:" + good[:59], "htpasswd:1: user bob: malformed bcrypt hash: length 59, want 60"},
		{"bcrypt chars", "bob:" + good[:59] + "!", "htpasswd:1: user bob: malformed bcrypt hash: bad characters"},
		{"bcrypt cost", "bob:$2a$99$" + strings.Repeat("a", 53), "htpasswd:1: user bob: malformed bcrypt hash: crypto/bcrypt: cost 99 is outside allowed inclusive range 4..31"},
		{"apr1 short", "bob:$apr1$abc$xyz", "htpasswd:1: user bob: malformed apr1-MD5 hash: checksum must be 22 crypt characters"},
		{"control user", "b\x1bob:x", `htpasswd:1: user "b\x1bob": plain-text password; use bcrypt (htpasswd -B)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseHtpasswd("htpasswd", strings.NewReader(tt.line+"\n"))
			if err == nil {
				t.Fatalf("got nil error, want %q", tt.want)
			}
			if f != nil {
				t.Errorf("got File with %d users, want nil", f.Users())
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestParseHtpasswdEveryProblem checks that all problems are reported,
// each with its line, and that no hash field (maybe a password) leaks.
func TestParseHtpasswdEveryProblem(t *testing.T) {
	in := "alice:" + bcryptHash(t, "a") + "\n" +
		"bob:hunter2\n" +
		"# comment\n" +
		"alice:" + bcryptHash(t, "b") + "\n" +
		"bob:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n"
	_, err := ParseHtpasswd("users.htpasswd", strings.NewReader(in))
	if err == nil {
		t.Fatal("got nil error")
	}
	got := strings.Split(err.Error(), "\n")
	want := []string{
		"users.htpasswd:2: user bob: plain-text password; use bcrypt (htpasswd -B)",
		"users.htpasswd:4: user alice: duplicate entry (first on line 1)",
		"users.htpasswd:5: user bob: {SHA} hash is unsalted SHA-1 and weak; rehash with bcrypt (htpasswd -B)",
		"users.htpasswd:5: user bob: duplicate entry (first on line 2)",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error %q leaks a password", err)
	}
}

func TestParseHtpasswdLongLine(t *testing.T) {
	in := "alice:" + bcryptHash(t, "a") + "\nbob:" + strings.Repeat("x", maxLine) + "\n"
	_, err := ParseHtpasswd("h", strings.NewReader(in))
	if got, want := errString(err), "h:2: line longer than 65536 bytes"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "htpasswd")
	if err := os.WriteFile(path, []byte("alice:"+fixed2y+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := f.Users(), 1; got != want {
		t.Errorf("Users() = %d, want %d", got, want)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing")); !os.IsNotExist(err) {
		t.Errorf("Load(missing): got %v, want a not-exist error", err)
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// FuzzParseHtpasswd checks that parsing never panics and that every entry
// line of an accepted file can be looked up.
func FuzzParseHtpasswd(f *testing.F) {
	f.Add("alice:" + fixed2y + "\n# c\n\nbob:$apr1$abcdefgh$FBwExRW4dCc8aL.OvjpIE1\n")
	f.Add("bob:hunter2\nbob:{SHA}x\n")
	f.Fuzz(func(t *testing.T, in string) {
		file, err := ParseHtpasswd("f", strings.NewReader(in))
		if err != nil {
			if file != nil {
				t.Fatalf("got File and error %v", err)
			}
			return
		}
		entries := 0
		for line := range strings.SplitSeq(in, "\n") {
			line = strings.TrimRight(line, "\r")
			if t := strings.TrimSpace(line); t == "" || t[0] == '#' {
				continue
			}
			entries++
			user, _, _ := strings.Cut(line, ":")
			e := file.users[user]
			if e == nil || e.user != user {
				t.Fatalf("user %q from line %q: not found", user, line)
			}
		}
		if got := file.Users(); got != entries {
			t.Fatalf("Users() = %d, want %d", got, entries)
		}
	})
}
