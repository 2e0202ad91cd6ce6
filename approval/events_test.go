package approval_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/lockboxhq/lockbox"
)

// TestEventOutputs pins, for every event, everything the workflow writes
// when it happens: the request's fields, its audit records (type,
// operation, actor, data) and the notifications it queues (emails and
// webhooks), as customers, auditors and receivers get them, so that a
// change to what an event does shows here as a diff. Times are offsets from
// the start of a synctest bubble, so they are exact.
func TestEventOutputs(t *testing.T) {
	type step func(h *harness, r *lockbox.AccessRequest) *lockbox.AccessRequest
	act := func(email string, ev lockbox.Event) step {
		return func(h *harness, r *lockbox.AccessRequest) *lockbox.AccessRequest {
			ctx := lockbox.NewContextWithClientIP(h.as(email), "203.0.113.7")
			out, err := h.svc.Act(ctx, r.ID, ev, lockbox.Decision{Comment: "says " + email})
			if err != nil {
				h.t.Fatalf("%s by %s: %v", ev, email, err)
			}
			return out
		}
	}
	wait := func(d time.Duration) step {
		return func(h *harness, r *lockbox.AccessRequest) *lockbox.AccessRequest {
			time.Sleep(d)
			if err := h.svc.SettleDue(context.Background()); err != nil {
				h.t.Fatal(err)
			}
			if err := h.svc.EnqueueReminders(context.Background()); err != nil {
				h.t.Fatal(err)
			}
			return r
		}
	}
	const (
		manager  = "manager@provider.test"
		operator = "operator@provider.test"
		approver = "approver@contoso.test"
	)
	review := act(manager, lockbox.EventReviewApprove)
	extendBy := func(minutes int) step {
		return func(h *harness, r *lockbox.AccessRequest) *lockbox.AccessRequest {
			ctx := lockbox.NewContextWithClientIP(h.as(operator), "203.0.113.7")
			out, err := h.svc.Act(ctx, r.ID, lockbox.EventExtend, lockbox.Decision{Extend: &lockbox.ExtensionAsk{Minutes: minutes, Reason: "not done"}})
			if err != nil {
				h.t.Fatalf("extend: %v", err)
			}
			return out
		}
	}
	approveWith := func(email string, c lockbox.Changes) step {
		return func(h *harness, r *lockbox.AccessRequest) *lockbox.AccessRequest {
			ctx := lockbox.NewContextWithClientIP(h.as(email), "203.0.113.7")
			out, err := h.svc.Act(ctx, r.ID, lockbox.EventApprove, lockbox.Decision{Comment: "says " + email, Changes: c})
			if err != nil {
				h.t.Fatalf("approve by %s: %v", email, err)
			}
			return out
		}
	}
	tests := []struct {
		name      string
		startIn   time.Duration // scheduled start, 0 for none
		noApprove bool          // the tenant does not require approval
		quorum    int           // approvals_required, 0 for the default
		// breakGlass files a break-glass request; bgEnabled lets the tenant
		// take it (max 60 minutes); escalate is escalation.after_minutes.
		breakGlass, bgEnabled bool
		escalate              int
		steps                 []step
		want                  []string
	}{
		{name: "ReviewApprove", steps: []step{review}, want: []string{
			"request pending v2 expires=12h0m0s reviewed=manager@provider.test@0s:says manager@provider.test",
			"audit LockboxRequest request.created operator@provider.test provider_staff Succeeded {\"duration_minutes\":120,\"expires_at\":\"2000-01-01T12:00:00Z\",\"operations\":[\"Get-MailboxStatistics\"],\"reason\":\"Mailbox fails to load.\",\"reference\":\"REF\",\"service\":\"exchange\",\"service_request\":\"SR-2026-004211\",\"start_time\":null}",
			"audit LockboxRequest request.reviewed manager@provider.test provider_staff Succeeded ip=203.0.113.7 {\"comment\":\"says manager@provider.test\",\"decision\":\"approve\",\"duration_minutes\":120,\"from\":\"pending_review\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"pending\"}",
			"outbox email request.pending admin@contoso.test",
			"outbox email request.pending approver@contoso.test",
			"outbox webhook request.pending hook",
		}},
		{name: "ReviewDeny", steps: []step{act(manager, lockbox.EventReviewDeny)}, want: []string{
			"request denied v2 expires=12h0m0s reviewed=manager@provider.test@0s:says manager@provider.test ended=@0s",
			"audit LockboxRequest request.created operator@provider.test provider_staff Succeeded {\"duration_minutes\":120,\"expires_at\":\"2000-01-01T12:00:00Z\",\"operations\":[\"Get-MailboxStatistics\"],\"reason\":\"Mailbox fails to load.\",\"reference\":\"REF\",\"service\":\"exchange\",\"service_request\":\"SR-2026-004211\",\"start_time\":null}",
			"audit LockboxRequest request.denied manager@provider.test provider_staff Succeeded ip=203.0.113.7 {\"comment\":\"says manager@provider.test\",\"decision\":\"deny\",\"duration_minutes\":120,\"from\":\"pending_review\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"denied\"}",
			"outbox email request.denied operator@provider.test",
		}},
		{name: "ApproveAndActivate", steps: []step{review, act(approver, lockbox.EventApprove)}, want: []string{
			"request active v4 expires=12h0m0s access=0s..2h0m0s reviewed=manager@provider.test@0s:says manager@provider.test decided=approver@contoso.test@0s:says approver@contoso.test",
			"audit LockboxRequest request.created operator@provider.test provider_staff Succeeded {\"duration_minutes\":120,\"expires_at\":\"2000-01-01T12:00:00Z\",\"operations\":[\"Get-MailboxStatistics\"],\"reason\":\"Mailbox fails to load.\",\"reference\":\"REF\",\"service\":\"exchange\",\"service_request\":\"SR-2026-004211\",\"start_time\":null}",
			"audit LockboxRequest request.reviewed manager@provider.test provider_staff Succeeded ip=203.0.113.7 {\"comment\":\"says manager@provider.test\",\"decision\":\"approve\",\"duration_minutes\":120,\"from\":\"pending_review\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"pending\"}",
			"audit LockboxDecision request.approved approver@contoso.test tenant_user Succeeded ip=203.0.113.7 {\"access_ends_at\":\"2000-01-01T02:00:00Z\",\"access_starts_at\":\"2000-01-01T00:00:00Z\",\"comment\":\"says approver@contoso.test\",\"duration_minutes\":120,\"from\":\"pending\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"approved\"}",
			"audit LockboxRequest request.activated system system Succeeded {\"access_ends_at\":\"2000-01-01T02:00:00Z\",\"access_starts_at\":\"2000-01-01T00:00:00Z\",\"duration_minutes\":120,\"from\":\"approved\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"active\"}",
			"outbox email request.approved operator@provider.test",
			"outbox email request.pending admin@contoso.test",
			"outbox email request.pending approver@contoso.test",
			"outbox webhook request.activated hook",
			"outbox webhook request.approved hook",
			"outbox webhook request.pending hook",
		}},
		{name: "Deny", steps: []step{review, act(approver, lockbox.EventDeny)}, want: []string{
			"request denied v3 expires=12h0m0s reviewed=manager@provider.test@0s:says manager@provider.test decided=approver@contoso.test@0s:says approver@contoso.test ended=@0s",
			"audit LockboxRequest request.created operator@provider.test provider_staff Succeeded {\"duration_minutes\":120,\"expires_at\":\"2000-01-01T12:00:00Z\",\"operations\":[\"Get-MailboxStatistics\"],\"reason\":\"Mailbox fails to load.\",\"reference\":\"REF\",\"service\":\"exchange\",\"service_request\":\"SR-2026-004211\",\"start_time\":null}",
			"audit LockboxRequest request.reviewed manager@provider.test provider_staff Succeeded ip=203.0.113.7 {\"comment\":\"says manager@provider.test\",\"decision\":\"approve\",\"duration_minutes\":120,\"from\":\"pending_review\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"pending\"}",
			"audit LockboxDecision request.denied approver@contoso.test tenant_user Succeeded ip=203.0.113.7 {\"comment\":\"says approver@contoso.test\",\"duration_minutes\":120,\"from\":\"pending\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"denied\"}",
			"outbox email request.denied operator@provider.test",
			"outbox email request.pending admin@contoso.test",
			"outbox email request.pending approver@contoso.test",
			"outbox webhook request.denied hook",
			"outbox webhook request.pending hook",
		}},
		{name: "CancelInReview", steps: []step{act(operator, lockbox.EventCancel)}, want: []string{
			"request canceled v2 expires=12h0m0s ended=operator@provider.test@0s:says operator@provider.test",
			"audit LockboxRequest request.created operator@provider.test provider_staff Succeeded {\"duration_minutes\":120,\"expires_at\":\"2000-01-01T12:00:00Z\",\"operations\":[\"Get-MailboxStatistics\"],\"reason\":\"Mailbox fails to load.\",\"reference\":\"REF\",\"service\":\"exchange\",\"service_request\":\"SR-2026-004211\",\"start_time\":null}",
			"audit LockboxDecision request.canceled operator@provider.test provider_staff Succeeded ip=203.0.113.7 {\"comment\":\"says operator@provider.test\",\"duration_minutes\":120,\"from\":\"pending_review\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"canceled\"}",
		}},
		{name: "CancelPending", steps: []step{review, act(approver, lockbox.EventCancel)}, want: []string{
			"request canceled v3 expires=12h0m0s reviewed=manager@provider.test@0s:says manager@provider.test ended=approver@contoso.test@0s:says approver@contoso.test",
			"audit LockboxRequest request.created operator@provider.test provider_staff Succeeded {\"duration_minutes\":120,\"expires_at\":\"2000-01-01T12:00:00Z\",\"operations\":[\"Get-MailboxStatistics\"],\"reason\":\"Mailbox fails to load.\",\"reference\":\"REF\",\"service\":\"exchange\",\"service_request\":\"SR-2026-004211\",\"start_time\":null}",
			"audit LockboxRequest request.reviewed manager@provider.test provider_staff Succeeded ip=203.0.113.7 {\"comment\":\"says manager@provider.test\",\"decision\":\"approve\",\"duration_minutes\":120,\"from\":\"pending_review\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"pending\"}",
			"audit LockboxDecision request.canceled approver@contoso.test tenant_user Succeeded ip=203.0.113.7 {\"comment\":\"says approver@contoso.test\",\"duration_minutes\":120,\"from\":\"pending\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"canceled\"}",
			"outbox email request.pending admin@contoso.test",
			"outbox email request.pending approver@contoso.test",
			"outbox webhook request.canceled hook",
			"outbox webhook request.pending hook",
		}},
		{name: "CancelApproved", startIn: 3 * time.Hour, steps: []step{review, act(approver, lockbox.EventApprove), act(operator, lockbox.EventCancel)}, want: []string{
			"request canceled v4 expires=12h0m0s access=3h0m0s..5h0m0s reviewed=manager@provider.test@0s:says manager@provider.test decided=approver@contoso.test@0s:says approver@contoso.test ended=operator@provider.test@0s:says operator@provider.test",
			"audit LockboxRequest request.created operator@provider.test provider_staff Succeeded {\"duration_minutes\":120,\"expires_at\":\"2000-01-01T12:00:00Z\",\"operations\":[\"Get-MailboxStatistics\"],\"reason\":\"Mailbox fails to load.\",\"reference\":\"REF\",\"service\":\"exchange\",\"service_request\":\"SR-2026-004211\",\"start_time\":\"2000-01-01T03:00:00Z\"}",
			"audit LockboxRequest request.reviewed manager@provider.test provider_staff Succeeded ip=203.0.113.7 {\"comment\":\"says manager@provider.test\",\"decision\":\"approve\",\"duration_minutes\":120,\"from\":\"pending_review\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"pending\"}",
			"audit LockboxDecision request.approved approver@contoso.test tenant_user Succeeded ip=203.0.113.7 {\"access_ends_at\":\"2000-01-01T05:00:00Z\",\"access_starts_at\":\"2000-01-01T03:00:00Z\",\"comment\":\"says approver@contoso.test\",\"duration_minutes\":120,\"from\":\"pending\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"approved\"}",
			"audit LockboxDecision request.canceled operator@provider.test provider_staff Succeeded ip=203.0.113.7 {\"comment\":\"says operator@provider.test\",\"duration_minutes\":120,\"from\":\"approved\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"canceled\"}",
			"outbox email request.approved operator@provider.test",
			"outbox email request.pending admin@contoso.test",
			"outbox email request.pending approver@contoso.test",
			"outbox webhook request.approved hook",
			"outbox webhook request.canceled hook",
			"outbox webhook request.pending hook",
		}},
		{name: "RevokeApproved", startIn: 3 * time.Hour, steps: []step{review, act(approver, lockbox.EventApprove), act(approver, lockbox.EventRevoke)}, want: []string{
			"request revoked v4 expires=12h0m0s access=3h0m0s..5h0m0s reviewed=manager@provider.test@0s:says manager@provider.test decided=approver@contoso.test@0s:says approver@contoso.test ended=approver@contoso.test@0s:says approver@contoso.test",
			"audit LockboxRequest request.created operator@provider.test provider_staff Succeeded {\"duration_minutes\":120,\"expires_at\":\"2000-01-01T12:00:00Z\",\"operations\":[\"Get-MailboxStatistics\"],\"reason\":\"Mailbox fails to load.\",\"reference\":\"REF\",\"service\":\"exchange\",\"service_request\":\"SR-2026-004211\",\"start_time\":\"2000-01-01T03:00:00Z\"}",
			"audit LockboxRequest request.reviewed manager@provider.test provider_staff Succeeded ip=203.0.113.7 {\"comment\":\"says manager@provider.test\",\"decision\":\"approve\",\"duration_minutes\":120,\"from\":\"pending_review\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"pending\"}",
			"audit LockboxDecision request.approved approver@contoso.test tenant_user Succeeded ip=203.0.113.7 {\"access_ends_at\":\"2000-01-01T05:00:00Z\",\"access_starts_at\":\"2000-01-01T03:00:00Z\",\"comment\":\"says approver@contoso.test\",\"duration_minutes\":120,\"from\":\"pending\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"approved\"}",
			"audit LockboxDecision request.revoked approver@contoso.test tenant_user Succeeded ip=203.0.113.7 {\"comment\":\"says approver@contoso.test\",\"duration_minutes\":120,\"from\":\"approved\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"revoked\"}",
			"outbox email request.approved operator@provider.test",
			"outbox email request.pending admin@contoso.test",
			"outbox email request.pending approver@contoso.test",
			"outbox email request.revoked operator@provider.test",
			"outbox webhook request.approved hook",
			"outbox webhook request.pending hook",
			"outbox webhook request.revoked hook",
		}},
		{name: "RevokeActive", steps: []step{review, act(approver, lockbox.EventApprove), act(approver, lockbox.EventRevoke)}, want: []string{
			"request revoked v5 expires=12h0m0s access=0s..2h0m0s reviewed=manager@provider.test@0s:says manager@provider.test decided=approver@contoso.test@0s:says approver@contoso.test ended=approver@contoso.test@0s:says approver@contoso.test",
			"audit LockboxRequest request.created operator@provider.test provider_staff Succeeded {\"duration_minutes\":120,\"expires_at\":\"2000-01-01T12:00:00Z\",\"operations\":[\"Get-MailboxStatistics\"],\"reason\":\"Mailbox fails to load.\",\"reference\":\"REF\",\"service\":\"exchange\",\"service_request\":\"SR-2026-004211\",\"start_time\":null}",
			"audit LockboxRequest request.reviewed manager@provider.test provider_staff Succeeded ip=203.0.113.7 {\"comment\":\"says manager@provider.test\",\"decision\":\"approve\",\"duration_minutes\":120,\"from\":\"pending_review\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"pending\"}",
			"audit LockboxDecision request.approved approver@contoso.test tenant_user Succeeded ip=203.0.113.7 {\"access_ends_at\":\"2000-01-01T02:00:00Z\",\"access_starts_at\":\"2000-01-01T00:00:00Z\",\"comment\":\"says approver@contoso.test\",\"duration_minutes\":120,\"from\":\"pending\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"approved\"}",
			"audit LockboxRequest request.activated system system Succeeded {\"access_ends_at\":\"2000-01-01T02:00:00Z\",\"access_starts_at\":\"2000-01-01T00:00:00Z\",\"duration_minutes\":120,\"from\":\"approved\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"active\"}",
			"audit LockboxDecision request.revoked approver@contoso.test tenant_user Succeeded ip=203.0.113.7 {\"comment\":\"says approver@contoso.test\",\"duration_minutes\":120,\"from\":\"active\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"revoked\"}",
			"audit LockboxRequest request.access_report system system Succeeded {\"access_ended_at\":\"2000-01-01T00:00:00Z\",\"access_starts_at\":\"2000-01-01T00:00:00Z\",\"allowed_total\":0,\"blocked\":[],\"blocked_total\":0,\"break_glass\":false,\"final\":true,\"operations\":[{\"allowed\":0,\"blocked\":0,\"operation\":\"Get-MailboxStatistics\"}],\"reference\":\"REF\",\"service\":\"exchange\",\"status\":\"revoked\",\"unused\":[\"Get-MailboxStatistics\"]}",
			"outbox email request.access_report admin@contoso.test",
			"outbox email request.access_report approver@contoso.test",
			"outbox email request.approved operator@provider.test",
			"outbox email request.pending admin@contoso.test",
			"outbox email request.pending approver@contoso.test",
			"outbox email request.revoked operator@provider.test",
			"outbox webhook request.activated hook",
			"outbox webhook request.approved hook",
			"outbox webhook request.pending hook",
			"outbox webhook request.revoked hook",
		}},
		{name: "Complete", steps: []step{review, act(approver, lockbox.EventApprove), act(operator, lockbox.EventComplete)}, want: []string{
			"request completed v5 expires=12h0m0s access=0s..2h0m0s reviewed=manager@provider.test@0s:says manager@provider.test decided=approver@contoso.test@0s:says approver@contoso.test ended=operator@provider.test@0s:says operator@provider.test",
			"audit LockboxRequest request.created operator@provider.test provider_staff Succeeded {\"duration_minutes\":120,\"expires_at\":\"2000-01-01T12:00:00Z\",\"operations\":[\"Get-MailboxStatistics\"],\"reason\":\"Mailbox fails to load.\",\"reference\":\"REF\",\"service\":\"exchange\",\"service_request\":\"SR-2026-004211\",\"start_time\":null}",
			"audit LockboxRequest request.reviewed manager@provider.test provider_staff Succeeded ip=203.0.113.7 {\"comment\":\"says manager@provider.test\",\"decision\":\"approve\",\"duration_minutes\":120,\"from\":\"pending_review\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"pending\"}",
			"audit LockboxDecision request.approved approver@contoso.test tenant_user Succeeded ip=203.0.113.7 {\"access_ends_at\":\"2000-01-01T02:00:00Z\",\"access_starts_at\":\"2000-01-01T00:00:00Z\",\"comment\":\"says approver@contoso.test\",\"duration_minutes\":120,\"from\":\"pending\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"approved\"}",
			"audit LockboxRequest request.activated system system Succeeded {\"access_ends_at\":\"2000-01-01T02:00:00Z\",\"access_starts_at\":\"2000-01-01T00:00:00Z\",\"duration_minutes\":120,\"from\":\"approved\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"active\"}",
			"audit LockboxRequest request.completed operator@provider.test provider_staff Succeeded ip=203.0.113.7 {\"comment\":\"says operator@provider.test\",\"duration_minutes\":120,\"from\":\"active\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"completed\"}",
			"audit LockboxRequest request.access_report system system Succeeded {\"access_ended_at\":\"2000-01-01T00:00:00Z\",\"access_starts_at\":\"2000-01-01T00:00:00Z\",\"allowed_total\":0,\"blocked\":[],\"blocked_total\":0,\"break_glass\":false,\"final\":true,\"operations\":[{\"allowed\":0,\"blocked\":0,\"operation\":\"Get-MailboxStatistics\"}],\"reference\":\"REF\",\"service\":\"exchange\",\"status\":\"completed\",\"unused\":[\"Get-MailboxStatistics\"]}",
			"outbox email request.access_report admin@contoso.test",
			"outbox email request.access_report approver@contoso.test",
			"outbox email request.approved operator@provider.test",
			"outbox email request.pending admin@contoso.test",
			"outbox email request.pending approver@contoso.test",
			"outbox webhook request.activated hook",
			"outbox webhook request.approved hook",
			"outbox webhook request.completed hook",
			"outbox webhook request.pending hook",
		}},
		{name: "SystemApprove", noApprove: true, steps: []step{review}, want: []string{
			"request active v4 expires=12h0m0s access=0s..2h0m0s reviewed=manager@provider.test@0s:says manager@provider.test decided=system@0s",
			"audit LockboxRequest request.created operator@provider.test provider_staff Succeeded {\"duration_minutes\":120,\"expires_at\":\"2000-01-01T12:00:00Z\",\"operations\":[\"Get-MailboxStatistics\"],\"reason\":\"Mailbox fails to load.\",\"reference\":\"REF\",\"service\":\"exchange\",\"service_request\":\"SR-2026-004211\",\"start_time\":null}",
			"audit LockboxRequest request.reviewed manager@provider.test provider_staff Succeeded ip=203.0.113.7 {\"comment\":\"says manager@provider.test\",\"decision\":\"approve\",\"duration_minutes\":120,\"from\":\"pending_review\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"pending\"}",
			"audit LockboxDecision request.approved system system Succeeded {\"access_ends_at\":\"2000-01-01T02:00:00Z\",\"access_starts_at\":\"2000-01-01T00:00:00Z\",\"decided_by\":\"system\",\"duration_minutes\":120,\"from\":\"pending\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"approved\",\"why\":\"The tenant does not require approval for data access requests.\"}",
			"audit LockboxRequest request.activated system system Succeeded {\"access_ends_at\":\"2000-01-01T02:00:00Z\",\"access_starts_at\":\"2000-01-01T00:00:00Z\",\"duration_minutes\":120,\"from\":\"approved\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"active\"}",
			"outbox email request.approved operator@provider.test",
			"outbox email request.auto_approved admin@contoso.test",
			"outbox email request.auto_approved approver@contoso.test",
			"outbox webhook request.activated hook",
			"outbox webhook request.approved hook",
			"outbox webhook request.pending hook",
		}},
		{name: "ExpireInReview", steps: []step{wait(12 * time.Hour)}, want: []string{
			"request expired v2 expires=12h0m0s ended=system@12h0m0s",
			"audit LockboxRequest request.created operator@provider.test provider_staff Succeeded {\"duration_minutes\":120,\"expires_at\":\"2000-01-01T12:00:00Z\",\"operations\":[\"Get-MailboxStatistics\"],\"reason\":\"Mailbox fails to load.\",\"reference\":\"REF\",\"service\":\"exchange\",\"service_request\":\"SR-2026-004211\",\"start_time\":null}",
			"audit LockboxDecision request.expired system system Succeeded {\"deadline\":\"2000-01-01T12:00:00Z\",\"duration_minutes\":120,\"from\":\"pending_review\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"expired\"}",
			"outbox email request.expired operator@provider.test",
		}},
		{name: "ExpirePending", steps: []step{review, wait(10 * time.Hour), wait(2 * time.Hour)}, want: []string{
			"request expired v3 expires=12h0m0s reviewed=manager@provider.test@0s:says manager@provider.test ended=system@12h0m0s",
			"audit LockboxRequest request.created operator@provider.test provider_staff Succeeded {\"duration_minutes\":120,\"expires_at\":\"2000-01-01T12:00:00Z\",\"operations\":[\"Get-MailboxStatistics\"],\"reason\":\"Mailbox fails to load.\",\"reference\":\"REF\",\"service\":\"exchange\",\"service_request\":\"SR-2026-004211\",\"start_time\":null}",
			"audit LockboxRequest request.reviewed manager@provider.test provider_staff Succeeded ip=203.0.113.7 {\"comment\":\"says manager@provider.test\",\"decision\":\"approve\",\"duration_minutes\":120,\"from\":\"pending_review\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"pending\"}",
			"audit LockboxDecision request.expired system system Succeeded {\"deadline\":\"2000-01-01T12:00:00Z\",\"duration_minutes\":120,\"from\":\"pending\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"expired\"}",
			"outbox email request.expired operator@provider.test",
			"outbox email request.pending admin@contoso.test",
			"outbox email request.pending approver@contoso.test",
			"outbox email request.reminder admin@contoso.test",
			"outbox email request.reminder approver@contoso.test",
			"outbox webhook request.expired hook",
			"outbox webhook request.pending hook",
		}},
		{name: "ScheduledActivateAndAccessEnd", startIn: 3 * time.Hour, steps: []step{review, act(approver, lockbox.EventApprove), wait(3 * time.Hour), wait(2 * time.Hour)}, want: []string{
			"request completed v5 expires=12h0m0s access=3h0m0s..5h0m0s reviewed=manager@provider.test@0s:says manager@provider.test decided=approver@contoso.test@0s:says approver@contoso.test ended=system@5h0m0s",
			"audit LockboxRequest request.created operator@provider.test provider_staff Succeeded {\"duration_minutes\":120,\"expires_at\":\"2000-01-01T12:00:00Z\",\"operations\":[\"Get-MailboxStatistics\"],\"reason\":\"Mailbox fails to load.\",\"reference\":\"REF\",\"service\":\"exchange\",\"service_request\":\"SR-2026-004211\",\"start_time\":\"2000-01-01T03:00:00Z\"}",
			"audit LockboxRequest request.reviewed manager@provider.test provider_staff Succeeded ip=203.0.113.7 {\"comment\":\"says manager@provider.test\",\"decision\":\"approve\",\"duration_minutes\":120,\"from\":\"pending_review\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"pending\"}",
			"audit LockboxDecision request.approved approver@contoso.test tenant_user Succeeded ip=203.0.113.7 {\"access_ends_at\":\"2000-01-01T05:00:00Z\",\"access_starts_at\":\"2000-01-01T03:00:00Z\",\"comment\":\"says approver@contoso.test\",\"duration_minutes\":120,\"from\":\"pending\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"approved\"}",
			"audit LockboxRequest request.activated system system Succeeded {\"access_ends_at\":\"2000-01-01T05:00:00Z\",\"access_starts_at\":\"2000-01-01T03:00:00Z\",\"duration_minutes\":120,\"from\":\"approved\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"active\"}",
			"audit LockboxRequest request.completed system system Succeeded {\"access_ended_at\":\"2000-01-01T05:00:00Z\",\"duration_minutes\":120,\"from\":\"active\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"completed\"}",
			"audit LockboxRequest request.access_report system system Succeeded {\"access_ended_at\":\"2000-01-01T05:00:00Z\",\"access_starts_at\":\"2000-01-01T03:00:00Z\",\"allowed_total\":0,\"blocked\":[],\"blocked_total\":0,\"break_glass\":false,\"final\":true,\"operations\":[{\"allowed\":0,\"blocked\":0,\"operation\":\"Get-MailboxStatistics\"}],\"reference\":\"REF\",\"service\":\"exchange\",\"status\":\"completed\",\"unused\":[\"Get-MailboxStatistics\"]}",
			"outbox email request.access_report admin@contoso.test",
			"outbox email request.access_report approver@contoso.test",
			"outbox email request.approved operator@provider.test",
			"outbox email request.pending admin@contoso.test",
			"outbox email request.pending approver@contoso.test",
			"outbox webhook request.activated hook",
			"outbox webhook request.approved hook",
			"outbox webhook request.completed hook",
			"outbox webhook request.pending hook",
		}},
		{name: "QuorumWithNarrowing", quorum: 2, steps: []step{review,
			approveWith(approver, lockbox.Changes{DurationMinutes: ptr(60)}),
			approveWith("admin@contoso.test", lockbox.Changes{DurationMinutes: ptr(90)})}, want: []string{
			"request active v5 expires=12h0m0s access=0s..1h0m0s reviewed=manager@provider.test@0s:says manager@provider.test decided=admin@contoso.test@0s:says admin@contoso.test",
			"audit LockboxRequest request.created operator@provider.test provider_staff Succeeded {\"duration_minutes\":120,\"expires_at\":\"2000-01-01T12:00:00Z\",\"operations\":[\"Get-MailboxStatistics\"],\"reason\":\"Mailbox fails to load.\",\"reference\":\"REF\",\"service\":\"exchange\",\"service_request\":\"SR-2026-004211\",\"start_time\":null}",
			"audit LockboxRequest request.reviewed manager@provider.test provider_staff Succeeded ip=203.0.113.7 {\"comment\":\"says manager@provider.test\",\"decision\":\"approve\",\"duration_minutes\":120,\"from\":\"pending_review\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"pending\"}",
			"audit LockboxDecision request.approval_recorded approver@contoso.test tenant_user Succeeded ip=203.0.113.7 {\"approvals\":1,\"approvals_required\":2,\"approved_duration_minutes\":60,\"comment\":\"says approver@contoso.test\",\"duration_minutes\":60,\"from\":\"pending\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"pending\"}",
			"audit LockboxDecision request.approved admin@contoso.test tenant_user Succeeded ip=203.0.113.7 {\"access_ends_at\":\"2000-01-01T01:00:00Z\",\"access_starts_at\":\"2000-01-01T00:00:00Z\",\"approvals\":2,\"approvals_required\":2,\"approved_duration_minutes\":90,\"comment\":\"says admin@contoso.test\",\"duration_minutes\":60,\"from\":\"pending\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"approved\"}",
			"audit LockboxRequest request.activated system system Succeeded {\"access_ends_at\":\"2000-01-01T01:00:00Z\",\"access_starts_at\":\"2000-01-01T00:00:00Z\",\"duration_minutes\":60,\"from\":\"approved\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"active\"}",
			"outbox email request.approved operator@provider.test",
			"outbox email request.pending admin@contoso.test",
			"outbox email request.pending approver@contoso.test",
			"outbox webhook request.activated hook",
			"outbox webhook request.approved hook",
			"outbox webhook request.pending hook",
		}},
		{name: "ExtensionApprovedThenLapsed", steps: []step{review, act(approver, lockbox.EventApprove),
			extendBy(30), act(approver, lockbox.EventExtensionApprove), extendBy(15), wait(150 * time.Minute)}, want: []string{
			"request completed v9 expires=12h0m0s access=0s..2h30m0s reviewed=manager@provider.test@0s:says manager@provider.test decided=approver@contoso.test@0s:says approver@contoso.test ended=system@2h30m0s",
			"audit LockboxRequest request.created operator@provider.test provider_staff Succeeded {\"duration_minutes\":120,\"expires_at\":\"2000-01-01T12:00:00Z\",\"operations\":[\"Get-MailboxStatistics\"],\"reason\":\"Mailbox fails to load.\",\"reference\":\"REF\",\"service\":\"exchange\",\"service_request\":\"SR-2026-004211\",\"start_time\":null}",
			"audit LockboxRequest request.reviewed manager@provider.test provider_staff Succeeded ip=203.0.113.7 {\"comment\":\"says manager@provider.test\",\"decision\":\"approve\",\"duration_minutes\":120,\"from\":\"pending_review\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"pending\"}",
			"audit LockboxDecision request.approved approver@contoso.test tenant_user Succeeded ip=203.0.113.7 {\"access_ends_at\":\"2000-01-01T02:00:00Z\",\"access_starts_at\":\"2000-01-01T00:00:00Z\",\"comment\":\"says approver@contoso.test\",\"duration_minutes\":120,\"from\":\"pending\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"approved\"}",
			"audit LockboxRequest request.activated system system Succeeded {\"access_ends_at\":\"2000-01-01T02:00:00Z\",\"access_starts_at\":\"2000-01-01T00:00:00Z\",\"duration_minutes\":120,\"from\":\"approved\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"active\"}",
			"audit LockboxRequest request.extension_requested operator@provider.test provider_staff Succeeded ip=203.0.113.7 {\"access_ends_at\":\"2000-01-01T02:00:00Z\",\"duration_minutes\":120,\"extension_minutes\":30,\"extension_reason\":\"not done\",\"extension_status\":\"pending\",\"from\":\"active\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"active\"}",
			"audit LockboxDecision request.extension_approved approver@contoso.test tenant_user Succeeded ip=203.0.113.7 {\"access_ends_at\":\"2000-01-01T02:30:00Z\",\"comment\":\"says approver@contoso.test\",\"duration_minutes\":120,\"extension_minutes\":30,\"extension_reason\":\"not done\",\"extension_status\":\"approved\",\"from\":\"active\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"active\"}",
			"audit LockboxRequest request.extension_requested operator@provider.test provider_staff Succeeded ip=203.0.113.7 {\"access_ends_at\":\"2000-01-01T02:30:00Z\",\"duration_minutes\":120,\"extension_minutes\":15,\"extension_reason\":\"not done\",\"extension_status\":\"pending\",\"from\":\"active\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"active\"}",
			"audit LockboxRequest request.extension_lapsed system system Succeeded {\"access_ends_at\":\"2000-01-01T02:30:00Z\",\"duration_minutes\":120,\"extension_minutes\":15,\"extension_reason\":\"not done\",\"extension_status\":\"lapsed\",\"from\":\"active\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"active\"}",
			"audit LockboxRequest request.completed system system Succeeded {\"access_ended_at\":\"2000-01-01T02:30:00Z\",\"duration_minutes\":120,\"from\":\"active\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"completed\"}",
			"audit LockboxRequest request.access_report system system Succeeded {\"access_ended_at\":\"2000-01-01T02:30:00Z\",\"access_starts_at\":\"2000-01-01T00:00:00Z\",\"allowed_total\":0,\"blocked\":[],\"blocked_total\":0,\"break_glass\":false,\"final\":true,\"operations\":[{\"allowed\":0,\"blocked\":0,\"operation\":\"Get-MailboxStatistics\"}],\"reference\":\"REF\",\"service\":\"exchange\",\"status\":\"completed\",\"unused\":[\"Get-MailboxStatistics\"]}",
			"outbox email request.access_report admin@contoso.test",
			"outbox email request.access_report approver@contoso.test",
			"outbox email request.approved operator@provider.test",
			"outbox email request.extension_approved operator@provider.test",
			"outbox email request.extension_lapsed operator@provider.test",
			"outbox email request.extension_requested admin@contoso.test",
			"outbox email request.extension_requested admin@contoso.test",
			"outbox email request.extension_requested approver@contoso.test",
			"outbox email request.extension_requested approver@contoso.test",
			"outbox email request.pending admin@contoso.test",
			"outbox email request.pending approver@contoso.test",
			"outbox webhook request.activated hook",
			"outbox webhook request.approved hook",
			"outbox webhook request.completed hook",
			"outbox webhook request.extension_approved hook",
			"outbox webhook request.extension_lapsed hook",
			"outbox webhook request.extension_requested hook",
			"outbox webhook request.extension_requested hook",
			"outbox webhook request.pending hook",
		}},
		{name: "ExtensionDenied", steps: []step{review, act(approver, lockbox.EventApprove),
			extendBy(30), act(approver, lockbox.EventExtensionDeny)}, want: []string{
			"request active v6 expires=12h0m0s access=0s..2h0m0s reviewed=manager@provider.test@0s:says manager@provider.test decided=approver@contoso.test@0s:says approver@contoso.test",
			"audit LockboxRequest request.created operator@provider.test provider_staff Succeeded {\"duration_minutes\":120,\"expires_at\":\"2000-01-01T12:00:00Z\",\"operations\":[\"Get-MailboxStatistics\"],\"reason\":\"Mailbox fails to load.\",\"reference\":\"REF\",\"service\":\"exchange\",\"service_request\":\"SR-2026-004211\",\"start_time\":null}",
			"audit LockboxRequest request.reviewed manager@provider.test provider_staff Succeeded ip=203.0.113.7 {\"comment\":\"says manager@provider.test\",\"decision\":\"approve\",\"duration_minutes\":120,\"from\":\"pending_review\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"pending\"}",
			"audit LockboxDecision request.approved approver@contoso.test tenant_user Succeeded ip=203.0.113.7 {\"access_ends_at\":\"2000-01-01T02:00:00Z\",\"access_starts_at\":\"2000-01-01T00:00:00Z\",\"comment\":\"says approver@contoso.test\",\"duration_minutes\":120,\"from\":\"pending\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"approved\"}",
			"audit LockboxRequest request.activated system system Succeeded {\"access_ends_at\":\"2000-01-01T02:00:00Z\",\"access_starts_at\":\"2000-01-01T00:00:00Z\",\"duration_minutes\":120,\"from\":\"approved\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"active\"}",
			"audit LockboxRequest request.extension_requested operator@provider.test provider_staff Succeeded ip=203.0.113.7 {\"access_ends_at\":\"2000-01-01T02:00:00Z\",\"duration_minutes\":120,\"extension_minutes\":30,\"extension_reason\":\"not done\",\"extension_status\":\"pending\",\"from\":\"active\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"active\"}",
			"audit LockboxDecision request.extension_denied approver@contoso.test tenant_user Succeeded ip=203.0.113.7 {\"access_ends_at\":\"2000-01-01T02:00:00Z\",\"comment\":\"says approver@contoso.test\",\"duration_minutes\":120,\"extension_minutes\":30,\"extension_reason\":\"not done\",\"extension_status\":\"denied\",\"from\":\"active\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"active\"}",
			"outbox email request.approved operator@provider.test",
			"outbox email request.extension_denied operator@provider.test",
			"outbox email request.extension_requested admin@contoso.test",
			"outbox email request.extension_requested approver@contoso.test",
			"outbox email request.pending admin@contoso.test",
			"outbox email request.pending approver@contoso.test",
			"outbox webhook request.activated hook",
			"outbox webhook request.approved hook",
			"outbox webhook request.extension_denied hook",
			"outbox webhook request.extension_requested hook",
			"outbox webhook request.pending hook",
		}},
		{name: "BreakGlass", breakGlass: true, bgEnabled: true, steps: []step{review}, want: []string{
			"request active v4 expires=12h0m0s access=0s..1h0m0s reviewed=manager@provider.test@0s:says manager@provider.test decided=system@0s break_glass=INC-7 needs_review",
			"audit LockboxRequest request.created operator@provider.test provider_staff Succeeded {\"break_glass\":true,\"duration_minutes\":120,\"expires_at\":\"2000-01-01T12:00:00Z\",\"incident\":\"INC-7\",\"operations\":[\"Get-MailboxStatistics\"],\"reason\":\"Mailbox fails to load.\",\"reference\":\"REF\",\"service\":\"exchange\",\"service_request\":\"SR-2026-004211\",\"start_time\":null}",
			"audit LockboxRequest request.reviewed manager@provider.test provider_staff Succeeded ip=203.0.113.7 {\"comment\":\"says manager@provider.test\",\"decision\":\"approve\",\"duration_minutes\":120,\"from\":\"pending_review\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"pending\"}",
			"audit LockboxDecision request.break_glass_activated system system Succeeded {\"access_ends_at\":\"2000-01-01T01:00:00Z\",\"access_starts_at\":\"2000-01-01T00:00:00Z\",\"decided_by\":\"system\",\"duration_minutes\":60,\"from\":\"pending\",\"incident\":\"INC-7\",\"reference\":\"REF\",\"requested_duration_minutes\":120,\"service\":\"exchange\",\"to\":\"approved\",\"why\":\"Break-glass: the tenant lets a reviewed emergency request start without approval; it must be acknowledged afterwards.\"}",
			"audit LockboxRequest request.activated system system Succeeded {\"access_ends_at\":\"2000-01-01T01:00:00Z\",\"access_starts_at\":\"2000-01-01T00:00:00Z\",\"duration_minutes\":60,\"from\":\"approved\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"active\"}",
			"outbox email request.approved operator@provider.test",
			"outbox email request.break_glass admin@contoso.test",
			"outbox email request.break_glass approver@contoso.test",
			"outbox webhook request.activated hook",
			"outbox webhook request.break_glass_activated hook",
			"outbox webhook request.pending hook",
		}},
		{name: "BreakGlassDisabled", breakGlass: true, steps: []step{review}, want: []string{
			"request pending v2 expires=12h0m0s reviewed=manager@provider.test@0s:says manager@provider.test break_glass=INC-7",
			"audit LockboxRequest request.created operator@provider.test provider_staff Succeeded {\"break_glass\":true,\"duration_minutes\":120,\"expires_at\":\"2000-01-01T12:00:00Z\",\"incident\":\"INC-7\",\"operations\":[\"Get-MailboxStatistics\"],\"reason\":\"Mailbox fails to load.\",\"reference\":\"REF\",\"service\":\"exchange\",\"service_request\":\"SR-2026-004211\",\"start_time\":null}",
			"audit LockboxRequest request.reviewed manager@provider.test provider_staff Succeeded ip=203.0.113.7 {\"comment\":\"says manager@provider.test\",\"decision\":\"approve\",\"duration_minutes\":120,\"from\":\"pending_review\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"pending\"}",
			"outbox email request.pending admin@contoso.test",
			"outbox email request.pending approver@contoso.test",
			"outbox webhook request.pending hook",
		}},
		{name: "BreakGlassRevokedAndAcknowledged", breakGlass: true, bgEnabled: true, steps: []step{review,
			act(approver, lockbox.EventRevoke), act("admin@contoso.test", lockbox.EventAcknowledge)}, want: []string{
			"request revoked v6 expires=12h0m0s access=0s..1h0m0s reviewed=manager@provider.test@0s:says manager@provider.test decided=system@0s ended=approver@contoso.test@0s:says approver@contoso.test break_glass=INC-7 acknowledged=admin@contoso.test@0s:says admin@contoso.test",
			"audit LockboxRequest request.created operator@provider.test provider_staff Succeeded {\"break_glass\":true,\"duration_minutes\":120,\"expires_at\":\"2000-01-01T12:00:00Z\",\"incident\":\"INC-7\",\"operations\":[\"Get-MailboxStatistics\"],\"reason\":\"Mailbox fails to load.\",\"reference\":\"REF\",\"service\":\"exchange\",\"service_request\":\"SR-2026-004211\",\"start_time\":null}",
			"audit LockboxRequest request.reviewed manager@provider.test provider_staff Succeeded ip=203.0.113.7 {\"comment\":\"says manager@provider.test\",\"decision\":\"approve\",\"duration_minutes\":120,\"from\":\"pending_review\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"pending\"}",
			"audit LockboxDecision request.break_glass_activated system system Succeeded {\"access_ends_at\":\"2000-01-01T01:00:00Z\",\"access_starts_at\":\"2000-01-01T00:00:00Z\",\"decided_by\":\"system\",\"duration_minutes\":60,\"from\":\"pending\",\"incident\":\"INC-7\",\"reference\":\"REF\",\"requested_duration_minutes\":120,\"service\":\"exchange\",\"to\":\"approved\",\"why\":\"Break-glass: the tenant lets a reviewed emergency request start without approval; it must be acknowledged afterwards.\"}",
			"audit LockboxRequest request.activated system system Succeeded {\"access_ends_at\":\"2000-01-01T01:00:00Z\",\"access_starts_at\":\"2000-01-01T00:00:00Z\",\"duration_minutes\":60,\"from\":\"approved\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"active\"}",
			"audit LockboxDecision request.revoked approver@contoso.test tenant_user Succeeded ip=203.0.113.7 {\"comment\":\"says approver@contoso.test\",\"duration_minutes\":60,\"from\":\"active\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"revoked\"}",
			"audit LockboxRequest request.access_report system system Succeeded {\"access_ended_at\":\"2000-01-01T00:00:00Z\",\"access_starts_at\":\"2000-01-01T00:00:00Z\",\"allowed_total\":0,\"blocked\":[],\"blocked_total\":0,\"break_glass\":true,\"final\":true,\"operations\":[{\"allowed\":0,\"blocked\":0,\"operation\":\"Get-MailboxStatistics\"}],\"reference\":\"REF\",\"service\":\"exchange\",\"status\":\"revoked\",\"unused\":[\"Get-MailboxStatistics\"]}",
			"audit LockboxDecision request.acknowledged admin@contoso.test tenant_user Succeeded ip=203.0.113.7 {\"break_glass\":true,\"comment\":\"says admin@contoso.test\",\"duration_minutes\":60,\"from\":\"revoked\",\"incident\":\"INC-7\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"revoked\"}",
			"outbox email request.access_report admin@contoso.test",
			"outbox email request.access_report approver@contoso.test",
			"outbox email request.approved operator@provider.test",
			"outbox email request.break_glass admin@contoso.test",
			"outbox email request.break_glass approver@contoso.test",
			"outbox email request.revoked operator@provider.test",
			"outbox webhook request.acknowledged hook",
			"outbox webhook request.activated hook",
			"outbox webhook request.break_glass_activated hook",
			"outbox webhook request.pending hook",
			"outbox webhook request.revoked hook",
		}},
		{name: "BreakGlassEndsAtCap", breakGlass: true, bgEnabled: true, steps: []step{review, wait(time.Hour)}, want: []string{
			"request completed v5 expires=12h0m0s access=0s..1h0m0s reviewed=manager@provider.test@0s:says manager@provider.test decided=system@0s ended=system@1h0m0s break_glass=INC-7 needs_review",
			"audit LockboxRequest request.created operator@provider.test provider_staff Succeeded {\"break_glass\":true,\"duration_minutes\":120,\"expires_at\":\"2000-01-01T12:00:00Z\",\"incident\":\"INC-7\",\"operations\":[\"Get-MailboxStatistics\"],\"reason\":\"Mailbox fails to load.\",\"reference\":\"REF\",\"service\":\"exchange\",\"service_request\":\"SR-2026-004211\",\"start_time\":null}",
			"audit LockboxRequest request.reviewed manager@provider.test provider_staff Succeeded ip=203.0.113.7 {\"comment\":\"says manager@provider.test\",\"decision\":\"approve\",\"duration_minutes\":120,\"from\":\"pending_review\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"pending\"}",
			"audit LockboxDecision request.break_glass_activated system system Succeeded {\"access_ends_at\":\"2000-01-01T01:00:00Z\",\"access_starts_at\":\"2000-01-01T00:00:00Z\",\"decided_by\":\"system\",\"duration_minutes\":60,\"from\":\"pending\",\"incident\":\"INC-7\",\"reference\":\"REF\",\"requested_duration_minutes\":120,\"service\":\"exchange\",\"to\":\"approved\",\"why\":\"Break-glass: the tenant lets a reviewed emergency request start without approval; it must be acknowledged afterwards.\"}",
			"audit LockboxRequest request.activated system system Succeeded {\"access_ends_at\":\"2000-01-01T01:00:00Z\",\"access_starts_at\":\"2000-01-01T00:00:00Z\",\"duration_minutes\":60,\"from\":\"approved\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"active\"}",
			"audit LockboxRequest request.completed system system Succeeded {\"access_ended_at\":\"2000-01-01T01:00:00Z\",\"duration_minutes\":60,\"from\":\"active\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"completed\"}",
			"audit LockboxRequest request.access_report system system Succeeded {\"access_ended_at\":\"2000-01-01T01:00:00Z\",\"access_starts_at\":\"2000-01-01T00:00:00Z\",\"allowed_total\":0,\"blocked\":[],\"blocked_total\":0,\"break_glass\":true,\"final\":true,\"operations\":[{\"allowed\":0,\"blocked\":0,\"operation\":\"Get-MailboxStatistics\"}],\"reference\":\"REF\",\"service\":\"exchange\",\"status\":\"completed\",\"unused\":[\"Get-MailboxStatistics\"]}",
			"outbox email request.access_report admin@contoso.test",
			"outbox email request.access_report approver@contoso.test",
			"outbox email request.approved operator@provider.test",
			"outbox email request.break_glass admin@contoso.test",
			"outbox email request.break_glass approver@contoso.test",
			"outbox webhook request.activated hook",
			"outbox webhook request.break_glass_activated hook",
			"outbox webhook request.completed hook",
			"outbox webhook request.pending hook",
		}},
		{name: "Escalate", escalate: 30, steps: []step{review, wait(29 * time.Minute), wait(time.Minute), wait(time.Hour)}, want: []string{
			"request pending v3 expires=12h0m0s reviewed=manager@provider.test@0s:says manager@provider.test escalate=30m0s escalated=30m0s",
			"audit LockboxRequest request.created operator@provider.test provider_staff Succeeded {\"duration_minutes\":120,\"expires_at\":\"2000-01-01T12:00:00Z\",\"operations\":[\"Get-MailboxStatistics\"],\"reason\":\"Mailbox fails to load.\",\"reference\":\"REF\",\"service\":\"exchange\",\"service_request\":\"SR-2026-004211\",\"start_time\":null}",
			"audit LockboxRequest request.reviewed manager@provider.test provider_staff Succeeded ip=203.0.113.7 {\"comment\":\"says manager@provider.test\",\"decision\":\"approve\",\"duration_minutes\":120,\"from\":\"pending_review\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"pending\"}",
			"audit LockboxRequest request.escalated system system Succeeded {\"deadline\":\"2000-01-01T12:00:00Z\",\"duration_minutes\":120,\"escalated_at\":\"2000-01-01T00:30:00Z\",\"from\":\"pending\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"pending\"}",
			"outbox email request.escalated duty@contoso.test",
			"outbox email request.pending admin@contoso.test",
			"outbox email request.pending approver@contoso.test",
			"outbox webhook request.pending hook",
		}},
		{name: "LateWorker", startIn: time.Hour, steps: []step{review, act(approver, lockbox.EventApprove), wait(5 * time.Hour)}, want: []string{
			"request completed v5 expires=12h0m0s access=1h0m0s..3h0m0s reviewed=manager@provider.test@0s:says manager@provider.test decided=approver@contoso.test@0s:says approver@contoso.test ended=system@3h0m0s",
			"audit LockboxRequest request.created operator@provider.test provider_staff Succeeded {\"duration_minutes\":120,\"expires_at\":\"2000-01-01T12:00:00Z\",\"operations\":[\"Get-MailboxStatistics\"],\"reason\":\"Mailbox fails to load.\",\"reference\":\"REF\",\"service\":\"exchange\",\"service_request\":\"SR-2026-004211\",\"start_time\":\"2000-01-01T01:00:00Z\"}",
			"audit LockboxRequest request.reviewed manager@provider.test provider_staff Succeeded ip=203.0.113.7 {\"comment\":\"says manager@provider.test\",\"decision\":\"approve\",\"duration_minutes\":120,\"from\":\"pending_review\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"pending\"}",
			"audit LockboxDecision request.approved approver@contoso.test tenant_user Succeeded ip=203.0.113.7 {\"access_ends_at\":\"2000-01-01T03:00:00Z\",\"access_starts_at\":\"2000-01-01T01:00:00Z\",\"comment\":\"says approver@contoso.test\",\"duration_minutes\":120,\"from\":\"pending\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"approved\"}",
			"audit LockboxRequest request.activated system system Succeeded {\"access_ends_at\":\"2000-01-01T03:00:00Z\",\"access_starts_at\":\"2000-01-01T01:00:00Z\",\"duration_minutes\":120,\"from\":\"approved\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"active\"}",
			"audit LockboxRequest request.completed system system Succeeded {\"access_ended_at\":\"2000-01-01T03:00:00Z\",\"duration_minutes\":120,\"from\":\"active\",\"reference\":\"REF\",\"service\":\"exchange\",\"to\":\"completed\"}",
			"audit LockboxRequest request.access_report system system Succeeded {\"access_ended_at\":\"2000-01-01T03:00:00Z\",\"access_starts_at\":\"2000-01-01T01:00:00Z\",\"allowed_total\":0,\"blocked\":[],\"blocked_total\":0,\"break_glass\":false,\"final\":true,\"operations\":[{\"allowed\":0,\"blocked\":0,\"operation\":\"Get-MailboxStatistics\"}],\"reference\":\"REF\",\"service\":\"exchange\",\"status\":\"completed\",\"unused\":[\"Get-MailboxStatistics\"]}",
			"outbox email request.access_report admin@contoso.test",
			"outbox email request.access_report approver@contoso.test",
			"outbox email request.approved operator@provider.test",
			"outbox email request.pending admin@contoso.test",
			"outbox email request.pending approver@contoso.test",
			"outbox webhook request.activated hook",
			"outbox webhook request.approved hook",
			"outbox webhook request.completed hook",
			"outbox webhook request.pending hook",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				h := newHarness(t)
				h.mustWebhook("admin@contoso.test")
				if tt.noApprove {
					if _, err := h.svc.UpdateSettings(h.as("admin@contoso.test"), "contoso",
						lockbox.SettingsPatch{RequireApproval: ptr(false)}); err != nil {
						t.Fatal(err)
					}
				}
				if tt.quorum != 0 {
					h.setQuorum(tt.quorum)
				}
				if tt.bgEnabled {
					h.mustSettings(lockbox.SettingsPatch{BreakGlass: &lockbox.BreakGlassPatch{Enabled: ptr(true)}})
				}
				if tt.escalate != 0 {
					h.mustSettings(lockbox.SettingsPatch{Escalation: &lockbox.EscalationPatch{
						AfterMinutes: ptr(tt.escalate), Notify: &[]string{"duty@contoso.test"}}})
				}
				in := validRequest()
				in.BreakGlass = tt.breakGlass
				if tt.breakGlass {
					in.Incident = "INC-7"
				}
				if tt.startIn != 0 {
					in.StartTime = ptr(time.Now().Add(tt.startIn).UTC())
				}
				r := h.MustFile(in)
				for _, s := range tt.steps {
					r = s(h, r)
				}
				got := append([]string{h.summary(h.stored(r.ID), start)}, h.outputs(r, start)...)
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("outputs (-want +got):\n%s\ngot:\n%s", diff, quoteLines(got))
				}
			})
		})
	}
}

// summary is the request's state: status, version and who did what when.
func (h *harness) summary(r *lockbox.AccessRequest, start time.Time) string {
	at := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.Sub(start).String()
	}
	who := func(name string, by *string, t *time.Time, comment *string) string {
		if by == nil && t == nil && comment == nil {
			return ""
		}
		s := " " + name + "="
		if by != nil {
			s += *by
		}
		if t != nil {
			s += "@" + at(t)
		}
		if comment != nil {
			s += ":" + *comment
		}
		return s
	}
	s := fmt.Sprintf("request %s v%d expires=%s", r.Status, r.Version, at(&r.ExpiresAt))
	if r.AccessStartsAt != nil {
		s += fmt.Sprintf(" access=%s..%s", at(r.AccessStartsAt), at(r.AccessEndsAt))
	}
	s += who("reviewed", r.ReviewedBy, r.ReviewedAt, r.ReviewComment)
	s += who("decided", r.DecidedBy, r.DecidedAt, r.DecisionComment)
	s += who("ended", r.EndedBy, r.EndedAt, r.EndComment)
	if r.BreakGlass {
		s += " break_glass=" + r.Incident
	}
	if r.NeedsReview {
		s += " needs_review"
	}
	s += who("acknowledged", r.AcknowledgedBy, r.AcknowledgedAt, r.AcknowledgeComment)
	if r.EscalateAt != nil {
		s += " escalate=" + at(r.EscalateAt)
	}
	if r.EscalatedAt != nil {
		s += " escalated=" + at(r.EscalatedAt)
	}
	return s
}

// outputs lists the request's audit records in log order, then the outbox.
func (h *harness) outputs(r *lockbox.AccessRequest, start time.Time) []string {
	var out []string
	for _, rec := range h.audit(r.Tenant) {
		if rec.RequestID != r.ID {
			continue
		}
		data := map[string]any{}
		for k, v := range rec.AuditData {
			data[k] = v
		}
		if data["reference"] == r.Reference {
			data["reference"] = "REF"
		}
		b, err := json.Marshal(data)
		if err != nil {
			h.t.Fatal(err)
		}
		line := fmt.Sprintf("audit %s %s %s %s %s", rec.RecordType, rec.Operation, rec.UserID, rec.ActorType, rec.Result)
		if rec.ClientIP != "" {
			line += " ip=" + rec.ClientIP
		}
		out = append(out, line+" "+string(b))
	}
	for _, line := range h.sent() {
		if strings.HasPrefix(line, "webhook ") {
			line = line[:strings.LastIndex(line, " ")] + " hook"
		}
		out = append(out, "outbox "+line)
	}
	return out
}

func quoteLines(lines []string) string {
	var b strings.Builder
	for _, l := range lines {
		fmt.Fprintf(&b, "\t\t\t%q,\n", l)
	}
	return b.String()
}
