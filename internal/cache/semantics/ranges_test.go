package semantics

import (
	"net/http"
	"testing"
	"time"
)

func TestParseRange(t *testing.T) {
	const size = 1000
	for _, tc := range []struct {
		name       string
		value      string
		size       int64
		kind       RangeKind
		start, end int64
	}{
		{"§14.1.2 first byte", "bytes=0-0", size, RangeOK, 0, 0},
		{"§14.1.2 closed range", "bytes=10-19", size, RangeOK, 10, 19},
		{"§14.1.2 suffix: last byte", "bytes=-1", size, RangeOK, 999, 999},
		{"§14.1.2 suffix: last 500", "bytes=-500", size, RangeOK, 500, 999},
		{"§14.1.2 suffix longer than the representation", "bytes=-5000", size, RangeOK, 0, 999},
		{"§14.1.2 open range", "bytes=5-", size, RangeOK, 5, 999},
		{"§14.1.2 last-pos clamped", "bytes=0-99999999", size, RangeOK, 0, 999},
		{"§14.1.2 last-pos overflowing int64 clamped", "bytes=0-99999999999999999999999", size, RangeOK, 0, 999},
		{"§14.1.2 last byte exactly", "bytes=999-999", size, RangeOK, 999, 999},
		{"§14.1 unit is case-insensitive", "Bytes=1-2", size, RangeOK, 1, 2},
		{"RFC 9110 §5.6.1 whitespace around the range", " bytes= 1-2 ", size, RangeOK, 1, 2},
		{"RFC 9110 §5.6.1 empty list elements ignored", "bytes=, 1-2,", size, RangeOK, 1, 2},
		{"§14.1.1 last-pos below first-pos is invalid", "bytes=10-5", size, RangeNone, 0, 0},
		{"§14.1.1 first-pos at size is unsatisfiable", "bytes=1000-", size, RangeUnsatisfiable, 0, 0},
		{"§14.1.1 first-pos beyond size is unsatisfiable", "bytes=5000-6000", size, RangeUnsatisfiable, 0, 0},
		{"§14.1.1 huge first-pos is unsatisfiable", "bytes=99999999999999999999999-", size, RangeUnsatisfiable, 0, 0},
		{"§14.1.1 zero suffix is unsatisfiable", "bytes=-0", size, RangeUnsatisfiable, 0, 0},
		{"§14.1.1 empty representation", "bytes=0-", 0, RangeUnsatisfiable, 0, 0},
		{"§14.1.1 empty representation, suffix served whole", "bytes=-5", 0, RangeNone, 0, 0},
		{"§14.2 several ranges served whole", "bytes=0-1,3-4", size, RangeNone, 0, 0},
		{"§14.2 other unit ignored", "items=0-1", size, RangeNone, 0, 0},
		{"§14.2 no unit", "0-1", size, RangeNone, 0, 0},
		{"§14.2 empty value", "", size, RangeNone, 0, 0},
		{"§14.2 empty set", "bytes=", size, RangeNone, 0, 0},
		{"§14.2 dash only", "bytes=-", size, RangeNone, 0, 0},
		{"§14.2 no dash", "bytes=5", size, RangeNone, 0, 0},
		{"§14.2 negative", "bytes=-5-10", size, RangeNone, 0, 0},
		{"§14.2 whitespace inside a range", "bytes=1 - 2", size, RangeNone, 0, 0},
		{"§14.2 plus sign", "bytes=+1-2", size, RangeNone, 0, 0},
		{"§14.2 space before =", "bytes =1-2", size, RangeNone, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kind, start, end := ParseRange(tc.value, tc.size)
			if kind != tc.kind || start != tc.start || end != tc.end {
				t.Errorf("ParseRange(%q, %d): got %v, %d, %d, want %v, %d, %d", tc.value, tc.size, kind, start, end, tc.kind, tc.start, tc.end)
			}
		})
	}
}

func TestIfRangeAllows(t *testing.T) {
	lm := t0.Add(-time.Hour)
	stored := hdr("Etag", `"v1"`, "Last-Modified", httpDate(lm), "Date", httpDate(t0))
	for _, tc := range []struct {
		name    string
		ifRange string
		stored  http.Header
		want    bool
	}{
		{"§13.1.5 no If-Range", "", stored, true},
		{"§13.1.5 strong ETag matches", `"v1"`, stored, true},
		{"§13.1.5 ETag differs", `"v2"`, stored, false},
		{"§13.1.5 weak ETag never matches", `W/"v1"`, stored, false},
		{"§13.1.5 stored weak ETag never matches", `"v1"`, hdr("Etag", `W/"v1"`), false},
		{"§13.1.5 malformed entity-tag", `"v1`, stored, false},
		{"§13.1.5 date equal to a strong Last-Modified", httpDate(lm), stored, true},
		{"§13.1.5 date in RFC 850 format", lm.Format("Monday, 02-Jan-06 15:04:05 GMT"), stored, true},
		{"§13.1.5 date later than Last-Modified", httpDate(lm.Add(time.Second)), stored, false},
		{"§13.1.5 date earlier than Last-Modified", httpDate(lm.Add(-time.Second)), stored, false},
		{"§8.8.2.2 weak Last-Modified: Date within a second", httpDate(lm), hdr("Last-Modified", httpDate(lm), "Date", httpDate(lm)), false},
		{"§8.8.2.2 strong Last-Modified: Date one second later", httpDate(lm), hdr("Last-Modified", httpDate(lm), "Date", httpDate(lm.Add(time.Second))), true},
		{"§8.8.2.2 no Date: Last-Modified is weak", httpDate(lm), hdr("Last-Modified", httpDate(lm)), false},
		{"§13.1.5 no stored Last-Modified", httpDate(lm), hdr("Date", httpDate(t0)), false},
		{"§13.1.5 neither entity-tag nor date", "yesterday", stored, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := IfRangeAllows(tc.ifRange, tc.stored); got != tc.want {
				t.Errorf("IfRangeAllows(%q): got %v, want %v", tc.ifRange, got, tc.want)
			}
		})
	}
}
