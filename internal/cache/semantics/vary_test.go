package semantics

import (
	"net/http"
	"reflect"
	"testing"
)

func TestVaryFields(t *testing.T) {
	for _, tc := range []struct {
		name   string
		h      http.Header
		fields []string
		star   bool
	}{
		{"§4.1 none", hdr(), nil, false},
		{"§4.1 one", hdr("Vary", "Accept-Encoding"), []string{"accept-encoding"}, false},
		{"§4.1 lower-cased, deduplicated, sorted across lines", hdr("Vary", "User-Agent, accept-encoding", "Vary", "Accept-Encoding,Accept"),
			[]string{"accept", "accept-encoding", "user-agent"}, false},
		{"§4.1 star", hdr("Vary", "*"), nil, true},
		{"§4.1 star among fields", hdr("Vary", "Accept", "Vary", " * "), []string{"accept"}, true},
		{"§4.1 empty elements and junk ignored", hdr("Vary", ", ,Accept,,bad name"), []string{"accept"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fields, star := VaryFields(tc.h)
			if !reflect.DeepEqual(fields, tc.fields) || star != tc.star {
				t.Errorf("got %q, %v, want %q, %v", fields, star, tc.fields, tc.star)
			}
		})
	}
}

func TestNormalizeVaryValue(t *testing.T) {
	for _, tc := range []struct {
		name    string
		field   string
		h       http.Header
		want    string
		present bool
	}{
		{"§4.1 absent", "Accept-Encoding", hdr(), "", false},
		{"§4.1 present but empty", "Accept-Encoding", hdr("Accept-Encoding", ""), "", true},
		{"§4.1 present but empty, other field", "X-Foo", hdr("X-Foo", ""), "", true},
		{"§4.1 lower-case field name looks up the field", "accept-encoding", hdr("Accept-Encoding", "gzip"), "gzip", true},
		{"§4.1 Accept-Encoding order does not matter", "Accept-Encoding", hdr("Accept-Encoding", "br, gzip"), "br, gzip", true},
		{"§4.1 Accept-Encoding order does not matter (2)", "Accept-Encoding", hdr("Accept-Encoding", "gzip,br"), "br, gzip", true},
		{"§4.1 Accept-Encoding case does not matter", "Accept-Encoding", hdr("Accept-Encoding", "GZip, BR"), "br, gzip", true},
		{"§4.1 Accept-Encoding lines combine", "Accept-Encoding", hdr("Accept-Encoding", "gzip", "Accept-Encoding", "br"), "br, gzip", true},
		{"§4.1 Accept-Encoding parameter whitespace", "Accept-Encoding", hdr("Accept-Encoding", "gzip ; q = 0.5 ,  br"), "br, gzip;q=0.5", true},
		{"RFC 9110 §5.6.1 empty members dropped", "Accept-Encoding", hdr("Accept-Encoding", ", gzip,,"), "gzip", true},
		{"§4.1 Accept-Language lower-cased", "Accept-Language", hdr("Accept-Language", "fr-CH,  EN ; q=0.8"), "fr-ch, en;q=0.8", true},
		{"RFC 9110 §12.5.4 Accept-Language order kept", "Accept-Language", hdr("Accept-Language", "en, fr"), "en, fr", true},
		{"§4.1 Accept keeps quoted strings whole", "Accept", hdr("Accept", `text/html;x="a, B", */*`), `*/*, text/html;x="a, B"`, true},
		{"§4.1 other fields keep order and case", "User-Agent", hdr("User-Agent", "Foo/1  (X11;  Linux) "), "Foo/1 (X11; Linux)", true},
		{"§4.1 other fields: whitespace around commas", "X-Foo", hdr("X-Foo", " b ,\ta "), "b, a", true},
		{"§4.1 other fields: lines combine in order", "X-Foo", hdr("X-Foo", "b", "X-Foo", "a"), "b, a", true},
		{"§4.1 other fields: quoted whitespace kept", "X-Foo", hdr("X-Foo", `"a  b"`), `"a  b"`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, present := NormalizeVaryValue(tc.field, tc.h)
			if got != tc.want || present != tc.present {
				t.Errorf("got %q, %v, want %q, %v", got, present, tc.want, tc.present)
			}
		})
	}
}

func TestVaryKey(t *testing.T) {
	fields := []string{"accept-encoding", "accept-language", "x-foo"}
	for _, tc := range []struct {
		name  string
		a, b  http.Header
		equal bool
	}{
		{"§4.1 both absent", hdr(), hdr(), true},
		{"§4.1 absent vs empty", hdr(), hdr("X-Foo", ""), false},
		{"§4.1 empty vs empty", hdr("X-Foo", ""), hdr("X-Foo", ""), true},
		{"§4.1 Accept-Encoding order", hdr("Accept-Encoding", "gzip, br"), hdr("Accept-Encoding", "br,gzip"), true},
		{"§4.1 Accept-Encoding case", hdr("Accept-Encoding", "GZIP"), hdr("Accept-Encoding", "gzip"), true},
		{"RFC 9110 §12.5.4 Accept-Language order matters", hdr("Accept-Language", "en, fr"), hdr("Accept-Language", "fr, en"), false},
		{"§4.1 different values", hdr("Accept-Encoding", "gzip"), hdr("Accept-Encoding", "br"), false},
		{"§4.1 other field order matters", hdr("X-Foo", "a, b"), hdr("X-Foo", "b, a"), false},
		{"§4.1 other field whitespace does not", hdr("X-Foo", "a,b"), hdr("X-Foo", " a ,  b"), true},
		{"§4.1 fields not listed do not count", hdr("X-Bar", "1"), hdr("X-Bar", "2"), true},
		{"length prefix: value cannot impersonate the next field", hdr("Accept-Encoding", "a7:x-foo-"), hdr("Accept-Encoding", "a"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ka, kb := VaryKey(fields, tc.a), VaryKey(fields, tc.b)
			if got := ka == kb; got != tc.equal {
				t.Errorf("keys %q and %q: got equal=%v, want %v", ka, kb, got, tc.equal)
			}
		})
	}
	if got := VaryKey(nil, hdr("X-Foo", "1")); got != "" {
		t.Errorf("VaryKey with no fields: got %q, want %q", got, "")
	}
}
