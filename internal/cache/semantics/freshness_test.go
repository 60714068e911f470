package semantics

import (
	"net/http"
	"testing"
	"time"
)

func TestFreshnessLifetime(t *testing.T) {
	date := httpDate(t0)
	for _, tc := range []struct {
		name      string
		status    int
		h         http.Header
		o         Options
		want      time.Duration
		heuristic bool
	}{
		{"§4.2.1 s-maxage over max-age", 200, hdr("Cache-Control", "max-age=60, s-maxage=10"), Options{}, 10 * time.Second, false},
		{"§4.2.1 max-age over Expires", 200, hdr("Cache-Control", "max-age=60", "Date", date, "Expires", httpDate(t0.Add(time.Hour))), Options{}, time.Minute, false},
		{"§4.2.1 s-maxage over Expires", 200, hdr("Cache-Control", "s-maxage=5", "Date", date, "Expires", httpDate(t0.Add(time.Hour))), Options{}, 5 * time.Second, false},
		{"§4.2.1 Expires minus Date", 200, hdr("Date", date, "Expires", httpDate(t0.Add(time.Hour))), Options{}, time.Hour, false},
		{"§4.2.1 Expires minus response time when Date missing", 200, hdr("Expires", httpDate(t0.Add(30*time.Minute))), Options{}, 30 * time.Minute, false},
		{"§4.2.1 Expires minus response time when Date invalid", 200, hdr("Date", "yesterday", "Expires", httpDate(t0.Add(30*time.Minute))), Options{}, 30 * time.Minute, false},
		{"§4.2.1 Expires before Date", 200, hdr("Date", date, "Expires", httpDate(t0.Add(-time.Hour))), Options{}, 0, false},
		{"§4.2.1 Date skew: Expires relative to Date, not response time", 200, hdr("Date", httpDate(t0.Add(-time.Hour)), "Expires", httpDate(t0)), Options{}, time.Hour, false},
		{"§5.3 Expires 0 is already expired", 200, hdr("Date", date, "Expires", "0", "Last-Modified", httpDate(t0.Add(-100*time.Hour))), Options{}, 0, false},
		{"§5.3 invalid Expires is already expired", 200, hdr("Date", date, "Expires", "soon"), Options{}, 0, false},
		{"§4.2.1 differing Expires lines are stale", 200, hdr("Date", date, "Expires", httpDate(t0.Add(time.Hour)), "Expires", httpDate(t0.Add(2*time.Hour))), Options{}, 0, false},
		{"§4.2.1 identical Expires lines are fine", 200, hdr("Date", date, "Expires", httpDate(t0.Add(time.Hour)), "Expires", httpDate(t0.Add(time.Hour))), Options{}, time.Hour, false},
		{"§4.2.1 invalid max-age is stale, no fallback to Expires", 200, hdr("Cache-Control", "max-age=abc", "Date", date, "Expires", httpDate(t0.Add(time.Hour))), Options{}, 0, false},
		{"§4.2.1 conflicting max-age is stale", 200, hdr("Cache-Control", "max-age=1, max-age=3600"), Options{}, 0, false},
		{"§4.2.1 invalid s-maxage is stale, no fallback to max-age", 200, hdr("Cache-Control", "s-maxage=-1, max-age=60"), Options{}, 0, false},
		{"§4.2.1 invalid max-age is stale, no heuristic", 200, hdr("Cache-Control", "max-age=1.5", "Date", date, "Last-Modified", httpDate(t0.Add(-100*time.Hour))), Options{}, 0, false},
		{"§1.2.2 huge max-age saturates", 200, hdr("Cache-Control", "max-age=99999999999999"), Options{}, (1 << 31) * time.Second, false},
		{"§4.2.2 heuristic 10% of Date - Last-Modified", 200, hdr("Date", date, "Last-Modified", httpDate(t0.Add(-10*time.Hour))), Options{}, time.Hour, true},
		{"§4.2.2 heuristic capped at 24h", 200, hdr("Date", date, "Last-Modified", httpDate(t0.Add(-1000*time.Hour))), Options{}, 24 * time.Hour, true},
		{"§4.2.2 heuristic with options", 404, hdr("Date", date, "Last-Modified", httpDate(t0.Add(-10*time.Hour))), Options{HeuristicFraction: 0.5, HeuristicMax: 2 * time.Hour}, 2 * time.Hour, true},
		{"§4.2.2 heuristic off", 200, hdr("Date", date, "Last-Modified", httpDate(t0.Add(-10*time.Hour))), Options{HeuristicFraction: -1}, 0, false},
		{"§4.2.2 heuristic uses response time when Date missing", 200, hdr("Last-Modified", httpDate(t0.Add(-10*time.Hour))), Options{}, time.Hour, true},
		{"§4.2.2 no heuristic without Last-Modified", 200, hdr("Date", date), Options{}, 0, false},
		{"§4.2.2 no heuristic with invalid Last-Modified", 200, hdr("Date", date, "Last-Modified", "long ago"), Options{}, 0, false},
		{"§4.2.2 no heuristic with Last-Modified in the future", 200, hdr("Date", date, "Last-Modified", httpDate(t0.Add(time.Hour))), Options{}, 0, false},
		{"§4.2.2 no heuristic with Last-Modified equal to Date", 200, hdr("Date", date, "Last-Modified", date), Options{}, 0, false},
		{"§4.2.2 RFC 9110 §15.1 no heuristic for a status not cacheable by default", 302, hdr("Date", date, "Last-Modified", httpDate(t0.Add(-10*time.Hour))), Options{}, 0, false},
		{"§4.2.2 public allows heuristic for any status", 302, hdr("Cache-Control", "public", "Date", date, "Last-Modified", httpDate(t0.Add(-10*time.Hour))), Options{}, time.Hour, true},
		{"§4.2.2 MUST NOT use heuristic with Expires present", 200, hdr("Date", date, "Expires", date, "Last-Modified", httpDate(t0.Add(-10*time.Hour))), Options{}, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, heur := FreshnessLifetime(tc.status, tc.h, t0, tc.o)
			if got != tc.want || heur != tc.heuristic {
				t.Errorf("got %v, %v, want %v, %v", got, heur, tc.want, tc.heuristic)
			}
		})
	}
}

func TestMayServeStale(t *testing.T) {
	for _, tc := range []struct {
		name string
		cc   string
		want bool
	}{
		{"§4.2.4 no directives", "", true},
		{"§4.2.4 max-age only", "max-age=60", true},
		{"§5.2.2.2 must-revalidate", "must-revalidate", false},
		{"§5.2.2.8 proxy-revalidate", "proxy-revalidate", false},
		{"§5.2.2.10 s-maxage", "s-maxage=60", false},
		{"§5.2.2.10 invalid s-maxage", "s-maxage=x", false},
		{"§5.2.2.4 no-cache", "no-cache", false},
		{"§5.2.2.4 qualified no-cache", `no-cache="set-cookie"`, true},
		{"RFC 5861 stale-if-error alone", "stale-if-error=60", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := MayServeStale(ParseResponseDirectives(hdr("Cache-Control", tc.cc))); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}
