package splice

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"sluice/internal/testwait"
)

// pair returns the two ends of a loopback TCP connection.
func pair(t testing.TB) (a, b *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := ln.Accept()
		ch <- res{c, err}
	}()
	d, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Cleanup(func() { d.Close(); r.c.Close() })
	return d.(*net.TCPConn), r.c.(*net.TCPConn)
}

// relay builds writer → [src ⇒ Stream ⇒ dst] → reader.
func relay(t *testing.T) (writer *net.TCPConn, s *Stream, reader *net.TCPConn) {
	t.Helper()
	if !Supported() {
		t.Skip("splice is Linux only")
	}
	w, src := pair(t)
	dst, r := pair(t)
	return w, &Stream{Dst: dst, Src: src}, r
}

func rcvlowat(t *testing.T, c *net.TCPConn) int {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	rc.Control(func(fd uintptr) { v, err = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVLOWAT) })
	if err != nil {
		t.Fatal(err)
	}
	return max(v, 1) // the kernel reads 0 as 1, and may report either
}

// Every byte arrives, in order, whatever the size, and EOF ends Copy
// with a nil error.
func TestCopyToEOF(t *testing.T) {
	for _, size := range []int{0, 1, 4096, 300 << 10, 5 << 20} {
		w, s, r := relay(t)
		data := make([]byte, size)
		rand.Read(data)
		go func() {
			w.Write(data)
			w.CloseWrite()
		}()
		got := make(chan []byte, 1)
		go func() {
			b, _ := io.ReadAll(r)
			got <- b
		}()
		n, err := s.Copy(-1)
		if err != nil || n != int64(size) {
			t.Fatalf("size %d: Copy = %d, %v", size, n, err)
		}
		s.Dst.CloseWrite()
		if b := <-got; !bytes.Equal(b, data) {
			t.Fatalf("size %d: received %d bytes, not what was sent", size, len(b))
		}
	}
}

// A limit stops Copy exactly there, leaving the rest in Src.
func TestCopyLimit(t *testing.T) {
	w, s, r := relay(t)
	data := make([]byte, 3<<20)
	rand.Read(data)
	go w.Write(data)
	n, err := s.Copy(2<<20 + 7)
	if err != nil || n != 2<<20+7 {
		t.Fatalf("Copy = %d, %v", n, err)
	}
	s.Done()
	got := make([]byte, n)
	if _, err := io.ReadFull(r, got); err != nil || !bytes.Equal(got, data[:n]) {
		t.Fatalf("relayed bytes differ (%v)", err)
	}
	rest := make([]byte, len(data)-int(n))
	s.Src.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(s.Src, rest); err != nil || !bytes.Equal(rest, data[n:]) {
		t.Fatalf("the bytes past the limit were not left in Src (%v)", err)
	}
}

// A busy stream batches; the bytes that end a burst still arrive (within
// BatchWait, not whenever more come), the stream stops batching once it
// pauses, and Done leaves SO_RCVLOWAT as it was.
func TestBatchingNeverStrands(t *testing.T) {
	w, s, r := relay(t)
	orig := rcvlowat(t, s.Src)
	var moved atomic.Int64
	s.Moved = func(n int64) { moved.Add(n) }
	done := make(chan error, 1)
	go func() {
		_, err := s.Copy(-1)
		done <- err
	}()
	burst := make([]byte, 3<<20)
	go io.Copy(io.Discard, r)
	if _, err := w.Write(burst); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the burst to be relayed", func() bool { return moved.Load() == int64(len(burst)) })
	// A 10-byte message after the burst: far below Batch, it must still
	// come through.
	if _, err := w.Write([]byte("0123456789")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the small message after a burst", func() bool { return moved.Load() == int64(len(burst))+10 })
	waitFor(t, "batching to end after the pause", func() bool { return rcvlowat(t, s.Src) == orig })
	w.CloseWrite()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// While a stream batches, SO_RCVLOWAT is raised on its source; Done puts
// it back.
func TestBatchingSetsAndRestoresLowat(t *testing.T) {
	w, s, r := relay(t)
	orig := rcvlowat(t, s.Src)
	go io.Copy(io.Discard, r)
	data := make([]byte, BusyAfter+Batch)
	go w.Write(data)
	// Copy exactly BusyAfter: the run reaches the threshold, so the next
	// Copy that wants at least Batch more turns batching on.
	if n, err := s.Copy(BusyAfter); err != nil || n != BusyAfter {
		t.Fatalf("Copy = %d, %v", n, err)
	}
	if n, err := s.Copy(Batch); err != nil || n != Batch {
		t.Fatalf("Copy = %d, %v", n, err)
	}
	if v := rcvlowat(t, s.Src); v != Batch {
		t.Fatalf("after %d bytes SO_RCVLOWAT = %d, want %d", BusyAfter+Batch, v, Batch)
	}
	s.Done()
	if v := rcvlowat(t, s.Src); v != orig {
		t.Fatalf("after Done SO_RCVLOWAT = %d, want %d as before", v, orig)
	}
}

// Idle bounds a wait with no bytes: Copy ends with a timeout.
func TestIdle(t *testing.T) {
	_, s, _ := relay(t)
	s.Idle = 50 * time.Millisecond
	n, err := s.Copy(-1)
	if n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Copy = %d, %v; want a deadline error", n, err)
	}
}

// A byte that arrived between a Copy that ended on its idle timeout and
// the next Copy is moved by that next Copy, not left for more bytes to
// wake it (a tunnel calls Copy again while the other direction is busy).
// Go's poller forgets readiness it recorded before a wait starts, so a
// Copy that waited before looking would sleep through it.
func TestByteBetweenCopiesMoves(t *testing.T) {
	w, s, r := relay(t)
	s.Idle = 20 * time.Millisecond
	for try := range 5 {
		if n, err := s.Copy(-1); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("try %d: Copy = %d, %v; want a deadline error", try, n, err)
		}
		if _, err := w.Write([]byte{'x'}); err != nil {
			t.Fatal(err)
		}
		// Not synchronisation: time for the poller to see the byte
		// arrive and record it before Copy starts waiting.
		time.Sleep(10 * time.Millisecond)
		n, err := s.Copy(-1)
		if n != 1 {
			t.Fatalf("try %d: the next Copy moved %d bytes (%v), want the byte that was waiting", try, n, err)
		}
		r.SetReadDeadline(time.Now().Add(5 * time.Second))
		var b [1]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			t.Fatalf("try %d: reading the moved byte: %v", try, err)
		}
	}
}

// Another goroutine stops a Copy blocked in a wait by making Stopped true
// and then setting a past read deadline, also while it batches.
func TestStopped(t *testing.T) {
	for _, busy := range []bool{false, true} {
		w, s, r := relay(t)
		go io.Copy(io.Discard, r)
		var stop atomic.Bool
		s.Stopped = stop.Load
		if busy {
			data := make([]byte, BusyAfter+Batch)
			w.Write(data)
			if _, err := s.Copy(int64(len(data))); err != nil {
				t.Fatal(err)
			}
		}
		done := make(chan error, 1)
		go func() {
			_, err := s.Copy(-1)
			done <- err
		}()
		time.Sleep(20 * time.Millisecond)
		stop.Store(true)
		s.Src.SetReadDeadline(time.Unix(1, 0))
		select {
		case err := <-done:
			if err == nil {
				t.Fatalf("busy=%v: stopped Copy returned nil", busy)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("busy=%v: Copy did not stop", busy)
		}
	}
}

// A Stream waiting on an idle source holds no pipe: a hundred idle ones
// cost no file descriptors.
func TestIdleHoldsNoPipe(t *testing.T) {
	if !Supported() {
		t.Skip("splice is Linux only")
	}
	type idle struct {
		s    *Stream
		done chan struct{}
	}
	var streams []idle
	for range 100 {
		_, s, _ := relay(t)
		streams = append(streams, idle{s, make(chan struct{})})
	}
	before := openFDs(t)
	for _, it := range streams {
		go func() {
			defer close(it.done)
			it.s.Copy(-1)
		}()
	}
	time.Sleep(100 * time.Millisecond)
	after := openFDs(t)
	for _, it := range streams {
		it.s.Src.Close()
		<-it.done
	}
	// The pool may hold a pipe or two from earlier tests' goroutines.
	if after-before > 4 {
		t.Fatalf("100 idle streams opened %d file descriptors", after-before)
	}
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testwait.Until(t, what, 10*time.Second, cond)
}

// BenchmarkRelay relays 64 MiB per op over loopback through the standard
// library's splice (TCPConn.ReadFrom) and through a Stream. The figure
// that matters is CPU per byte on a loaded machine (see
// docs/architecture.md); on an idle one both mostly measure the kernel.
func BenchmarkRelay(b *testing.B) {
	const size = 64 << 20
	for _, mode := range []string{"stdlib", "stream"} {
		b.Run(mode, func(b *testing.B) {
			w, src := pair(b)
			dst, r := pair(b)
			chunk := make([]byte, 1<<20)
			go func() {
				for {
					for sent := 0; sent < size; sent += len(chunk) {
						if _, err := w.Write(chunk); err != nil {
							return
						}
					}
				}
			}()
			go io.Copy(io.Discard, r)
			s := &Stream{Dst: dst, Src: src}
			b.SetBytes(size)
			b.ResetTimer()
			for b.Loop() {
				var n int64
				var err error
				if mode == "stdlib" {
					n, err = dst.ReadFrom(&io.LimitedReader{R: src, N: size})
				} else {
					n, err = s.Copy(size)
				}
				if err != nil || n != size {
					b.Fatalf("relayed %d, %v", n, err)
				}
			}
			b.StopTimer()
			w.Close()
		})
	}
}
