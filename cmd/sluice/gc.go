package main

import (
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// gcHeadroom is how much the heap may grow between garbage collections at
// least. Go's default (GOGC=100: grow by the live heap) suits programs
// with a large live heap; a proxy's is small (under 1 MiB when serving
// cache hits) while it allocates per request, so the collector ran 70
// times a second under load, each cycle scanning every goroutine's stack.
// Letting the heap grow by 32 MiB cut that to a few, for 10% more cache
// hits per second, at the cost of up to 32 MiB of garbage held between
// cycles. Setting GOGC in the environment turns this off.
const gcHeadroom = 32 << 20

// gcPercent returns the GOGC value that lets a heap with live bytes grow
// by max(live, headroom) before the next collection. Go's heap goal is
// never below 4 MiB × GOGC/100 (the runtime's minimum heap scales with
// GOGC), so live heaps under 4 MiB count as 4 MiB: otherwise a tiny heap
// would get a huge GOGC, and with it a huge minimum. Zero (no collection
// yet) counts the same.
func gcPercent(live, headroom uint64) int {
	const minHeap = 4 << 20
	live = max(live, minHeap)
	p := headroom * 100 / live
	return int(min(max(p, 100), headroom*100/minHeap))
}

// tuneGC keeps GOGC at gcPercent for the live heap, checking every
// second, unless the environment sets GOGC. It runs until stop closes.
func tuneGC(stop <-chan struct{}) {
	if os.Getenv("GOGC") != "" {
		return
	}
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	last := -1
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		metrics.Read(sample)
		var live uint64
		if sample[0].Value.Kind() == metrics.KindUint64 {
			live = sample[0].Value.Uint64()
		}
		// Change it only when it moves by more than a tenth.
		if p := gcPercent(live, gcHeadroom); last < 0 || p > last+last/10 || p < last-last/10 {
			debug.SetGCPercent(p)
			last = p
		}
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}
