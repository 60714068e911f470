//go:build race

package filter

// raceEnabled: the race detector makes sync.Pool drop items at random,
// so pooled work (regexp machines) allocates now and then.
const raceEnabled = true
