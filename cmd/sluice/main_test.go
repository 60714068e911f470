package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"sluice/internal/config"
)

func TestFlagsOverrideDefaults(t *testing.T) {
	cases := []struct {
		name  string
		args  []string
		check func(c *config.Config) string
	}{
		{"port alone", []string{"9876"}, func(c *config.Config) string { return c.Listen }},
		{"port after flags", []string{"--access-log", "off", "9876"}, func(c *config.Config) string { return c.Listen + " " + c.AccessLog }},
		{"flags after port", []string{"9876", "--log-format", "json"}, func(c *config.Config) string { return c.Listen + " " + c.LogFormat }},
		{"listen", []string{"--listen", "127.0.0.1:5555"}, func(c *config.Config) string { return c.Listen }},
		{"repeatable", []string{"--allow-client", "10.0.0.0/8", "--allow-client", "192.168.1.7"}, func(c *config.Config) string { return fmt.Sprint(c.AllowClients) }},
		{"connect ports", []string{"--connect-ports", "443, 8443"}, func(c *config.Config) string { return fmt.Sprint(c.ConnectPorts) }},
		{"durations", []string{"--upstream-timeout", "5s", "--idle-timeout", "1m"}, func(c *config.Config) string {
			return c.UpstreamTimeout.D().String() + " " + c.IdleTimeout.D().String()
		}},
		{"defaults", nil, func(c *config.Config) string {
			return fmt.Sprint(c.Listen, c.AllowClients, c.ConnectPorts, c.AccessLog, c.LogFormat, c.UpstreamTimeout.D())
		}},
	}
	want := map[string]string{
		"port alone":       "127.0.0.1:9876",
		"port after flags": "127.0.0.1:9876 off",
		"flags after port": "127.0.0.1:9876 json",
		"listen":           "127.0.0.1:5555",
		"repeatable":       "[10.0.0.0/8 192.168.1.7/32]",
		"connect ports":    "[443 8443]",
		"durations":        "5s 1m0s",
		"defaults":         "127.0.0.1:3128[127.0.0.0/8 ::1/128] [443]-squid30s",
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFlags()
			if err := f.parse(tc.args); err != nil {
				t.Fatal(err)
			}
			cfg := config.Default()
			if err := f.apply(&cfg); err != nil {
				t.Fatal(err)
			}
			if got := tc.check(&cfg); got != want[tc.name] {
				t.Fatalf("got %q, want %q", got, want[tc.name])
			}
		})
	}
}

func TestFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"notaport"}, {"70000"}, {"8080", "9090"}, {"--bogus"}, {"--listen"},
		{"--allow-client", "not-a-cidr"}, {"--connect-ports", "0"}, {"--log-format", "xml"}, {"--cache-mem", "lots"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(args, &stdout, &stderr); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
		if msg := stderr.String(); !strings.HasPrefix(msg, "sluice: ") || strings.Count(msg, "\n") > 3 {
			t.Errorf("%q: want a short error, got %q", args, msg)
		}
	}
}

func TestHelpAndVersion(t *testing.T) {
	var out bytes.Buffer
	if code := run([]string{"--help"}, &out, io.Discard); code != 0 {
		t.Fatalf("--help exit %d", code)
	}
	for _, flag := range []string{"--listen ADDR", "--config FILE", "--allow-client CIDR", "--allow-dest CIDR", "--connect-ports LIST",
		"--access-log PATH", "--log-format FORMAT", "--upstream-timeout DUR", "--idle-timeout DUR", "--version", "config check FILE"} {
		if !strings.Contains(out.String(), flag) {
			t.Errorf("--help does not mention %q", flag)
		}
	}
	out.Reset()
	if code := run([]string{"--version"}, &out, io.Discard); code != 0 || !strings.HasPrefix(out.String(), "sluice ") {
		t.Fatalf("--version: exit %d, %q", code, out.String())
	}
}

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(good, []byte("listen: 127.0.0.1:3129\nconnect_ports: [443, 8443]\n"), 0o644)
	os.WriteFile(bad, []byte("listen: 127.0.0.1:3129\nconect_ports: [443]\nupstream_timeout: soon\n"), 0o644)
	var out, errb bytes.Buffer
	if code := run([]string{"config", "check", good}, &out, &errb); code != 0 {
		t.Fatalf("good config: exit %d: %s", code, errb.String())
	}
	errb.Reset()
	if code := run([]string{"config", "check", bad}, &out, &errb); code != 1 {
		t.Fatalf("bad config: exit %d, want 1", code)
	}
	for _, want := range []string{"bad.yaml:2:", "connect_ports", "bad.yaml:3:", "upstream_timeout"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("config check output %q lacks %q", errb.String(), want)
		}
	}
	// A well-formed file whose lists or rules do not build fails too.
	rules := filepath.Join(dir, "rules.yaml")
	os.WriteFile(rules, []byte("filter:\n  block: ["+filepath.Join(dir, "missing.txt")+"]\n"), 0o644)
	errb.Reset()
	if code := run([]string{"config", "check", rules}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "missing.txt") {
		t.Errorf("missing list: exit %d, output %q; want 1 naming the file", code, errb.String())
	}
	// So does one whose Redis password or CA file cannot be read.
	notPEM := filepath.Join(dir, "ca.txt")
	os.WriteFile(notPEM, []byte("not a certificate\n"), 0o644)
	for name, redis := range map[string]string{
		"no-such-pw": "password_file: " + filepath.Join(dir, "no-such-pw"),
		"ca.txt":     "tls_ca: " + notPEM,
		"no-such-ca": "tls_ca: " + filepath.Join(dir, "no-such-ca"),
	} {
		f := filepath.Join(dir, "redis-"+name+".yaml")
		os.WriteFile(f, []byte("redis:\n  addrs: [127.0.0.1:6379]\n  "+redis+"\n"), 0o644)
		errb.Reset()
		if code := run([]string{"config", "check", f}, &out, &errb); code != 1 || !strings.Contains(errb.String(), name) {
			t.Errorf("redis %s: exit %d, output %q; want 1 naming the file", name, code, errb.String())
		}
	}
}

// TestBinary builds sluice, runs it the way the README says (a bare PORT),
// proxies a request through it, and stops it with SIGTERM while a slow
// request is in flight: the request completes and the exit status is 0.
func TestBinary(t *testing.T) {
	bin := buildBinary(t)
	release := make(chan struct{})
	arrived := make(chan struct{}, 1)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			arrived <- struct{}{}
			<-release
		}
		io.WriteString(w, "hello from origin")
	}))
	defer origin.Close()
	// A bare PORT, as the README says. A port found free may be taken by
	// something else before the binary binds it; then try another.
	var cmd *exec.Cmd
	var stdout io.ReadCloser
	var stderr *syncBuf
	var port string
	cacheHome := t.TempDir()
	for try := 1; port == ""; try++ {
		port = freePort(t)
		cmd = exec.Command(bin, port, "--allow-dest", "127.0.0.0/8")
		// The default disk cache lives under the user's cache
		// directory; keep it out of the real one.
		cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+cacheHome)
		stdout, _ = cmd.StdoutPipe()
		stderr = new(syncBuf)
		cmd.Stderr = stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(10 * time.Second); !listeningRE.MatchString(stderr.String()); time.Sleep(10 * time.Millisecond) {
			if strings.Contains(stderr.String(), "cannot listen") && try < 3 {
				cmd.Wait()
				port = ""
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the binary did not start listening on %s:\n%s", port, stderr.String())
			}
		}
	}
	defer cmd.Process.Kill()
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	client := proxyClient(port)
	resp := getWhenUp(t, client, origin.URL+"/", stderr.String)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "hello from origin" {
		t.Fatalf("got %q through the proxy", body)
	}
	select {
	case line := <-lines:
		if !strings.Contains(line, "TCP_MISS/200") || !strings.Contains(line, origin.URL+"/") {
			t.Errorf("access log line %q, want a Squid-format TCP_MISS/200 line for the URL", line)
		}
	case <-time.After(5 * time.Second):
		t.Error("no access log line on stdout")
	}

	slow := make(chan string, 1)
	go func() {
		r, err := client.Get(origin.URL + "/slow")
		if err != nil {
			slow <- "error: " + err.Error()
			return
		}
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		slow <- string(b)
	}()
	select {
	case <-arrived:
	case got := <-slow:
		t.Fatalf("the slow request ended before reaching the origin: %q", got)
	case <-time.After(10 * time.Second):
		t.Fatal("the slow request never reached the origin")
	}
	cmd.Process.Signal(syscall.SIGTERM)
	eventually(t, "the binary to log that it is shutting down", 10*time.Second, func() bool {
		return strings.Contains(stderr.String(), "shutting down")
	})
	close(release)
	if got := <-slow; got != "hello from origin" {
		t.Errorf("in-flight request during shutdown: got %q", got)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("sluice did not exit after SIGTERM")
	}
}

// TestBinaryCacheRestart runs the binary with a disk cache, stores a
// response, restarts it on the same directory, and gets the response from
// disk without asking the origin again.
func TestBinaryCacheRestart(t *testing.T) {
	bin := buildBinary(t)
	var hits atomic.Int64
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Cache-Control", "max-age=3600")
		io.WriteString(w, "stored body")
	}))
	defer origin.Close()
	dir := t.TempDir()
	run := func() (cacheStatus string) {
		cmd := exec.Command(bin, "--listen", "127.0.0.1:0", "--allow-dest", "127.0.0.0/8", "--cache-dir", dir)
		var errb syncBuf
		cmd.Stderr = &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
		}()
		port, _ := listenPorts(t, errb.String, false)
		client := proxyClient(port)
		resp := getWhenUp(t, client, origin.URL+"/doc", errb.String)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "stored body" {
			t.Fatalf("got body %q", body)
		}
		return resp.Header.Get("Cache-Status")
	}
	cs := run()
	if !strings.Contains(cs, "stored") {
		t.Fatalf("first run: Cache-Status %q, want the response stored", cs)
	}
	cs = run()
	if !strings.HasPrefix(cs, "sluice; hit") {
		t.Errorf("after restart: Cache-Status %q, want a hit", cs)
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("origin asked %d times, want 1 (the second run should answer from disk)", n)
	}
}

// TestBinaryReload runs the binary with a block list, changes the list,
// breaks and mends the configuration file, and sends SIGHUP: a change
// applies within seconds, and a broken file keeps the rules in force.
func TestBinaryReload(t *testing.T) {
	bin := buildBinary(t)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "origin")
	}))
	defer origin.Close()
	dir := t.TempDir()
	list := filepath.Join(dir, "block.txt")
	conf := filepath.Join(dir, "sluice.yaml")
	write := func(path, s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(list, "/\\/ads\\//\n")
	goodConf := "access_log: \"off\"\nfilter:\n  block: [" + list + "]\n"
	write(conf, goodConf)

	cmd := exec.Command(bin, "--config", conf, "--allow-dest", "127.0.0.0/8", "--cache-dir", "off", "--listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+t.TempDir())
	var stderr syncBuf
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	port, _ := listenPorts(t, stderr.String, false)
	client := proxyClient(port)
	status := func(path string) int {
		resp, err := client.Get(origin.URL + path)
		if err != nil {
			return 0
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	eventually := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if cond() {
				return
			}
		}
		t.Fatalf("%s: not within 10s\n%s", what, stderr.String())
	}
	eventually("the list blocks /ads/", func() bool { return status("/ads/x") == 403 })
	if got := status("/promo/x"); got != 200 {
		t.Fatalf("/promo/x before the change: got %d, want 200", got)
	}

	write(list, "/\\/promo\\//\n")
	eventually("the changed list applies", func() bool { return status("/promo/x") == 403 && status("/ads/x") == 200 })

	write(conf, "filter:\n  block: [\n")
	eventually("the broken file is reported", func() bool { return strings.Contains(stderr.String(), "reload failed") })
	if got := status("/promo/x"); got != 403 {
		t.Errorf("after a broken configuration: /promo/x got %d, want 403 (the old rules kept)", got)
	}

	write(conf, goodConf+"  report_only: true\n")
	eventually("the mended file applies", func() bool { return status("/promo/x") == 200 })

	cmd.Process.Signal(syscall.SIGHUP)
	eventually("SIGHUP reloads", func() bool { return strings.Contains(stderr.String(), "why=SIGHUP") })
}

// startBinary runs the sluice binary with args, its standard error
// captured, and stops it (SIGTERM, then waits for it) when the test ends.
func startBinary(t *testing.T, args ...string) (*exec.Cmd, *syncBuf) {
	t.Helper()
	cmd := exec.Command(buildBinary(t), args...)
	stderr := new(syncBuf)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	})
	return cmd, stderr
}

// syncBuf is a bytes.Buffer safe for a writer and a reader at once.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestBinaryURLList: a block list given as a URL is fetched through the
// proxy after start and applies; after a restart with the list server
// down, the last good copy still blocks.
func TestBinaryURLList(t *testing.T) {
	bin := buildBinary(t)
	var listUp atomic.Bool
	listUp.Store(true)
	var fetches atomic.Int64
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/list.txt" {
			fetches.Add(1)
			if !listUp.Load() {
				http.Error(w, "down", http.StatusServiceUnavailable)
				return
			}
			w.Header().Set("Cache-Control", "no-store")
			io.WriteString(w, "[Adblock Plus 2.0]\n/banner.gif\n")
			return
		}
		io.WriteString(w, "origin")
	}))
	defer origin.Close()
	dir := t.TempDir()
	conf := filepath.Join(dir, "sluice.yaml")
	os.WriteFile(conf, []byte("access_log: \"off\"\nfilter:\n  block: ["+origin.URL+"/list.txt]\n  dir: "+filepath.Join(dir, "lists")+"\n"), 0o644)

	run := func(what string) {
		t.Helper()
		cmd := exec.Command(bin, "--config", conf, "--allow-dest", "127.0.0.0/8", "--cache-dir", "off", "--listen", "127.0.0.1:0")
		var stderr syncBuf
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
		}()
		port, _ := listenPorts(t, stderr.String, false)
		client := proxyClient(port)
		deadline := time.Now().Add(10 * time.Second)
		for {
			resp, err := client.Get(origin.URL + "/img/banner.gif")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusForbidden {
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the URL list never blocked /img/banner.gif\n%s", what, stderr.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
		if resp, err := client.Get(origin.URL + "/img/photo.jpg"); err != nil || resp.StatusCode != 200 {
			t.Errorf("%s: an unlisted URL did not pass: %v", what, err)
		}
	}
	run("first start")
	if fetches.Load() == 0 {
		t.Fatal("the list was never fetched")
	}
	listUp.Store(false)
	run("restart with the list server failing")
}

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// buildBinary builds sluice once for all the tests that run it, and skips
// with -short.
func buildBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sluice-test-bin-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "sluice")
		if out, err := exec.Command("go", "build", "-o", builtBin, ".").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if builtBin != "" {
		os.RemoveAll(filepath.Dir(builtBin))
	}
	os.Exit(code)
}

// Lines in which the binary reports the addresses it listens on.
var (
	listeningRE = regexp.MustCompile(`msg="sluice listening" addr=127\.0\.0\.1:(\d+)`)
	adminRE     = regexp.MustCompile(`msg="admin listening" addr=127\.0\.0\.1:(\d+)`)
)

// listenPorts waits until a binary started with port 0 (and, with admin,
// "--admin 127.0.0.1:0") reports the ports the kernel gave it, and
// returns them. Letting the binary pick avoids the race of a port found
// free beforehand that another test (or an outgoing connection) takes
// first.
func listenPorts(t *testing.T, stderr func() string, admin bool) (port, adminPort string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		text := stderr()
		m := listeningRE.FindStringSubmatch(text)
		a := adminRE.FindStringSubmatch(text)
		if m != nil && (!admin || a != nil) {
			if admin {
				adminPort = a[1]
			}
			return m[1], adminPort
		}
		if time.Now().After(deadline) {
			t.Fatalf("the binary did not report its listeners within 10 s:\n%s", text)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// freePort returns a loopback port that was free a moment ago, and not
// one it returned before in this test binary. Prefer --listen
// 127.0.0.1:0 and listenPorts: a port found free may be taken before it
// is bound.
func freePort(t *testing.T) string {
	t.Helper()
	for {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if _, dup := givenPorts.LoadOrStore(port, true); !dup {
			return fmt.Sprint(port)
		}
	}
}

var givenPorts sync.Map // int → true: ports freePort returned

// proxyClient returns a client that sends everything through the proxy on
// 127.0.0.1:port.
func proxyClient(port string) *http.Client {
	proxyURL, _ := url.Parse("http://127.0.0.1:" + port)
	return &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL)}, Timeout: 10 * time.Second}
}

// getWhenUp GETs u through client, retrying for up to 5 s while the proxy
// starts listening; it fails the test with the proxy's stderr if it never
// answers.
func getWhenUp(t *testing.T, client *http.Client, u string, stderr func() string) *http.Response {
	t.Helper()
	var err error
	for i := 0; i < 100; i++ {
		var resp *http.Response
		if resp, err = client.Get(u); err == nil {
			return resp
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("proxy never answered: %v\n%s", err, stderr())
	return nil
}

// TestUsageDocCoversEveryFlag keeps docs/usage.md's flag table complete.
func TestUsageDocCoversEveryFlag(t *testing.T) {
	doc, err := os.ReadFile("../../docs/usage.md")
	if err != nil {
		t.Fatal(err)
	}
	newFlags().fs.VisitAll(func(fl *flag.Flag) {
		if !strings.Contains(string(doc), "`--"+fl.Name) {
			t.Errorf("docs/usage.md does not document --%s", fl.Name)
		}
	})
}
