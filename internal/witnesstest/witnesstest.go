// Package witnesstest runs the real litewitness (filippo.io/torchwood
// v0.6.1, c2sp.org/tlog-witness) for tests: built once per test binary,
// its Ed25519 key in a dedicated ssh-agent, listening on 127.0.0.1.
//
// Tests skip with one line when it cannot be built or started;
// LOCKBOX_REQUIRE_WITNESS=1 (CI) makes that a failure. CI installs the
// binaries ahead and points LOCKBOX_LITEWITNESS_BIN at their directory.
package witnesstest

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// Version is the torchwood release the tests run.
const Version = "v0.6.1"

// Witness is one running litewitness.
type Witness struct {
	Name string // its key name, in its cosignature lines
	URL  string // http://127.0.0.1:port
	VKey string // its cosignature verifier key
	db   string
	bin  string
}

// Flag is the witness as `lockbox serve --witness` takes it.
func (w *Witness) Flag() string { return w.Name + " " + w.URL + " " + w.VKey }

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("LOCKBOX_REQUIRE_WITNESS") == "1" {
		t.Fatalf("litewitness required (LOCKBOX_REQUIRE_WITNESS=1): %s", msg)
	}
	t.Skipf("no litewitness (set LOCKBOX_REQUIRE_WITNESS=1 to require it): %s", msg)
}

// binaries finds litewitness and witnessctl: in $LOCKBOX_LITEWITNESS_BIN,
// else built with `go install …@v0.6.1` into the user cache (minutes the
// first time, from the module proxy; then reused).
func binaries() (string, error) {
	buildOnce.Do(func() {
		if d := os.Getenv("LOCKBOX_LITEWITNESS_BIN"); d != "" {
			binDir = d
		} else {
			cache, err := os.UserCacheDir()
			if err != nil {
				buildErr = err
				return
			}
			binDir = filepath.Join(cache, "lockbox-litewitness-"+Version)
		}
		if _, err := os.Stat(filepath.Join(binDir, "witnessctl")); err == nil {
			if _, err := os.Stat(filepath.Join(binDir, "litewitness")); err == nil {
				return
			}
		}
		if os.Getenv("LOCKBOX_LITEWITNESS_BIN") != "" {
			buildErr = fmt.Errorf("no litewitness and witnessctl in $LOCKBOX_LITEWITNESS_BIN=%s", binDir)
			return
		}
		cmd := exec.Command("go", "install", "filippo.io/torchwood/cmd/litewitness@"+Version, "filippo.io/torchwood/cmd/witnessctl@"+Version)
		cmd.Dir = os.TempDir() // outside our module: its own go.mod decides
		cmd.Env = append(os.Environ(), "GOBIN="+binDir, "GOFLAGS=")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go install torchwood %s: %v: %s", Version, err, lastLine(out))
		}
	})
	return binDir, buildErr
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

// Start runs a litewitness named name; it is stopped when t ends.
func Start(t testing.TB, name string) *Witness {
	t.Helper()
	bin, err := binaries()
	if err != nil {
		unavailable(t, "%v", err)
	}
	for _, tool := range []string{"ssh-agent", "ssh-add", "ssh-keygen"} {
		if _, err := exec.LookPath(tool); err != nil {
			unavailable(t, "%s not found (Debian: apt-get install openssh-client)", tool)
		}
	}
	// A short directory: unix socket paths are limited to ~108 bytes.
	dir, err := os.MkdirTemp("", "lw")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	key, sock := filepath.Join(dir, "key"), filepath.Join(dir, "agent.sock")
	run(t, nil, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "litewitness", "-f", key)
	agent := exec.Command("ssh-agent", "-D", "-a", sock)
	if err := agent.Start(); err != nil {
		unavailable(t, "ssh-agent: %v", err)
	}
	t.Cleanup(func() { agent.Process.Kill(); agent.Wait() })
	waitFor(t, func() bool { _, err := os.Stat(sock); return err == nil }, "ssh-agent socket")
	run(t, []string{"SSH_AUTH_SOCK=" + sock}, "ssh-add", "-q", key)
	fp := strings.Fields(run(t, nil, "ssh-keygen", "-l", "-E", "sha256", "-f", key+".pub"))
	if len(fp) < 2 {
		t.Fatalf("ssh-keygen -l: %q", fp)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	w := &Witness{Name: name, URL: "http://" + addr, db: filepath.Join(dir, "w.db"), bin: bin}
	cmd := exec.Command(filepath.Join(bin, "litewitness"), "-name", name, "-db", w.db, "-ssh-agent", sock,
		"-key", fp[1], "-listen", addr)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		unavailable(t, "start litewitness: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	vkeyRE := regexp.MustCompile(`vkey=(\S+)`)
	found := make(chan string, 1)
	var logBuf syncBuffer
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logBuf.WriteLine(sc.Text())
			if m := vkeyRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- strings.Trim(m[1], `"`):
				default:
				}
			}
		}
	}()
	select {
	case w.VKey = <-found:
	case <-time.After(30 * time.Second):
		t.Fatalf("litewitness printed no verifier key:\n%s", logBuf.String())
	}
	waitFor(t, func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, "litewitness listening")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("litewitness log:\n%s", logBuf.String())
		}
	})
	return w
}

// AddLog makes the witness know the log origin, signed by vkey
// (witnessctl add-log, add-key).
func (w *Witness) AddLog(t testing.TB, origin, vkey string) {
	t.Helper()
	ctl := filepath.Join(w.bin, "witnessctl")
	run(t, nil, ctl, "add-log", "-db", w.db, "-origin", origin)
	run(t, nil, ctl, "add-key", "-db", w.db, "-origin", origin, "-key", vkey)
}

// ListLogs is witnessctl list-logs: one JSON line per known log.
func (w *Witness) ListLogs(t testing.TB) string {
	t.Helper()
	return run(t, nil, filepath.Join(w.bin, "witnessctl"), "list-logs", "-db", w.db)
}

func run(t testing.TB, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// waitFor polls a readiness condition of a peer process we do not control
// (not a timing assertion: it fails only after 30 s).
func waitFor(t testing.TB, ok func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !ok(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) WriteLine(l string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.WriteString(l + "\n")
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
