package semantics

import (
	"fmt"
	"net/http"
	"reflect"
	"testing"
	"time"
)

func sec(v int64) Seconds { return Seconds{Present: true, Value: v} }

var invalid = Seconds{Present: true, Invalid: true}

func TestParseResponseDirectives(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lines []string
		want  ResponseDirectives
	}{
		{"none", nil, ResponseDirectives{}},
		{"§5.2.2 booleans", []string{"no-store, no-cache, private, public, must-revalidate, proxy-revalidate, must-understand, no-transform, immutable"},
			ResponseDirectives{NoStore: true, NoCache: true, Private: true, Public: true, MustRevalidate: true, ProxyRevalidate: true, MustUnderstand: true, NoTransform: true, Immutable: true}},
		{"§5.2 names are case-insensitive", []string{"No-Store, MAX-AGE=60, S-MaxAge=5"},
			ResponseDirectives{NoStore: true, MaxAge: sec(60), SMaxAge: sec(5)}},
		{"§5.2 quoted argument accepted", []string{`max-age="3600"`}, ResponseDirectives{MaxAge: sec(3600)}},
		{"§5.2 several field lines form one list", []string{"public", "max-age=10"}, ResponseDirectives{Public: true, MaxAge: sec(10)}},
		{"§5.2 unknown directives ignored", []string{`foo, bar="a, max-age=9", max-age=1`}, ResponseDirectives{MaxAge: sec(1)}},
		{"§5.2 empty elements ignored", []string{" , ,max-age=1,, "}, ResponseDirectives{MaxAge: sec(1)}},
		{"§5.2 whitespace around = makes the directive invalid", []string{"max-age = 7"}, ResponseDirectives{MaxAge: invalid}},
		{"§5.2 whitespace after = makes the directive invalid", []string{"max-age= 7"}, ResponseDirectives{MaxAge: invalid}},
		{"§1.2.2 zero", []string{"max-age=0"}, ResponseDirectives{MaxAge: sec(0)}},
		{"§1.2.2 negative is invalid", []string{"max-age=-1"}, ResponseDirectives{MaxAge: invalid}},
		{"§1.2.2 decimal is invalid", []string{"max-age=1.5"}, ResponseDirectives{MaxAge: invalid}},
		{"§1.2.2 empty is invalid", []string{"max-age="}, ResponseDirectives{MaxAge: invalid}},
		{"§1.2.2 empty quoted is invalid", []string{`max-age=""`}, ResponseDirectives{MaxAge: invalid}},
		{"§1.2.2 missing argument is invalid", []string{"max-age"}, ResponseDirectives{MaxAge: invalid}},
		{"§1.2.2 non-digit is invalid", []string{"s-maxage=abc"}, ResponseDirectives{SMaxAge: invalid}},
		{"§1.2.2 plus sign is invalid", []string{"max-age=+5"}, ResponseDirectives{MaxAge: invalid}},
		{"§1.2.2 trailing junk is invalid", []string{"max-age=5 x"}, ResponseDirectives{MaxAge: invalid}},
		{"§1.2.2 unterminated quote is invalid", []string{`max-age="5`}, ResponseDirectives{MaxAge: invalid}},
		{"§1.2.2 huge saturates at 2^31", []string{"max-age=99999999999999999999999"}, ResponseDirectives{MaxAge: sec(1 << 31)}},
		{"§1.2.2 2^31 exactly", []string{"max-age=2147483648"}, ResponseDirectives{MaxAge: sec(1 << 31)}},
		{"§1.2.2 just below 2^31", []string{"max-age=2147483647"}, ResponseDirectives{MaxAge: sec(1<<31 - 1)}},
		{"§4.2.1 conflicting duplicates are invalid", []string{"max-age=1, max-age=3600"}, ResponseDirectives{MaxAge: invalid}},
		{"§4.2.1 conflicting duplicates across lines", []string{"max-age=1", "max-age=3600"}, ResponseDirectives{MaxAge: invalid}},
		{"§4.2.1 identical duplicates are fine", []string{"max-age=60", `MAX-AGE="60"`}, ResponseDirectives{MaxAge: sec(60)}},
		{"§4.2.1 invalid then valid stays invalid", []string{"max-age=x, max-age=5"}, ResponseDirectives{MaxAge: invalid}},
		{"§4.2.1 saturated duplicates are identical", []string{"max-age=2147483648, max-age=9999999999"}, ResponseDirectives{MaxAge: sec(1 << 31)}},
		{"§5.2.2.4 qualified no-cache", []string{`no-cache="Set-Cookie, X-Foo"`},
			ResponseDirectives{NoCacheFields: []string{"set-cookie", "x-foo"}}},
		{"§5.2.2.4 qualified no-cache as token", []string{`no-cache=Set-Cookie`},
			ResponseDirectives{NoCacheFields: []string{"set-cookie"}}},
		{"§5.2.2.4 qualified and unqualified no-cache", []string{`no-cache="a"`, "no-cache"},
			ResponseDirectives{NoCache: true, NoCacheFields: []string{"a"}}},
		{"§5.2.2.4 empty qualified no-cache counts as unqualified", []string{`no-cache=""`}, ResponseDirectives{NoCache: true}},
		{"§5.2.2.7 qualified private", []string{`private="Authorization-Info"`},
			ResponseDirectives{PrivateFields: []string{"authorization-info"}}},
		{"§5.2.2.7 unqualified private", []string{`private`}, ResponseDirectives{Private: true}},
		{"§5.2.2.7 malformed qualified private counts as unqualified", []string{`private="a b"`}, ResponseDirectives{Private: true}},
		{"§5.2.2.7 unterminated qualified private counts as unqualified", []string{`private="a, max-age=5`}, ResponseDirectives{Private: true}},
		{"§5.2 quoted-pair in argument", []string{`private="x-\a"`}, ResponseDirectives{PrivateFields: []string{"x-a"}}},
		{"§5.2 comma inside quotes does not split", []string{`no-cache="a, b", max-age=5`},
			ResponseDirectives{NoCacheFields: []string{"a", "b"}, MaxAge: sec(5)}},
		{"§5.2.2 boolean with an argument still counts", []string{`no-store=1`}, ResponseDirectives{NoStore: true}},
		{"RFC 5861 stale-while-revalidate and stale-if-error", []string{"stale-while-revalidate=30, stale-if-error=600"},
			ResponseDirectives{StaleWhileRevalidate: sec(30), StaleIfError: sec(600)}},
		{"request-only directive ignored in a response", []string{"only-if-cached, max-stale=5"}, ResponseDirectives{}},
		{"junk element does not hide the next", []string{`"junk", no-store`}, ResponseDirectives{NoStore: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			for _, l := range tc.lines {
				h.Add("Cache-Control", l)
			}
			got := ParseResponseDirectives(h)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseRequestDirectives(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    http.Header
		want RequestDirectives
	}{
		{"none", hdr(), RequestDirectives{}},
		{"§5.2.1 all", hdr("Cache-Control", "no-cache, no-store, only-if-cached, no-transform, max-age=5, min-fresh=6, stale-if-error=7, max-stale=8"),
			RequestDirectives{NoCache: true, NoStore: true, OnlyIfCached: true, NoTransform: true, MaxAge: sec(5), MinFresh: sec(6), StaleIfError: sec(7), MaxStale: sec(8)}},
		{"§5.2.1.2 max-stale without argument accepts any", hdr("Cache-Control", "max-stale"),
			RequestDirectives{MaxStale: Seconds{Present: true, Any: true}}},
		{"§5.2.1.2 max-stale twice without argument", hdr("Cache-Control", "max-stale, MAX-STALE"),
			RequestDirectives{MaxStale: Seconds{Present: true, Any: true}}},
		{"§4.2.1 max-stale with and without argument conflict", hdr("Cache-Control", "max-stale, max-stale=5"),
			RequestDirectives{MaxStale: invalid}},
		{"§5.2.1.3 min-fresh without argument is invalid", hdr("Cache-Control", "min-fresh"), RequestDirectives{MinFresh: invalid}},
		{"§5.2.1.1 max-age quoted", hdr("Cache-Control", `max-age="0"`), RequestDirectives{MaxAge: sec(0)}},
		{"§5.2 case-insensitive", hdr("Cache-Control", "NO-CACHE, Only-If-Cached"), RequestDirectives{NoCache: true, OnlyIfCached: true}},
		{"§5.4 Pragma no-cache without Cache-Control", hdr("Pragma", "no-cache"), RequestDirectives{NoCache: true}},
		{"§5.4 Pragma case-insensitive, in a list", hdr("Pragma", "x=1, No-Cache"), RequestDirectives{NoCache: true}},
		{"§5.4 Pragma ignored when Cache-Control present", hdr("Pragma", "no-cache", "Cache-Control", "max-age=5"), RequestDirectives{MaxAge: sec(5)}},
		{"§5.4 Pragma ignored when Cache-Control empty", hdr("Pragma", "no-cache", "Cache-Control", ""), RequestDirectives{}},
		{"§5.4 other Pragma ignored", hdr("Pragma", "no-store"), RequestDirectives{}},
		{"response-only directive ignored in a request", hdr("Cache-Control", "private, public, s-maxage=5"), RequestDirectives{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ParseRequestDirectives(tc.h)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestSecondsDuration(t *testing.T) {
	for _, tc := range []struct {
		s    Seconds
		want time.Duration
	}{
		{Seconds{}, 0},
		{invalid, 0},
		{sec(5), 5 * time.Second},
		{sec(1 << 31), (1 << 31) * time.Second},
		{Seconds{Present: true, Any: true}, 0},
	} {
		t.Run(fmt.Sprintf("%+v", tc.s), func(t *testing.T) {
			if got := tc.s.Duration(); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func BenchmarkParseResponseDirectives(b *testing.B) {
	h := hdr("Cache-Control", "public, max-age=3600, s-maxage=600, stale-while-revalidate=30, must-revalidate")
	b.ReportAllocs()
	for b.Loop() {
		ParseResponseDirectives(h)
	}
}
