package rewrite

import (
	"testing"
)

// TestParseSelector checks what the parser accepts, in canonical form.
func TestParseSelector(t *testing.T) {
	tests := []struct{ in, want string }{
		{"div", "div"},
		{"DIV", "div"},
		{"*", "*"},
		{".ad", "*.ad"},
		{"#banner", "*#banner"},
		{"div.ad.big", "div.ad.big"},
		{"div#main.ad", "div#main.ad"},
		{"[data-ad]", "*[data-ad]"},
		{"[ DATA-AD ]", "*[data-ad]"},
		{"a[href^='https://t.']", `a[href^="https://t."]`},
		{`a[href$=".js"][rel~=nofollow][lang|=en][title*=x]`, `a[href$=".js"][rel~="nofollow"][lang|="en"][title*="x"]`},
		{"input[type=TEXT i]", `input[type="TEXT" i]`},
		{"input[type='a' s]", `input[type="a"]`},
		{`.md\:hidden`, `*.md\3a hidden`},
		{`.\31 23`, "*.123"},
		{`[x="a\"b"]`, `*[x="a\22 b"]`},
		{"  div.ad  ", "div.ad"},
		{"div.ad[data-x]", "div.ad[data-x]"},
		{".café", "*.café"},
		{"my-element", "my-element"},
	}
	for _, tt := range tests {
		sel, err := parseSelector(tt.in)
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if got := sel.String(); got != tt.want {
			t.Errorf("%q: got %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestParseSelectorErrors checks that unsupported selectors are refused
// with a reason.
func TestParseSelectorErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "empty selector"},
		{"  ", "empty selector"},
		{"div p", "combinators (descendant, >, +, ~) are not supported: select the element itself"},
		{"div>p", "combinators (descendant, >, +, ~) are not supported: select the element itself"},
		{"h1+p", "combinators (descendant, >, +, ~) are not supported: select the element itself"},
		{"div, p", "selector lists are not supported: give each selector as its own entry"},
		{"a:hover", "pseudo-classes and pseudo-elements (:…) are not supported"},
		{"p::before", "pseudo-classes and pseudo-elements (:…) are not supported"},
		{"div*", "* may only come first"},
		{".", "after .: want a name, found the end"},
		{"#", "after #: want a name, found the end"},
		{"[", "attribute name: want a name, found the end"},
		{"[x", "unclosed ["},
		{"[x=", "attribute value: want a name or a quoted string at offset 3"},
		{"[x='a", "unclosed quote"},
		{"[x=a b]", `want ] at offset 5, found 'b'`},
		{"[x!=a]", `unexpected '!' in [x…] at offset 2`},
		{"[x^a]", "want ^= at offset 2"},
		{"div!", `unexpected '!' at offset 3`},
		{`.a\`, "after .: escape at the end"},
		{"[x='a\nb']", "newline in a quoted string"},
	}
	for _, tt := range tests {
		_, err := parseSelector(tt.in)
		if err == nil {
			t.Errorf("%q: no error, want %q", tt.in, tt.want)
			continue
		}
		if err.Error() != tt.want {
			t.Errorf("%q: got %q, want %q", tt.in, err, tt.want)
		}
	}
}

// TestSelectorMatch checks matching against an element.
func TestSelectorMatch(t *testing.T) {
	el := []attr{
		{[]byte("class"), []byte(" ad\tbig ")},
		{[]byte("id"), []byte("slot-1")},
		{[]byte("data-x"), []byte("")},
		{[]byte("href"), []byte("https://track.example/p?a=1")},
		{[]byte("lang"), []byte("en-GB")},
		{[]byte("type"), []byte("Text")},
	}
	tests := []struct {
		sel  string
		want bool
	}{
		{"div", true},
		{"span", false},
		{"*", true},
		{".ad", true},
		{".big.ad", true},
		{".a", false},
		{".ad.small", false},
		{"#slot-1", true},
		{"#slot", false},
		{"[data-x]", true},
		{"[data-y]", false},
		{"[data-x='']", true},
		{"[href^='https://track.']", true},
		{"[href^='']", false},
		{"[href$='a=1']", true},
		{"[href*='track']", true},
		{"[class~=big]", true},
		{"[class~='ad big']", false},
		{"[lang|=en]", true},
		{"[lang|=en-GB]", true},
		{"[lang|=e]", false},
		{"[type=text]", false},
		{"[type=text i]", true},
		{"div.ad[data-x]#slot-1", true},
		{"div.ad[data-y]", false},
	}
	for _, tt := range tests {
		sel, err := parseSelector(tt.sel)
		if err != nil {
			t.Fatal(err)
		}
		if got := sel.match("div", el); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.sel, got, tt.want)
		}
	}
}
