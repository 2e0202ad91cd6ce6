package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
	"github.com/lockboxhq/lockbox/auditlog"
	"github.com/lockboxhq/lockbox/internal/lockboxtest"
	"github.com/lockboxhq/lockbox/server"
	"github.com/lockboxhq/lockbox/sqlite"
)

// TestAuditCSVExportFailureExits1: when the server's store fails in the
// middle of an export, the server breaks the response off and
// `lockbox audit search -o csv` says so, exits 1 and leaves no --output
// file behind, instead of keeping a truncated file as if complete.
func TestAuditCSVExportFailureExits1(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "lockbox.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc := approval.New(st, lockbox.SystemClock{}, approval.Options{PasswordMemoryKiB: 64, PasswordTime: 1})
	if err := svc.SeedDev(ctx); err != nil {
		t.Fatal(err)
	}
	lockboxtest.AppendAudit(t, st, lockboxtest.AuditRecords("contoso", 1500)...)
	signer, vkey := lockboxtest.LogSigner(t)
	flaky := &lockboxtest.FlakyStore{Store: st}
	ts := httptest.NewServer((&server.Server{Requests: svc, Accounts: svc, Tenants: svc, Catalog: svc,
		Audit: auditlog.New(flaky, signer, vkey, "lockbox.test"), Logger: slog.New(slog.DiscardHandler)}).Handler())
	t.Cleanup(ts.Close)
	sess, err := svc.Login(ctx, "auditor@contoso.test", approval.DevPassword)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"LOCKBOX_SERVER": ts.URL, "LOCKBOX_TOKEN": sess.Token, "LOCKBOX_CONFIG_DIR": t.TempDir()}
	cli := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(ctx, args, strings.NewReader(""), &out, &errb, func(k string) string { return env[k] })
		return code, out.String(), errb.String()
	}

	file := filepath.Join(t.TempDir(), "audit.csv")
	if code, _, errOut := cli("audit", "search", "--tenant", "contoso", "-o", "csv", "--file", file); code != 0 {
		t.Fatalf("export with the store up: exit %d: %s", code, errOut)
	}
	if b, err := os.ReadFile(file); err != nil || bytes.Count(b, []byte("\n")) < 1501 {
		t.Fatalf("export with the store up: %d lines, %v", bytes.Count(b, []byte("\n")), err)
	}

	for _, output := range []string{"stdout", "file"} {
		t.Run(output, func(t *testing.T) {
			flaky.FailViewsAfter(1)
			args := []string{"audit", "search", "--tenant", "contoso", "-o", "csv"}
			if output == "file" {
				args = append(args, "--file", file)
			}
			code, out, errOut := cli(args...)
			if code != 1 || !strings.Contains(errOut, "cut short") {
				t.Errorf("exit %d, stderr %q; want 1 and the export cut short", code, errOut)
			}
			if output == "stdout" && out == "" {
				t.Error("nothing was sent before the failure: the test does not exercise a broken-off stream")
			}
			if _, err := os.Stat(file); output == "file" && !os.IsNotExist(err) {
				t.Errorf("the --file of a failed export is still there (%v)", err)
			}
		})
	}
}
