package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
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

// TestE2EDevClockWalkthrough follows the README's "Watch a deadline pass"
// on a dev server, in order, and then the enforcement walk-through after
// it: the dev banner's clock command works with --server alone, a request
// filed and reviewed before the move expires, and a wall-clock data-plane
// service (package guard, as examples/mailbox) still accepts a grant for a
// request filed after the move.
func TestE2EDevClockWalkthrough(t *testing.T) {
	t.Parallel()
	e := startE2E(t)
	op, mgr, appr := e.as("operator@provider.test"), e.as("manager@provider.test"), e.as("approver@contoso.test")
	waiting := op.request("requests", "create", "--tenant", "contoso", "--service", "exchange", "--service-request", "SR-2026-004212",
		"--reason", "Watch a deadline pass", "--duration", "1h")
	mgr.mustRun("requests", "review", waiting.Reference, "--approve")

	// The banner's command, as a new reader types it: no saved login.
	var banner strings.Builder
	printDevBanner(&banner, e.url, "lockbox.db")
	_, clockLine, ok := strings.Cut(banner.String(), "Dev clock:")
	clockArgs := strings.Fields(strings.Split(clockLine, "(")[0])
	if !ok || len(clockArgs) < 2 || clockArgs[0] != "lockbox" {
		t.Fatalf("banner has no dev clock command:\n%s", banner.String())
	}
	fresh := &e2e{t: t, url: e.url, config: t.TempDir()}
	if out := fresh.mustRun(clockArgs[1:]...); !strings.Contains(out, "moved forward 12h1m0s") {
		t.Fatalf("%v: %q", clockArgs, out)
	}

	if got := appr.request("requests", "show", waiting.Reference); got.Status != lockbox.StatusExpired {
		t.Fatalf("after 12h1m the waiting request is %s, want expired", got.Status)
	}
	appr.wantFail(1, "expired", "requests", "approve", waiting.Reference)

	r := op.request("requests", "create", "--tenant", "contoso", "--service", "exchange", "--service-request", "SR-1",
		"--reason", "Mailbox fails", "--duration", "1h", "--operation", "Get-MailboxStatistics")
	mgr.mustRun("requests", "review", r.Reference, "--approve")
	appr.mustRun("requests", "approve", r.Reference)
	code, token, stderr := op.runCLI("requests", "token", r.Reference)
	if code != 0 || !strings.Contains(stderr, r.Reference) {
		t.Fatalf("requests token: exit %d, stderr %q (want the reference %s)", code, stderr, r.Reference)
	}
	g, err := guard.New(guard.Config{Server: e.url, ServiceToken: approval.DevServiceToken, Service: "exchange"})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /mailboxes/{mailbox}/statistics", g.Protect(guard.Operation("Get-MailboxStatistics", "mailbox"),
		http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, `{"folders":42}`) })))
	mailbox := httptest.NewServer(mux)
	t.Cleanup(mailbox.Close)
	req, _ := http.NewRequest(http.MethodGet, mailbox.URL+"/mailboxes/alice/statistics", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(token))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("a wall-clock service refused a grant issued after the clock moved: %d %s", resp.StatusCode, body)
	}
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
