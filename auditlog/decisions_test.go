package auditlog

import (
	"testing"

	"github.com/lockboxhq/lockbox"
)

// TestDecisionsOddRecords: records of any shape never break the check (a
// log is untrusted input), and settings records switch the requirement.
func TestDecisionsOddRecords(t *testing.T) {
	t.Parallel()
	d := (*Decisions)(nil).clone()
	r := &Report{}
	recs := []*lockbox.AuditRecord{
		{Operation: lockbox.OpSettingsUpdated, AuditData: map[string]any{}},
		{Operation: lockbox.OpSettingsUpdated, AuditData: map[string]any{"changes": "x"}},
		{Operation: lockbox.OpPasskeyRegistered, AuditData: map[string]any{"public_key": 7}},
		{Operation: lockbox.OpRequestApproved, ActorType: lockbox.ActorTenantUser, Result: lockbox.ResultSucceeded,
			AuditData: map[string]any{"signed_decision": map[string]any{"statement": 1, "assertion": "x"}}},
		{Operation: lockbox.OpSettingsUpdated, AuditData: map[string]any{"changes": map[string]any{
			"require_signed_decisions": map[string]any{"old": false, "new": true}}}},
		{Operation: lockbox.OpRequestDenied, ActorType: lockbox.ActorTenantUser, Result: lockbox.ResultSucceeded, AuditData: map[string]any{}},
	}
	for i, rec := range recs {
		rec.ID, rec.Tenant = "r", "contoso"
		leaf, err := rec.Canonical()
		if err != nil {
			t.Fatal(err)
		}
		d.check(r, int64(i), leaf)
	}
	if len(r.Problems) != 2 || r.Problems[0].Kind != ProblemBadSignedDecision || r.Problems[1].Kind != ProblemUnsignedDecision {
		t.Errorf("problems = %+v", r.Problems)
	}
}
