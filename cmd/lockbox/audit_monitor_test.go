package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lockboxhq/lockbox/sqlite/sqlitetest"
)

// monitorLines runs `audit monitor --once -o json` and decodes its lines.
func monitorLines(t *testing.T, auditor *e2e, state string, wantCode int) []map[string]any {
	t.Helper()
	code, out, errOut := auditor.runCLI("audit", "monitor", "--tenant", "contoso", "--once", "-o", "json", "--state-dir", state)
	if code != wantCode {
		t.Fatalf("monitor: exit %d, want %d\n%s\n%s", code, wantCode, out, errOut)
	}
	var lines []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		var v map[string]any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("not a JSON line: %q", line)
		}
		lines = append(lines, v)
	}
	return lines
}

func ofType(lines []map[string]any, typ string) []map[string]any {
	var out []map[string]any
	for _, l := range lines {
		if l["type"] == typ {
			out = append(out, l)
		}
	}
	return out
}

// TestEndToEndAuditMonitor: the monitor verifies and prints the records
// that matter as JSON lines, then only what was added, and exits 1 on a
// log rolled back behind the checkpoint it kept.
func TestEndToEndAuditMonitor(t *testing.T) {
	t.Parallel()
	srv, dbPath := startAuditE2E(t)
	op, mgr := srv.as("operator@provider.test"), srv.as("manager@provider.test")
	approver, auditor := srv.as("approver@contoso.test"), srv.as("auditor@contoso.test")
	state := filepath.Join(t.TempDir(), "state")
	activity(srv, op, mgr, approver)

	first := monitorLines(t, auditor, state, 0)
	cps := ofType(first, "checkpoint")
	for _, r := range ofType(first, "record") { // the seed's role assignments; the request's steps are not shown
		if r["record"].(map[string]any)["operation"] != "role.assigned" {
			t.Errorf("first run printed %v", r)
		}
	}
	if len(cps) != 1 || cps[0]["checked"] != cps[0]["size"] || len(ofType(first, "record")) != 3 {
		t.Fatalf("first run: %v", first)
	}
	size := cps[0]["size"].(float64)

	approver.mustRun("settings", "set", "--tenant", "contoso", "--max-duration", "3h")
	activity(srv, op, mgr, approver)
	second := monitorLines(t, auditor, state, 0)
	recs, cps := ofType(second, "record"), ofType(second, "checkpoint")
	if len(recs) != 1 || recs[0]["record"].(map[string]any)["operation"] != "settings.updated" {
		t.Errorf("records printed: %v, want the settings change only", recs)
	}
	if len(cps) != 1 || cps[0]["previous_size"] != size || cps[0]["checked"].(float64) != cps[0]["size"].(float64)-size {
		t.Errorf("second run checked %v", cps)
	}
	if out := auditor.mustRun("audit", "monitor", "--tenant", "contoso", "--once", "--state-dir", state); !strings.Contains(out, "(0 new, all verified)") {
		t.Errorf("table output:\n%s", out)
	}

	// Someone with the database rolls the log back by one record.
	rollBackContoso(t, dbPath)
	problems := ofType(monitorLines(t, auditor, state, 1), "problem")
	if len(problems) == 0 || problems[0]["kind"] != "truncated" {
		t.Errorf("problems after a rollback: %v", problems)
	}
}

// rollBackContoso does what someone with the SQLite database can: remove
// contoso's last audit record and shrink its log by one.
func rollBackContoso(t *testing.T, dbPath string) {
	t.Helper()
	db := sqlitetest.Raw(t, dbPath)
	for _, q := range []string{
		`DELETE FROM audit_records WHERE log = 'contoso' AND idx = (SELECT size - 1 FROM audit_logs WHERE log = 'contoso')`,
		`UPDATE audit_logs SET size = size - 1 WHERE log = 'contoso'`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
}
