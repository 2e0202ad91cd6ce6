package lockbox_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lockboxhq/lockbox"
)

// describe renders a row of the event table, with its audit data for
// fixture (as the event left it) and which of fixture's times it is due at.
func describe(rule lockbox.EventRule, fixture *lockbox.AccessRequest) string {
	from := make([]string, len(rule.From))
	for i, s := range rule.From {
		from[i] = string(s)
	}
	who := []string{"-", "reviewer", "decider", "ender", "acknowledger"}[rule.Records]
	s := fmt.Sprintf("%s→%s verb=%q op=%s record=%s who=%s", strings.Join(from, ","), rule.To,
		rule.Verb, rule.Operation, rule.RecordType, who)
	if rule.System {
		s += " system"
	}
	if rule.Due != nil {
		due := rule.Due(fixture)
		for name, t := range map[string]*time.Time{"expires_at": &fixture.ExpiresAt,
			"access_starts_at": fixture.AccessStartsAt, "access_ends_at": fixture.AccessEndsAt, "escalate_at": fixture.EscalateAt} {
			if due.Equal(*t) {
				s += " due=" + name
			}
		}
	}
	for _, n := range []struct{ name, kind string }{{"ask", rule.AskApprovers},
		{"tell", rule.TellApprovers}, {"requester", rule.TellRequester}, {"escalation", rule.TellEscalation}, {"webhook", rule.Webhook}} {
		if n.kind != "" {
			s += " " + n.name + "=" + n.kind
		}
	}
	if rule.AuditData != nil {
		data := rule.AuditData(fixture)
		keys := make([]string, 0, len(data))
		for k := range data {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			s += fmt.Sprintf(" %s=%v", k, data[k])
		}
	}
	return s
}

// TestEventTable pins every row of the event table, written out again here
// independently: a changed row must change this test too, and whoever adds
// an event adds its line. TestEventOutputs (approval) checks the same rows
// end to end, as the audit log, outbox and request show them.
func TestEventTable(t *testing.T) {
	h := func(n int) *time.Time { return ptr(time.Date(2026, 11, 21, n, 0, 0, 0, time.UTC)) }
	fixture := &lockbox.AccessRequest{ExpiresAt: *h(9), AccessStartsAt: h(10), AccessEndsAt: h(12),
		EscalateAt: h(8), Incident: "INC-7", BreakGlass: true, RequestedDurationMinutes: 120,
		Policy: &lockbox.PolicyDecision{Outcome: lockbox.OutcomeAutoApprove, Rule: "diag", Matched: []string{"diag", "other"}}}
	want := map[lockbox.Event]string{
		lockbox.EventReviewApprove:           `pending_review→pending verb="approved in review" op=request.reviewed record=LockboxRequest who=reviewer ask=request.pending webhook=request.pending decision=approve`,
		lockbox.EventReviewDeny:              `pending_review→denied verb="denied in review" op=request.denied record=LockboxRequest who=reviewer requester=request.denied decision=deny`,
		lockbox.EventApprove:                 `pending→approved verb="approved" op=request.approved record=LockboxDecision who=decider requester=request.approved webhook=request.approved access_ends_at=2026-11-21T12:00:00Z access_starts_at=2026-11-21T10:00:00Z`,
		lockbox.EventRecordApproval:          `pending→pending verb="approved" op=request.approval_recorded record=LockboxDecision who=-`,
		lockbox.EventDeny:                    `pending→denied verb="denied" op=request.denied record=LockboxDecision who=decider requester=request.denied webhook=request.denied`,
		lockbox.EventCancel:                  `pending_review,pending,approved→canceled verb="canceled" op=request.canceled record=LockboxDecision who=ender webhook=request.canceled`,
		lockbox.EventRevoke:                  `approved,active→revoked verb="revoked" op=request.revoked record=LockboxDecision who=ender requester=request.revoked webhook=request.revoked`,
		lockbox.EventComplete:                `active→completed verb="completed" op=request.completed record=LockboxRequest who=ender webhook=request.completed`,
		lockbox.EventSystemApprove:           `pending→approved verb="approved" op=request.approved record=LockboxDecision who=decider system tell=request.auto_approved requester=request.approved webhook=request.approved access_ends_at=2026-11-21T12:00:00Z access_starts_at=2026-11-21T10:00:00Z decided_by=system why=The tenant does not require approval for data access requests.`,
		lockbox.EventPolicyApprove:           `pending→approved verb="approved by policy" op=request.approved record=LockboxDecision who=decider system tell=request.policy_approved requester=request.approved webhook=request.approved access_ends_at=2026-11-21T12:00:00Z access_starts_at=2026-11-21T10:00:00Z decided_by=policy:diag matched=[diag other] rule=diag why=The tenant's policy rule "diag" matched this request.`,
		lockbox.EventPolicyDeny:              `pending→denied verb="denied by policy" op=request.denied record=LockboxDecision who=decider system tell=request.policy_denied requester=request.denied webhook=request.denied decided_by=policy:diag matched=[diag other] rule=diag why=The tenant's policy rule "diag" matched this request.`,
		lockbox.EventExpire:                  `pending_review,pending→expired verb="expired" op=request.expired record=LockboxDecision who=ender system due=expires_at requester=request.expired webhook=request.expired deadline=2026-11-21T09:00:00Z`,
		lockbox.EventActivate:                `approved→active verb="activated" op=request.activated record=LockboxRequest who=- system due=access_starts_at webhook=request.activated access_ends_at=2026-11-21T12:00:00Z access_starts_at=2026-11-21T10:00:00Z`,
		lockbox.EventAccessEnd:               `active→completed verb="completed" op=request.completed record=LockboxRequest who=ender system due=access_ends_at webhook=request.completed access_ended_at=2026-11-21T12:00:00Z`,
		lockbox.EventExtend:                  `active→active verb="extended" op=request.extension_requested record=LockboxRequest who=- tell=request.extension_requested webhook=request.extension_requested access_ends_at=2026-11-21T12:00:00Z`,
		lockbox.EventExtensionApprove:        `active→active verb="extended" op=request.extension_approved record=LockboxDecision who=- requester=request.extension_approved webhook=request.extension_approved access_ends_at=2026-11-21T12:00:00Z`,
		lockbox.EventExtensionDeny:           `active→active verb="denied an extension" op=request.extension_denied record=LockboxDecision who=- requester=request.extension_denied webhook=request.extension_denied access_ends_at=2026-11-21T12:00:00Z`,
		lockbox.EventExtensionLapse:          `active→active verb="lapsed" op=request.extension_lapsed record=LockboxRequest who=- system requester=request.extension_lapsed webhook=request.extension_lapsed access_ends_at=2026-11-21T12:00:00Z`,
		lockbox.EventRecordExtensionApproval: `active→active verb="extended" op=request.approval_recorded record=LockboxDecision who=- access_ends_at=2026-11-21T12:00:00Z`,
		lockbox.EventRequesterRevoke:         `approved,active→revoked verb="revoked" op=request.revoked record=LockboxDecision who=ender system webhook=request.revoked decided_by=system why=The requester's provider account was disabled or removed.`,
		lockbox.EventAcknowledge:             `completed,revoked→ verb="acknowledged" op=request.acknowledged record=LockboxDecision who=acknowledger webhook=request.acknowledged break_glass=true incident=INC-7`,
		lockbox.EventBreakGlass:              `pending→approved verb="activated by break-glass" op=request.break_glass_activated record=LockboxDecision who=decider system tell=request.break_glass requester=request.approved webhook=request.break_glass_activated access_ends_at=2026-11-21T12:00:00Z access_starts_at=2026-11-21T10:00:00Z decided_by=system incident=INC-7 requested_duration_minutes=120 why=Break-glass: the tenant lets a reviewed emergency request start without approval; it must be acknowledged afterwards.`,
		lockbox.EventEscalate:                `pending→pending verb="escalated" op=request.escalated record=LockboxRequest who=- system due=escalate_at escalation=request.escalated deadline=2026-11-21T09:00:00Z escalated_at=<nil>`,
		lockbox.EventRequesterCancel:         `pending_review,pending→canceled verb="canceled" op=request.canceled record=LockboxDecision who=ender system webhook=request.canceled decided_by=system why=The requester's provider account was disabled or removed.`,
	}
	got := map[lockbox.Event]string{}
	for _, rule := range lockbox.EventRules {
		if _, dup := got[rule.Event]; dup {
			t.Errorf("event %s has two rows", rule.Event)
		}
		got[rule.Event] = describe(rule, fixture)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("event table (-want +got):\n%s", diff)
	}
}

// TestEventTableShape checks what the rest of the code relies on.
func TestEventTableShape(t *testing.T) {
	wantPerson := []lockbox.Event{lockbox.EventReviewApprove, lockbox.EventReviewDeny, lockbox.EventApprove,
		lockbox.EventDeny, lockbox.EventCancel, lockbox.EventRevoke, lockbox.EventComplete,
		lockbox.EventExtend, lockbox.EventExtensionApprove, lockbox.EventExtensionDeny, lockbox.EventAcknowledge}
	wantSystem := []lockbox.Event{lockbox.EventSystemApprove, lockbox.EventPolicyApprove, lockbox.EventPolicyDeny, lockbox.EventBreakGlass, lockbox.EventEscalate, lockbox.EventExpire, lockbox.EventActivate,
		lockbox.EventExtensionLapse, lockbox.EventAccessEnd, lockbox.EventRequesterRevoke, lockbox.EventRequesterCancel}
	if diff := cmp.Diff(wantPerson, lockbox.PersonEvents); diff != "" {
		t.Errorf("PersonEvents (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantSystem, lockbox.SystemEvents); diff != "" {
		t.Errorf("SystemEvents (-want +got):\n%s", diff)
	}
	timed := map[lockbox.Status]lockbox.Event{}
	for _, rule := range lockbox.EventRules {
		if rule.Due == nil {
			continue
		}
		// Settle applies deadlines without the tenant's settings, which only
		// a request becoming pending needs; and only the system keeps time.
		becomesPending := rule.To == lockbox.StatusPending && slices.ContainsFunc(rule.From, func(s lockbox.Status) bool { return s != lockbox.StatusPending })
		if becomesPending || !rule.System {
			t.Errorf("%s: a deadline's event must be the system's and not make a request pending", rule.Event)
		}
		if rule.Guard != nil {
			continue // a conditional deadline (an extension's lapse, an escalation) comes before the status's own
		}
		for _, s := range rule.From {
			if other, ok := timed[s]; ok {
				t.Errorf("%s has two deadlines: %s and %s", s, other, rule.Event)
			}
			timed[s] = rule.Event
		}
	}
	for _, s := range lockbox.Statuses {
		if _, ok := timed[s]; ok == s.Terminal() {
			t.Errorf("%s: has a deadline = %v, want %v (every live status has one)", s, ok, !s.Terminal())
		}
	}
	if op := lockbox.Event("nudge").AuditOperation(); op != "request.nudge" {
		t.Errorf("an unknown event's operation = %q", op)
	}
	if v := lockbox.Event("nudge").Verb(); v != "nudge" {
		t.Errorf("an unknown event's verb = %q", v)
	}
}

func ptr[T any](v T) *T { return &v }
