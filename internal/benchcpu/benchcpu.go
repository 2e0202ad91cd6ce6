// Package benchcpu reads CPU time for benchmarks: on a shared, overloaded
// machine operations per second swing with everyone else's load, while the
// CPU an operation costs stays put (docs/benchmarks.md). Used by the
// workflow benchmark (cmd/lockbox) and the audit bench program.
package benchcpu

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Self is the CPU time this process has used (user and system).
func Self() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Postgres is the CPU time of the PostgreSQL server whose postmaster
// has the pid in LOCKBOX_BENCH_POSTMASTER: the postmaster's own and its
// ended children's, and each live child's. Meaningful only for a server
// nothing else uses; ok is false without the variable or /proc.
func Postgres() (cpu time.Duration, ok bool) {
	pid := os.Getenv("LOCKBOX_BENCH_POSTMASTER")
	if pid == "" {
		return 0, false
	}
	stat := func(path string) []string {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		// Fields after the command, which is in parentheses and may hold spaces.
		s := string(b)
		return strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	}
	ticks := func(fs []string, i int) time.Duration {
		n, _ := strconv.ParseInt(fs[i], 10, 64)
		return time.Duration(n) * time.Second / 100 // USER_HZ
	}
	// After the command: state(0) ppid(1) … utime(11) stime(12) cutime(13) cstime(14).
	fs := stat("/proc/" + pid + "/stat")
	if len(fs) < 15 {
		return 0, false
	}
	cpu = ticks(fs, 11) + ticks(fs, 12) + ticks(fs, 13) + ticks(fs, 14)
	paths, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range paths {
		if fs := stat(p); len(fs) >= 15 && fs[1] == pid {
			cpu += ticks(fs, 11) + ticks(fs, 12)
		}
	}
	return cpu, true
}
