//go:build !linux

package sockopt

func apply(uintptr) {}
