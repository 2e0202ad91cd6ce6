package rules_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
)

// TestWorkedExamples checks the rules docs/policies.md shows, as written
// there, against the guarantees it states for them.
func TestWorkedExamples(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../docs/policies.md")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(doc), "```json\n")
	block, _, ok2 := strings.Cut(block, "```")
	if !ok || !ok2 {
		t.Fatal("no ```json block in docs/policies.md")
	}
	var p lockbox.Policy
	if err := json.Unmarshal([]byte(block), &p); err != nil {
		t.Fatalf("the worked example: %v", err)
	}
	if err := env.Check(p); err != nil {
		t.Fatalf("the worked example does not check: %v", err)
	}
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	get := lockbox.PolicyInput{Service: "exchange", Operations: []string{"Get-MailboxStatistics"}, DurationMinutes: 30}
	export := lockbox.PolicyInput{Service: "exchange", Operations: []string{"Get-MailboxStatistics", "Export-MailboxDiagnosticLogs"}, DurationMinutes: 30}
	teams := lockbox.PolicyInput{Service: "teams", Operations: []string{"Get-Team"}, DurationMinutes: 30}
	long := get
	long.DurationMinutes = 120
	for _, tc := range []struct {
		name string
		in   lockbox.PolicyInput
		at   string
		want string
		rule string
	}{
		{"DiagnosticsMonday0930CEST", get, "2026-03-30T09:30:00+02:00", lockbox.OutcomeAutoApprove, "diagnostics-business-hours"},
		{"DiagnosticsFriday0830CET", get, "2026-03-27T08:30:00+01:00", lockbox.OutcomeSettings, ""},
		{"DiagnosticsSaturday", get, "2026-03-28T10:00:00+01:00", lockbox.OutcomeSettings, ""},
		{"DiagnosticsTooLong", long, "2026-03-30T09:30:00+02:00", lockbox.OutcomeSettings, ""},
		{"ExportInHours", export, "2026-03-30T09:30:00+02:00", lockbox.OutcomeRequireApprovals, "exports-two-approvers"},
		{"ExportAtNight", export, "2026-03-30T03:00:00+02:00", lockbox.OutcomeRequireApprovals, "exports-two-approvers"},
		{"TeamsInHours", teams, "2026-03-30T09:30:00+02:00", lockbox.OutcomeDeny, "no-teams"},
		{"TeamsBreakGlass", lockbox.PolicyInput{Service: "teams", Operations: []string{"Get-Team"}, BreakGlass: true}, "2026-03-30T09:30:00+02:00", lockbox.OutcomeDeny, "no-teams"},
	} {
		_, d := env.Decide(p.Rules, tc.in, at(tc.at))
		if d.Outcome != tc.want || d.Rule != tc.rule {
			t.Errorf("%s: %s by %q, want %s by %q", tc.name, d.Outcome, d.Rule, tc.want, tc.rule)
		}
		if tc.want == lockbox.OutcomeRequireApprovals && d.ApprovalsRequired != 2 {
			t.Errorf("%s: %d approvals, want 2", tc.name, d.ApprovalsRequired)
		}
	}
}
