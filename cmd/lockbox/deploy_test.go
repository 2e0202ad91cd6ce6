package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
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

// TestAlertRules: promtool accepts the rules, and every lockbox_ metric
// they use is one the server exports.
func TestAlertRules(t *testing.T) {
	t.Parallel()
	rules := readDeploy(t, "lockbox-alerts.yml")
	exported := []string{"lockbox_outbox_messages", "lockbox_outbox_oldest_pending_age_seconds", "lockbox_outbox_scrape_error",
		"lockbox_outbox_attempts_total", "lockbox_outbox_failures_total", "lockbox_outbox_delivered_total", "lockbox_outbox_dead_total"}
	for _, m := range regexp.MustCompile(`lockbox_[a-z_]+`).FindAllString(rules, -1) {
		if !slices.Contains(exported, m) {
			t.Errorf("alert rules use %s, which /metrics does not export", m)
		}
	}
	promtool := deployTool(t, "promtool", "prometheus")
	out, err := exec.Command(promtool, "check", "rules", filepath.Join("..", "..", "deploy", "lockbox-alerts.yml")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "SUCCESS") {
		t.Errorf("promtool check rules: %v\n%s", err, out)
	}
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
