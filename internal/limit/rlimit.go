package limit

import "syscall"

// DefaultMaxConns suggests a global connection cap from the process's
// file descriptor limit (RLIMIT_NOFILE; Go raises the soft limit to the
// hard one at start-up). Each client connection may need an origin
// connection too, and some descriptors go to the listener, log files and
// the like, so the cap is (limit - 64) / 2, at least 64.
func DefaultMaxConns() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return maxConnsFor(1024) // the conventional soft limit
	}
	return maxConnsFor(rl.Cur)
}

// maxConnsFor is DefaultMaxConns for a descriptor limit of nofile.
func maxConnsFor(nofile uint64) int {
	nofile = min(nofile, 1<<24) // RLIM_INFINITY and other absurdities
	return max((int(nofile)-64)/2, 64)
}
