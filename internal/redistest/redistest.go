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
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
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

	mu  sync.Mutex
	cmd *exec.Cmd
	log bytes.Buffer
}

// Start starts a redis-server with extra arguments (redis-server's own
// flags, like "--maxmemory", "1mb"), killed when t ends. It skips t when
// redis-server is not on PATH, except under CI=true, where it fails t.
func Start(t testing.TB, extra ...string) *Server {
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
	s := &Server{t: t, bin: bin, Addr: l.Addr().String()}
	s.args = append([]string{
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
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
		err := ping(s.Addr)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server on %s did not answer PING: %v\n%s", s.Addr, err, s.log.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
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
	if line != "+PONG\r\n" {
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
	c := redis.NewClient(&redis.Options{Addr: s.Addr, ContextTimeoutEnabled: true, DialerRetries: 1, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	return c
}
