package stats

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"sluice/internal/accesslog"
)

// specExample is the example of /tmp/spec/stats.md, the contract with the
// status page, without its comments.
const specExample = `{
  "version": "v0.5.0 (abc1234)",
  "started": "2026-11-26T04:00:00Z",
  "uptime_seconds": 3600.5,
  "now": "2026-11-26T05:00:00Z",
  "config": {"listen": "127.0.0.1:3128", "cache": "256MiB memory, 10GiB disk at /var/cache/sluice", "auth": "off", "filter": "2 lists, 51234 rules", "privacy": "standard"},
  "totals": {
    "requests": 1234, "hits": 456, "misses": 700, "tunnels": 78, "blocked": 12, "denied": 3, "errors": 5,
    "bytes_in": 1000, "bytes_out": 2000000, "bytes_from_cache": 900000
  },
  "hit_ratio": 0.39,
  "active": {"connections": 12, "tunnels": 3},
  "cache": [ {"tier": "memory", "bytes": 1000, "objects": 10, "capacity": 268435456},
             {"tier": "disk",   "bytes": 5000, "objects": 20, "capacity": 10737418240} ],
  "series": {
    "interval_seconds": 5,
    "end": "2026-11-26T05:00:00Z",
    "requests":  [0, 3, 5],
    "hits":      [0, 1, 2],
    "bytes_out": [0, 1200, 5000],
    "bytes_from_cache": [0, 600, 2000],
    "blocked":   [0, 0, 1],
    "errors":    [0, 0, 0]
  },
  "top_hosts":   [ {"host": "example.com", "requests": 120, "bytes": 340000} ],
  "top_blocked": [ {"host": "ads.example", "count": 30, "rule": "easylist.txt:1234: ||ads.example^"} ],
  "tunnels": [ {"host": "example.com:443", "client": "127.0.0.1", "user": "", "since": "2026-11-26T04:59:00Z"} ],
  "recent_errors": [ {"time": "2026-11-26T04:59:58Z", "client": "127.0.0.1", "method": "GET", "url": "http://bad.example/", "status": 502, "error": "Cannot connect"} ]
}`

// fullSnapshot returns a Snapshot with something in every list.
func fullSnapshot(t *testing.T) *Snapshot {
	t.Helper()
	c := newClock("2026-11-26T04:00:00Z")
	s := New(Options{Now: c.Now})
	s.TunnelOpened("example.com:443", "127.0.0.1:5000", "")
	s.Observe(get("http://example.com/"))
	s.Observe(&accesslog.Record{Method: "GET", URL: "http://ads.example/", Status: 403, Result: "TCP_DENIED", Rule: "easylist.txt:1234: ||ads.example^"})
	s.Observe(&accesslog.Record{Client: "127.0.0.1:5001", Method: "GET", URL: "http://bad.example/", Status: 502, Result: "NONE", Error: "Cannot connect"})
	c.Advance(15 * time.Second)
	return s.Snapshot(Extra{
		Version: "v0.5.0 (abc1234)",
		Started: time.Date(2026, 11, 26, 3, 0, 0, 0, time.FixedZone("CET", 3600)),
		Config:  map[string]string{"listen": "127.0.0.1:3128", "auth": "off"},
		Active:  Active{Connections: 12, Tunnels: 1},
		Cache:   []CacheTier{{Tier: "memory", Bytes: 1000, Objects: 10, Capacity: 268435456}},
	})
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// shape compares the structure of got with want: the same keys in every
// object (except under "config", whose keys are data), the same JSON
// types, and for arrays the shape of their first elements.
func shape(path string, got, want any) []string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: got %T, want an object", path, got)}
		}
		if path == ".config" {
			var errs []string
			for k, v := range g {
				if _, ok := v.(string); !ok {
					errs = append(errs, fmt.Sprintf("%s.%s: got %T, want a string", path, k, v))
				}
			}
			return errs
		}
		var errs []string
		for k := range w {
			if _, ok := g[k]; !ok {
				errs = append(errs, fmt.Sprintf("%s: missing key %q", path, k))
			}
		}
		for k := range g {
			if _, ok := w[k]; !ok {
				errs = append(errs, fmt.Sprintf("%s: extra key %q", path, k))
				continue
			}
			errs = append(errs, shape(path+"."+k, g[k], w[k])...)
		}
		return errs
	case []any:
		g, ok := got.([]any)
		if !ok {
			return []string{fmt.Sprintf("%s: got %T, want an array", path, got)}
		}
		if len(g) == 0 || len(w) == 0 {
			return []string{fmt.Sprintf("%s: empty array, nothing to compare", path)}
		}
		return shape(path+"[0]", g[0], w[0])
	default:
		if fmt.Sprintf("%T", got) != fmt.Sprintf("%T", want) {
			return []string{fmt.Sprintf("%s: got %T, want %T", path, got, want)}
		}
		return nil
	}
}

func TestSnapshotJSONMatchesSpec(t *testing.T) {
	b, err := json.Marshal(fullSnapshot(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range shape("", decode(t, b), decode(t, []byte(specExample))) {
		t.Error(e)
	}
}

func TestSnapshotJSONValues(t *testing.T) {
	b, err := json.Marshal(fullSnapshot(t))
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	for _, want := range []string{
		`"started":"2026-11-26T02:00:00Z"`, // converted to UTC
		`"now":"2026-11-26T04:00:15Z"`,
		`"uptime_seconds":7215,`,
		`"config":{"auth":"off","listen":"127.0.0.1:3128"}`, // keys sorted
		`"end":"2026-11-26T04:00:15Z"`,
		`"interval_seconds":5,`,
		`"requests":[3,0,0]`,
		`"hit_ratio":0,`,
		`"tunnels":[{"host":"example.com:443","client":"127.0.0.1","user":"","since":"2026-11-26T04:00:00Z"}]`,
		`"recent_errors":[{"time":"2026-11-26T04:00:00Z","client":"127.0.0.1","method":"GET","url":"http://bad.example/","status":502,"error":"Cannot connect"}]`,
		`"top_hosts":[{"host":"bad.example","requests":1,"bytes":0},{"host":"example.com","requests":1,"bytes":100}]`,
		`"active":{"connections":12,"tunnels":1}`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("JSON lacks %s\nin %s", want, got)
		}
	}
}

// TestSnapshotEmpty checks that an empty Stats gives empty arrays and an
// empty object, never null, which the page would have to guard against.
func TestSnapshotEmpty(t *testing.T) {
	b, err := json.Marshal(New(Options{}).Snapshot(Extra{}))
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	if strings.Contains(got, "null") {
		t.Errorf("empty snapshot has null: %s", got)
	}
	m := decode(t, b)
	series := m["series"].(map[string]any)
	for _, k := range []string{"cache", "top_hosts", "top_blocked", "tunnels", "recent_errors"} {
		if a, ok := m[k].([]any); !ok || len(a) != 0 {
			t.Errorf("%s: got %v, want []", k, m[k])
		}
	}
	for _, k := range []string{"requests", "hits", "bytes_out", "bytes_from_cache", "blocked", "errors"} {
		if a, ok := series[k].([]any); !ok || len(a) != 0 {
			t.Errorf("series.%s: got %v, want []", k, series[k])
		}
	}
	if c, ok := m["config"].(map[string]any); !ok || len(c) != 0 {
		t.Errorf("config: got %v, want {}", m["config"])
	}
}

// TestSnapshotIndependent checks that a Snapshot shares no mutable state
// with the Stats or the Extra it came from.
func TestSnapshotIndependent(t *testing.T) {
	s := New(Options{})
	s.Observe(get("http://a.example/"))
	cfg := map[string]string{"auth": "off"}
	tiers := []CacheTier{{Tier: "memory"}}
	snap := s.Snapshot(Extra{Config: cfg, Cache: tiers})
	cfg["auth"] = "on"
	tiers[0].Tier = "disk"
	s.Observe(get("http://a.example/"))
	if snap.Config["auth"] != "off" || snap.Cache[0].Tier != "memory" || snap.Totals.Requests != 1 || snap.TopHosts[0].Requests != 1 {
		t.Errorf("snapshot changed after the fact: %+v", snap)
	}
}
