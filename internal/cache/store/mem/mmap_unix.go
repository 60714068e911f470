//go:build unix

package mem

import "syscall"

// mapPage maps n bytes of anonymous private memory, outside the Go heap.
// The kernel backs it with memory only where it is written.
func mapPage(n int) ([]byte, error) {
	return syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
}

func unmapPage(b []byte) error { return syscall.Munmap(b) }
