package main

import "testing"

func TestGCPercent(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		live uint64
		want int
	}{
		{0, 800},          // no collection yet: as for a 4 MiB heap
		{1 << 10, 800},    // the runtime's 4 MiB minimum, times 8, is 32 MiB
		{1 * mib, 800},    //
		{4 * mib, 800},    // 4 MiB may grow by 32 MiB
		{8 * mib, 400},    // 8 by 32
		{16 * mib, 200},   // 16 by 32
		{32 * mib, 100},   // from here on, Go's default
		{1024 * mib, 100}, //
	} {
		if got := gcPercent(tc.live, 32*mib); got != tc.want {
			t.Errorf("gcPercent(%d MiB) = %d, want %d", tc.live/mib, got, tc.want)
		}
	}
}
