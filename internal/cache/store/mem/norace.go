//go:build !race

package mem

// raceEnabled reports whether the race detector is on; memory
// measurements mean nothing under it.
const raceEnabled = false
