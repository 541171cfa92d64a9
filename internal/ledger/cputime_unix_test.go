//go:build unix

package ledger

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time (user and system, every thread) this process has
// used: unlike wall time it does not count the time other processes on a
// busy machine took from it.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
