package auth

import "testing"

// Vectors generated with `openssl passwd -apr1 -salt SALT PASSWORD`
// (OpenSSL 3); Apache's htpasswd -m produces the same format.
var apr1Vectors = []struct{ password, hash string }{
	{"password", "$apr1$abcdefgh$FBwExRW4dCc8aL.OvjpIE1"},
	{"password", "$apr1$12345678$9pHAGSBYtlmFtid2xxNog0"},
	{"password", "$apr1$xyz$NU.niW1.aK5j0LYFfMca4/"},
	{"", "$apr1$a1b2$Av39lrGS8kj3twAUhbYSJ0"},
	{"a", "$apr1$x$16j9.5e7KiXmuYFAYpPJM/"},
	{"p:ass wörd", "$apr1$Zz.9/Qq1$tnWChTZFSj/yV0Av.MeK.1"},
	{"secret", "$apr1$longsalt$5orzB3Qm4Iy1hV35JVzat0"}, // openssl truncated "longsaltlongsalt"
	{"exactly16bytes!!", "$apr1$Q9/x$mxKkb0FLcNQT36YGCrnZ50"},
	{"this password is longer than sixteen bytes: 0123456789", "$apr1$r4nd0m.s$wElzheZToR.dyQtCxbzwj0"},
}

func TestAPR1(t *testing.T) {
	for _, tt := range apr1Vectors {
		t.Run(tt.hash, func(t *testing.T) {
			salt, sum, err := splitAPR1(tt.hash)
			if err != nil {
				t.Fatalf("splitAPR1: %v", err)
			}
			got := apr1([]byte(tt.password), []byte(salt))
			if string(got[:]) != sum {
				t.Errorf("apr1(%q, %q) = got %q, want %q", tt.password, salt, got[:], sum)
			}
		})
	}
}

func TestSplitAPR1Malformed(t *testing.T) {
	for _, h := range []string{
		"$apr1$",
		"$apr1$nosum",
		"$apr1$$FBwExRW4dCc8aL.OvjpIE1",          // empty salt
		"$apr1$abcdefghi$FBwExRW4dCc8aL.OvjpIE1", // salt too long
		"$apr1$abcdefgh$FBwExRW4dCc8aL.OvjpIE",   // short checksum
		"$apr1$abcdefgh$FBwExRW4dCc8aL.OvjpI!1",  // bad character
	} {
		if _, _, err := splitAPR1(h); err == nil {
			t.Errorf("splitAPR1(%q): got nil error, want one", h)
		}
	}
}

func BenchmarkAPR1(b *testing.B) {
	for b.Loop() {
		apr1([]byte("password"), []byte("abcdefgh"))
	}
}
