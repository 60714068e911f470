package wire

import (
	"strings"
	"testing"
)

func TestNextElement(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"a", "a"},
		{"a, b ,\tc", "a|b|c"},
		{" close , X-Foo", "close|X-Foo"},
		{"a,,b", "a||b"},
		{",a", "|a"},
		{"a,", "a"},
	} {
		var got []string
		for v := tc.in; v != ""; {
			var e string
			e, v = NextElement(v)
			got = append(got, e)
		}
		if g := strings.Join(got, "|"); g != tc.want {
			t.Errorf("NextElement over %q: got %q, want %q", tc.in, g, tc.want)
		}
	}
}

func TestHasToken(t *testing.T) {
	vals := []string{"keep-alive, Upgrade", "x-foo"}
	for tok, want := range map[string]bool{"upgrade": true, "KEEP-ALIVE": true, "X-Foo": true, "close": false, "up": false} {
		if got := HasToken(vals, tok); got != want {
			t.Errorf("HasToken(%q): got %v, want %v", tok, got, want)
		}
	}
}

func TestContentLength(t *testing.T) {
	for _, tc := range []struct {
		vals []string
		n    int64
		ok   bool
	}{
		{nil, -1, true},
		{[]string{"5"}, 5, true},
		{[]string{"5", "5"}, 5, true},
		{[]string{"5, 5"}, 5, true},
		{[]string{"5", "6"}, 0, false},
		{[]string{"5, 6"}, 0, false},
		{[]string{",5"}, 0, false},
		{[]string{"+5"}, 0, false},
		{[]string{"0x5"}, 0, false},
		{[]string{""}, 0, false},
		{[]string{"9999999999999999999"}, 0, false},
	} {
		n, ok := ContentLength(tc.vals)
		if ok != tc.ok || ok && n != tc.n {
			t.Errorf("ContentLength(%q): got %d, %v; want %d, %v", tc.vals, n, ok, tc.n, tc.ok)
		}
	}
}

func TestCheckName(t *testing.T) {
	for _, tc := range []struct {
		in            string
		canonical, ok bool
	}{
		{"Content-Type", true, true},
		{"content-type", false, true},
		{"X-Foo_bar", true, true},
		{"X-Foo_Bar", false, true}, // only "-" starts a word, as in http.CanonicalHeaderKey
		{"Bad Name", false, false},
		{"Host ", false, false},
		{"", false, false},
		{"A\r\nB", false, false},
	} {
		c, ok := CheckName(tc.in)
		if ok != tc.ok || ok && c != tc.canonical {
			t.Errorf("CheckName(%q): got %v, %v; want %v, %v", tc.in, c, ok, tc.canonical, tc.ok)
		}
	}
}
