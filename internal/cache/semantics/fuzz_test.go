package semantics

import (
	"net/http"
	"testing"
)

func FuzzDirectives(f *testing.F) {
	for _, s := range []string{
		"public, max-age=3600",
		`no-cache="set-cookie, x-foo", private="a"`,
		`max-age="60", s-maxage=99999999999999999999`,
		`private="unterminated, max-age=1`,
		`"junk"=, =, ,,, stale-while-revalidate=1`,
		"max-stale, min-fresh=1, only-if-cached",
		`private="a\"b"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h := http.Header{"Cache-Control": {s}}
		d := ParseResponseDirectives(h)
		for _, v := range []Seconds{d.MaxAge, d.SMaxAge, d.StaleWhileRevalidate, d.StaleIfError} {
			checkSeconds(t, v)
		}
		for _, f := range append(d.NoCacheFields, d.PrivateFields...) {
			if f == "" {
				t.Errorf("empty field name in %q", s)
			}
		}
		r := ParseRequestDirectives(h)
		for _, v := range []Seconds{r.MaxAge, r.MinFresh, r.StaleIfError, r.MaxStale} {
			checkSeconds(t, v)
		}
		// Splitting the value over two field lines at a comma outside
		// quotes cannot change a boolean directive (RFC 9110 §5.3).
		if d2 := ParseResponseDirectives(http.Header{"Cache-Control": {s, ""}}); d2.NoStore != d.NoStore || d2.Private != d.Private {
			t.Errorf("an empty second line changed the result for %q", s)
		}
	})
}

func checkSeconds(t *testing.T, v Seconds) {
	t.Helper()
	if v.Value < 0 || v.Value > maxDelta {
		t.Errorf("value out of range: got %d, want 0..2^31", v.Value)
	}
	if (v.Invalid || v.Any || v.Value != 0) && !v.Present {
		t.Errorf("set but not present: got %+v", v)
	}
	if v.Invalid && (v.Value != 0 || v.Any) {
		t.Errorf("invalid with a value: got %+v", v)
	}
}

func FuzzRange(f *testing.F) {
	for _, s := range []string{"bytes=0-0", "bytes=-1", "bytes=5-", "bytes=0-99999999", "bytes=10-5", "bytes=0-1,3-4", "items=0-1", " Bytes = 1-2 ", "bytes=-0"} {
		f.Add(s, int64(1000))
	}
	f.Add("bytes=-5", int64(0))
	f.Fuzz(func(t *testing.T, s string, size int64) {
		kind, start, end := ParseRange(s, size)
		switch kind {
		case RangeOK:
			if !(0 <= start && start <= end && end < size) {
				t.Errorf("ParseRange(%q, %d): got %d-%d, want 0 <= start <= end < size", s, size, start, end)
			}
		case RangeNone, RangeUnsatisfiable:
			if start != 0 || end != 0 {
				t.Errorf("ParseRange(%q, %d): got %v with %d-%d, want 0-0", s, size, kind, start, end)
			}
		default:
			t.Errorf("ParseRange(%q, %d): got kind %v", s, size, kind)
		}
		IfRangeAllows(s, http.Header{"Etag": {s}, "Last-Modified": {s}, "Date": {s}})
	})
}
