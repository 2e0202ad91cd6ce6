package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// CPU time per append, as cmd/lockbox's workflow benchmark measures CPU
// per step (benchcpu_test.go there, which this copies: a test file cannot
// be imported): on a shared machine appends/s swing with everyone else's
// load, while what an append costs stays put.

// selfCPU is the CPU time this process (appenders and store) has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// postgresCPU is the CPU time of the PostgreSQL server whose postmaster
// has the pid in LOCKBOX_BENCH_POSTMASTER: the postmaster's own and its
// ended children's, and each live child's. Meaningful only for a server
// nothing else uses; ok is false without the variable or /proc.
func postgresCPU() (cpu time.Duration, ok bool) {
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

// cpuPer starts measuring CPU and returns a function that prints the CPU
// per operation since then, for n operations.
func cpuPer(what string) func(n int) {
	self0 := selfCPU()
	pg0, pgOK := postgresCPU()
	return func(n int) {
		line := "  CPU per " + what + ": this process " + perOp(selfCPU()-self0, n)
		if pg1, ok := postgresCPU(); ok && pgOK {
			line += ", PostgreSQL server " + perOp(pg1-pg0, n)
		}
		fmt.Println(line)
	}
}

func perOp(d time.Duration, n int) string {
	return strconv.FormatInt(d.Microseconds()/int64(max(n, 1)), 10) + " µs"
}
