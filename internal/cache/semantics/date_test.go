package semantics

import (
	"testing"
	"time"
)

func TestParseDate(t *testing.T) {
	want := time.Date(1994, time.November, 6, 8, 49, 37, 0, time.UTC)
	for _, tc := range []struct {
		name string
		in   string
		want time.Time
		ok   bool
	}{
		{"RFC 9110 §5.6.7 IMF-fixdate", "Sun, 06 Nov 1994 08:49:37 GMT", want, true},
		{"RFC 9110 §5.6.7 RFC 850", "Sunday, 06-Nov-94 08:49:37 GMT", want, true},
		{"RFC 9110 §5.6.7 asctime", "Sun Nov  6 08:49:37 1994", want, true},
		{"RFC 9110 §5.6.7 asctime two-digit day", "Sun Nov 16 08:49:37 1994", want.AddDate(0, 0, 10), true},
		{"RFC 9110 §5.6.7 RFC 850 year in this century", "Monday, 06-Nov-23 08:49:37 GMT", time.Date(2023, time.November, 6, 8, 49, 37, 0, time.UTC), true},
		{"RFC 9110 §5.6.7 RFC 850 year under 50 years ahead stays ahead", "Sunday, 06-Nov-72 08:49:37 GMT", time.Date(2072, time.November, 6, 8, 49, 37, 0, time.UTC), true},
		{"RFC 9110 §5.6.7 leap second", "Sat, 31 Dec 2016 23:59:60 GMT", time.Date(2017, time.January, 1, 0, 0, 0, 0, time.UTC), true},
		{"RFC 9110 §5.6.7 leap day", "Thu, 29 Feb 2024 00:00:00 GMT", time.Date(2024, time.February, 29, 0, 0, 0, 0, time.UTC), true},
		{"RFC 9110 §5.6.7 case-sensitive", "sun, 06 nov 1994 08:49:37 gmt", time.Time{}, false},
		{"RFC 9110 §5.6.7 GMT only", "Sun, 06 Nov 1994 08:49:37 UTC", time.Time{}, false},
		{"RFC 9110 §5.6.7 no such day", "Sun, 31 Feb 1994 08:49:37 GMT", time.Time{}, false},
		{"RFC 9110 §5.6.7 no such hour", "Sun, 06 Nov 1994 24:49:37 GMT", time.Time{}, false},
		{"RFC 9110 §5.6.7 bad day name", "Xyz, 06 Nov 1994 08:49:37 GMT", time.Time{}, false},
		{"RFC 9110 §5.6.7 bad month", "Sun, 06 Foo 1994 08:49:37 GMT", time.Time{}, false},
		{"RFC 9110 §5.6.7 one-digit day in IMF-fixdate", "Sun, 6 Nov 1994 08:49:37 GMT", time.Time{}, false},
		{"RFC 9111 §5.3 Expires: 0", "0", time.Time{}, false},
		{"RFC 9111 §5.3 Expires: -1", "-1", time.Time{}, false},
		{"empty", "", time.Time{}, false},
		{"RFC 850 with short day name", "Sun, 06-Nov-94 08:49:37 GMT", time.Time{}, false},
		{"trailing space", "Sun, 06 Nov 1994 08:49:37 GMT ", time.Time{}, false},
		{"asctime bad day", "Sun Nov  x 08:49:37 1994", time.Time{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := ParseDate(tc.in)
			if ok != tc.ok || !got.Equal(tc.want) {
				t.Errorf("ParseDate(%q): got %v, %v, want %v, %v", tc.in, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestParseDateRoundTrip(t *testing.T) {
	// RFC 9110 §5.6.7: what a sender generates (IMF-fixdate) parses back.
	for _, tm := range []time.Time{t0, time.Unix(0, 0).UTC(), time.Date(2099, time.December, 31, 23, 59, 59, 0, time.UTC)} {
		got, ok := ParseDate(httpDate(tm))
		if !ok || !got.Equal(tm) {
			t.Errorf("ParseDate(%q): got %v, %v, want %v, true", httpDate(tm), got, ok, tm)
		}
	}
}

func BenchmarkParseDate(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		ParseDate("Sun, 06 Nov 1994 08:49:37 GMT")
	}
}
