package lockbox_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lockboxhq/lockbox"
)

// actors covers every kind of principal relative to one request of tenant
// "contoso" filed by the user with id "op1".
var actors = map[string]*lockbox.User{
	"requester":             {ID: "op1", Roles: []lockbox.Role{lockbox.RoleOperator}},
	"other_operator":        {ID: "op2", Roles: []lockbox.Role{lockbox.RoleOperator}},
	"manager":               {ID: "mgr", Roles: []lockbox.Role{lockbox.RoleSupportManager}},
	"requester_as_manager":  {ID: "op1", Roles: []lockbox.Role{lockbox.RoleOperator, lockbox.RoleSupportManager}},
	"provider_admin":        {ID: "adm", Roles: []lockbox.Role{lockbox.RoleProviderAdmin}},
	"service_account":       {ID: "svc", Roles: []lockbox.Role{lockbox.RoleServiceAccount}, ServiceAccount: true},
	"global_admin":          {ID: "ga", Tenant: "contoso", Roles: []lockbox.Role{lockbox.RoleGlobalAdmin}},
	"approver":              {ID: "ap", Tenant: "contoso", Roles: []lockbox.Role{lockbox.RoleLockboxApprover}},
	"audit_reader":          {ID: "ar", Tenant: "contoso", Roles: []lockbox.Role{lockbox.RoleAuditReader}},
	"other_tenant_admin":    {ID: "fa", Tenant: "fabrikam", Roles: []lockbox.Role{lockbox.RoleGlobalAdmin}},
	"other_tenant_approver": {ID: "fp", Tenant: "fabrikam", Roles: []lockbox.Role{lockbox.RoleLockboxApprover}},
	"system":                lockbox.System,
	"policy":                lockbox.PolicyActor("contoso", "diag"),
	"other_tenant_policy":   lockbox.PolicyActor("fabrikam", "diag"),
}

// specTransitions is SPEC §3's transition table, written out again
// independently of the implementation's table.
var specTransitions = map[string]lockbox.Status{
	"pending_review/review_approve": lockbox.StatusPending,
	"pending_review/review_deny":    lockbox.StatusDenied,
	"pending_review/cancel":         lockbox.StatusCanceled,
	"pending_review/expire":         lockbox.StatusExpired,
	"pending/approve":               lockbox.StatusApproved,
	"pending/system_approve":        lockbox.StatusApproved,
	"pending/deny":                  lockbox.StatusDenied,
	"pending/cancel":                lockbox.StatusCanceled,
	"pending/expire":                lockbox.StatusExpired,
	"approved/cancel":               lockbox.StatusCanceled,
	"approved/revoke":               lockbox.StatusRevoked,
	"approved/activate":             lockbox.StatusActive,
	"active/revoke":                 lockbox.StatusRevoked,
	"active/complete":               lockbox.StatusCompleted,
	"active/access_end":             lockbox.StatusCompleted,
	// SPEC §10.1: a disabled or removed staff member's requests end.
	"approved/requester_revoke":       lockbox.StatusRevoked,
	"active/requester_revoke":         lockbox.StatusRevoked,
	"pending_review/requester_cancel": lockbox.StatusCanceled,
	"pending/requester_cancel":        lockbox.StatusCanceled,
	// SPEC §11: extensions while active (each also needs an extension
	// pending, or none for extend: AccessRequest.Check, TestEventGuards).
	"active/extend":            lockbox.StatusActive,
	"active/extension_approve": lockbox.StatusActive,
	"active/extension_deny":    lockbox.StatusActive,
	"active/extension_lapse":   lockbox.StatusActive,
	// SPEC §11: a tenant's policy rule decides as the request becomes
	// pending (and only then: AccessRequest.Check, TestEventGuards).
	"pending/policy_approve": lockbox.StatusApproved,
	"pending/policy_deny":    lockbox.StatusDenied,
	// SPEC §11: break-glass (the system's, of a break-glass request once
	// reviewed), its acknowledgement once access ended (which keeps the
	// status; it also needs the request to need review), and escalation
	// while pending (once, before expiry). Each row's guard beyond the
	// status: TestEventGuards.
	"pending/break_glass":   lockbox.StatusApproved,
	"completed/acknowledge": lockbox.StatusCompleted,
	"revoked/acknowledge":   lockbox.StatusRevoked,
	"pending/escalate":      lockbox.StatusPending,
}

// specWho is SPEC §2/§3's "by" column: which actors may cause each event.
var specWho = map[lockbox.Event][]string{
	lockbox.EventReviewApprove:    {"manager"},
	lockbox.EventReviewDeny:       {"manager"},
	lockbox.EventApprove:          {"global_admin", "approver"},
	lockbox.EventDeny:             {"global_admin", "approver"},
	lockbox.EventRevoke:           {"global_admin", "approver"},
	lockbox.EventCancel:           {"requester", "requester_as_manager", "global_admin", "approver"},
	lockbox.EventComplete:         {"requester", "requester_as_manager"},
	lockbox.EventSystemApprove:    {"system"},
	lockbox.EventExpire:           {"system"},
	lockbox.EventActivate:         {"system"},
	lockbox.EventAccessEnd:        {"system"},
	lockbox.EventRequesterRevoke:  {"system"},
	lockbox.EventRequesterCancel:  {"system"},
	lockbox.EventExtend:           {"requester", "requester_as_manager"},
	lockbox.EventExtensionApprove: {"global_admin", "approver"},
	lockbox.EventExtensionDeny:    {"global_admin", "approver"},
	lockbox.EventExtensionLapse:   {"system"},
	lockbox.EventPolicyApprove:    {"policy"},
	lockbox.EventPolicyDeny:       {"policy"},
	lockbox.EventBreakGlass:       {"system"},
	lockbox.EventEscalate:         {"system"},
	lockbox.EventAcknowledge:      {"global_admin", "approver"},
}

// specSees says who can see a request: tenant users only once it reached
// them, the requester always, support managers and provider admins always.
func specSees(actor string, s lockbox.Status) bool {
	switch actor {
	case "requester", "requester_as_manager", "manager", "provider_admin", "system":
		return true
	case "global_admin", "approver", "audit_reader", "policy":
		return s != lockbox.StatusPendingReview
	}
	return false
}

// outcome runs the checks in the order the workflow service runs them:
// visibility (404), role (403), state (409).
func outcome(u *lockbox.User, r *lockbox.AccessRequest, ev lockbox.Event) string {
	if !lockbox.CanSeeRequest(u, r) {
		return lockbox.ENOTFOUND
	}
	if err := lockbox.AuthorizeEvent(u, r, ev); err != nil {
		return lockbox.ErrorCode(err)
	}
	if _, err := lockbox.Next(r.Status, ev); err != nil {
		return lockbox.ErrorCode(err)
	}
	return "ok"
}

func TestStateMachineEveryCombination(t *testing.T) {
	t.Parallel()
	events := append(slices.Clone(lockbox.PersonEvents), lockbox.SystemEvents...)
	var allowed int
	for _, st := range lockbox.Statuses {
		for _, ev := range events {
			for name, u := range actors {
				t.Run(fmt.Sprintf("%s/%s/%s", st, ev, name), func(t *testing.T) {
					r := &lockbox.AccessRequest{Tenant: "contoso", RequesterID: "op1", Status: st,
						TenantVisible: st != lockbox.StatusPendingReview}
					want := "ok"
					switch {
					case !specSees(name, st):
						want = lockbox.ENOTFOUND
					case !slices.Contains(specWho[ev], name):
						want = lockbox.EFORBIDDEN
					case specTransitions[string(st)+"/"+string(ev)] == "":
						want = lockbox.ECONFLICT
					}
					if got := outcome(u, r, ev); got != want {
						t.Fatalf("got %s, want %s", got, want)
					}
					if want == "ok" {
						allowed++
						if to, _ := lockbox.Next(st, ev); to != specTransitions[string(st)+"/"+string(ev)] {
							t.Fatalf("leads to %s, want %s", to, specTransitions[string(st)+"/"+string(ev)])
						}
					}
				})
			}
		}
	}
	// Guard against a vacuous pass: SPEC's table admits exactly this many (5 + 10 + 7 + 5,
	// + 4 of §10.1, §11's extensions 2 + 2 + 2 + 1, and break-glass 1 + 2 + 2 and
	// escalation 1, and policy decisions 2) (state, event, actor) triples.
	if allowed != 46 {
		t.Errorf("%d allowed combinations, want 46", allowed)
	}
}

// TestEventGuards: the rows' conditions beyond the status (EventRule.Guard),
// through the public Check, on requests whose status allows the event, so
// that every refusal here is the guard's. TestStateMachineEveryCombination
// checks only the status (Next). Every row with a guard must have a fixture
// that satisfies it and one that violates it, and Apply refuses what Check
// refuses, leaving the request unchanged.
func TestEventGuards(t *testing.T) {
	t.Parallel()
	in := func(st lockbox.Status, change func(r *lockbox.AccessRequest)) func() *lockbox.AccessRequest {
		return func() *lockbox.AccessRequest {
			r := inStatus(st)
			r.Reference = "LB-1"
			change(r)
			return r
		}
	}
	extension := func(status string) func(r *lockbox.AccessRequest) {
		return func(r *lockbox.AccessRequest) {
			r.Extensions = []lockbox.Extension{{Minutes: 30, Reason: "more", Status: status, RequestedAt: t0.Add(4 * time.Hour)}}
		}
	}
	none := func(*lockbox.AccessRequest) {}
	policy := func(outcome string) func(r *lockbox.AccessRequest) {
		return func(r *lockbox.AccessRequest) { r.Policy = &lockbox.PolicyDecision{Outcome: outcome, Rule: "diag"} }
	}
	reviewed := func(needs bool, acknowledged bool) func(r *lockbox.AccessRequest) {
		return func(r *lockbox.AccessRequest) {
			r.BreakGlass, r.Incident, r.NeedsReview = true, "INC-1", needs
			if acknowledged {
				r.AcknowledgedBy, r.AcknowledgedAt = ptr("ap@contoso.test"), at(6*time.Hour)
			}
		}
	}
	escalation := func(escalateAt *time.Time, escalated bool) func(r *lockbox.AccessRequest) {
		return func(r *lockbox.AccessRequest) {
			r.EscalateAt = escalateAt
			if escalated {
				r.EscalatedAt = escalateAt
			}
		}
	}
	const ok = ""
	tests := []struct {
		name    string
		ev      lockbox.Event
		request func() *lockbox.AccessRequest
		want    string
	}{
		{"ExtendNonePending", lockbox.EventExtend, in(lockbox.StatusActive, none), ok},
		{"ExtendAfterOneDecided", lockbox.EventExtend, in(lockbox.StatusActive, extension(lockbox.ExtensionDenied)), ok},
		{"ExtendOnePending", lockbox.EventExtend, in(lockbox.StatusActive, extension(lockbox.ExtensionPending)), lockbox.ECONFLICT},
		{"ExtensionApprovePending", lockbox.EventExtensionApprove, in(lockbox.StatusActive, extension(lockbox.ExtensionPending)), ok},
		{"ExtensionApproveNone", lockbox.EventExtensionApprove, in(lockbox.StatusActive, none), lockbox.ECONFLICT},
		{"ExtensionApproveDecided", lockbox.EventExtensionApprove, in(lockbox.StatusActive, extension(lockbox.ExtensionApproved)), lockbox.ECONFLICT},
		{"RecordExtensionApprovalPending", lockbox.EventRecordExtensionApproval, in(lockbox.StatusActive, extension(lockbox.ExtensionPending)), ok},
		{"RecordExtensionApprovalNone", lockbox.EventRecordExtensionApproval, in(lockbox.StatusActive, none), lockbox.ECONFLICT},
		{"ExtensionDenyPending", lockbox.EventExtensionDeny, in(lockbox.StatusActive, extension(lockbox.ExtensionPending)), ok},
		{"ExtensionDenyLapsed", lockbox.EventExtensionDeny, in(lockbox.StatusActive, extension(lockbox.ExtensionLapsed)), lockbox.ECONFLICT},
		{"ExtensionLapsePending", lockbox.EventExtensionLapse, in(lockbox.StatusActive, extension(lockbox.ExtensionPending)), ok},
		{"ExtensionLapseNone", lockbox.EventExtensionLapse, in(lockbox.StatusActive, none), lockbox.ECONFLICT},
		{"AcknowledgeCompletedNeedsReview", lockbox.EventAcknowledge, in(lockbox.StatusCompleted, reviewed(true, false)), ok},
		{"AcknowledgeRevokedNeedsReview", lockbox.EventAcknowledge, in(lockbox.StatusRevoked, reviewed(true, false)), ok},
		{"AcknowledgeTwice", lockbox.EventAcknowledge, in(lockbox.StatusCompleted, reviewed(false, true)), lockbox.ECONFLICT},
		{"AcknowledgeNormalPathBreakGlass", lockbox.EventAcknowledge, in(lockbox.StatusCompleted, reviewed(false, false)), lockbox.ECONFLICT},
		{"AcknowledgeNormalRequest", lockbox.EventAcknowledge, in(lockbox.StatusRevoked, none), lockbox.ECONFLICT},
		{"PolicyApproveAutoApprove", lockbox.EventPolicyApprove, in(lockbox.StatusPending, policy(lockbox.OutcomeAutoApprove)), ok},
		{"PolicyApproveNoRules", lockbox.EventPolicyApprove, in(lockbox.StatusPending, none), lockbox.ECONFLICT},
		{"PolicyApproveDeny", lockbox.EventPolicyApprove, in(lockbox.StatusPending, policy(lockbox.OutcomeDeny)), lockbox.ECONFLICT},
		{"PolicyApproveRequireApprovals", lockbox.EventPolicyApprove, in(lockbox.StatusPending, policy(lockbox.OutcomeRequireApprovals)), lockbox.ECONFLICT},
		{"PolicyApproveSettings", lockbox.EventPolicyApprove, in(lockbox.StatusPending, policy(lockbox.OutcomeSettings)), lockbox.ECONFLICT},
		{"PolicyDenyDeny", lockbox.EventPolicyDeny, in(lockbox.StatusPending, policy(lockbox.OutcomeDeny)), ok},
		{"PolicyDenyNoRules", lockbox.EventPolicyDeny, in(lockbox.StatusPending, none), lockbox.ECONFLICT},
		{"PolicyDenyAutoApprove", lockbox.EventPolicyDeny, in(lockbox.StatusPending, policy(lockbox.OutcomeAutoApprove)), lockbox.ECONFLICT},
		{"BreakGlassOfBreakGlass", lockbox.EventBreakGlass, in(lockbox.StatusPending, func(r *lockbox.AccessRequest) { r.BreakGlass, r.Incident = true, "INC-1" }), ok},
		{"BreakGlassOfNormalRequest", lockbox.EventBreakGlass, in(lockbox.StatusPending, none), lockbox.ECONFLICT},
		{"EscalateDue", lockbox.EventEscalate, in(lockbox.StatusPending, escalation(at(3*time.Hour), false)), ok},
		{"EscalateOff", lockbox.EventEscalate, in(lockbox.StatusPending, escalation(nil, false)), lockbox.ECONFLICT},
		{"EscalateTwice", lockbox.EventEscalate, in(lockbox.StatusPending, escalation(at(3*time.Hour), true)), lockbox.ECONFLICT},
		{"EscalateAtExpiry", lockbox.EventEscalate, in(lockbox.StatusPending, escalation(at(13*time.Hour), false)), lockbox.ECONFLICT},
		{"EscalateAfterExpiry", lockbox.EventEscalate, in(lockbox.StatusPending, escalation(at(14*time.Hour), false)), lockbox.ECONFLICT},
	}
	covered := map[lockbox.Event]map[string]bool{}
	for _, tt := range tests {
		if covered[tt.ev] == nil {
			covered[tt.ev] = map[string]bool{}
		}
		covered[tt.ev][tt.want] = true
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := tt.request()
			if _, err := lockbox.Next(r.Status, tt.ev); err != nil {
				t.Fatalf("the fixture's status does not allow %s, so the guard is not what is tested: %v", tt.ev, err)
			}
			err := r.Check(tt.ev)
			if got := lockbox.ErrorCode(err); got != tt.want {
				t.Fatalf("Check: got %v (code %q), want %q", err, got, tt.want)
			}
			if err == nil {
				return
			}
			before := r.Clone()
			s := lockbox.DefaultSettings()
			if _, aerr := r.ApplyAs(tt.ev, lockbox.Actor{Email: "ap@contoso.test", UserID: "ap"}, t0.Add(4*time.Hour), &s); lockbox.ErrorCode(aerr) != tt.want {
				t.Errorf("Check refused (%v) but Apply answered %v", err, aerr)
			}
			if !cmp.Equal(before, r) {
				t.Errorf("a refused event changed the request:\n%s", cmp.Diff(before, r))
			}
		})
	}
	for _, rule := range lockbox.EventRules {
		if rule.Guard != nil && (!covered[rule.Event][ok] || !covered[rule.Event][lockbox.ECONFLICT]) {
			t.Errorf("the guard of %s needs a fixture that satisfies it and one that violates it", rule.Event)
		}
	}
}

// TestTerminalStatesHaveNoExit: no event leaves a terminal status; the only
// event a terminal status allows (an acknowledgement) keeps it.
func TestTerminalStatesHaveNoExit(t *testing.T) {
	t.Parallel()
	events := append(slices.Clone(lockbox.PersonEvents), lockbox.SystemEvents...)
	for _, st := range lockbox.Statuses {
		if !st.Terminal() {
			continue
		}
		for _, ev := range events {
			to, err := lockbox.Next(st, ev)
			if err == nil && to == st && ev == lockbox.EventAcknowledge {
				continue
			}
			if lockbox.ErrorCode(err) != lockbox.ECONFLICT {
				t.Errorf("%s/%s: got %s, %v; want conflict", st, ev, to, err)
			}
		}
	}
}

func TestAuthorizeOtherTenantIsNotFound(t *testing.T) {
	t.Parallel()
	perms := []lockbox.Permission{lockbox.PermReadSettings, lockbox.PermWriteSettings, lockbox.PermReadTenantUsers,
		lockbox.PermWriteTenantUsers, lockbox.PermManageWebhooks, lockbox.PermReadAudit,
		lockbox.PermReadPolicy, lockbox.PermWritePolicy}
	for _, p := range perms {
		err := lockbox.Authorize(actors["other_tenant_admin"], p, "contoso")
		if lockbox.ErrorCode(err) != lockbox.ENOTFOUND {
			t.Errorf("permission %d: got %v, want not_found", p, err)
		}
		// The provider never manages a tenant after onboarding.
		err = lockbox.Authorize(actors["provider_admin"], p, "contoso")
		if p != lockbox.PermReadAudit && lockbox.ErrorCode(err) != lockbox.EFORBIDDEN {
			t.Errorf("provider admin, permission %d: got %v, want forbidden", p, err)
		}
	}
	if err := lockbox.Authorize(actors["global_admin"], lockbox.PermWriteTenantUsers, "contoso"); err != nil {
		t.Errorf("global admin assigning roles: %v", err)
	}
	if err := lockbox.Authorize(actors["approver"], lockbox.PermWriteTenantUsers, "contoso"); lockbox.ErrorCode(err) != lockbox.EFORBIDDEN {
		t.Errorf("approver assigning roles: got %v, want forbidden", err)
	}
}
