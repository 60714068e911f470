package semantics

import (
	"net/http"
	"time"
)

// hdr builds a header from name, value pairs; a repeated name adds a
// field line.
func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// t0 is a fixed instant the time arithmetic in tests starts from.
var t0 = time.Date(2024, time.March, 1, 12, 0, 0, 0, time.UTC)

// httpDate formats t as an IMF-fixdate.
func httpDate(t time.Time) string { return t.UTC().Format(http.TimeFormat) }
