package auditlog

import (
	"slices"
	"strings"
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

// TestDecisionsSigningRule: in a tenant that requires signed decisions,
// which unsigned decision records the offline check lets stand — the
// server's own rule (lockbox.UnsignedDecisionAllowed) — whatever actor the
// record claims; and the settings changes it notes, without failing.
func TestDecisionsSigningRule(t *testing.T) {
	t.Parallel()
	settings := func(name string, old, new any) *lockbox.AuditRecord {
		return &lockbox.AuditRecord{Operation: lockbox.OpSettingsUpdated, UserID: "admin@contoso.test", ActorType: lockbox.ActorTenantUser,
			Result: lockbox.ResultSucceeded, AuditData: map[string]any{"changes": map[string]any{name: map[string]any{"old": old, "new": new}}}}
	}
	decision := func(op, actor, by string) *lockbox.AuditRecord {
		return &lockbox.AuditRecord{Operation: op, ActorType: actor, UserID: by, RequestID: "req-" + by, Result: lockbox.ResultSucceeded, AuditData: map[string]any{}}
	}
	signedOn := settings("require_signed_decisions", false, true)
	signedOff := settings("require_signed_decisions", true, false)
	glassOn := settings("break_glass", map[string]any{"enabled": false}, map[string]any{"enabled": true, "max_minutes": 60})
	for name, tc := range map[string]struct {
		recs     []*lockbox.AuditRecord
		problems []string // kinds
		notes    []string
		naming   string
	}{
		"SystemApproval":       {[]*lockbox.AuditRecord{signedOn, decision(lockbox.OpRequestApproved, lockbox.ActorSystem, "system")}, []string{ProblemUnsignedDecision}, nil, "system (system)"},
		"PolicyApproval":       {[]*lockbox.AuditRecord{signedOn, decision(lockbox.OpRequestApproved, lockbox.ActorPolicy, "policy:diag")}, []string{ProblemUnsignedDecision}, nil, "policy:diag (policy)"},
		"StaffExtension":       {[]*lockbox.AuditRecord{signedOn, decision(lockbox.OpRequestExtensionApproved, lockbox.ActorProviderStaff, "admin@provider.test")}, []string{ProblemUnsignedDecision}, nil, "admin@provider.test"},
		"SystemDenial":         {[]*lockbox.AuditRecord{signedOn, decision(lockbox.OpRequestDenied, lockbox.ActorSystem, "system")}, []string{ProblemUnsignedDecision}, nil, "system"},
		"PolicyDenial":         {[]*lockbox.AuditRecord{signedOn, decision(lockbox.OpRequestDenied, lockbox.ActorPolicy, "policy:no")}, nil, nil, ""},
		"BreakGlassNotEnabled": {[]*lockbox.AuditRecord{signedOn, decision(lockbox.OpRequestBreakGlassActivated, lockbox.ActorSystem, "system")}, []string{ProblemUnsignedDecision}, nil, "request.break_glass_activated"},
		"BreakGlassEnabled":    {[]*lockbox.AuditRecord{glassOn, signedOn, decision(lockbox.OpRequestBreakGlassActivated, lockbox.ActorSystem, "system")}, nil, nil, ""},
		"BreakGlassEnabledAfter": {[]*lockbox.AuditRecord{signedOn, glassOn, decision(lockbox.OpRequestBreakGlassActivated, lockbox.ActorSystem, "system")},
			nil, []string{NoteBreakGlassEnabled}, "break-glass was enabled"},
		"TurnedOffAndOn": {[]*lockbox.AuditRecord{signedOn, signedOff, decision(lockbox.OpRequestApproved, lockbox.ActorTenantUser, "approver@contoso.test"), signedOn},
			nil, []string{NoteSigningTurnedOff}, "turned OFF"},
		"NotRequired": {[]*lockbox.AuditRecord{decision(lockbox.OpRequestApproved, lockbox.ActorSystem, "system")}, nil, nil, ""},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d, r := (*Decisions)(nil).clone(), &Report{}
			for i, rec := range tc.recs {
				x := *rec
				x.ID, x.Tenant = "r", "contoso"
				leaf, err := x.Canonical()
				if err != nil {
					t.Fatal(err)
				}
				d.check(r, int64(i), leaf)
			}
			var kinds, notes []string
			for _, p := range r.Problems {
				kinds = append(kinds, p.Kind)
			}
			for _, p := range r.Notes {
				notes = append(notes, p.Kind)
			}
			if !slices.Equal(kinds, tc.problems) || !slices.Equal(notes, tc.notes) {
				t.Fatalf("problems %+v, notes %+v; want %v and %v", r.Problems, r.Notes, tc.problems, tc.notes)
			}
			if all := append(r.Problems, r.Notes...); tc.naming != "" && !strings.Contains(all[0].Message, tc.naming) {
				t.Errorf("%q does not name %q", all[0].Message, tc.naming)
			}
		})
	}
}
