package main

import (
	"context"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestAccountLifecycleThroughTheCLI (SPEC §10.1) on a real server:
// logout ends the token on the server, not only the saved file; passwd
// ends the other sessions; a provider admin disables and resets staff and
// rotates a service account; `lockbox admin reset-password` works on the
// database with no server running.
func TestAccountLifecycleThroughTheCLI(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "lockbox.db")
	rs, err := startServer(context.Background(), serverConfig{Listen: "127.0.0.1:0", Dev: true, WorkerPoll: 50 * time.Millisecond,
		Database: db, PasswordMemoryKiB: 64}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	srv := &e2e{t: t, url: rs.URL()}
	admin := srv.as("admin@provider.test")

	// Logout ends the token server-side: a copy of it stops working.
	op := srv.as("operator@provider.test")
	creds, err := loadCredentials(op.config)
	if err != nil || creds == nil {
		t.Fatal(creds, err)
	}
	op.mustRun("logout")
	stolen := &e2e{t: t, url: srv.url, config: t.TempDir()}
	stolen.wantFail(1, "sign in again", "whoami", "--server", srv.url, "--token", creds.Token)

	// passwd: a weak password is refused; a good one ends the other
	// session and keeps this one.
	op, other := srv.as("operator@provider.test"), srv.as("operator@provider.test")
	op.newPassword = "1qaz2wsx3edc"
	op.wantFail(1, "most common", "passwd")
	op.newPassword = "the operator's own passphrase"
	op.mustRun("passwd")
	op.mustRun("whoami")
	other.wantFail(1, "sign in again", "whoami")
	if out := op.mustRun("tokens", "list"); !strings.Contains(out, "yes") {
		t.Errorf("tokens list does not mark the current token:\n%s", out)
	}

	// The admin resets the operator: a one-time password, changed at login.
	out := admin.mustRun("staff", "reset-password", "operator@provider.test")
	otp := regexp.MustCompile(`new one\): (\S+)`).FindStringSubmatch(out)
	if otp == nil {
		t.Fatalf("no one-time password in %q", out)
	}
	op.wantFail(1, "sign in again", "whoami") // the reset ended every session
	fresh := &e2e{t: t, url: srv.url, config: t.TempDir(), newPassword: "another good passphrase"}
	if code, _, errOut := fresh.runCLIWithPassword(otp[1], "login", "--server", srv.url, "--email", "operator@provider.test"); code != 0 {
		t.Fatalf("login with the one-time password: %s", errOut)
	}
	fresh.mustRun("whoami")

	// Disable: the operator's session ends at once.
	admin.mustRun("staff", "disable", "operator@provider.test")
	fresh.wantFail(1, "sign in again", "whoami")
	admin.wantFail(1, "your own", "staff", "disable", "admin@provider.test")

	// Service accounts: rotate without grace stops the old token at once.
	if out := admin.mustRun("service-accounts", "list"); !strings.Contains(out, "dev-service") {
		t.Errorf("service-accounts list:\n%s", out)
	}
	admin.mustRun("service-accounts", "rotate", "dev-service")
	stolen.wantFail(1, "sign in again", "whoami", "--server", srv.url, "--token", "dev-service-token")

	if err := rs.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Offline recovery: no server, only the database.
	offline := &e2e{t: t, config: t.TempDir()}
	out = offline.mustRun("admin", "reset-password", "--database", db, "admin@provider.test")
	if !regexp.MustCompile(`one-time password for admin@provider\.test`).MatchString(strings.ToLower(out)) {
		t.Errorf("admin reset-password printed %q", out)
	}
	offline.wantFail(1, "No account", "admin", "reset-password", "--database", db, "nobody@provider.test")
	offline.wantFail(1, "no such file", "admin", "reset-password", "--database", filepath.Join(t.TempDir(), "missing.db"), "admin@provider.test")
}
