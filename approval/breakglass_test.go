package approval_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lockboxhq/lockbox"
)

// mustSettings changes the tenant's settings as its global admin.
func (h *harness) mustSettings(p lockbox.SettingsPatch) *lockbox.Settings {
	h.t.Helper()
	s, err := h.svc.UpdateSettings(h.as("admin@contoso.test"), "contoso", p)
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

func breakGlassRequest() lockbox.NewRequest {
	in := validRequest()
	in.BreakGlass, in.Incident = true, "INC-4711"
	return in
}

func (h *harness) enableBreakGlass(maxMinutes int) {
	h.t.Helper()
	h.mustSettings(lockbox.SettingsPatch{BreakGlass: &lockbox.BreakGlassPatch{Enabled: ptr(true), MaxMinutes: ptr(maxMinutes)}})
}

func TestBreakGlassInput(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	before := len(h.audit("contoso"))
	for name, tc := range map[string]struct {
		in    lockbox.NewRequest
		field string
	}{
		"NoIncident": {func() lockbox.NewRequest { in := breakGlassRequest(); in.Incident = ""; return in }(), "incident"},
		"IncidentTooLong": {func() lockbox.NewRequest {
			in := breakGlassRequest()
			in.Incident = string(make([]byte, 65))
			return in
		}(), "incident"},
		"IncidentWithoutBreak": {func() lockbox.NewRequest { in := validRequest(); in.Incident = "INC-1"; return in }(), "incident"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := h.svc.CreateRequest(h.as("operator@provider.test"), tc.in)
			wantCode(t, err, lockbox.EINVALID)
			if f := lockbox.ErrorField(err); f != tc.field {
				t.Errorf("field = %q, want %q", f, tc.field)
			}
		})
	}
	if n := len(h.audit("contoso")) - before; n != 0 {
		t.Errorf("refused requests left %d audit records", n)
	}
	for name, p := range map[string]lockbox.SettingsPatch{
		"MaxZero":       {BreakGlass: &lockbox.BreakGlassPatch{MaxMinutes: ptr(0)}},
		"MaxOver":       {BreakGlass: &lockbox.BreakGlassPatch{MaxMinutes: ptr(241)}},
		"EscNegative":   {Escalation: &lockbox.EscalationPatch{AfterMinutes: ptr(-1)}},
		"EscNoAddress":  {Escalation: &lockbox.EscalationPatch{AfterMinutes: ptr(30)}},
		"EscBadAddress": {Escalation: &lockbox.EscalationPatch{AfterMinutes: ptr(30), Notify: &[]string{"not-an-address"}}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := h.svc.UpdateSettings(h.as("admin@contoso.test"), "contoso", p)
			wantCode(t, err, lockbox.EINVALID)
		})
	}
	if s, _ := h.svc.GetSettings(h.as("admin@contoso.test"), "contoso"); s.BreakGlass.Enabled || s.BreakGlass.MaxMinutes != 60 || s.Escalation.AfterMinutes != 0 {
		t.Errorf("refused patches changed the settings: %+v", s)
	}
}

// TestBreakGlass: reviewed by a manager who is not the requester, active at
// once for at most max_minutes, approvers and notify_emails told at once,
// revocable, then listed as needing review until a tenant approver (not an
// operator, not the provider) acknowledges it, once.
func TestBreakGlass(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.enableBreakGlass(30)
	h.mustSettings(lockbox.SettingsPatch{NotifyEmails: &[]string{"soc@contoso.test"}})
	in := breakGlassRequest()
	in.StartTime = ptr(time.Now().Add(2 * time.Hour).UTC()) // an emergency does not wait for it
	r := h.MustFile(in)
	if _, err := h.svc.Act(h.as("operator@provider.test"), r.ID, lockbox.EventReviewApprove, lockbox.Decision{}); lockbox.ErrorCode(err) != lockbox.EFORBIDDEN {
		t.Fatalf("the requester reviewing: %v, want forbidden", err)
	}
	r = h.MustAct("manager@provider.test", r, lockbox.EventReviewApprove)
	if r.Status != lockbox.StatusActive || r.DurationMinutes != 30 || r.RequestedDurationMinutes != 120 || !r.NeedsReview {
		t.Fatalf("after review: %s, %d of %d minutes, needs_review %v; want active for 30 of 120, needing review",
			r.Status, r.DurationMinutes, r.RequestedDurationMinutes, r.NeedsReview)
	}
	if got := r.AccessEndsAt.Sub(*r.AccessStartsAt); got != 30*time.Minute {
		t.Errorf("access window = %v, want 30m", got)
	}
	var urgent []string
	for _, line := range h.sent() {
		if m, ok := cutPrefix(line, "email "+lockbox.NoticeBreakGlass+" "); ok {
			urgent = append(urgent, m)
		}
	}
	if want := []string{"admin@contoso.test", "approver@contoso.test", "soc@contoso.test"}; !slices.Equal(urgent, want) {
		t.Errorf("urgent emails to %v, want %v", urgent, want)
	}
	// Not while active: access must end first.
	_, err := h.svc.Act(h.as("approver@contoso.test"), r.ID, lockbox.EventAcknowledge, lockbox.Decision{})
	wantCode(t, err, lockbox.ECONFLICT)
	r = h.MustAct("approver@contoso.test", r, lockbox.EventRevoke)

	list := func(email string) []string {
		t.Helper()
		page, err := h.svc.ListRequests(h.as(email), lockbox.RequestFilter{NeedsReview: true})
		if err != nil {
			t.Fatal(err)
		}
		var refs []string
		for _, x := range page.Requests {
			refs = append(refs, x.Reference)
		}
		return refs
	}
	h.MustPending(validRequest()) // an ordinary request never needs review
	if got := list("admin@contoso.test"); !slices.Equal(got, []string{r.Reference}) {
		t.Errorf("needs_review listing = %v, want [%s]", got, r.Reference)
	}
	if got := list("admin@fabrikam.test"); len(got) != 0 {
		t.Errorf("another tenant's listing = %v, want none", got)
	}
	for who, code := range map[string]string{
		"operator@provider.test": lockbox.EFORBIDDEN, "manager@provider.test": lockbox.EFORBIDDEN,
		"auditor@contoso.test": lockbox.EFORBIDDEN, "admin@fabrikam.test": lockbox.ENOTFOUND,
	} {
		_, err := h.svc.Act(h.as(who), r.ID, lockbox.EventAcknowledge, lockbox.Decision{Comment: "ok"})
		if lockbox.ErrorCode(err) != code {
			t.Errorf("acknowledge by %s: %v, want %s", who, err, code)
		}
	}
	out, err := h.svc.Act(h.as("admin@contoso.test"), r.ID, lockbox.EventAcknowledge, lockbox.Decision{Comment: "Checked with the SOC."})
	if err != nil {
		t.Fatal(err)
	}
	if out.Status != lockbox.StatusRevoked || out.NeedsReview || out.AcknowledgedBy == nil || *out.AcknowledgedBy != "admin@contoso.test" ||
		out.AcknowledgeComment == nil || !out.EndedAt.Equal(*r.EndedAt) {
		t.Errorf("after acknowledging: %+v", out)
	}
	_, err = h.svc.Act(h.as("approver@contoso.test"), r.ID, lockbox.EventAcknowledge, lockbox.Decision{})
	wantCode(t, err, lockbox.ECONFLICT)
	if got := list("admin@contoso.test"); len(got) != 0 {
		t.Errorf("needs_review listing after acknowledging = %v, want none", got)
	}
	if n := h.ops(r); n[lockbox.OpRequestBreakGlassActivated] != 1 || n[lockbox.OpRequestAcknowledged] != 1 || n[lockbox.OpRequestDecisionRefused] != 2 {
		t.Errorf("audit operations = %v", n)
	}
}

func cutPrefix(s, p string) (string, bool) {
	if len(s) >= len(p) && s[:len(p)] == p {
		return s[len(p):], true
	}
	return "", false
}

// TestBreakGlassDisabled: a tenant that did not enable break-glass decides
// as usual; nothing needs review afterwards.
func TestBreakGlassDisabled(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := h.MustPending(breakGlassRequest())
	if r.Status != lockbox.StatusPending || r.NeedsReview {
		t.Fatalf("break-glass in a tenant without it: %s, needs_review %v; want pending", r.Status, r.NeedsReview)
	}
	r = h.MustAct("approver@contoso.test", r, lockbox.EventApprove)
	r = h.MustAct("operator@provider.test", r, lockbox.EventComplete)
	_, err := h.svc.Act(h.as("approver@contoso.test"), r.ID, lockbox.EventAcknowledge, lockbox.Decision{})
	wantCode(t, err, lockbox.ECONFLICT)
}

// TestBreakGlassCap: nothing is valid after max_minutes, whether or not a
// worker ran; the worker then writes the end once, and the request still
// needs review.
func TestBreakGlassCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newGrantHarness(t)
		h.enableBreakGlass(15)
		r := h.MustPending(breakGlassRequest())
		g := h.MustGrant(r)
		if g.ExpiresAt.After(*r.AccessEndsAt) {
			t.Errorf("grant outlives the cap: %v > %v", g.ExpiresAt, r.AccessEndsAt)
		}
		time.Sleep(15*time.Minute - time.Second)
		if d := h.check(g.Token, "Get-MailboxStatistics"); !d.Allowed {
			t.Fatalf("before the cap: %+v", d)
		}
		time.Sleep(time.Second)
		if d := h.check(g.Token, "Get-MailboxStatistics"); d.Allowed {
			t.Fatalf("at the cap, no worker: %+v", d)
		}
		got, err := h.svc.GetRequest(h.as("approver@contoso.test"), r.ID)
		if err != nil || got.Status != lockbox.StatusCompleted || !got.NeedsReview {
			t.Fatalf("read at the cap: %+v, %v", got, err)
		}
		_, err = h.svc.IssueGrant(h.as("operator@provider.test"), r.ID)
		wantCode(t, err, lockbox.ECONFLICT)
		if err := h.svc.SettleDue(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n := h.ops(r); n[lockbox.OpRequestCompleted] != 1 || n[lockbox.OpRequestAccessReport] != 1 {
			t.Errorf("audit operations = %v", n)
		}
		if s := h.stored(r.ID); !s.EndedAt.Equal(*r.AccessEndsAt) || !s.NeedsReview {
			t.Errorf("stored: ended %v, needs_review %v; want ended at %v, needing review", s.EndedAt, s.NeedsReview, r.AccessEndsAt)
		}
	})
}

func (h *harness) escalations() []string {
	var out []string
	for _, line := range h.sent() {
		if m, ok := cutPrefix(line, "email "+lockbox.NoticeEscalated+" "); ok {
			out = append(out, m)
		}
	}
	return out
}

// TestEscalation: a request still pending after_minutes after it became
// pending is emailed once to the escalation addresses, however many
// workers sweep and however often; a decided one, or one that expires
// first, is not.
func TestEscalation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		h.mustSettings(lockbox.SettingsPatch{RequestTTLMinutes: ptr(120),
			Escalation: &lockbox.EscalationPatch{AfterMinutes: ptr(45), Notify: &[]string{"duty@contoso.test", "cio@contoso.test"}}})
		waiting := h.MustPending(validRequest())
		decided := h.MustPending(validRequest())
		time.Sleep(30 * time.Minute)
		late := h.MustPending(validRequest()) // escalates 30 minutes after the others
		h.MustAct("approver@contoso.test", decided, lockbox.EventDeny)
		sweep := func() {
			var wg sync.WaitGroup
			for range 4 { // four workers at once, as replicas run them
				wg.Go(func() {
					if err := h.svc.SettleDue(context.Background()); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
		}
		time.Sleep(15*time.Minute - time.Second)
		sweep()
		if got := h.escalations(); len(got) != 0 {
			t.Fatalf("escalated early: %v", got)
		}
		time.Sleep(time.Second)
		sweep()
		sweep()
		if got := h.escalations(); !slices.Equal(got, []string{"cio@contoso.test", "duty@contoso.test"}) {
			t.Errorf("escalation emails = %v, want one to each address", got)
		}
		for _, r := range []*lockbox.AccessRequest{waiting, decided, late} {
			want := 0
			if r == waiting {
				want = 1
			}
			if n := h.ops(r)[lockbox.OpRequestEscalated]; n != want {
				t.Errorf("%s escalated %d times, want %d", r.Reference, n, want)
			}
		}
		got, _ := h.svc.GetRequest(h.as("approver@contoso.test"), waiting.ID)
		if got.Status != lockbox.StatusPending || got.EscalatedAt == nil || !got.EscalatedAt.Equal(*waiting.EscalateAt) {
			t.Errorf("escalated request reads %s, escalated at %v; want pending, escalated at %v", got.Status, got.EscalatedAt, waiting.EscalateAt)
		}
		// The approvers can still decide: escalation changes nothing else.
		h.MustAct("approver@contoso.test", waiting, lockbox.EventApprove)
		time.Sleep(30 * time.Minute)
		sweep()
		if n := h.ops(late)[lockbox.OpRequestEscalated]; n != 1 {
			t.Errorf("the later request escalated %d times, want 1", n)
		}
		if got := len(h.escalations()); got != 4 {
			t.Errorf("%d escalation emails in all, want 4", got)
		}
	})
}

// TestEscalationAfterExpiry: no escalation when the deadline comes first.
func TestEscalationAfterExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		h.mustSettings(lockbox.SettingsPatch{RequestTTLMinutes: ptr(60),
			Escalation: &lockbox.EscalationPatch{AfterMinutes: ptr(60), Notify: &[]string{"duty@contoso.test"}}})
		r := h.MustPending(validRequest())
		time.Sleep(2 * time.Hour)
		if err := h.svc.SettleDue(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n := h.ops(r); n[lockbox.OpRequestEscalated] != 0 || n[lockbox.OpRequestExpired] != 1 {
			t.Errorf("audit operations = %v, want expired and never escalated", n)
		}
	})
}
