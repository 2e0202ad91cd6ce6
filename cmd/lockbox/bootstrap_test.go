package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestFirstStartPrintsBootstrapPassword: a production start on an empty
// database prints a one-time password for admin@localhost, only once it
// listens (a start that cannot listen prints none and creates nobody); the
// password signs in only to choose a new one (SPEC §10.1); the dev clock
// endpoint does not exist, and a restart prints no new password.
func TestFirstStartPrintsBootstrapPassword(t *testing.T) {
	// Graceful shutdown leaves nothing running: the HTTP server, every
	// worker and both database pools end with Close.
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	defer http.DefaultClient.CloseIdleConnections()
	db := filepath.Join(t.TempDir(), "lockbox.db")
	stderr := &syncBuffer{} // the log's flush timer writes from its own goroutine
	start := func() *runningServer {
		rs, err := startServer(context.Background(), serverConfig{Listen: "127.0.0.1:0", Database: db,
			WorkerPoll: time.Second, PasswordMemoryKiB: 64}, stderr)
		if err != nil {
			t.Fatal(err)
		}
		return rs
	}
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := startServer(context.Background(), serverConfig{Listen: taken.Addr().String(), Database: db,
		WorkerPoll: time.Second, PasswordMemoryKiB: 64}, stderr); err == nil {
		t.Fatal("started on an address in use")
	}
	taken.Close()
	if strings.Contains(stderr.String(), "one-time password") {
		t.Fatalf("a start that could not listen printed a bootstrap password:\n%s", stderr.String())
	}
	rs := start()
	m := regexp.MustCompile(`one-time password\s+(\S+)`).FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("no bootstrap password printed:\n%s", stderr.String())
	}
	// The bootstrap password's token can do nothing but change it.
	resp, err := http.Post(rs.URL()+"/v1/auth/token", "application/json",
		strings.NewReader(`{"email":"admin@localhost","password":"`+m[1]+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	var sess struct{ Token string }
	json.NewDecoder(resp.Body).Decode(&sess)
	resp.Body.Close()
	req, _ := http.NewRequest("GET", rs.URL()+"/v1/staff", nil)
	req.Header.Set("Authorization", "Bearer "+sess.Token)
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("GET /v1/staff with the bootstrap password's token: %d, want 403 password_change_required", resp.StatusCode)
	}
	admin := &e2e{t: t, url: rs.URL(), config: t.TempDir()}
	code, _, errOut := admin.runCLIWithPassword(m[1], "login", "--server", rs.URL(), "--email", "admin@localhost")
	if code == 0 || !strings.Contains(errOut, "LOCKBOX_NEW_PASSWORD") {
		t.Fatalf("login with the bootstrap password and no new one: exit %d, %s", code, errOut)
	}
	admin.newPassword = "the admin's own passphrase"
	code, _, errOut = admin.runCLIWithPassword(m[1], "login", "--server", rs.URL(), "--email", "admin@localhost")
	if code != 0 {
		t.Fatalf("login with the bootstrap password: %s", errOut)
	}
	admin.mustRun("staff", "add", "--email", "operator@example.test", "--role", "operator")

	resp, err = http.Post(rs.URL()+"/v1/dev/clock", "application/json", strings.NewReader(`{"advance":"12h"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("dev clock without --dev: %d, want 404", resp.StatusCode)
	}
	if err := rs.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	stderr.Reset()
	rs = start()
	defer rs.Close(context.Background())
	if strings.Contains(stderr.String(), "one-time password") {
		t.Fatalf("a restart printed a new bootstrap password:\n%s", stderr.String())
	}
}

// runCLIWithPassword runs the CLI with LOCKBOX_PASSWORD set to password.
func (e *e2e) runCLIWithPassword(password string, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	env := map[string]string{"LOCKBOX_CONFIG_DIR": e.config, "LOCKBOX_PASSWORD": password, "LOCKBOX_NEW_PASSWORD": e.newPassword}
	code := run(context.Background(), args, strings.NewReader(""), &out, &errb, func(k string) string { return env[k] })
	return code, out.String(), errb.String()
}
