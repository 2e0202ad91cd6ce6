package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox/guard"
)

// TestE2EGrantToken drives SPEC §6's operator path through the CLI: an
// approved request, `lockbox requests token`, and the token verified by a
// data-plane guard against the server's JWKS.
func TestE2EGrantToken(t *testing.T) {
	t.Parallel()
	e := startE2E(t)
	op, mgr, appr := e.as("operator@provider.test"), e.as("manager@provider.test"), e.as("approver@contoso.test")
	r := op.request("requests", "create", "--tenant", "contoso", "--service", "exchange", "--service-request", "SR-9",
		"--reason", "Mailbox fails to load", "--duration", "1h", "--operation", "Get-MailboxStatistics")
	mgr.mustRun("requests", "review", r.Reference, "--approve")
	appr.mustRun("requests", "approve", r.Reference)

	token := strings.TrimSpace(op.mustRun("requests", "token", r.Reference))
	if strings.Count(token, ".") != 2 || strings.Contains(token, " ") {
		t.Fatalf("token output %q is not a bare JWT", token)
	}
	g, err := guard.New(guard.Config{Server: e.url, ServiceToken: "dev-service-token", Service: "exchange"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := g.Verify(context.Background(), token)
	if err != nil || c.RequestID != r.ID {
		t.Fatalf("guard.Verify: %+v, %v", c, err)
	}
	var out struct {
		Token, RequestID, KID string
		ExpiresAt             time.Time `json:"expires_at"`
	}
	if err := json.Unmarshal([]byte(op.mustRun("requests", "token", r.ID, "-o", "json")), &out); err != nil || out.KID == "" {
		t.Fatalf("-o json: %+v, %v", out, err)
	}
	appr.wantFail(1, "Only the operator who filed", "requests", "token", r.Reference)
	appr.mustRun("requests", "revoke", r.Reference)
	op.wantFail(1, "revoked", "requests", "token", r.Reference)
}

// TestServeKeyDirectories checks SPEC §9: keys are created on first start,
// a server given other keys for the same database refuses to start, and a
// rotation keeps the old key published.
func TestServeKeyDirectories(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db, keysA, keysB := filepath.Join(dir, "lockbox.db"), filepath.Join(dir, "a"), filepath.Join(dir, "b")
	cfg := serverConfig{Listen: "127.0.0.1:0", Database: db, KeyDir: keysA, WorkerPoll: time.Second, PasswordMemoryKiB: 64,
		Notify: notifyConfig{MailFrom: "Lockbox <lockbox@localhost>"}}
	start := func(c serverConfig) (*runningServer, error) {
		rs, err := startServer(context.Background(), c, io.Discard)
		if err == nil {
			t.Cleanup(func() { rs.Close(context.Background()) })
		}
		return rs, err
	}
	rs, err := start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rs.Close(context.Background())

	cli := &e2e{t: t, config: t.TempDir()}
	cli.mustRun("keys", "generate", "--key-dir", keysB)
	other := cfg
	other.KeyDir = keysB
	if _, err := start(other); err == nil || !strings.Contains(err.Error(), "same key directory") {
		t.Fatalf("a server with another key directory started: %v", err)
	}
	empty := cfg
	empty.KeyDir = filepath.Join(dir, "empty")
	if _, err := start(empty); err == nil || !strings.Contains(err.Error(), "copy the key directory") {
		t.Fatalf("a server with an empty key directory started: %v", err)
	}

	out := cli.mustRun("keys", "rotate", "--key-dir", keysA, "--kind", "grant")
	if strings.Count(out, "grant key") != 2 || !strings.Contains(out, "(active)") {
		t.Fatalf("rotate output:\n%s", out)
	}
	cli.wantFail(2, "--kind must be grant or log", "keys", "rotate", "--key-dir", keysA, "--kind", "other")
	rs, err = start(cfg)
	if err != nil {
		t.Fatalf("restart after rotation: %v", err)
	}
	resp, err := http.Get(rs.URL() + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set struct{ Keys []struct{ Kid string } }
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil || len(set.Keys) != 2 {
		t.Fatalf("JWKS after rotation: %+v, %v; want the old and the new key", set, err)
	}
}
