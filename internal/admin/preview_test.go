package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// TestPreview serves the status page with the fixture, made to look live,
// for a person to look at:
//
//	SLUICE_ADMIN_PREVIEW=127.0.0.1:9090 go test -run TestPreview -timeout 0 ./internal/admin/
//
// It runs until interrupted. Purging a URL containing "miss" finds
// nothing, "fail" fails; reload fails while the minute is odd.
func TestPreview(t *testing.T) {
	addr := os.Getenv("SLUICE_ADMIN_PREVIEW")
	if addr == "" {
		t.Skip("set SLUICE_ADMIN_PREVIEW=host:port to look at the status page")
	}
	raw, err := os.ReadFile("testdata/stats.json")
	if err != nil {
		t.Fatal(err)
	}
	live, err := liveFixture(raw, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	h := New(Options{
		Stats: live,
		Purge: func(ctx context.Context, url string) (bool, error) {
			if strings.Contains(url, "fail") {
				return false, os.ErrPermission
			}
			return !strings.Contains(url, "miss"), nil
		},
		PurgeHost: func(ctx context.Context, host string) (int, error) { return len(host) * 7, nil },
		Reload: func() error {
			if time.Now().Minute()%2 == 1 {
				return os.ErrInvalid
			}
			return nil
		},
		ProxyAddr: "0.0.0.0:3128",
		PACBypass: []string{".corp.example"},
		Hosts:     []string{"*"},
		Pprof:     true,
	})
	t.Logf("status page at http://%s/", addr)
	if err := http.ListenAndServe(addr, h); err != nil {
		t.Fatal(err)
	}
}

// liveFixture returns a Stats function that serves the fixture as if the
// proxy had been running since the fixture's start: times move with the
// clock and the series scroll, one point every interval.
func liveFixture(raw []byte, start time.Time) (func() any, error) {
	var fixture struct {
		Now           time.Time `json:"now"`
		UptimeSeconds float64   `json:"uptime_seconds"`
	}
	if err := json.Unmarshal(raw, &fixture); err != nil {
		return nil, err
	}
	return func() any {
		var s map[string]any
		json.Unmarshal(raw, &s) // parsed above
		elapsed := time.Since(start)
		now := time.Now().UTC()
		shift := now.Sub(fixture.Now)
		moved := func(v any) any {
			at, err := time.Parse(time.RFC3339, v.(string))
			if err != nil {
				return v
			}
			return at.Add(shift).Format(time.RFC3339)
		}
		s["now"] = now.Format(time.RFC3339)
		s["started"] = moved(s["started"])
		s["uptime_seconds"] = fixture.UptimeSeconds + elapsed.Seconds()
		series := s["series"].(map[string]any)
		series["end"] = now.Truncate(5 * time.Second).Format(time.RFC3339)
		steps := int(elapsed / (5 * time.Second))
		for k, v := range series {
			if vs, ok := v.([]any); ok && len(vs) > 0 {
				n := steps % len(vs)
				series[k] = append(vs[n:], vs[:n]...)
			}
		}
		for _, key := range []string{"tunnels", "recent_errors"} {
			for _, e := range s[key].([]any) {
				m := e.(map[string]any)
				for _, f := range []string{"since", "time"} {
					if v, ok := m[f]; ok {
						m[f] = moved(v)
					}
				}
			}
		}
		return s
	}, nil
}

func TestLiveFixture(t *testing.T) {
	raw, err := os.ReadFile("testdata/stats.json")
	if err != nil {
		t.Fatal(err)
	}
	stats, err := liveFixture(raw, time.Now().Add(-12*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(stats())
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Now     time.Time
		Uptime  float64 `json:"uptime_seconds"`
		Series  struct{ Requests []int }
		Tunnels []struct{ Since time.Time }
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	var orig struct {
		Series struct{ Requests []int }
	}
	json.Unmarshal(raw, &orig)
	if d := time.Since(got.Now); d < -time.Second || d > 2*time.Second {
		t.Errorf("now is %v from the clock, want about 0", d)
	}
	if got.Uptime < 184968.4+12 {
		t.Errorf("uptime %v did not advance", got.Uptime)
	}
	if len(got.Series.Requests) != 180 || got.Series.Requests[0] != orig.Series.Requests[2] {
		t.Errorf("series did not scroll by two points after 12 s")
	}
	if age := got.Now.Sub(got.Tunnels[0].Since); age != 1*time.Hour+57*time.Minute+31*time.Second {
		t.Errorf("oldest tunnel open for %v, want the fixture's 1h57m31s", age)
	}
}
