package browsertest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The sluice binary is built once for the whole package, by the first test
// that needs it, and removed by TestMain.
var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if builtBin != "" {
		os.RemoveAll(filepath.Dir(builtBin))
	}
	os.Exit(code)
}

// buildBinary builds the real sluice command (not a test double) once and
// returns its path.
func buildBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sluice-browsertest-bin-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "sluice")
		if out, err := exec.Command("go", "build", "-o", builtBin, "sluice/cmd/sluice").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build sluice/cmd/sluice: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

// listeningRE finds the address in sluice's startup line on stderr, which
// the text log handler writes as
//
//	time=... level=INFO msg="sluice listening" addr=127.0.0.1:41234 ...
var listeningRE = regexp.MustCompile(`msg="sluice listening" addr=(\S+)`)

// hermeticConfig is the configuration file startProxy gives sluice: it
// denies every host but the loopback origins of the tests. Chromium sends
// requests of its own (network time, component updates, autofill, password
// leak checks) despite --disable-background-networking, and through the
// proxy like everything else; they get 403 here instead of reaching the
// internet from CI, and show in the access log as TCP_DENIED.
const hermeticConfig = `access:
  default: deny
  rules:
    - action: allow
      hosts: [127.0.0.1, localhost]
`

// startProxy runs the sluice binary on a free loopback port and returns its
// address (host:port) and a func that reads its access log (Squid format)
// as it is at the time of the call.
//
// It starts sluice with
//
//	--config FILE --listen 127.0.0.1:0 --allow-dest loopback
//	--access-log FILE --cache-dir off --drain-timeout 1s
//
// followed by extraArgs; flags override the file, and a flag given twice
// takes its last value, so extraArgs can override any of these (a second
// --config replaces hermeticConfig, so it should carry the same access
// rules). --allow-dest loopback is needed because every origin in these
// tests is on 127.0.0.1, which sluice denies by default. The proxy is
// stopped (SIGTERM, then SIGKILL after 5 s) when the test ends, and its
// stderr is logged if the test failed.
func startProxy(t *testing.T, extraArgs ...string) (addr string, accessLog func() string) {
	t.Helper()
	addr, accessLog, _ = startProxyStderr(t, extraArgs...)
	return addr, accessLog
}

// startProxyStderr is startProxy that also returns what sluice has written
// to stderr so far, for addresses it logs (the admin listener's).
func startProxyStderr(t *testing.T, extraArgs ...string) (addr string, accessLog, stderrText func() string) {
	t.Helper()
	bin := buildBinary(t)
	dir := t.TempDir()
	logPath := filepath.Join(dir, "access.log")
	configPath := filepath.Join(dir, "sluice.yaml")
	if err := os.WriteFile(configPath, []byte(hermeticConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{
		"--config", configPath,
		"--listen", "127.0.0.1:0",
		"--allow-dest", "loopback",
		"--access-log", logPath,
		"--cache-dir", "off",
		"--drain-timeout", "1s",
	}, extraArgs...)
	cmd := exec.Command(bin, args...)
	var stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sluice: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }() // the only Wait; owned by the cleanup below
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("sluice %s\nstderr:\n%s", strings.Join(args, " "), stderr.String())
		}
	})

	deadline := time.After(10 * time.Second)
	for {
		if m := listeningRE.FindStringSubmatch(stderr.String()); m != nil {
			addr = m[1]
			break
		}
		select {
		case <-exited:
			t.Fatalf("sluice exited at startup: %v\n%s", cmd.ProcessState, stderr.String())
		case <-deadline:
			t.Fatalf("sluice did not report listening within 10 s:\n%s", stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return addr, func() string {
		b, err := os.ReadFile(logPath)
		if err != nil && !os.IsNotExist(err) {
			t.Errorf("read access log: %v", err)
		}
		return string(b)
	}, stderr.String
}

// logLine is one line of a Squid-format access log:
//
//	1732579200.123    245 127.0.0.1 TCP_MISS/200 1024 GET http://example.com/x - HIER_DIRECT/93.184.216.34 text/html
type logLine struct {
	result string // TCP_MISS, TCP_TUNNEL, TCP_DENIED, ...
	status int
	method string
	url    string // absolute for forwarded requests, host:port for CONNECT
}

// parseAccessLog parses a Squid-format access log, failing the test on a
// line it cannot read.
func parseAccessLog(t *testing.T, log string) []logLine {
	t.Helper()
	// A line still being written has no newline yet; leave it for the
	// next read.
	log = log[:strings.LastIndexByte(log, '\n')+1]
	var lines []logLine
	for s := range strings.Lines(log) {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		f := strings.Fields(s)
		if len(f) < 10 {
			t.Fatalf("access log line has %d fields, want 10: %q", len(f), s)
		}
		result, code, ok := strings.Cut(f[3], "/")
		status, err := strconv.Atoi(code)
		if !ok || err != nil {
			t.Fatalf("access log line has result/status %q: %q", f[3], s)
		}
		lines = append(lines, logLine{result: result, status: status, method: f[5], url: f[6]})
	}
	return lines
}

// waitForLog polls accessLog until check accepts its parsed lines (returns
// nil), for up to 5 s, and returns the lines; the log is written
// asynchronously, and a tunnel's line only when the tunnel closes. On
// timeout it fails the test with check's last error and the whole log.
func waitForLog(t *testing.T, accessLog func() string, check func([]logLine) error) []logLine {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		raw := accessLog()
		lines := parseAccessLog(t, raw)
		err := check(lines)
		if err == nil {
			return lines
		}
		if time.Now().After(deadline) {
			t.Fatalf("access log after 5 s: %v; the log:\n%s", err, raw)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer that a child process's output copier (or a
// logger) writes while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// printf appends one formatted line; it has the signature chromedp's
// logging options want.
func (s *syncBuffer) printf(format string, args ...any) {
	fmt.Fprintf(s, format+"\n", args...)
}
