package approval_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/storetest"
)

func rule(id, when string, action lockbox.PolicyAction) lockbox.PolicyRule {
	return lockbox.PolicyRule{ID: id, When: when, Action: action}
}

var (
	deny   = lockbox.PolicyAction{Kind: lockbox.ActionDeny}
	auto   = lockbox.PolicyAction{Kind: lockbox.ActionAutoApprove}
	needs2 = lockbox.PolicyAction{Kind: lockbox.ActionRequireApprovals, RequireApprovals: 2}
	needs3 = lockbox.PolicyAction{Kind: lockbox.ActionRequireApprovals, RequireApprovals: 3}
)

// setPolicy replaces contoso's rules as its global admin.
func (h *harness) setPolicy(rules ...lockbox.PolicyRule) {
	h.t.Helper()
	if _, err := h.svc.PutPolicy(h.as("admin@contoso.test"), "contoso", lockbox.Policy{Rules: rules}); err != nil {
		h.t.Fatal(err)
	}
}

// emailsOf lists the types of the emails queued for r's tenant, by
// recipient: "type to".
func (h *harness) emailsOf(r *lockbox.AccessRequest) []string {
	h.t.Helper()
	var out []string
	for _, m := range storetest.MustListOutbox(h.t, h.store, lockbox.OutboxQuery{Channel: lockbox.ChannelEmail, Limit: 1000}) {
		if strings.Contains(string(m.Payload), r.Reference) {
			out = append(out, m.Type+" "+m.To)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// TestPolicyAtPending: the tenant's rules decide as a request becomes
// pending, in the review's transaction: deny wins, then the largest
// require_approvals, then auto_approve; no match leaves the settings. An
// automatic decision is audited as policy:<rule id> with actor type
// policy, and approvers are told (never asked).
func TestPolicyAtPending(t *testing.T) {
	t.Parallel()
	readOnly := rule("diagnostics", `request.operations.all(o, o.startsWith("Get-"))`, auto)
	exports := rule("exports", `request.operations.exists(o, o.startsWith("Export-"))`, needs2)
	exportsBig := rule("exports-long", `request.operations.exists(o, o.startsWith("Export-")) && request.duration_minutes > 60`, needs3)
	noSharePoint := rule("no-sharepoint", `request.service == "sharepoint"`, deny)
	failing := rule("zone-from-input", `now.getHours(request.service_request) < 25`, deny) // SR-… is no time zone
	get := []string{"Get-MailboxStatistics"}
	export := []string{"Get-MailboxStatistics", "Export-MailboxDiagnosticLogs"}
	for _, tc := range []struct {
		name        string
		rules       []lockbox.PolicyRule
		noApproval  bool // the tenant's require_approval is false
		service     string
		ops         []string
		wantStatus  lockbox.Status
		wantBy      string // decided_by; "" none
		wantQuorum  int
		wantOutcome string // "" no decision stored (no rules)
		wantAsk     bool   // approvers asked to decide (request.pending)
		wantTell    string // the FYI email approvers get
	}{
		{"NoRules", nil, false, "exchange", get, lockbox.StatusPending, "", 1, "", true, ""},
		{"NoMatch", []lockbox.PolicyRule{noSharePoint}, false, "exchange", get, lockbox.StatusPending, "", 1, lockbox.OutcomeSettings, true, ""},
		{"AutoApprove", []lockbox.PolicyRule{readOnly}, false, "exchange", get, lockbox.StatusActive, "policy:diagnostics", 1, lockbox.OutcomeAutoApprove, false, lockbox.NoticePolicyApproved},
		{"Deny", []lockbox.PolicyRule{readOnly, noSharePoint}, false, "sharepoint", get, lockbox.StatusDenied, "policy:no-sharepoint", 1, lockbox.OutcomeDeny, false, lockbox.NoticePolicyDenied},
		{"RequireBeatsAuto", []lockbox.PolicyRule{readOnly, exports}, false, "exchange", export, lockbox.StatusPending, "", 2, lockbox.OutcomeRequireApprovals, true, ""},
		{"LargestRequire", []lockbox.PolicyRule{exportsBig, exports}, false, "exchange", export, lockbox.StatusPending, "", 3, lockbox.OutcomeRequireApprovals, true, ""},
		{"RequireWithoutRequireApproval", []lockbox.PolicyRule{exports}, true, "exchange", export, lockbox.StatusPending, "", 2, lockbox.OutcomeRequireApprovals, true, ""},
		{"NoMatchWithoutRequireApproval", []lockbox.PolicyRule{exports}, true, "exchange", get, lockbox.StatusActive, "system", 1, lockbox.OutcomeSettings, false, lockbox.NoticeAutoApproved},
		{"AutoWithoutRequireApproval", []lockbox.PolicyRule{readOnly}, true, "exchange", get, lockbox.StatusActive, "policy:diagnostics", 1, lockbox.OutcomeAutoApprove, false, lockbox.NoticePolicyApproved},
		{"DenyWithoutRequireApproval", []lockbox.PolicyRule{noSharePoint}, true, "sharepoint", get, lockbox.StatusDenied, "policy:no-sharepoint", 1, lockbox.OutcomeDeny, false, lockbox.NoticePolicyDenied},
		// Fail closed: a rule that errors stops auto-approval, by a rule
		// or by the settings, and people decide.
		{"ErrorStopsAuto", []lockbox.PolicyRule{readOnly, failing}, false, "exchange", get, lockbox.StatusPending, "", 1, lockbox.OutcomeSettings, true, ""},
		{"ErrorHoldsWithoutRequireApproval", []lockbox.PolicyRule{failing}, true, "exchange", get, lockbox.StatusPending, "", 1, lockbox.OutcomeSettings, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			if tc.noApproval {
				if _, err := h.svc.UpdateSettings(h.as("admin@contoso.test"), "contoso", lockbox.SettingsPatch{RequireApproval: ptr(false)}); err != nil {
					t.Fatal(err)
				}
			}
			h.setPolicy(tc.rules...)
			in := validRequest()
			in.Service, in.Operations = tc.service, tc.ops
			if tc.service == "sharepoint" {
				in.Operations = []string{"Get-Site"}
			}
			r := h.MustPending(in)
			if r.Status != tc.wantStatus || r.ApprovalsRequired != tc.wantQuorum {
				t.Fatalf("status %s, quorum %d; want %s, %d", r.Status, r.ApprovalsRequired, tc.wantStatus, tc.wantQuorum)
			}
			if got := deref(r.DecidedBy); got != tc.wantBy {
				t.Errorf("decided_by %q, want %q", got, tc.wantBy)
			}
			if got := h.stored(r.ID); (got.Policy == nil) != (tc.wantOutcome == "") || (got.Policy != nil && got.Policy.Outcome != tc.wantOutcome) {
				t.Errorf("stored policy decision %+v, want outcome %q", got.Policy, tc.wantOutcome)
			}
			h.checkPolicyAudit(r, tc.wantBy)
			emails := h.emailsOf(r)
			if asked := slices.Contains(emails, lockbox.NoticePending+" approver@contoso.test"); asked != tc.wantAsk {
				t.Errorf("approvers asked = %v, want %v; emails %v", asked, tc.wantAsk, emails)
			}
			if tc.wantTell != "" && !slices.Contains(emails, tc.wantTell+" approver@contoso.test") {
				t.Errorf("approvers not told %s; emails %v", tc.wantTell, emails)
			}
		})
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// checkPolicyAudit: the review's record carries the policy decision, and
// an automatic decision is recorded as policy:<rule id>, actor type policy.
func (h *harness) checkPolicyAudit(r *lockbox.AccessRequest, decidedBy string) {
	h.t.Helper()
	var decided bool
	for _, rec := range h.audit("contoso") {
		if rec.RequestID != r.ID {
			continue
		}
		if rec.Operation == lockbox.OpRequestReviewed && r.Policy != nil && rec.AuditData["policy"] == nil {
			h.t.Errorf("the review's record lacks the policy decision: %v", rec.AuditData)
		}
		if !strings.HasPrefix(rec.UserID, "policy:") && rec.ActorType != lockbox.ActorPolicy {
			continue
		}
		decided = true
		if rec.UserID != decidedBy || rec.ActorType != lockbox.ActorPolicy || rec.AuditData["rule"] != strings.TrimPrefix(decidedBy, "policy:") {
			h.t.Errorf("policy record %s by %s (%s), data %v; want %s, actor policy", rec.Operation, rec.UserID, rec.ActorType, rec.AuditData, decidedBy)
		}
	}
	if want := strings.HasPrefix(decidedBy, "policy:"); decided != want {
		h.t.Errorf("a policy decision in the audit log = %v, want %v", decided, want)
	}
}

// TestPolicyTimeOfDayAcrossDST files requests at fixed instants (fake time
// in a synctest bubble) on both sides of Berlin's and Lord Howe's 2026
// transitions, with business-hours rules in those zones.
func TestPolicyTimeOfDayAcrossDST(t *testing.T) {
	t.Parallel()
	berlin := rule("berlin-hours", `now.getHours("Europe/Berlin") >= 9 && now.getHours("Europe/Berlin") < 17`, auto)
	// Lord Howe shifts by 30 minutes: from 01:30 local, as minutes of the day.
	lordHowe := rule("lord-howe-night", `now.getHours("Australia/Lord_Howe") * 60 + now.getMinutes("Australia/Lord_Howe") < 90`, deny)
	for _, tc := range []struct {
		name string
		at   string
		rule lockbox.PolicyRule
		want lockbox.Status
	}{
		{"BerlinFridayCET0830", "2026-03-27T07:30:00Z", berlin, lockbox.StatusPending},
		{"BerlinFridayCET0930", "2026-03-27T08:30:00Z", berlin, lockbox.StatusActive},
		{"BerlinMondayCEST0930", "2026-03-30T07:30:00Z", berlin, lockbox.StatusActive},
		{"BerlinMondayCEST1700", "2026-03-30T15:00:00Z", berlin, lockbox.StatusPending},
		{"BerlinOctoberCEST1630", "2026-10-23T14:30:00Z", berlin, lockbox.StatusActive},
		{"BerlinOctoberCET1630", "2026-10-26T15:30:00Z", berlin, lockbox.StatusActive},
		{"BerlinOctoberCET1730", "2026-10-26T16:30:00Z", berlin, lockbox.StatusPending},
		{"LordHowe0159DST", "2026-04-04T14:59:00Z", lordHowe, lockbox.StatusPending},
		{"LordHowe0130Standard", "2026-04-04T15:00:00Z", lordHowe, lockbox.StatusPending},
		{"LordHowe0129Standard", "2026-04-04T14:59:00Z", rule("lh", `now.getHours("Australia/Lord_Howe") == 1 && now.getMinutes("Australia/Lord_Howe") == 59`, deny), lockbox.StatusDenied},
		{"LordHowe0125DST", "2026-04-04T14:25:00Z", lordHowe, lockbox.StatusDenied},
		{"LordHoweOctober0159", "2026-10-03T15:29:00Z", rule("lh", `now.getHours("Australia/Lord_Howe") == 1`, deny), lockbox.StatusDenied},
		{"LordHoweOctober0230", "2026-10-03T15:30:00Z", rule("lh", `now.getHours("Australia/Lord_Howe") == 1`, deny), lockbox.StatusPending},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			at, err := time.Parse(time.RFC3339, tc.at)
			if err != nil {
				t.Fatal(err)
			}
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t)
				h.setPolicy(tc.rule)
				time.Sleep(time.Until(at)) // fake time: the review happens exactly at
				if !time.Now().Equal(at) {
					t.Fatalf("now %v", time.Now())
				}
				r := h.MustPending(validRequest())
				if r.Status != tc.want {
					t.Fatalf("at %s: %s (policy %+v), want %s", tc.at, r.Status, r.Policy, tc.want)
				}
			})
		})
	}
}

// TestPutPolicy: a change is audited in the tenant's log with the old and
// new rules; an invalid one, or one by the provider, changes nothing.
func TestPutPolicy(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	first := []lockbox.PolicyRule{rule("exports", `request.operations.exists(o, o.startsWith("Export-"))`, needs2)}
	h.setPolicy(first...)
	before := len(h.audit("contoso"))
	bad := lockbox.Policy{Rules: []lockbox.PolicyRule{first[0], rule("night", "now.getHours(\"Europe/Berlin\") < 7 &&\n  request.reason.size() > \"x\"", deny)}}
	_, err := h.svc.PutPolicy(h.as("approver@contoso.test"), "contoso", bad)
	wantCode(t, err, lockbox.EINVALID)
	if e := err.(*lockbox.Error); e.Field != "rules[1].when" || !strings.Contains(e.Message, `Rule "night": line 2, column 25`) {
		t.Errorf("error %q on %q; want the rule, line and column", e.Message, e.Field)
	}
	_, err = h.svc.PutPolicy(h.as("admin@provider.test"), "contoso", lockbox.Policy{})
	wantCode(t, err, lockbox.EFORBIDDEN)
	_, err = h.svc.PutPolicy(h.as("auditor@contoso.test"), "contoso", lockbox.Policy{})
	wantCode(t, err, lockbox.EFORBIDDEN)
	_, err = h.svc.GetPolicy(h.as("admin@fabrikam.test"), "contoso")
	wantCode(t, err, lockbox.ENOTFOUND)
	if got := len(h.audit("contoso")); got != before {
		t.Fatalf("refused changes wrote %d audit records", got-before)
	}
	h.setPolicy(first...) // the same rules: nothing to record
	second := []lockbox.PolicyRule{rule("no-sharepoint", `request.service == "sharepoint"`, deny)}
	if _, err := h.svc.PutPolicy(h.as("approver@contoso.test"), "contoso", lockbox.Policy{Rules: second}); err != nil {
		t.Fatal(err)
	}
	recs := h.audit("contoso")[before:]
	if len(recs) != 1 || recs[0].Operation != lockbox.OpPolicyUpdated || recs[0].UserID != "approver@contoso.test" {
		t.Fatalf("audit after one change: %d records %+v", len(recs), recs)
	}
	data := fmt.Sprint(recs[0].AuditData)
	for _, want := range []string{"old:[map[action:map[require_approvals:2]", "id:exports", "new:[map[action:deny", "id:no-sharepoint"} {
		if !strings.Contains(data, want) {
			t.Errorf("audit data %s lacks %q", data, want)
		}
	}
	got, err := h.svc.GetPolicy(h.as("approver@contoso.test"), "contoso")
	if err != nil || !cmp.Equal(got.Rules, second) {
		t.Fatalf("GetPolicy: %+v, %v", got, err)
	}
}

// TestSimulateChangesNothing: simulate answers what the rules decide and
// writes nothing: no audit record in any log, no email, no rule change.
func TestSimulateChangesNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.setQuorum(2)
	h.setPolicy(rule("diagnostics", `request.operations.all(o, o.startsWith("Get-"))`, auto),
		rule("exports", `request.operations.exists(o, o.startsWith("Export-"))`, needs3))
	h.MustPending(validRequest()) // auto-approved: something in every table
	size := func() [3]int {
		return [3]int{len(h.audit("contoso")), len(h.audit(lockbox.ProviderLog)),
			len(storetest.MustListOutbox(t, h.store, lockbox.OutboxQuery{Limit: 1000}))}
	}
	before := size()
	at := time.Date(2026, 3, 30, 7, 30, 0, 0, time.UTC)
	for _, tc := range []struct {
		ops      []string
		want     string
		rule     string
		approval int
	}{
		{[]string{"Get-Mailbox"}, lockbox.OutcomeAutoApprove, "diagnostics", 0},
		{[]string{"Get-Mailbox", "Export-Mailbox"}, lockbox.OutcomeRequireApprovals, "exports", 3},
		{[]string{"Set-Mailbox"}, lockbox.OutcomeSettings, "", 2},
	} {
		out, err := h.svc.SimulatePolicy(h.as("approver@contoso.test"), "contoso",
			lockbox.PolicySimulation{Request: lockbox.PolicyInput{Service: "exchange", Operations: tc.ops}, Now: &at})
		if err != nil {
			t.Fatal(err)
		}
		if out.Decision.Outcome != tc.want || out.Decision.Rule != tc.rule || out.ApprovalsRequired != tc.approval || !out.Now.Equal(at) || len(out.Rules) != 2 {
			t.Errorf("%v: %+v; want %s by %q needing %d", tc.ops, out, tc.want, tc.rule, tc.approval)
		}
	}
	_, err := h.svc.SimulatePolicy(h.as("approver@contoso.test"), "contoso",
		lockbox.PolicySimulation{Request: lockbox.PolicyInput{Operations: make([]string, 201)}})
	wantCode(t, err, lockbox.EINVALID)
	_, err = h.svc.SimulatePolicy(h.as("admin@provider.test"), "contoso", lockbox.PolicySimulation{})
	wantCode(t, err, lockbox.EFORBIDDEN)
	if after := size(); after != before {
		t.Fatalf("simulate changed the logs or outbox: %v → %v", before, after)
	}
	if p, _ := h.svc.GetPolicy(h.as("approver@contoso.test"), "contoso"); len(p.Rules) != 2 {
		t.Fatalf("rules after simulate: %+v", p)
	}
}

// TestRaceOfPolicyAndReviews changes the rules (none → deny everything)
// while requests become pending. Each request is decided by the rules in
// force when its review committed: reviewed before the change (its record
// earlier in the tenant's log) it is pending with no decision, after it
// denied. On PostgreSQL this needs the settings' lock in both.
func TestRaceOfPolicyAndReviews(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	const n = 16
	filed := make([]*lockbox.AccessRequest, n)
	for i := range filed {
		filed[i] = h.MustFile(validRequest())
	}
	errs := make([]error, n+1)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, r := range filed {
		ctx := h.as("manager@provider.test")
		wg.Go(func() {
			<-start
			_, errs[i] = h.svc.Act(ctx, r.ID, lockbox.EventReviewApprove, lockbox.Decision{})
		})
	}
	admin := h.as("admin@contoso.test")
	wg.Go(func() {
		<-start
		_, errs[n] = h.svc.PutPolicy(admin, "contoso", lockbox.Policy{Rules: []lockbox.PolicyRule{rule("freeze", "true", deny)}})
	})
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("racer %d: %v", i, err)
		}
	}
	policyAt, reviewedAt := int64(-1), map[string]int64{}
	for _, rec := range h.audit("contoso") {
		switch rec.Operation {
		case lockbox.OpPolicyUpdated:
			policyAt = rec.Index
		case lockbox.OpRequestReviewed:
			reviewedAt[rec.RequestID] = rec.Index
		}
	}
	if policyAt < 0 || len(reviewedAt) != n {
		t.Fatalf("policy record %d, %d reviews", policyAt, len(reviewedAt))
	}
	for _, r := range filed {
		got := h.stored(r.ID)
		after := reviewedAt[r.ID] > policyAt
		if after && (got.Status != lockbox.StatusDenied || got.Policy == nil) || !after && (got.Status != lockbox.StatusPending || got.Policy != nil) {
			t.Errorf("%s reviewed after the change = %v: %s with decision %+v", r.Reference, after, got.Status, got.Policy)
		}
	}
}

// TestPolicyAndBreakGlass: rules see request.break_glass, and a matching
// deny is decided before break-glass activates; without a matching deny a
// break-glass request of a tenant that enabled it is active at once.
func TestPolicyAndBreakGlass(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		enabled bool
		rule    lockbox.PolicyRule
		want    lockbox.Status
		by      string
	}{
		{"DisabledRuleSeesBreakGlass", false, rule("no-emergencies", "request.break_glass", deny), lockbox.StatusDenied, "policy:no-emergencies"},
		{"EnabledDenyWins", true, rule("no-exchange", `request.service == "exchange"`, deny), lockbox.StatusDenied, "policy:no-exchange"},
		{"EnabledDenyExceptEmergencies", true, rule("no-exchange", `request.service == "exchange" && !request.break_glass`, deny), lockbox.StatusActive, "system"},
		{"EnabledBeatsRequireApprovals", true, rule("two", "true", needs2), lockbox.StatusActive, "system"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			if tc.enabled {
				if _, err := h.svc.UpdateSettings(h.as("admin@contoso.test"), "contoso",
					lockbox.SettingsPatch{BreakGlass: &lockbox.BreakGlassPatch{Enabled: ptr(true)}}); err != nil {
					t.Fatal(err)
				}
			}
			h.setPolicy(tc.rule)
			in := validRequest()
			in.BreakGlass, in.Incident = true, "INC-4711"
			r := h.MustPending(in)
			if r.Status != tc.want || deref(r.DecidedBy) != tc.by {
				t.Fatalf("%s decided by %q (policy %+v); want %s by %q", r.Status, deref(r.DecidedBy), r.Policy, tc.want, tc.by)
			}
		})
	}
}
