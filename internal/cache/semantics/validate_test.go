package semantics

import (
	"net/http"
	"reflect"
	"testing"
	"time"
)

func TestValidatorHeaders(t *testing.T) {
	lm := "Sun, 06 Nov 1994 08:49:37 GMT"
	for _, tc := range []struct {
		name   string
		stored http.Header
		want   http.Header
	}{
		{"§4.3.1 ETag and Last-Modified", hdr("Etag", `"v1"`, "Last-Modified", lm, "Date", httpDate(t0)),
			hdr("If-None-Match", `"v1"`, "If-Modified-Since", lm)},
		{"§4.3.1 weak ETag sent as is", hdr("Etag", ` W/"v1" `), hdr("If-None-Match", `W/"v1"`)},
		{"§4.3.1 Last-Modified, not Date", hdr("Date", httpDate(t0)), hdr()},
		{"§4.3.1 invalid ETag not sent", hdr("Etag", "v1"), hdr()},
		{"§4.3.1 invalid Last-Modified not sent", hdr("Last-Modified", "0"), hdr()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ValidatorHeaders(tc.stored); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestEvaluateConditional(t *testing.T) {
	lm := t0.Add(-time.Hour)
	stored := hdr("Etag", `"v1"`, "Last-Modified", httpDate(lm), "Date", httpDate(t0))
	weakStored := hdr("Etag", `W/"v1"`, "Date", httpDate(t0))
	noValidators := hdr("Date", httpDate(t0))
	for _, tc := range []struct {
		name        string
		method      string
		req, stored http.Header
		notModified bool
		passOn      bool
	}{
		{"no preconditions", "GET", hdr(), stored, false, false},
		{"RFC 9110 §13.1.2 If-None-Match matches", "GET", hdr("If-None-Match", `"v1"`), stored, true, false},
		{"RFC 9110 §13.1.2 HEAD too", "HEAD", hdr("If-None-Match", `"v1"`), stored, true, false},
		{"RFC 9110 §13.1.2 does not match", "GET", hdr("If-None-Match", `"v2"`), stored, false, false},
		{"RFC 9110 §13.1.2 one of a list matches", "GET", hdr("If-None-Match", `"v0", "v1"`), stored, true, false},
		{"RFC 9110 §13.1.2 list across lines", "GET", hdr("If-None-Match", `"v0"`, "If-None-Match", `"v1"`), stored, true, false},
		{"RFC 9110 §13.1.2 weak comparison: weak request tag", "GET", hdr("If-None-Match", `W/"v1"`), stored, true, false},
		{"RFC 9110 §13.1.2 weak comparison: weak stored tag", "GET", hdr("If-None-Match", `"v1"`), weakStored, true, false},
		{"RFC 9110 §8.8.3 comma inside an entity-tag", "GET", hdr("If-None-Match", `"a,b"`), hdr("Etag", `"a,b"`), true, false},
		{"RFC 9110 §13.1.2 * matches any stored response", "GET", hdr("If-None-Match", "*"), noValidators, true, false},
		{"RFC 9110 §13.1.2 no stored ETag never matches", "GET", hdr("If-None-Match", `"v1"`), noValidators, false, false},
		{"RFC 9110 §13.1.2 malformed If-None-Match goes to origin", "GET", hdr("If-None-Match", `v1`), stored, false, true},
		{"RFC 9110 §13.2.2 If-None-Match wins over If-Modified-Since", "GET", hdr("If-None-Match", `"v2"`, "If-Modified-Since", httpDate(t0)), stored, false, false},
		{"RFC 9110 §13.2.2 If-None-Match match ignores old If-Modified-Since", "GET", hdr("If-None-Match", `"v1"`, "If-Modified-Since", httpDate(lm.Add(-time.Hour))), stored, true, false},
		{"RFC 9110 §13.1.3 not modified since a later date", "GET", hdr("If-Modified-Since", httpDate(t0)), stored, true, false},
		{"RFC 9110 §13.1.3 not modified since the same date", "GET", hdr("If-Modified-Since", httpDate(lm)), stored, true, false},
		{"RFC 9110 §13.1.3 modified since an earlier date", "GET", hdr("If-Modified-Since", httpDate(lm.Add(-time.Second))), stored, false, false},
		{"RFC 9110 §13.1.3 invalid date ignored", "GET", hdr("If-Modified-Since", "yesterday"), stored, false, false},
		{"RFC 9110 §13.1.3 several lines ignored", "GET", hdr("If-Modified-Since", httpDate(t0), "If-Modified-Since", httpDate(t0)), stored, false, false},
		{"RFC 9110 §13.1.3 RFC 850 date accepted", "GET", hdr("If-Modified-Since", "Friday, 01-Mar-24 12:00:00 GMT"), stored, true, false},
		{"RFC 9111 §4.3.2 Date stands in for Last-Modified", "GET", hdr("If-Modified-Since", httpDate(t0)), noValidators, true, false},
		{"RFC 9111 §4.3.2 Date stands in: modified", "GET", hdr("If-Modified-Since", httpDate(t0.Add(-time.Second))), noValidators, false, false},
		{"RFC 9111 §4.3.2 neither Last-Modified nor Date", "GET", hdr("If-Modified-Since", httpDate(t0)), hdr(), false, false},
		{"RFC 9110 §13.1.3 only GET and HEAD", "POST", hdr("If-Modified-Since", httpDate(t0)), stored, false, true},
		{"RFC 9110 §13.1.1 If-Match goes to origin", "GET", hdr("If-Match", `"v1"`), stored, false, true},
		{"RFC 9110 §13.1.4 If-Unmodified-Since goes to origin", "GET", hdr("If-Unmodified-Since", httpDate(t0), "If-None-Match", `"v1"`), stored, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nm, pass := EvaluateConditional(tc.method, tc.req, tc.stored)
			if nm != tc.notModified || pass != tc.passOn {
				t.Errorf("got %v, %v, want %v, %v", nm, pass, tc.notModified, tc.passOn)
			}
		})
	}
}

func TestNotModifiedHeader(t *testing.T) {
	stored := hdr("Cache-Control", "max-age=60", "Content-Location", "/a", "Date", httpDate(t0), "Etag", `"v1"`,
		"Expires", httpDate(t0), "Vary", "Accept", "Vary", "Accept-Encoding", "Last-Modified", httpDate(t0),
		"Content-Type", "text/html", "Content-Length", "10", "Set-Cookie", "a=b", "Age", "5")
	want := hdr("Cache-Control", "max-age=60", "Content-Location", "/a", "Date", httpDate(t0), "Etag", `"v1"`,
		"Expires", httpDate(t0), "Vary", "Accept", "Vary", "Accept-Encoding", "Last-Modified", httpDate(t0))
	// RFC 9110 §15.4.5: the fields a 200 would carry among the listed ones,
	// and no other representation metadata.
	got := NotModifiedHeader(stored)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	got["Vary"][0] = "changed"
	if stored["Vary"][0] != "Accept" {
		t.Errorf("stored modified: got %q, want %q", stored["Vary"][0], "Accept")
	}
}

func TestMatching304(t *testing.T) {
	lm := httpDate(t0.Add(-time.Hour))
	for _, tc := range []struct {
		name        string
		stored, new http.Header
		want        bool
	}{
		{"§4.3.4 strong ETag equal", hdr("Etag", `"a"`), hdr("Etag", `"a"`), true},
		{"§4.3.4 strong ETag differs", hdr("Etag", `"a"`), hdr("Etag", `"b"`), false},
		{"§4.3.4 strong ETag vs weak stored", hdr("Etag", `W/"a"`), hdr("Etag", `"a"`), false},
		{"§4.3.4 strong ETag, stored has none", hdr("Last-Modified", lm), hdr("Etag", `"a"`, "Last-Modified", lm), false},
		{"§4.3.4 strong ETag decides over Last-Modified", hdr("Etag", `"a"`, "Last-Modified", lm), hdr("Etag", `"a"`, "Last-Modified", httpDate(t0)), true},
		{"§4.3.4 Last-Modified equal", hdr("Last-Modified", lm), hdr("Last-Modified", lm), true},
		{"§4.3.4 Last-Modified equal in another format", hdr("Last-Modified", "Sun, 06 Nov 1994 08:49:37 GMT"), hdr("Last-Modified", "Sunday, 06-Nov-94 08:49:37 GMT"), true},
		{"§4.3.4 Last-Modified differs", hdr("Last-Modified", lm), hdr("Last-Modified", httpDate(t0)), false},
		{"§4.3.4 Last-Modified, stored has none", hdr("Etag", `W/"a"`), hdr("Last-Modified", lm, "Etag", `W/"a"`), false},
		{"§4.3.4 weak ETag matches weakly", hdr("Etag", `"a"`), hdr("Etag", `W/"a"`), true},
		{"§4.3.4 weak ETag matches weak stored", hdr("Etag", `W/"a"`), hdr("Etag", `W/"a"`), true},
		{"§4.3.4 weak ETag differs", hdr("Etag", `W/"a"`), hdr("Etag", `W/"b"`), false},
		{"§4.3.4 no validators on either side", hdr("Date", lm), hdr("Date", httpDate(t0)), true},
		{"§4.3.4 304 without validator, stored with one", hdr("Etag", `"a"`), hdr("Date", httpDate(t0)), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Matching304(tc.stored, tc.new); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestUpdateStoredHeader(t *testing.T) {
	stored := hdr("Content-Type", "text/html", "Content-Length", "100", "Etag", `"a"`, "Cache-Control", "max-age=60",
		"Date", httpDate(t0), "Age", "30", "X-Old", "1", "Set-Cookie", "a=1", "Set-Cookie", "b=2")
	for _, tc := range []struct {
		name  string
		fresh http.Header
		want  http.Header
	}{
		{"§3.2 fields replace same-named fields, all lines",
			hdr("Cache-Control", "max-age=120", "Date", httpDate(t0.Add(time.Hour)), "Set-Cookie", "c=3", "X-New", "2", "Age", "1"),
			hdr("Content-Type", "text/html", "Content-Length", "100", "Etag", `"a"`, "Cache-Control", "max-age=120",
				"Date", httpDate(t0.Add(time.Hour)), "Age", "1", "X-Old", "1", "Set-Cookie", "c=3", "X-New", "2")},
		{"§3.2 Content-Length is not updated",
			hdr("Content-Length", "0", "Age", "0"),
			hdr("Content-Type", "text/html", "Content-Length", "100", "Etag", `"a"`, "Cache-Control", "max-age=60",
				"Date", httpDate(t0), "Age", "0", "X-Old", "1", "Set-Cookie", "a=1", "Set-Cookie", "b=2")},
		{"§3.2 Content-Type is updated",
			hdr("Content-Type", "text/plain", "Age", "0"),
			hdr("Content-Type", "text/plain", "Content-Length", "100", "Etag", `"a"`, "Cache-Control", "max-age=60",
				"Date", httpDate(t0), "Age", "0", "X-Old", "1", "Set-Cookie", "a=1", "Set-Cookie", "b=2")},
		{"§3.1 hop-by-hop fields are not taken",
			hdr("Connection", "close, X-Hop", "Keep-Alive", "timeout=5", "Proxy-Connection", "keep-alive", "Te", "trailers",
				"Transfer-Encoding", "chunked", "Upgrade", "h2c", "Trailer", "X", "Proxy-Authenticate", "Basic",
				"Proxy-Authorization", "Basic x", "X-Hop", "1", "Age", "0"),
			hdr("Content-Type", "text/html", "Content-Length", "100", "Etag", `"a"`, "Cache-Control", "max-age=60",
				"Date", httpDate(t0), "Age", "0", "X-Old", "1", "Set-Cookie", "a=1", "Set-Cookie", "b=2")},
		{"§4.2.3 stale Age dropped when the 304 has none",
			hdr("Etag", `"a"`),
			hdr("Content-Type", "text/html", "Content-Length", "100", "Etag", `"a"`, "Cache-Control", "max-age=60",
				"Date", httpDate(t0), "X-Old", "1", "Set-Cookie", "a=1", "Set-Cookie", "b=2")},
		{"§3.2 non-canonical keys in fresh",
			http.Header{"cache-control": {"no-cache"}, "content-length": {"0"}, "Age": {"0"}},
			hdr("Content-Type", "text/html", "Content-Length", "100", "Etag", `"a"`, "Cache-Control", "no-cache",
				"Date", httpDate(t0), "Age", "0", "X-Old", "1", "Set-Cookie", "a=1", "Set-Cookie", "b=2")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := stored.Clone()
			freshBefore := tc.fresh.Clone()
			got := UpdateStoredHeader(stored, tc.fresh)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			if !reflect.DeepEqual(stored, before) || !reflect.DeepEqual(tc.fresh, freshBefore) {
				t.Errorf("arguments modified: got %v, %v, want %v, %v", stored, tc.fresh, before, freshBefore)
			}
			for k := range got {
				if len(got[k]) > 0 && len(tc.fresh[k]) > 0 && &got[k][0] == &tc.fresh[k][0] {
					t.Errorf("%s shares its slice with fresh: got shared, want a copy", k)
				}
			}
		})
	}
	if got := UpdateStoredHeader(nil, hdr("X-A", "1")); !reflect.DeepEqual(got, hdr("X-A", "1")) {
		t.Errorf("nil stored: got %v, want %v", got, hdr("X-A", "1"))
	}
}
