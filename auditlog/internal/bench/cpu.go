package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/lockboxhq/lockbox/internal/benchcpu"
)

// CPU time per append, as cmd/lockbox's workflow benchmark measures CPU
// per step (internal/benchcpu).

// cpuPer starts measuring CPU and returns a function that prints the CPU
// per operation since then, for n operations.
func cpuPer(what string) func(n int) {
	self0 := benchcpu.Self()
	pg0, pgOK := benchcpu.Postgres()
	return func(n int) {
		line := "  CPU per " + what + ": this process " + perOp(benchcpu.Self()-self0, n)
		if pg1, ok := benchcpu.Postgres(); ok && pgOK {
			line += ", PostgreSQL server " + perOp(pg1-pg0, n)
		}
		fmt.Println(line)
	}
}

func perOp(d time.Duration, n int) string {
	return strconv.FormatInt(d.Microseconds()/int64(max(n, 1)), 10) + " µs"
}
