package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/torchwood"
)

// deployTool finds a checker of deploy/ files, or skips in one line (fails
// under CI's LOCKBOX_REQUIRE_DEPLOY_TOOLS=1).
func deployTool(t *testing.T, name, pkg string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	msg := "no " + name + " to check deploy/ with: apt-get install " + pkg
	if os.Getenv("LOCKBOX_REQUIRE_DEPLOY_TOOLS") == "1" {
		t.Fatal(msg + " (LOCKBOX_REQUIRE_DEPLOY_TOOLS=1)")
	}
	t.Skip(msg)
	return ""
}

func readDeploy(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSystemdUnit: systemd itself accepts the unit without a warning, and
// every LOCKBOX_ variable it sets is one lockbox serve reads.
func TestSystemdUnit(t *testing.T) {
	t.Parallel()
	unit := readDeploy(t, "lockbox.service")
	known := map[string]bool{}
	for _, e := range append(serveEnv, productionEnv...) {
		known[e.env] = true
	}
	for _, m := range regexp.MustCompile(`Environment=(LOCKBOX_[A-Z_]+)=`).FindAllStringSubmatch(unit, -1) {
		if !known[m[1]] {
			t.Errorf("the unit sets %s, which lockbox serve does not read", m[1])
		}
	}
	for _, want := range []string{"DynamicUser=yes", "ProtectSystem=strict", "StateDirectory=lockbox", "ExecReload=/bin/kill -HUP $MAINPID"} {
		if !strings.Contains(unit, want) {
			t.Errorf("the unit lacks %s", want)
		}
	}
	analyze := deployTool(t, "systemd-analyze", "systemd")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "lockbox.service")
	if err := os.WriteFile(file, []byte(strings.ReplaceAll(unit, "/usr/local/bin/lockbox", exe)), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", file).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestAlertRules: promtool accepts the rules, and every lockbox_ series
// they select is on a freshly started server's /metrics (with a witness,
// so the witness metrics are exported too): a renamed metric, or a
// counter that appears only at its first increment (which increase()
// never sees), fails here.
func TestAlertRules(t *testing.T) {
	t.Parallel()
	rules := readDeploy(t, "lockbox-alerts.yml")
	exported := freshMetrics(t)
	selectors := regexp.MustCompile(`(lockbox_[a-z_]+)(?:\{([^}]*)\})?`).FindAllStringSubmatch(rules, -1)
	if len(selectors) == 0 {
		t.Fatal("the alert rules use no lockbox_ metric")
	}
	for _, m := range selectors {
		matchers := regexp.MustCompile(`[a-z_]+="[^"]*"`).FindAllString(m[2], -1)
		if !slices.ContainsFunc(exported, func(series string) bool {
			name, labels, _ := strings.Cut(series, "{")
			return name == m[1] && !slices.ContainsFunc(matchers, func(l string) bool { return !strings.Contains(labels, l) })
		}) {
			t.Errorf("alert rules select %s, which a fresh server's /metrics does not export", m[0])
		}
	}
	promtool := deployTool(t, "promtool", "prometheus")
	out, err := exec.Command(promtool, "check", "rules", filepath.Join("..", "..", "deploy", "lockbox-alerts.yml")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "SUCCESS") {
		t.Errorf("promtool check rules: %v\n%s", err, out)
	}
}

// freshMetrics starts a server with one (unreachable) witness and returns
// the series of its /metrics, e.g. `lockbox_outbox_dead_total{channel="email"}`.
func freshMetrics(t *testing.T) []string {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, err := torchwood.NewCosignatureSigner("witness.test/alerts", priv)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rs, err := startServer(context.Background(), serverConfig{Listen: "127.0.0.1:0", WorkerPoll: time.Second,
		Database: filepath.Join(dir, "lockbox.db"), KeyDir: filepath.Join(dir, "keys"), PasswordMemoryKiB: 64,
		Witness: witnessConfig{Witnesses: []string{"witness.test/alerts http://127.0.0.1:9 " + signer.Verifier().String()}, Poll: time.Minute}}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rs.Close(context.Background()) })
	var series []string
	for _, l := range strings.Split(httpGet(t, rs.URL()+"/metrics"), "\n") {
		if s, _, ok := strings.Cut(l, " "); ok && strings.HasPrefix(s, "lockbox_") {
			series = append(series, s)
		}
	}
	return series
}

// TestProxyExamplesMatch: the nginx and Caddy examples proxy to the
// address the unit listens on, and the nginx example sets the headers
// --trusted-proxies reads (TestBehindNginx runs the same directives).
func TestProxyExamplesMatch(t *testing.T) {
	t.Parallel()
	unit, nginx, caddy := readDeploy(t, "lockbox.service"), readDeploy(t, "nginx.conf"), readDeploy(t, "Caddyfile")
	listen := regexp.MustCompile(`LOCKBOX_LISTEN=(\S+)`).FindStringSubmatch(unit)
	if listen == nil {
		t.Fatal("the unit sets no LOCKBOX_LISTEN")
	}
	for name, conf := range map[string]string{"nginx.conf": nginx, "Caddyfile": caddy} {
		if !strings.Contains(conf, listen[1]) || !strings.Contains(conf, "--trusted-proxies 127.0.0.1/32") {
			t.Errorf("%s does not proxy to %s or name its --trusted-proxies", name, listen[1])
		}
	}
	for _, d := range []string{"X-Forwarded-For $proxy_add_x_forwarded_for", "X-Forwarded-Proto $scheme", `Forwarded ""`} {
		if !strings.Contains(nginx, d) {
			t.Errorf("nginx.conf lacks proxy_set_header %s", d)
		}
	}
}
