//go:build unix

// Package cputime reads the CPU time a process has used, for benchmarks
// whose ratios a busy machine would distort in wall time. It depends on
// nothing of vios, so the tests of every package can use it.
package cputime

import (
	"syscall"
	"time"
)

// Self is the CPU time (user and system, every thread) this process has
// used: unlike wall time it does not count the time other processes on a
// busy machine took from it. It is 0 where it is not measured.
func Self() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
