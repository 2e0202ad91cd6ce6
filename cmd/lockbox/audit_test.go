package main

import (
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
)

// startAuditE2E is startE2E with a database path the test may tamper with.
func startAuditE2E(t *testing.T) (*e2e, string) {
	t.Helper()
	db := filepath.Join(t.TempDir(), "lockbox.db")
	rs := startAuditServer(t, db)
	return &e2e{t: t, url: rs.URL()}, db
}

// startAuditServer starts a dev server on the SQLite file db, with the
// log origin the audit tests verify against, closed when t ends.
func startAuditServer(t *testing.T, db string) *runningServer {
	t.Helper()
	rs, err := startServer(context.Background(), serverConfig{Listen: "127.0.0.1:0", Dev: true, WorkerPoll: 50 * time.Millisecond,
		Database: db, PasswordMemoryKiB: 64, LogOrigin: "lockbox.test"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := rs.Close(ctx); err != nil {
			t.Errorf("graceful shutdown: %v", err)
		}
	})
	return rs
}

// activity files, reviews and approves a request in contoso.
func activity(srv *e2e, op, mgr, approver *e2e) lockbox.AccessRequest {
	r := op.request("requests", "create", "--tenant", "contoso", "--service", "exchange",
		"--service-request", "SR-1", "--reason", "=cmd|' /C calc'!A0", "--duration", "1h")
	mgr.mustRun("requests", "review", r.ID, "--approve")
	approver.mustRun("requests", "approve", r.Reference, "--comment", "ok")
	return r
}

func TestEndToEndAuditSearchAndVerify(t *testing.T) {
	t.Parallel()
	srv, dbPath := startAuditE2E(t)
	op, mgr := srv.as("operator@provider.test"), srv.as("manager@provider.test")
	approver, auditor := srv.as("approver@contoso.test"), srv.as("auditor@contoso.test")
	r := activity(srv, op, mgr, approver)

	// Search: JSON is an array of canonical records, newest first.
	var recs []lockbox.AuditRecord
	if err := json.Unmarshal([]byte(auditor.mustRun("audit", "search", "--tenant", "contoso", "-o", "json", "--request-id", r.ID)), &recs); err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, rec := range recs {
		ops = append(ops, rec.Operation)
	}
	if want := []string{"request.activated", "request.approved", "request.reviewed", "request.created"}; !slices.Equal(ops, want) && !slices.Equal(ops, []string{"request.approved", "request.activated", "request.reviewed", "request.created"}) {
		t.Errorf("operations of the request, newest first: %v, want %v", ops, want)
	}
	if out := auditor.mustRun("audit", "search", "--tenant", "contoso", "--operation", "request.approved", "--user", "approver@contoso.test"); !strings.Contains(out, "request.approved") || strings.Contains(out, "request.created") || !strings.Contains(out, r.Reference) {
		t.Errorf("table search (with the request's reference):\n%s", out)
	}
	// A reference works wherever an id does (any case); -o/--output is the
	// format; a file name given to it gets a hint.
	for _, ref := range []string{r.Reference, strings.ToLower(r.Reference)} {
		var byRef []lockbox.AuditRecord
		if err := json.Unmarshal([]byte(auditor.mustRun("audit", "search", "--tenant", "contoso", "--output", "json", "--request-id", ref)), &byRef); err != nil || len(byRef) != len(recs) {
			t.Errorf("--request-id %s: %d records, want %d (%v)", ref, len(byRef), len(recs), err)
		}
	}
	auditor.wantFail(2, "name a file with --file", "audit", "search", "--tenant", "contoso", "--output", "audit.csv")
	// A tenant's user need not name their tenant; staff must.
	var own []lockbox.AuditRecord
	if err := json.Unmarshal([]byte(auditor.mustRun("audit", "search", "-o", "json", "--request-id", r.Reference, "--start", "24h")), &own); err != nil || len(own) != len(recs) {
		t.Errorf("search without --tenant, since 24h ago: %d records, want %d (%v)", len(own), len(recs), err)
	}
	op.wantFail(2, "--tenant is required", "audit", "search")
	// CSV to a file: the server's export, formula cells defused.
	file := filepath.Join(t.TempDir(), "audit.csv")
	auditor.mustRun("audit", "search", "--tenant", "contoso", "-o", "csv", "--file", file)
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(rows) < 5 || strings.Join(rows[0], ",") != "RecordId,CreationDate,RecordType,Operation,UserId,AuditData" {
		t.Fatalf("csv export: %v %q", err, rows)
	}
	if info, _ := os.Stat(file); info.Mode().Perm() != 0o600 {
		t.Errorf("--file mode %v, want 0600", info.Mode().Perm())
	}
	auditor.wantFail(2, "unknown operation", "audit", "search", "--tenant", "contoso", "--operation", "request.exploded")
	auditor.wantFail(1, "not found", "audit", "search", "--tenant", "fabrikam")
	auditor.wantFail(1, "not found", "audit", "verify", "--tenant", "fabrikam")

	// Verify: the first run trusts and keeps; a grown log verifies again.
	if out := auditor.mustRun("audit", "verify", "--tenant", "contoso"); !strings.Contains(out, "First verification") || !strings.Contains(out, "Trusted the server's key") {
		t.Fatalf("first verify:\n%s", out)
	}
	activity(srv, op, mgr, approver)
	if out := auditor.mustRun("audit", "verify", "--tenant", "contoso"); !strings.Contains(out, "only grew") {
		t.Fatalf("second verify:\n%s", out)
	}

	// Someone with access to the database rewrites an approval's comment.
	db, err := sql.Open("sqlite", "file:"+dbPath+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	res, err := db.Exec(`UPDATE audit_records SET canonical = CAST(replace(canonical, '"comment":"ok"', '"comment":"OK for 4h"') AS BLOB)
		WHERE log = 'contoso' AND operation = 'request.approved'`)
	if n, _ := res.RowsAffected(); err != nil || n != 2 {
		t.Fatalf("tamper: %v, %d rows", err, n)
	}
	// The signed tree is unchanged, so an incremental run (which reads only
	// new records) has nothing to check; --full reads the old records again.
	if out := auditor.mustRun("audit", "verify", "--tenant", "contoso"); !strings.Contains(out, "checked the 0 new records") {
		t.Fatalf("incremental verify over an unchanged signed tree:\n%s", out)
	}
	for range 2 { // the kept checkpoint stays in force: it fails every time
		code, out, errOut := auditor.runCLI("audit", "verify", "--tenant", "contoso", "--full")
		if code != 1 || !strings.Contains(out, "VERIFICATION FAILED") || !strings.Contains(out, "[root_mismatch]") ||
			!strings.Contains(out, "[changed]") || !strings.Contains(errOut, "did NOT verify") {
			t.Fatalf("verify after tampering: exit %d\n%s\n%s", code, out, errOut)
		}
	}
	code, out, _ := auditor.runCLI("audit", "verify", "--tenant", "contoso", "--full", "-o", "json")
	var report struct {
		Problems []struct{ Kind string } `json:"problems"`
	}
	if err := json.Unmarshal([]byte(out), &report); err != nil || code != 1 || len(report.Problems) == 0 {
		t.Fatalf("json report: exit %d, %v\n%s", code, err, out)
	}
}

// TestEndToEndProviderLog: provider admins read and verify the provider's
// own log as tenant "provider".
func TestEndToEndProviderLog(t *testing.T) {
	t.Parallel()
	srv, _ := startAuditE2E(t)
	admin := srv.as("admin@provider.test")
	if out := admin.mustRun("audit", "search", "--tenant", "provider", "--operation", "tenant.created"); !strings.Contains(out, "tenant.created") {
		t.Fatalf("provider log:\n%s", out)
	}
	if out := admin.mustRun("audit", "verify", "--tenant", "provider"); !strings.Contains(out, "verified") {
		t.Fatalf("verify provider log:\n%s", out)
	}
	srv.as("auditor@contoso.test").wantFail(1, "not found", "audit", "search", "--tenant", "provider")
}
