// Package testwait is for tests: it polls a condition that another
// goroutine or process will make true, failing the test if it does not
// within a bound.
package testwait

import (
	"testing"
	"time"
)

// Until polls cond every few milliseconds until it holds, and fails t,
// naming what it waited for, once within has passed.
func Until(t testing.TB, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
