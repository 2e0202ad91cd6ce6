package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestBuildScriptStamps: scripts/build.sh stamps the commit, its date and
// the build date through -ldflags even where the go command stamps nothing
// (GOFLAGS=-buildvcs=false, as on build machines without git metadata), and
// `lockbox version` prints them under honest labels.
func TestBuildScriptStamps(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds lockbox")
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git to stamp the build from: apt-get install git")
	}
	git := func(args ...string) string {
		out, err := exec.Command("git", args...).Output()
		if err != nil {
			t.Skipf("no git checkout to stamp the build from (git %v: %v)", args, err)
		}
		return strings.TrimSpace(string(out))
	}
	head := git("rev-parse", "--short=12", "HEAD")
	when := git("show", "-s", "--format=%ct", "HEAD")
	bin := filepath.Join(t.TempDir(), "lockbox")
	before := time.Now().UTC().Truncate(time.Second)
	cmd := exec.Command(filepath.Join("..", "..", "scripts", "build.sh"), "-o", bin)
	cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false", "LOCKBOX_VERSION=v9.8.7", "SOURCE_DATE_EPOCH=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/build.sh: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	got := string(out)
	unix, err := strconv.ParseInt(when, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"lockbox v9.8.7 (commit " + head, "commit date " + time.Unix(unix, 0).UTC().Format(time.RFC3339) + ","} {
		if !strings.Contains(got, want) {
			t.Errorf("lockbox version = %q; want %q in it", got, want)
		}
	}
	_, built, ok := strings.Cut(got, ", built ")
	if !ok {
		t.Fatalf("lockbox version = %q: no build date", got)
	}
	b, err := time.Parse(time.RFC3339, strings.SplitN(built, ",", 2)[0])
	if err != nil || b.Before(before) || b.After(time.Now().Add(time.Second)) {
		t.Errorf("build date %q (%v): want the time of this build, %v or later", built, err, before)
	}
}
