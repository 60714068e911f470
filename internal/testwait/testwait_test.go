package testwait

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

func TestUntilReturnsOnceTrue(t *testing.T) {
	var n atomic.Int32
	go func() {
		time.Sleep(20 * time.Millisecond)
		n.Store(1)
	}()
	Until(t, "the flag", 5*time.Second, func() bool { return n.Load() == 1 })
}

func TestUntilFailsAfterBound(t *testing.T) {
	ft := &fakeT{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Until(ft, "never", 20*time.Millisecond, func() bool { return false })
	}()
	<-done
	if !ft.failed {
		t.Fatal("Until returned without failing for a condition that never held")
	}
}

// fakeT records Fatalf and ends the goroutine, as testing.T does.
type fakeT struct {
	testing.TB
	failed bool
}

func (f *fakeT) Helper() {}
func (f *fakeT) Fatalf(string, ...any) {
	f.failed = true
	runtime.Goexit()
}
