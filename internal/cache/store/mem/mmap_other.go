//go:build !unix

package mem

// mapPage allocates on the Go heap where anonymous mappings are not
// available; the store works, without its memory bound.
func mapPage(n int) ([]byte, error) { return make([]byte, n), nil }

func unmapPage([]byte) error { return nil }
