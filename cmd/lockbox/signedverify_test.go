package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/storetest"
)

// TestEndToEndAuditVerifyForgedDecision runs `lockbox audit verify` itself
// on a tenant that requires signed decisions: turning the requirement off
// and on again is printed as a note (the run still passes: an admin may do
// it); then approvals written straight into the database and the log
// without any passkey — one claiming to be the system's, one an approver's —
// make it exit non-zero naming both.
func TestEndToEndAuditVerifyForgedDecision(t *testing.T) {
	t.Parallel()
	rs := startAuditServer(t, filepath.Join(t.TempDir(), "lockbox.db"))
	srv := &e2e{t: t, url: rs.URL()}
	admin, auditor := srv.as("admin@contoso.test"), srv.as("auditor@contoso.test")
	op, mgr := srv.as("operator@provider.test"), srv.as("manager@provider.test")

	admin.mustRun("settings", "set", "--require-signed-decisions=true")
	auditor.mustRun("audit", "verify", "--tenant", "contoso")
	admin.mustRun("settings", "set", "--require-signed-decisions=false")
	admin.mustRun("settings", "set", "--require-signed-decisions=true")
	out := auditor.mustRun("audit", "verify", "--tenant", "contoso")
	if !strings.Contains(out, "NOTE [signed_decisions_turned_off]") || !strings.Contains(out, "admin@contoso.test") {
		t.Fatalf("verify after signing was turned off and on: no note naming who\n%s", out)
	}

	var forged []*lockbox.AccessRequest
	for _, actor := range [][2]string{{lockbox.ActorSystem, "system"}, {lockbox.ActorTenantUser, "approver@contoso.test"}} {
		r := op.request("requests", "create", "--tenant", "contoso", "--service", "exchange",
			"--service-request", "SR-1", "--reason", "Mailbox fails", "--duration", "1h")
		mgr.mustRun("requests", "review", r.ID, "--approve")
		forged = append(forged, storetest.ForgeApproval(t, rs.store, r.ID, "approver@contoso.test", actor[0], actor[1]))
	}
	code, out, errOut := auditor.runCLI("audit", "verify", "--tenant", "contoso")
	if code != 1 || !strings.Contains(out, "VERIFICATION FAILED") || !strings.Contains(errOut, "did NOT verify") {
		t.Fatalf("verify after forged approvals: exit %d\n%s\n%s", code, out, errOut)
	}
	for i, r := range forged {
		line := ""
		for l := range strings.SplitSeq(out, "\n") {
			if strings.Contains(l, r.ID) {
				line = l
			}
		}
		if !strings.Contains(line, "[unsigned_decision]") || !strings.Contains(line, []string{"by system (system)", "by approver@contoso.test (tenant_user)"}[i]) {
			t.Errorf("forged approval of %s not named with its claimed actor:\n%s", r.ID, out)
		}
	}
}

// TestSimulationSummarySigned: `lockbox policy simulate` says what would
// really happen (SimulationResult.DecidedAtOnce), not only what the rules
// said: break-glass activates at once, and a rule's auto_approve does not
// stand in a tenant that requires signed decisions.
func TestSimulationSummarySigned(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 30, 7, 30, 0, 0, time.UTC)
	for name, tc := range map[string]struct {
		in   lockbox.SimulationResult
		want string
	}{
		"AutoApprove": {lockbox.SimulationResult{Decision: lockbox.PolicyDecision{Outcome: lockbox.OutcomeAutoApprove, Rule: "diag"}, DecidedAtOnce: lockbox.EventPolicyApprove},
			"approved automatically by rule diag"},
		"AutoApproveSigned": {lockbox.SimulationResult{Decision: lockbox.PolicyDecision{Outcome: lockbox.OutcomeAutoApprove, Rule: "diag"}, ApprovalsRequired: 1, RequireApproval: true},
			"rule diag matched to approve, but the tenant requires signed decisions: 1 approval(s) needed"},
		"BreakGlass": {lockbox.SimulationResult{Decision: lockbox.PolicyDecision{Outcome: lockbox.OutcomeRequireApprovals, Rule: "two"}, DecidedAtOnce: lockbox.EventBreakGlass},
			"activated at once by break-glass"},
		"SettingsSigned": {lockbox.SimulationResult{Decision: lockbox.PolicyDecision{Outcome: lockbox.OutcomeSettings}, ApprovalsRequired: 1, RequireApproval: true},
			"the settings apply (1 approval(s) needed)"},
	} {
		tc.in.Now = at
		if got := simulationSummary(&tc.in); !strings.Contains(got, tc.want) {
			t.Errorf("%s: %q, want %q", name, got, tc.want)
		}
	}
}
