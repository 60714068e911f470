package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"sluice/internal/redistest"
	"sluice/internal/testwait"
)

// countingOrigin serves cacheable bodies that say how often their path
// was fetched, so a test can tell a shared hit from a fresh fetch.
type countingOrigin struct {
	*httptest.Server
	mu    sync.Mutex
	count map[string]int
}

func newCountingOrigin(t *testing.T) *countingOrigin {
	o := &countingOrigin{count: map[string]int{}}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		var n int
		if r.Method == http.MethodGet {
			o.count[r.URL.Path]++
			n = o.count[r.URL.Path]
		}
		o.mu.Unlock()
		w.Header().Set("Cache-Control", "max-age=600")
		fmt.Fprintf(w, "body of %s, fetch #%d", r.URL.Path, n)
	}))
	t.Cleanup(o.Close)
	return o
}

func (o *countingOrigin) fetches(path string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.count[path]
}

// fleetMember is one sluice binary of a test fleet.
type fleetMember struct {
	name   string
	pc     *http.Client
	admin  string
	stderr *syncBuf
}

func startMember(t *testing.T, name, redisAddr string, extra ...string) *fleetMember {
	t.Helper()
	args := append([]string{"--listen", "127.0.0.1:0", "--redis", redisAddr, "--allow-dest", "loopback", "--cache-dir", "off",
		"--access-log", "off", "--admin", "127.0.0.1:0"}, extra...)
	_, stderr := startBinary(t, args...)
	port, adminPort := listenPorts(t, stderr.String, true)
	m := &fleetMember{name: name, pc: proxyClient(port), admin: "http://127.0.0.1:" + adminPort, stderr: stderr}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s stderr:\n%s", name, stderr.String())
		}
	})
	return m
}

// get fetches u through the member and returns the body; any error or a
// status other than 200 fails the test.
func (m *fleetMember) get(t *testing.T, u string) string {
	t.Helper()
	resp, err := m.pc.Get(u)
	if err != nil {
		t.Fatalf("%s: GET %s: %v", m.name, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%s: GET %s: %d %q %v", m.name, u, resp.StatusCode, b, err)
	}
	return string(b)
}

func (m *fleetMember) do(t *testing.T, method, u string) int {
	t.Helper()
	req, _ := http.NewRequest(method, u, nil)
	resp, err := m.pc.Do(req)
	if err != nil {
		t.Fatalf("%s: %s %s: %v", m.name, method, u, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// metric returns the value of the series whose line starts with prefix
// (name and labels), or -1 if absent.
func (m *fleetMember) metric(t *testing.T, prefix string) float64 {
	t.Helper()
	resp, err := http.Get(m.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), prefix+" "); ok {
			v, _ := strconv.ParseFloat(rest, 64)
			return v
		}
	}
	return -1
}

// redisState returns the redis tier's state on the status page's
// /api/stats ("up", "down"), or "" if it shows no redis tier.
func (m *fleetMember) redisState(t *testing.T) string {
	t.Helper()
	req, _ := http.NewRequest("GET", m.admin+"/api/stats", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s struct {
		Cache  []struct{ Tier, State string } `json:"cache"`
		Config map[string]string              `json:"config"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatalf("/api/stats: %v", err)
	}
	if !strings.Contains(s.Config["cache"], "shared through Redis at ") {
		t.Errorf("the status page's configuration says cache %q, want it to name the shared tier", s.Config["cache"])
	}
	for _, c := range s.Cache {
		if c.Tier == "redis" {
			return c.State
		}
	}
	return ""
}

func eventually(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	testwait.Until(t, what, within, cond)
}

// TestFleetBinary runs two sluice binaries on one real redis-server: a
// response one fetched is a hit for the other; a PURGE or a POST through
// one reaches the other's local copy; Redis killed mid-test costs no
// request an error, and sharing resumes by itself once Redis is back.
func TestFleetBinary(t *testing.T) {
	srv := redistest.Start(t)
	rc := srv.Client(t)
	origin := newCountingOrigin(t)
	a := startMember(t, "a", srv.Addr)
	b := startMember(t, "b", srv.Addr)
	getWhenUp(t, a.pc, origin.URL+"/warmup-a", a.stderr.String).Body.Close()
	getWhenUp(t, b.pc, origin.URL+"/warmup-b", b.stderr.String).Body.Close()
	inRedis := func(path string) func() bool {
		return func() bool {
			n, _ := rc.Exists(context.Background(), "sluice:"+origin.URL+path).Result()
			return n == 1
		}
	}

	t.Run("shared hit", func(t *testing.T) {
		first := a.get(t, origin.URL+"/shared")
		eventually(t, "a's fill is in Redis", 5*time.Second, inRedis("/shared"))
		if got := b.get(t, origin.URL+"/shared"); got != first {
			t.Errorf("b got %q, want a's %q", got, first)
		}
		if n := origin.fetches("/shared"); n != 1 {
			t.Errorf("origin fetched /shared %d times, want 1 (b should have hit Redis)", n)
		}
		if v := b.metric(t, `sluice_cache_tier_hits_total{tier="redis"}`); v < 1 {
			t.Errorf("b's redis tier hits = %v, want ≥ 1", v)
		}
		// Fresh for max-age=600, no validator to revalidate it with
		// and no stale window: Redis keeps it 600 s.
		ttl, err := rc.PTTL(context.Background(), "sluice:"+origin.URL+"/shared").Result()
		if err != nil || ttl < 590*time.Second || ttl > 600*time.Second {
			t.Errorf("the shared object expires in %v (%v), want about 600 s", ttl, err)
		}
	})

	t.Run("purge reaches the other instance", func(t *testing.T) {
		// Both now hold /shared in memory (b promoted it from Redis).
		if code := b.do(t, "PURGE", origin.URL+"/shared"); code != 200 {
			t.Fatalf("PURGE through b: %d", code)
		}
		if inRedis("/shared")() {
			t.Error("the purged object is still in Redis")
		}
		eventually(t, "a refetches /shared after b's purge", 5*time.Second, func() bool {
			a.get(t, origin.URL+"/shared")
			return origin.fetches("/shared") == 2
		})
	})

	t.Run("unsafe method reaches the other instance", func(t *testing.T) {
		a.get(t, origin.URL+"/form")
		eventually(t, "a's fill is in Redis", 5*time.Second, inRedis("/form"))
		b.get(t, origin.URL+"/form") // b holds it in memory now
		if n := origin.fetches("/form"); n != 1 {
			t.Fatalf("origin fetched /form %d times before the POST, want 1", n)
		}
		if code := a.do(t, "POST", origin.URL+"/form"); code != 200 {
			t.Fatalf("POST through a: %d", code)
		}
		eventually(t, "b refetches /form after a's POST", 5*time.Second, func() bool {
			b.get(t, origin.URL+"/form")
			return origin.fetches("/form") == 2
		})
	})

	t.Run("redis frozen", func(t *testing.T) {
		// Both hold /kept (a fetched it, b read it from Redis); a purge
		// made while Redis is frozen must not be undone when it thaws.
		a.get(t, origin.URL+"/kept")
		eventually(t, "a's fill is in Redis", 5*time.Second, inRedis("/kept"))
		b.get(t, origin.URL+"/kept")

		// A Redis that accepts connections and answers nothing: each
		// lookup times out (20 ms) until the breaker stops calling it.
		srv.Pause()
		if code := a.do(t, "PURGE", origin.URL+"/kept"); code != 200 {
			t.Fatalf("PURGE through a with Redis frozen: %d", code)
		}
		for i := range 20 {
			start := time.Now()
			for _, m := range []*fleetMember{a, b} {
				m.get(t, fmt.Sprintf("%s/frozen-%d", origin.URL, i))
				m.get(t, origin.URL+"/shared") // still in memory: a hit
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("four requests with Redis frozen took %s", d)
			}
		}
		for _, m := range []*fleetMember{a, b} {
			eventually(t, m.name+" reports the shared tier down", 5*time.Second, func() bool {
				return m.metric(t, "sluice_cache_shared_up") == 0
			})
			if got := m.redisState(t); got != "down" {
				t.Errorf("%s's status page says the redis tier is %q, want down", m.name, got)
			}
		}
		srv.Resume()
		for _, m := range []*fleetMember{a, b} {
			eventually(t, m.name+" uses the shared tier again", 10*time.Second, func() bool {
				return m.metric(t, "sluice_cache_shared_up") == 1
			})
			if got := m.redisState(t); got != "up" {
				t.Errorf("%s's status page says the redis tier is %q, want up", m.name, got)
			}
		}
		if inRedis("/kept")() {
			t.Error("the object purged while Redis was frozen is back in Redis")
		}
		eventually(t, "b refetches /kept after a's purge made while Redis was frozen", 10*time.Second, func() bool {
			b.get(t, origin.URL+"/kept")
			return origin.fetches("/kept") == 2
		})
	})

	t.Run("redis killed and restarted", func(t *testing.T) {
		downLogs := map[*fleetMember]int{}
		upLogs := map[*fleetMember]int{}
		for _, m := range []*fleetMember{a, b} {
			downLogs[m] = strings.Count(m.stderr.String(), "shared cache tier is not answering")
			upLogs[m] = strings.Count(m.stderr.String(), "shared cache tier is back")
		}
		srv.Kill()
		for i := range 20 {
			start := time.Now()
			for _, m := range []*fleetMember{a, b} {
				m.get(t, fmt.Sprintf("%s/down-%d", origin.URL, i))
			}
			// Generous: a request must not wait on a dead Redis beyond
			// its timeout; on a loaded machine a request still takes
			// a few milliseconds.
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("two requests with Redis down took %s", d)
			}
		}
		for _, m := range []*fleetMember{a, b} {
			eventually(t, m.name+" reports the shared tier down", 5*time.Second, func() bool {
				return m.metric(t, "sluice_cache_shared_up") == 0
			})
			if n := strings.Count(m.stderr.String(), "shared cache tier is not answering") - downLogs[m]; n != 1 {
				t.Errorf("%s logged the outage %d times, want once", m.name, n)
			}
		}

		srv.Restart()
		for _, m := range []*fleetMember{a, b} {
			eventually(t, m.name+" uses the shared tier again", 10*time.Second, func() bool {
				return m.metric(t, "sluice_cache_shared_up") == 1
			})
			if n := strings.Count(m.stderr.String(), "shared cache tier is back") - upLogs[m]; n != 1 {
				t.Errorf("%s logged the recovery %d times, want once", m.name, n)
			}
		}
		first := a.get(t, origin.URL+"/after")
		eventually(t, "a's fill after the restart is in Redis", 5*time.Second, inRedis("/after"))
		if got := b.get(t, origin.URL+"/after"); got != first || origin.fetches("/after") != 1 {
			t.Errorf("after Redis came back b got %q (origin fetches %d), want a's %q from Redis", got, origin.fetches("/after"), first)
		}
		// Invalidations flow again too.
		if code := a.do(t, "PURGE", origin.URL+"/after"); code != 200 {
			t.Fatalf("PURGE through a: %d", code)
		}
		eventually(t, "b refetches /after after a's purge", 10*time.Second, func() bool {
			b.get(t, origin.URL+"/after")
			return origin.fetches("/after") == 2
		})
	})
}

// TestFleetConnections runs two binaries configured by file against
// Redis servers that need a password, an ACL user, TLS or cluster mode:
// the redis section reaches the client, and a response one instance
// fetched is a hit for the other. A Redis whose certificate cannot be
// verified is not used, and the proxy serves anyway.
func TestFleetConnections(t *testing.T) {
	for _, tt := range []struct {
		name   string
		start  func(t *testing.T) (addr, config string)
		shared bool
	}{
		{"password file", func(t *testing.T) (string, string) {
			srv := redistest.Start(t, "--requirepass", "s3cret pass")
			pw := filepath.Join(t.TempDir(), "pw")
			os.WriteFile(pw, []byte("s3cret pass\n"), 0o600)
			return srv.Addr, "password_file: " + pw
		}, true},
		{"acl user", func(t *testing.T) (string, string) {
			srv := redistest.Start(t, "--user", "default", "off", "--user", "fleet", "on", ">pw2", "~*", "&*", "+@all")
			return srv.Addr, "username: fleet\n  password: pw2"
		}, true},
		{"cluster", func(t *testing.T) (string, string) {
			srv := redistest.StartCluster(t)
			return srv.Addr, "cluster: true"
		}, true},
		{"tls with ca and server name", func(t *testing.T) (string, string) {
			srv, ca := redistest.StartTLS(t, []string{"redis.test"}, false)
			return srv.Addr, "tls_ca: " + ca + "\n  tls_server_name: redis.test"
		}, true},
		{"tls not verified", func(t *testing.T) (string, string) {
			srv, _ := redistest.StartTLS(t, []string{"redis.test"}, true)
			return srv.Addr, "tls: true" // system roots: the test CA is not among them
		}, false},
		{"wrong password", func(t *testing.T) (string, string) {
			srv := redistest.Start(t, "--requirepass", "right")
			return srv.Addr, "password: wrong"
		}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			addr, extra := tt.start(t)
			conf := filepath.Join(t.TempDir(), "sluice.yaml")
			os.WriteFile(conf, []byte("redis:\n  addrs: ["+addr+"]\n  "+extra+"\n"), 0o600)
			origin := newCountingOrigin(t)
			a := startMember(t, "a", addr, "--config", conf)
			b := startMember(t, "b", addr, "--config", conf)
			getWhenUp(t, a.pc, origin.URL+"/warmup-a", a.stderr.String).Body.Close()
			getWhenUp(t, b.pc, origin.URL+"/warmup-b", b.stderr.String).Body.Close()
			if !tt.shared {
				a.get(t, origin.URL+"/obj")
				// Nothing reaches Redis; both serve from the origin.
				time.Sleep(300 * time.Millisecond)
				b.get(t, origin.URL+"/obj")
				if n := origin.fetches("/obj"); n != 2 {
					t.Errorf("origin fetched /obj %d times, want 2 (no shared tier)", n)
				}
				if !strings.Contains(a.stderr.String(), "Redis does not answer") {
					t.Errorf("no warning that Redis is not usable:\n%s", a.stderr.String())
				}
				return
			}
			// a writes to Redis after answering; b asks a moment later,
			// waiting longer each try in case the machine is slow.
			var path, first string
			for try := 0; ; try++ {
				path = fmt.Sprintf("/obj-%d", try)
				first = a.get(t, origin.URL+path)
				time.Sleep(time.Duration(try*try) * 20 * time.Millisecond)
				if got := b.get(t, origin.URL+path); origin.fetches(path) == 1 {
					if got != first {
						t.Errorf("b got %q, want a's %q", got, first)
					}
					break
				}
				if try == 10 {
					t.Fatal("b never got a's object from Redis")
				}
			}
			if v := b.metric(t, `sluice_cache_tier_hits_total{tier="redis"}`); v < 1 {
				t.Errorf("b's redis tier hits = %v, want ≥ 1", v)
			}
			if code := b.do(t, "PURGE", origin.URL+path); code != 200 {
				t.Fatalf("PURGE: %d", code)
			}
			eventually(t, "a refetches after b's purge", 5*time.Second, func() bool {
				a.get(t, origin.URL+path)
				return origin.fetches(path) == 2
			})
		})
	}
}

// TestFleetLargeObjectsStayLocal: a response above redis.max_object_size
// is cached by the instance that fetched it and served whole from there,
// but not written to Redis.
func TestFleetLargeObjectsStayLocal(t *testing.T) {
	srv := redistest.Start(t)
	rc := srv.Client(t)
	big := strings.Repeat("x", 64<<10)
	var mu sync.Mutex
	fetches := 0
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		fetches++
		mu.Unlock()
		w.Header().Set("Cache-Control", "max-age=600")
		if r.URL.Path == "/big" {
			io.WriteString(w, big)
		} else {
			io.WriteString(w, "small")
		}
	}))
	defer origin.Close()
	conf := filepath.Join(t.TempDir(), "sluice.yaml")
	os.WriteFile(conf, []byte("redis:\n  max_object_size: 16KiB\n"), 0o600)
	a := startMember(t, "a", srv.Addr, "--config", conf)
	getWhenUp(t, a.pc, origin.URL+"/warmup", a.stderr.String).Body.Close()
	for range 3 {
		if got := a.get(t, origin.URL+"/big"); got != big {
			t.Fatalf("got %d bytes, want %d", len(got), len(big))
		}
	}
	mu.Lock()
	n := fetches
	mu.Unlock()
	if n != 2 { // the warmup and one fetch of /big
		t.Errorf("origin fetches %d, want 2: the large object is cached locally", n)
	}
	// The small warmup response went to Redis (so writing works); the
	// large one did not.
	eventually(t, "the warmup response is in Redis", 5*time.Second, func() bool {
		n, _ := rc.Exists(context.Background(), "sluice:"+origin.URL+"/warmup").Result()
		return n == 1
	})
	if n, _ := rc.Exists(context.Background(), "sluice:"+origin.URL+"/big").Result(); n != 0 {
		t.Error("a response above redis.max_object_size was written to Redis")
	}
}
