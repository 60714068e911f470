// Package redistest runs a real redis-server for tests: one per test, on a
// loopback port of its own that stays the same across restarts, so that a
// test can kill Redis, freeze it, and start it again.
//
// Tests that use it skip when redis-server is not on PATH, except under
// CI=true, where that is a failure (.ci/run installs redis-server).
package redistest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Server is a redis-server of a test's own.
type Server struct {
	// Addr is the server's host:port.
	Addr string

	t    testing.TB
	bin  string
	args []string
	tls  *tls.Config // for PING, when the server speaks only TLS

	mu  sync.Mutex
	cmd *exec.Cmd
	log bytes.Buffer
}

// Start starts a redis-server with extra arguments (redis-server's own
// flags, like "--maxmemory", "1mb"), killed when t ends. It skips t when
// redis-server is not on PATH, except under CI=true, where it fails t.
func Start(t testing.TB, extra ...string) *Server {
	t.Helper()
	return start(t, nil, extra...)
}

func start(t testing.TB, tlsConf *tls.Config, extra ...string) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redis-server is needed under CI=true: %v", err)
		}
		t.Skipf("redis-server not on PATH (install redis-server to run these tests): %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &Server{t: t, bin: bin, Addr: l.Addr().String(), tls: tlsConf}
	portFlag := "--port"
	if tlsConf != nil {
		portFlag = "--tls-port"
		extra = append([]string{"--port", "0"}, extra...)
	}
	s.args = append([]string{
		portFlag, strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", t.TempDir(),
		"--logfile", "", "--daemonize", "no",
	}, extra...)
	s.Restart()
	t.Cleanup(s.Kill)
	return s
}

// Restart starts the server again on its port (after Kill), with an
// empty dataset, and waits until it answers PING.
func (s *Server) Restart() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		s.t.Fatal("redistest: Restart of a running server")
	}
	s.log.Reset()
	cmd := exec.Command(s.bin, s.args...)
	cmd.Stdout, cmd.Stderr = &s.log, &s.log
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.cmd = cmd
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := ping(s.Addr, s.tls)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server on %s did not answer PING: %v\n%s", s.Addr, err, s.log.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func ping(addr string, tlsConf *tls.Config) error {
	var c net.Conn
	var err error
	if tlsConf != nil {
		c, err = tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", addr, tlsConf)
	} else {
		c, err = net.DialTimeout("tcp", addr, time.Second)
	}
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	// A server that wants a password is up too: it answered.
	if line != "+PONG\r\n" && !strings.HasPrefix(line, "-NOAUTH") {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

// Kill stops the server at once (SIGKILL) and waits for it to exit. Its
// data is gone.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGCONT) // in case it was paused
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}

// Pause and Resume freeze and thaw the server: while paused it accepts
// connections and answers nothing, like an overloaded Redis.
func (s *Server) Pause()  { s.signal(syscall.SIGSTOP) }
func (s *Server) Resume() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig os.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		s.t.Fatal("redistest: signal to a stopped server")
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatal(err)
	}
}

// Client returns a client of the server, closed when t ends, configured
// as the cache's Redis tier wants it: calls bounded by their context, no
// retries.
func (s *Server) Client(t testing.TB) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.Addr, ContextTimeoutEnabled: true, DialerRetries: 1, MaxRetries: -1, TLSConfig: s.tls})
	t.Cleanup(func() { c.Close() })
	return c
}

// StartCluster starts a Redis Cluster of one node that holds every slot,
// and waits until the cluster is ready. Cluster clients reach it through
// Addr like any cluster's seed node.
func StartCluster(t testing.TB, extra ...string) *Server {
	t.Helper()
	s := Start(t, append([]string{"--cluster-enabled", "yes"}, extra...)...)
	ctx := context.Background()
	c := s.Client(t)
	if err := c.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", 0, 16383).Err(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		info, err := c.ClusterInfo(ctx).Result()
		if err == nil && strings.Contains(info, "cluster_state:ok") {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster not ready: %v\n%s", err, info)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
