package auth

import (
	"encoding/base64"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func basic(userPass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(userPass))
}

// apr1Line returns an htpasswd apr1 hash of password, using the apr1
// implementation checked against openssl in TestAPR1.
func apr1Line(password string) string {
	sum := apr1([]byte(password), []byte("s4lt"))
	return "$apr1$s4lt$" + string(sum[:])
}

// testFile builds a File from user → hash lines.
func testFile(t testing.TB, lines ...string) *File {
	t.Helper()
	f, err := ParseHtpasswd("test", strings.NewReader(strings.Join(lines, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

var (
	longOK  = strings.Repeat("x", 3000) // header of 4014 bytes
	longBad = strings.Repeat("y", 3100) // header of 4146 bytes
)

func TestCheck(t *testing.T) {
	f := testFile(t,
		"alice:"+bcryptHash(t, "alice-pw"),
		"bob:$apr1$abcdefgh$FBwExRW4dCc8aL.OvjpIE1", // "password"
		"carol:"+fixed2y,                            // "hunter2"
		"dave:"+bcryptHash(t, "pa:ss:word"),
		"empty:"+bcryptHash(t, ""),
		"long:"+apr1Line(longOK),
		"longer:"+apr1Line(longBad),
	)
	unpadded := "Basic " + base64.RawStdEncoding.EncodeToString([]byte("alice:alice-pw"))
	tests := []struct {
		name, header, user string
	}{
		{"bcrypt", basic("alice:alice-pw"), "alice"},
		{"scheme lower", strings.Replace(basic("alice:alice-pw"), "Basic", "basic", 1), "alice"},
		{"scheme upper", strings.Replace(basic("alice:alice-pw"), "Basic", "BASIC", 1), "alice"},
		{"extra spaces", strings.Replace(basic("alice:alice-pw"), " ", "   ", 1) + " ", "alice"},
		{"unpadded", unpadded, "alice"},
		{"apr1", basic("bob:password"), "bob"},
		{"2y", basic("carol:hunter2"), "carol"},
		{"colons in password", basic("dave:pa:ss:word"), "dave"},
		{"empty password", basic("empty:"), "empty"},
		{"under 4 KiB", basic("long:" + longOK), "long"},

		{"wrong bcrypt", basic("alice:alice-pW"), ""},
		{"wrong apr1", basic("bob:passwore"), ""},
		{"wrong user case", basic("Alice:alice-pw"), ""},
		{"unknown user", basic("mallory:alice-pw"), ""},
		{"over 4 KiB", basic("longer:" + longBad), ""},
		{"empty user", basic(":alice-pw"), ""},
		{"no colon", basic("alice"), ""},
		{"not base64", "Basic !!!!", ""},
		{"newline in token", "Basic " + base64.StdEncoding.EncodeToString([]byte("bob:password"))[:4] + "\n" + base64.StdEncoding.EncodeToString([]byte("bob:password"))[4:], ""},
		{"data after padding", basic("bob:passwor") + "YQ==", ""},
		{"bad length", "Basic YWxpY2U6YWxpY2UtcH", ""},
		{"scheme only", "Basic", ""},
		{"scheme and space", "Basic ", ""},
		{"other scheme", strings.Replace(basic("alice:alice-pw"), "Basic", "Bearer", 1), ""},
		{"no space", "Basic" + base64.StdEncoding.EncodeToString([]byte("alice:alice-pw")), ""},
		{"empty", "", ""},
	}
	v := NewVerifier(f, 0)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 2 { // the second pass may be a cache hit
				user, ok := v.Check(tt.header)
				if user != tt.user || ok != (tt.user != "") {
					t.Fatalf("Check(%.40q) = (%q, %v), want %q", tt.header, user, ok, tt.user)
				}
			}
		})
	}
}

func TestCheckCache(t *testing.T) {
	f := testFile(t, "alice:"+bcryptHash(t, "a"), "bob:"+bcryptHash(t, "b"))
	v := NewVerifier(f, 0)
	if got, want := v.max, DefaultCacheSize; got != want {
		t.Errorf("default cache size: got %d, want %d", got, want)
	}

	v.Check(basic("alice:wrong"))
	v.Check(basic("nobody:a"))
	if got := len(v.cache); got != 0 {
		t.Fatalf("after failures: cache has %d entries, want 0", got)
	}
	if _, ok := v.Check(basic("alice:a")); !ok {
		t.Fatal("alice: got not ok")
	}
	if got := len(v.cache); got != 1 {
		t.Fatalf("after success: cache has %d entries, want 1", got)
	}
	for _, hash := range v.cache {
		if strings.Contains(hash, "a:") || hash != f.users["alice"].hash {
			t.Errorf("cache value: got %q, want %q", hash, f.users["alice"].hash)
		}
	}
	// A hit must be refused once the user's entry is no longer the one
	// that was verified: swap in a file where alice has a new password.
	v.file = testFile(t, "alice:"+bcryptHash(t, "new"))
	if _, ok := v.Check(basic("alice:a")); ok {
		t.Error("old password accepted from cache after the entry changed")
	}
	if user, ok := v.Check(basic("alice:new")); !ok || user != "alice" {
		t.Errorf("new password: got (%q, %v), want (%q, true)", user, ok, "alice")
	}
}

func TestCheckCacheBounded(t *testing.T) {
	var lines []string
	for i := range 10 {
		lines = append(lines, fmt.Sprintf("u%d:%s", i, apr1Line(fmt.Sprint("p", i))))
	}
	v := NewVerifier(testFile(t, lines...), 3)
	for round := range 3 {
		for i := range 10 {
			if _, ok := v.Check(basic(fmt.Sprintf("u%d:p%d", i, i))); !ok {
				t.Fatalf("round %d user u%d: got not ok", round, i)
			}
			if got := len(v.cache); got > 3 {
				t.Fatalf("cache has %d entries, want at most 3", got)
			}
		}
	}
}

func TestDummyCost(t *testing.T) {
	h5 := fixed2y // cost 5
	tests := []struct {
		name   string
		lines  []string
		scheme scheme
		cost   int
	}{
		{"highest bcrypt cost", []string{"a:" + bcryptHash(t, "a"), "b:" + h5, "c:" + apr1Line("c")}, schemeBcrypt, 5},
		{"apr1 only", []string{"c:" + apr1Line("c")}, schemeAPR1, 0},
		{"empty file", nil, schemeAPR1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := NewVerifier(testFile(t, tt.lines...), 0)
			if _, ok := v.Check(basic("nobody:x")); ok {
				t.Fatal("unknown user accepted")
			}
			d := v.dummyEntry()
			if d.scheme != tt.scheme {
				t.Fatalf("dummy scheme: got %d, want %d", d.scheme, tt.scheme)
			}
			if tt.scheme == schemeBcrypt {
				if got, _ := bcrypt.Cost([]byte(d.hash)); got != tt.cost {
					t.Errorf("dummy cost: got %d, want %d", got, tt.cost)
				}
			}
		})
	}
}

func TestCheckHitAllocs(t *testing.T) {
	v := NewVerifier(testFile(t, "alice:"+bcryptHash(t, "a")), 0)
	h := basic("alice:a")
	v.Check(h)
	if got := testing.AllocsPerRun(100, func() { v.Check(h) }); got != 0 {
		t.Errorf("cache hit: got %v allocs, want 0", got)
	}
}

func TestCheckConcurrent(t *testing.T) {
	f := testFile(t, "alice:"+bcryptHash(t, "a"), "bob:"+apr1Line("b"))
	v := NewVerifier(f, 1)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				h, want := basic("bob:b"), true
				switch (g + i) % 3 {
				case 1:
					h = basic("alice:a")
				case 2:
					h, want = basic("bob:x"), false
				}
				if _, ok := v.Check(h); ok != want {
					t.Errorf("Check(%q): got %v, want %v", h, ok, want)
					return
				}
			}
		})
	}
	wg.Wait()
}

func benchVerifier(b *testing.B, cost int) *Verifier {
	h, err := bcrypt.GenerateFromPassword([]byte("correct horse"), cost)
	if err != nil {
		b.Fatal(err)
	}
	f, err := ParseHtpasswd("b", strings.NewReader("alice:"+string(h)+"\n"))
	if err != nil {
		b.Fatal(err)
	}
	return NewVerifier(f, 0)
}

func BenchmarkCheckHit(b *testing.B) {
	v := benchVerifier(b, bcrypt.DefaultCost)
	h := basic("alice:correct horse")
	if _, ok := v.Check(h); !ok {
		b.Fatal("not ok")
	}
	b.ReportAllocs()
	for b.Loop() {
		v.Check(h)
	}
}

func BenchmarkCheckHitParallel(b *testing.B) {
	v := benchVerifier(b, bcrypt.DefaultCost)
	h := basic("alice:correct horse")
	v.Check(h)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			v.Check(h)
		}
	})
}

func BenchmarkCheckMiss(b *testing.B) {
	v := benchVerifier(b, bcrypt.DefaultCost)
	h := basic("alice:correct horse")
	b.ReportAllocs()
	for b.Loop() {
		clear(v.cache)
		if _, ok := v.Check(h); !ok {
			b.Fatal("not ok")
		}
	}
}

func BenchmarkCheckUnknownUser(b *testing.B) {
	v := benchVerifier(b, bcrypt.DefaultCost)
	h := basic("mallory:correct horse")
	v.Check(h) // build the dummy hash outside the loop
	b.ReportAllocs()
	for b.Loop() {
		v.Check(h)
	}
}

// FuzzCheck checks that arbitrary header values never panic and are ok
// only when they decode to the one valid credential.
func FuzzCheck(f *testing.F) {
	file, err := ParseHtpasswd("f", strings.NewReader(
		"alice:"+bcryptHash(f, "alice-pw")+"\n"+
			"bob:$apr1$abcdefgh$FBwExRW4dCc8aL.OvjpIE1\n"))
	if err != nil {
		f.Fatal(err)
	}
	v := NewVerifier(file, 4)
	f.Add(basic("bob:password"))
	f.Add(basic("alice:alice-pw"))
	f.Add("basic Ym9iOnBhc3N3b3Jk")
	f.Add("Basic !!")
	f.Fuzz(func(t *testing.T, h string) {
		user, ok := v.Check(h)
		if !ok {
			if user != "" {
				t.Fatalf("Check(%q): not ok but user %q", h, user)
			}
			return
		}
		scheme, tok, _ := strings.Cut(h, " ")
		tok = strings.Trim(tok, " \t")
		raw, err := base64.StdEncoding.DecodeString(tok)
		if err != nil {
			raw, err = base64.RawStdEncoding.DecodeString(tok)
		}
		if !strings.EqualFold(scheme, "basic") || err != nil || len(h) > MaxHeader {
			t.Fatalf("Check(%q) = (%q, true) for a malformed value", h, user)
		}
		if c := string(raw); c != "bob:password" && c != "alice:alice-pw" || !strings.HasPrefix(c, user+":") {
			t.Fatalf("Check(%q) = (%q, true) for credentials %q", h, user, raw)
		}
	})
}

// TestHashingBounded: wrong passwords sent in parallel are hashed at most
// GOMAXPROCS/2 at a time (at least one), so a guesser cannot take every
// CPU, while a cached user is answered without waiting for them.
func TestHashingBounded(t *testing.T) {
	v := NewVerifier(testFile(t, "alice:"+bcryptHash(t, "right")), 0)
	if _, ok := v.Check(basic("alice:right")); !ok {
		t.Fatal("alice")
	}
	limit := cap(v.hashing)
	if want := max(1, runtime.GOMAXPROCS(0)/2); limit != want {
		t.Fatalf("limit %d, want %d", limit, want)
	}
	// Hold every hashing slot, as a crowd of guessers would.
	for range limit {
		v.hashing <- struct{}{}
	}
	done := make(chan bool)
	go func() {
		_, ok := v.Check(basic("alice:wrong"))
		done <- ok
	}()
	select {
	case <-done:
		t.Fatal("a wrong password was hashed with every slot taken")
	case <-time.After(50 * time.Millisecond):
	}
	if _, ok := v.Check(basic("alice:right")); !ok {
		t.Fatal("the cached user waited for the hashing slots")
	}
	<-v.hashing
	if <-done {
		t.Fatal("wrong password accepted")
	}
}
