package main

import (
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/sqlite"
)

var oneTimePasswordRE = regexp.MustCompile(`new one\):\s+(\S+)`)

// TestStaffUsersTokensThroughTheCLI drives the rest of SPEC §10.1's
// lifecycle commands against a real server: tokens revoke, staff
// set-roles/enable/remove, users reset-password, service-accounts rotate
// --grace and revoke; then, with the server stopped, admin reset-password
// gives a one-time password that really signs in (only to be changed) and
// is audited.
func TestStaffUsersTokensThroughTheCLI(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "lockbox.db")
	start := func() *runningServer {
		rs, err := startServer(context.Background(), serverConfig{Listen: "127.0.0.1:0", Dev: true, WorkerPoll: 50 * time.Millisecond,
			Database: db, PasswordMemoryKiB: 64}, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { rs.Close(context.Background()) })
		return rs
	}
	rs := start()
	srv := &e2e{t: t, url: rs.URL()}
	admin := srv.as("admin@provider.test")
	whoamiWith := func(token string) int {
		code, _, _ := (&e2e{t: t, url: srv.url, config: t.TempDir()}).runCLI("whoami", "--server", srv.url, "--token", token)
		return code
	}

	// tokens revoke: one's other session ends; this one stays.
	op, other := srv.as("operator@provider.test"), srv.as("operator@provider.test")
	var tokens []lockbox.TokenInfo
	if err := json.Unmarshal([]byte(op.mustRun("tokens", "list", "-o", "json")), &tokens); err != nil {
		t.Fatal(err)
	}
	var otherID string
	for _, k := range tokens {
		if !k.Current {
			otherID = k.ID
		}
	}
	if otherID == "" {
		t.Fatalf("no other token in %+v", tokens)
	}
	op.wantFail(1, "no session or token", "tokens", "revoke", "api_nonexistent")
	if out := op.mustRun("tokens", "revoke", otherID); !strings.Contains(out, "Ended.") {
		t.Errorf("tokens revoke printed %q", out)
	}
	other.wantFail(1, "sign in again", "whoami")
	op.mustRun("whoami")

	// staff set-roles: taking a role away ends the member's sessions.
	if out := admin.mustRun("staff", "set-roles", "operator@provider.test", "--role", "support_manager"); !strings.Contains(out, "operator@provider.test is now") {
		t.Errorf("staff set-roles printed %q", out)
	}
	op.wantFail(1, "sign in again", "whoami")
	if out := srv.as("operator@provider.test").mustRun("whoami"); !strings.Contains(out, "support_manager") {
		t.Errorf("after set-roles, whoami: %q", out)
	}
	admin.mustRun("staff", "set-roles", "operator@provider.test", "--role", "operator")

	// staff disable, then enable: sign-in is refused, then works again.
	admin.mustRun("staff", "disable", "operator@provider.test")
	locked := &e2e{t: t, url: srv.url, config: t.TempDir()}
	locked.wantFail(1, "", "login", "--server", srv.url, "--email", "operator@provider.test")
	admin.mustRun("staff", "enable", "operator@provider.test")
	srv.as("operator@provider.test").mustRun("whoami")

	// staff remove: the member's session ends and they are gone.
	op2 := srv.as("operator2@provider.test")
	if out := admin.mustRun("staff", "remove", "operator2@provider.test"); !strings.Contains(out, "Removed operator2@provider.test.") {
		t.Errorf("staff remove printed %q", out)
	}
	op2.wantFail(1, "sign in again", "whoami")
	if out := admin.mustRun("staff", "list"); strings.Contains(out, "operator2@provider.test") {
		t.Errorf("a removed member is still listed:\n%s", out)
	}
	admin.wantFail(1, "", "staff", "remove", "operator2@provider.test")

	// users reset-password: the tenant's admin only; the one-time password
	// signs in to be changed, and the user's old session has ended.
	auditor := srv.as("auditor@contoso.test")
	srv.as("approver@contoso.test").wantFail(1, "", "users", "reset-password", "--tenant", "contoso", "auditor@contoso.test")
	auditor.mustRun("whoami") // the refused reset changed nothing
	out := srv.as("admin@contoso.test").mustRun("users", "reset-password", "--tenant", "contoso", "auditor@contoso.test")
	otp := oneTimePasswordRE.FindStringSubmatch(out)
	if otp == nil {
		t.Fatalf("no one-time password in %q", out)
	}
	auditor.wantFail(1, "sign in again", "whoami")
	fresh := &e2e{t: t, url: srv.url, config: t.TempDir(), newPassword: "the auditor's new passphrase"}
	if code, _, errOut := fresh.runCLIWithPassword(otp[1], "login", "--server", srv.url, "--email", "auditor@contoso.test"); code != 0 {
		t.Fatalf("login with the one-time password: %s", errOut)
	}
	fresh.mustRun("whoami")

	// service-accounts rotate --grace: old and new both work; revoke: none.
	admin.wantFail(1, "grace", "service-accounts", "rotate", "dev-service", "--grace", "48h")
	out = admin.mustRun("service-accounts", "rotate", "dev-service", "--grace", "10m")
	m := regexp.MustCompile(`New token for dev-service \(shown only once\): (\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("rotate printed %q", out)
	}
	if whoamiWith("dev-service-token") != 0 || whoamiWith(m[1]) != 0 {
		t.Fatalf("within the grace period: old token exit %d, new token exit %d; want both 0", whoamiWith("dev-service-token"), whoamiWith(m[1]))
	}
	if out := admin.mustRun("service-accounts", "revoke", "dev-service"); !strings.Contains(out, "Revoked service account dev-service.") {
		t.Errorf("revoke printed %q", out)
	}
	if whoamiWith("dev-service-token") == 0 || whoamiWith(m[1]) == 0 {
		t.Error("a revoked service account's token still works")
	}
	if out := admin.mustRun("service-accounts", "list"); strings.Contains(out, "dev-service") {
		t.Errorf("a revoked service account is still listed:\n%s", out)
	}

	// Offline recovery, server stopped: the printed one-time password signs
	// in only to be changed, and the reset is in the provider's log.
	if err := rs.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	offline := &e2e{t: t, config: t.TempDir()}
	out = offline.mustRun("admin", "reset-password", "--database", db, "admin@provider.test")
	otp = regexp.MustCompile(`(?s)new one\):\s+(\S+)`).FindStringSubmatch(out)
	if otp == nil {
		t.Fatalf("no one-time password in %q", out)
	}
	st, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	var resets []*lockbox.AuditRecord
	err = st.View(context.Background(), func(tx lockbox.Tx) error {
		n, err := tx.AuditSize(context.Background(), lockbox.ProviderLog)
		if err != nil {
			return err
		}
		recs, err := tx.AuditRecords(context.Background(), lockbox.ProviderLog, 0, n)
		for _, r := range recs {
			if r.Operation == lockbox.OpPasswordReset && r.AuditData["target_user"] == "admin@provider.test" {
				resets = append(resets, r)
			}
		}
		return err
	})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(resets) != 1 || resets[0].UserID != "system" {
		t.Fatalf("account.password_reset records of the offline reset: %+v; want one, by system", resets)
	}

	rs = start()
	srv.url = rs.URL()
	// Without a new password to choose, the one-time password gets nothing.
	noNew := &e2e{t: t, url: srv.url, config: t.TempDir()}
	if code, _, _ := noNew.runCLIWithPassword(otp[1], "login", "--server", srv.url, "--email", "admin@provider.test"); code == 0 {
		if code, _, _ := noNew.runCLI("staff", "list"); code == 0 {
			t.Fatal("a one-time password's session listed staff without changing the password")
		}
	}
	recovered := &e2e{t: t, url: srv.url, config: t.TempDir(), newPassword: "the admin's recovered passphrase"}
	if code, _, errOut := recovered.runCLIWithPassword(otp[1], "login", "--server", srv.url, "--email", "admin@provider.test"); code != 0 {
		t.Fatalf("login with the offline one-time password: %s", errOut)
	}
	recovered.mustRun("staff", "list")
	// Changed, it is spent.
	spent := &e2e{t: t, url: srv.url, config: t.TempDir(), newPassword: "yet another passphrase"}
	if code, _, _ := spent.runCLIWithPassword(otp[1], "login", "--server", srv.url, "--email", "admin@provider.test"); code == 0 {
		t.Error("the one-time password signed in again after it was changed")
	}
}
