package sqlrows

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
)

// TestDecodeAsEncodingJSON holds decode to what encoding/json, which
// writes the columns, reads from them: every shape the stores write (as
// written, and as PostgreSQL's jsonb hands it back: keys reordered, spaces
// added), what older versions wrote ('{}', '[]'), and what no version
// writes but a hand-edited row might (other case, duplicate names, invalid
// UTF-8, unknown names, null, broken JSON).
func TestDecodeAsEncodingJSON(t *testing.T) {
	t.Parallel()
	full := fullRequestPolicy(t)
	tenant, err := TenantPolicy(lockbox.Settings{ApprovalsRequired: 2, MaxTotalAccessMinutes: 600,
		BreakGlass:             lockbox.BreakGlassSettings{Enabled: true, MaxMinutes: 30},
		Escalation:             lockbox.EscalationSettings{AfterMinutes: 90, Notify: []string{"soc@contoso.test"}},
		RequireSignedDecisions: true, RequireMFA: true})
	if err != nil {
		t.Fatal(err)
	}
	requests := []struct{ name, doc string }{
		{"as written", full},
		{"indented", indent(t, full)},
		{"jsonb order", `{"incident": "INC-7", "approvals": [{"at": "2026-12-08T02:20:22.710163402Z", "by": "a@contoso.test", "comment": null, "user_id": "u1"}], "break_glass": true, "approvals_required": 2}`},
		{"before policies", `{}`},
		{"other case", `{"Approvals_Required": 3, "INCIDENT": "x", "Approvals": [{"BY": "a@contoso.test", "User_ID": "u9"}]}`},
		{"other spelling", `{"approvalsrequired": 3, "approvals-required": 4, "break_Glass": true}`},
		{"duplicate names", `{"incident": "a", "incident": "b", "approvals_required": 1, "approvals_required": 4}`},
		{"invalid UTF-8", "{\"incident\": \"bad \xff byte\"}"},
		{"unknown names", `{"written_by_a_later_version": {"x": [1, 2]}, "approvals_required": 2}`},
		{"nulls", `{"approvals": null, "policy_decision": null, "extensions": null, "requested_start_time": null}`},
		{"offset time", `{"escalate_at": "2026-12-08T03:00:00+01:00"}`},
		{"broken", `{"approvals_required": }`},
		{"trailing", `{} {}`},
		{"wrong type", `{"approvals_required": "two"}`},
	}
	for _, tt := range requests {
		t.Run("request/"+tt.name, func(t *testing.T) {
			t.Parallel()
			var want, got requestPolicy
			compare(t, tt.doc, &want, &got)
		})
	}
	tenants := []struct{ name, doc string }{
		{"as written", tenant},
		{"indented", indent(t, tenant)},
		{"before policies", `{}`},
		{"other case", `{"Break_Glass": {"ENABLED": true}}`},
		{"nulls", `{"break_glass": null, "escalation": {"notify": null}}`},
		{"broken", `{`},
	}
	for _, tt := range tenants {
		t.Run("tenant/"+tt.name, func(t *testing.T) {
			t.Parallel()
			var want, got tenantPolicy
			compare(t, tt.doc, &want, &got)
		})
	}
	lists := []string{`[]`, `["a","b"]`, ` [ "a" , "b" ] `, `null`, `["a",]`, `{}`, "[\"\xff\"]", `[1]`}
	for _, doc := range lists {
		t.Run("list/"+doc, func(t *testing.T) {
			t.Parallel()
			want, got := []string{}, []string{}
			compare(t, doc, &want, &got)
			roles, _ := ParseList[lockbox.Role](doc)
			var v1 []lockbox.Role
			if json.Unmarshal([]byte(doc), &v1) == nil && len(roles) != len(v1) {
				t.Errorf("ParseList[Role](%s) = %v; encoding/json reads %v", doc, roles, v1)
			}
		})
	}
}

// compare decodes doc with encoding/json into want and with decode into
// got: both must fail, or both succeed with equal values.
func compare[T any](t *testing.T, doc string, want, got *T) {
	t.Helper()
	werr := json.Unmarshal([]byte(doc), want)
	gerr := decode(doc, got)
	switch {
	case (werr == nil) != (gerr == nil):
		t.Fatalf("decode(%s): error %v; encoding/json: %v", doc, gerr, werr)
	case werr == nil && !reflect.DeepEqual(want, got):
		t.Errorf("decode(%s) =\n%+v\nencoding/json reads\n%+v", doc, *got, *want)
	}
}

// fullRequestPolicy is a request policy with every field set.
func fullRequestPolicy(t *testing.T) string {
	t.Helper()
	at := time.Date(2026, 12, 8, 2, 20, 22, 710163402, time.UTC)
	s := func(v string) *string { return &v }
	n := 45
	approval := lockbox.Approval{By: "approver@contoso.test", At: at, Comment: s("ok"), DurationMinutes: &n,
		Operations: []string{"Get-Mailbox"}, StartTime: &at, UserID: "u1",
		Signed: &lockbox.SignedDecision{Statement: "approve SR-1", Assertion: lockbox.PasskeyAssertion{
			CredentialID: "cred", AuthenticatorData: "ad", ClientDataJSON: "cd", Signature: "sig"}}}
	r := &lockbox.AccessRequest{
		RequestedOperations: []string{"Get-Mailbox", "Search-Mailbox"}, RequestedDurationMinutes: 120,
		RequestedStartTime: &at, ApprovalsRequired: 2, Approvals: []lockbox.Approval{approval, {By: "b@contoso.test", At: at, UserID: "u2"}},
		Extensions: []lockbox.Extension{{Minutes: 30, Reason: "more", Status: "approved", RequestedAt: at,
			Approvals: []lockbox.Approval{approval}, DecidedBy: s("b@contoso.test"), DecidedAt: &at, Comment: s("fine")}},
		BreakGlass: true, Incident: "INC-7", AcknowledgedBy: s("m@contoso.test"), AcknowledgedAt: &at,
		AcknowledgeComment: s("seen"), EscalateAt: &at, EscalatedAt: &at,
		Policy: &lockbox.PolicyDecision{Outcome: "require_approvals", Rule: "two", ApprovalsRequired: 2,
			Matched: []string{"two"}, Errors: []lockbox.RuleResult{{ID: "tz", Error: "unknown time zone"}}},
	}
	doc, err := RequestPolicy(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"signed_decision", "user_id", "extensions", "policy_decision", "escalated_at"} {
		if !strings.Contains(doc, `"`+field+`"`) {
			t.Fatalf("RequestPolicy wrote no %s: %s", field, doc)
		}
	}
	return doc
}

func indent(t *testing.T, doc string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		t.Fatal(err)
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
