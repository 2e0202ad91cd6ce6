// Command testsummary reads `go test -json` on stdin and prints what plain
// `go test` would (a line per package; the output of failed tests), then
// one line naming the tests that skipped for want of something on this
// machine (PostgreSQL, Chromium, nginx, …) and how to enable them. Plain
// `go test` hides a passing package's skips, so without this line a green
// run that tested nothing against PostgreSQL looks like one that did.
// scripts/test.sh (the README's test command) pipes through it.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
)

func main() {
	if err := summarize(os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "testsummary:", err)
		os.Exit(1)
	}
}

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action     string
	Package    string
	ImportPath string // build-output
	Test       string
	Output     string
}

// missingPrefix starts every skip message that means "this machine lacks
// something" (pgtest.DSN, the browser, nginx, deploy-tool and litewitness
// helpers all say "no X …: how to get it"). Other skips (-short, -race, a
// measurement run on demand) are choices, not gaps, and are not counted.
const missingPrefix = "no "

// skipMessage is the t.Skip line of test output: "    file_test.go:12: message".
var skipMessage = regexp.MustCompile(`^\s+[\w.-]+\.go:\d+: (.*)$`)

func summarize(in io.Reader, out, errOut io.Writer) error {
	type pkgState struct {
		lines     []string            // package-level output
		tests     map[string][]string // output by test
		failed    []string            // tests that failed, in order
		lastSkipM map[string]string   // a test's last file:line message
	}
	pkgs := map[string]*pkgState{}
	get := func(p string) *pkgState {
		if pkgs[p] == nil {
			pkgs[p] = &pkgState{tests: map[string][]string{}, lastSkipM: map[string]string{}}
		}
		return pkgs[p]
	}
	skips := map[string]int{} // skip message → tests
	var order []string
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			fmt.Fprintf(out, "%s\n", line) // not an event: the go command's own words
			continue
		}
		switch {
		case e.Action == "build-output":
			fmt.Fprint(errOut, e.Output)
		case e.Action == "output" && e.Test == "":
			get(e.Package).lines = append(get(e.Package).lines, e.Output)
		case e.Action == "output":
			p := get(e.Package)
			p.tests[e.Test] = append(p.tests[e.Test], e.Output)
			if m := skipMessage.FindStringSubmatch(strings.TrimRight(e.Output, "\n")); m != nil {
				p.lastSkipM[e.Test] = m[1]
			}
		case e.Action == "fail" && e.Test != "":
			get(e.Package).failed = append(get(e.Package).failed, e.Test)
		case e.Action == "skip" && e.Test != "":
			if m := get(e.Package).lastSkipM[e.Test]; strings.HasPrefix(m, missingPrefix) {
				if skips[m] == 0 {
					order = append(order, m)
				}
				skips[m]++
			}
		case e.Test == "" && (e.Action == "pass" || e.Action == "skip" || e.Action == "fail"):
			p := get(e.Package)
			if e.Action == "fail" {
				for _, t := range p.failed {
					for _, l := range p.tests[t] {
						if !strings.HasPrefix(l, "=== ") {
							fmt.Fprint(out, l)
						}
					}
				}
			}
			for _, l := range p.lines {
				if e.Action == "fail" || strings.HasPrefix(l, "ok ") || strings.HasPrefix(l, "? ") {
					fmt.Fprint(out, l)
				}
			}
			delete(pkgs, e.Package)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if len(order) > 0 {
		parts := make([]string, 0, len(order))
		total := 0
		for _, m := range order {
			parts = append(parts, fmt.Sprintf("%d × %s", skips[m], m))
			total += skips[m]
		}
		fmt.Fprintf(errOut, "note: %d test(s) skipped for want of something on this machine: %s\n", total, strings.Join(parts, "; "))
	}
	return nil
}
