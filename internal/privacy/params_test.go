package privacy

import (
	"strings"
	"testing"
)

func TestStrip(t *testing.T) {
	m, err := newMatcher([]string{"ref_src", "x_trk_*"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"nothing to remove", "a=1&b=2", "a=1&b=2"},
		{"nothing to remove, odd shapes kept", "a&&b=&;c=%zz&=x&", "a&&b=&;c=%zz&=x&"},
		{"alone", "utm_source=x", ""},
		{"middle", "a=1&utm_x=2&b", "a=1&b"},
		{"first", "utm_source=x&a=1", "a=1"},
		{"last", "a=1&fbclid=abc", "a=1"},
		{"several", "utm_source=news&id=7&utm_medium=mail&gclid=x&page=2", "id=7&page=2"},
		{"order and encoding kept", "z=%41%42&utm_a=1&a=b+c&b=%2F", "z=%41%42&a=b+c&b=%2F"},
		{"valueless tracking", "a&fbclid&b=", "a&b="},
		{"empty value tracking", "fbclid=&a", "a"},
		{"empty pieces dropped on rewrite", "a&&utm_x=1&&b&", "a&b"},
		{"only empties around tracking", "&utm_x=1&", ""},
		{"encoded name", "utm%5Fsource=x&a=1", "a=1"},
		{"encoded lower hex", "fbcl%69d=1&a", "a"},
		{"fully encoded", "%67%63%6c%69%64=1", ""},
		{"invalid escape stays literal", "utm%zz=1&utm%5=2", "utm%zz=1&utm%5=2"},
		{"invalid escape after prefix", "utm_%zz=1", ""},
		{"plus is a space", "fb+clid=1", "fb+clid=1"},
		{"case-sensitive", "UTM_SOURCE=x&FBCLID=y", "UTM_SOURCE=x&FBCLID=y"},
		{"prefix needs its underscore", "utmost=1&utm=2", "utmost=1&utm=2"},
		{"bare prefix matches", "utm_=1", ""},
		{"exact is exact", "gclidx=1&xgclid=2", "gclidx=1&xgclid=2"},
		{"value that looks tracking kept", "q=utm_source&r=fbclid", "q=utm_source&r=fbclid"},
		{"only first '=' splits", "gclid=a=b&c", "c"},
		{"semicolon is not a separator", "a=1;utm_x=2", "a=1;utm_x=2"},
		{"semicolon inside tracking piece", "utm_x=2;a=1&b", "b"},
		{"extension exact", "ref_src=twsrc&a", "a"},
		{"extension prefix", "x_trk_id=1&x_trk=2", "x_trk=2"},
		{"long name no match", strings.Repeat("a", 100) + "=1", strings.Repeat("a", 100) + "=1"},
		{"long encoded prefix match", "utm_" + strings.Repeat("%61", 100) + "=1&a", "a"},
		{"long encoded exact no match", "gclid" + strings.Repeat("%61", 100) + "=1", "gclid" + strings.Repeat("%61", 100) + "=1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, changed := m.strip(tt.in)
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if changed != (tt.in != tt.want) {
				t.Errorf("changed: got %v, want %v", changed, tt.in != tt.want)
			}
		})
	}
}

func TestBuiltinParams(t *testing.T) {
	m, err := newMatcher(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range TrackingParams() {
		in := "keep=1&" + strings.Replace(name, "*", "x", 1) + "=v&also"
		if got, _ := m.strip(in); got != "keep=1&also" {
			t.Errorf("strip(%q): got %q, want %q", in, got, "keep=1&also")
		}
	}
	// A copy, not the list itself.
	TrackingParams()[0] = "changed"
	if TrackingParams()[0] != "utm_*" {
		t.Errorf("TrackingParams()[0]: got %q, want %q", TrackingParams()[0], "utm_*")
	}
}

func TestTrackingParamErrors(t *testing.T) {
	tests := []struct{ param, want string }{
		{"", "empty name"},
		{"*", "empty name"},
		{"a*b", "only at the end"},
		{"utm%5F*", "decoded name"},
		{"a=b", "decoded name"},
		{"a b", "decoded name"},
		{"a\x01", "control character"},
		{strings.Repeat("x", 65), "longer than 64"},
	}
	for _, tt := range tests {
		_, err := New(Options{TrackingParams: []string{tt.param}})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(TrackingParams %q): got error %v, want one containing %q", tt.param, err, tt.want)
		}
	}
	if _, err := New(Options{TrackingParams: []string{strings.Repeat("x", 64), "utm_*", "a*"}}); err != nil {
		t.Errorf("valid parameters: got error %v", err)
	}
}
