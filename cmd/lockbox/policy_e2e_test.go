package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lockboxhq/lockbox"
)

// TestPolicyThroughTheCLI: policy set from a file (400 naming the rule and
// position for a bad one), get, simulate, and a rule deciding a request.
func TestPolicyThroughTheCLI(t *testing.T) {
	t.Parallel()
	srv := startE2E(t)
	op, mgr, approver := srv.as("operator@provider.test"), srv.as("manager@provider.test"), srv.as("approver@contoso.test")
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	bad := write("bad.json", `{"rules":[{"id":"night","when":"now.getHours(\"Europe/Berlin\") < 7 && request.servce == \"x\"","action":"deny"}]}`)
	approver.wantFail(1, `Rule "night": line 1, column 45: undefined field 'servce'`, "policy", "set", "--tenant", "contoso", "-f", bad)
	approver.wantFail(1, `Unknown field "extra"`, "policy", "set", "--tenant", "contoso", "-f", write("unknown.json", `{"rules":[],"extra":1}`))
	approver.wantFail(2, "-f", "policy", "set", "--tenant", "contoso")
	good := write("rules.json", `{"rules":[
		{"id":"no-teams","description":"Never Teams","when":"request.service == \"teams\"","action":"deny"},
		{"id":"exports","when":"request.operations.exists(o, o.startsWith(\"Export-\"))","action":{"require_approvals":2}},
		{"id":"diagnostics","when":"request.operations.all(o, o.startsWith(\"Get-\"))","action":"auto_approve"}]}`)
	if out := approver.mustRun("policy", "set", "--tenant", "contoso", "-f", good); !strings.Contains(out, "3 policy rule(s)") {
		t.Fatalf("set: %s", out)
	}
	out := approver.mustRun("policy", "get", "--tenant", "contoso")
	for _, want := range []string{"no-teams", "deny", "require 2 approvals", `request.operations.all(o, o.startsWith("Get-"))`} {
		if !strings.Contains(out, want) {
			t.Errorf("policy get lacks %q:\n%s", want, out)
		}
	}
	out = approver.mustRun("policy", "simulate", "--tenant", "contoso", "--service", "exchange",
		"--operation", "Get-Mailbox", "--operation", "Export-MailboxDiagnosticLogs", "--at", "2026-03-30T09:30:00+02:00")
	if !strings.Contains(out, "At 2026-03-30T07:30:00Z: needs 2 approvals (rule exports).") {
		t.Errorf("simulate:\n%s", out)
	}
	srv.as("admin@provider.test").wantFail(1, "", "policy", "get", "--tenant", "contoso")

	r := op.request("requests", "create", "--tenant", "contoso", "--service", "teams",
		"--service-request", "SR-1", "--reason", "Teams broken.", "--duration", "1h", "--operation", "Get-Team")
	r = mgr.request("requests", "review", r.Reference, "--approve")
	if r.Status != lockbox.StatusDenied || r.DecidedBy == nil || *r.DecidedBy != "policy:no-teams" {
		t.Fatalf("teams request after review: %s by %v", r.Status, r.DecidedBy)
	}
}
