// Package gctune sets the garbage collector for what vios runs: short
// batch jobs (a cycle, an audit, a report) over small live heaps, where
// the default GOGC=100 collects every few megabytes and the collector's
// barriers and assists cost an audit a fifth of its time. Like the Go
// compiler, vios trades some memory for fewer collections.
package gctune

import (
	"os"
	"runtime/debug"
)

// Percent is the GOGC vios runs with: the heap may grow to five times what
// the last collection left live before the next one starts.
const Percent = 400

// Apply sets GOGC to Percent unless the environment sets GOGC, which
// always wins. The benchmarks call it too, so that they measure the code
// as the vios binary runs it.
func Apply() {
	if _, ok := os.LookupEnv("GOGC"); !ok {
		debug.SetGCPercent(Percent)
	}
}
