package main

import (
	"context"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/client"
)

// TestRequireMFAFreshServer: a new server started with --require-mfa.
// The bootstrap admin, who cannot have a passkey yet, signs in with the
// printed password, chooses a new one, registers a passkey with the same
// session (which can do nothing else until then), and from then on signs
// in with password and passkey.
func TestRequireMFAFreshServer(t *testing.T) {
	t.Parallel()
	stderr := &syncBuffer{}
	cfg := serverConfig{Listen: "127.0.0.1:0", Database: filepath.Join(t.TempDir(), "lockbox.db"),
		WorkerPoll: time.Second, PasswordMemoryKiB: 64}
	cfg.SSO.RequireMFA = true
	rs, err := startServer(context.Background(), cfg, stderr)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close(context.Background())
	m := regexp.MustCompile(`one-time password\s+(\S+)`).FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("no bootstrap password printed:\n%s", stderr.String())
	}
	ctx := context.Background()
	sess, err := client.New(rs.URL(), "").Login(ctx, "admin@localhost", m[1])
	if err != nil {
		t.Fatalf("bootstrap password on a --require-mfa server: %v", err)
	}
	if !sess.PasswordChangeRequired || !sess.PasskeySetupRequired {
		t.Fatalf("session %+v: want a password change and a passkey to register", sess)
	}
	c := client.New(rs.URL(), sess.Token)
	if err := c.ChangePassword(ctx, lockbox.PasswordChange{Current: m[1], New: "the admin's own passphrase"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListStaff(ctx); lockbox.ErrorCode(err) != lockbox.EMFAREQUIRED {
		t.Fatalf("list staff before a passkey: %v, want mfa_required", err)
	}
	registerPasskey(t, c, rs.URL(), "laptop")
	if _, err := c.ListStaff(ctx); err != nil {
		t.Fatalf("list staff with a passkey registered: %v", err)
	}
	if _, err := client.New(rs.URL(), "").Login(ctx, "admin@localhost", "the admin's own passphrase"); lockbox.ErrorCode(err) != lockbox.EPASSKEYREQUIRED {
		t.Fatalf("password after registering: %v, want passkey_required", err)
	}
}
