// Package servegc sets the garbage collector's target for a process that
// serves Lockbox's API: `lockbox serve`, and the benchmarks that stand in
// for it.
package servegc

import (
	"os"
	"runtime/debug"
)

// Percent is the collector's target for a serving process: it collects
// when the heap has grown to five times what was live after the last
// collection (GOGC=400) rather than twice (Go's default of 100).
//
// A server's live heap is small (a few MiB), so Go's default floor of a
// 4 MiB target made it collect hundreds of times a second while streaming
// audit bundles: the SQLite driver copies every blob it reads into a new
// slice, half a GiB over a full verify of a million records. Each
// collection takes a core for a moment, and on a small machine the
// requests waited for it: an incremental `lockbox audit verify` against
// such a server took 16–23 ms, 10–16 ms with this target
// (docs/benchmarks.md). The price is memory: the heap may grow to five
// times the live data before a collection.
const Percent = 400

// Set applies Percent unless the operator chose with GOGC, which wins
// (GOGC=100 restores Go's default; GOMEMLIMIT caps the heap either way).
// It returns the target now in force, or -1 when GOGC chose it.
func Set() int {
	if _, chosen := os.LookupEnv("GOGC"); chosen {
		return -1
	}
	debug.SetGCPercent(Percent)
	return Percent
}
