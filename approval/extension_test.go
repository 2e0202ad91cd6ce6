package approval_test

import (
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lockboxhq/lockbox"
)

func (h *harness) extend(r *lockbox.AccessRequest, minutes int) *lockbox.AccessRequest {
	h.t.Helper()
	out, err := h.svc.Act(h.as("operator@provider.test"), r.ID, lockbox.EventExtend,
		lockbox.Decision{Extend: &lockbox.ExtensionAsk{Minutes: minutes, Reason: "copy not finished"}})
	if err != nil {
		h.t.Fatalf("extend: %v", err)
	}
	return out
}

// TestExtensionLapsesWithoutWorker: an extension nobody decided lapses at
// access_ends_at. Readers and the access check see it lapsed and the access
// over at that instant with no worker; the worker then writes exactly one
// lapse and one completion, and the emails and webhooks go out.
func TestExtensionLapsesWithoutWorker(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := newGrantHarness(t)
		hook := h.mustWebhook("admin@contoso.test")
		in := validRequest()
		in.DurationMinutes = 30
		r := h.MustActive(in)
		end := *r.AccessEndsAt
		r = h.extend(r, 60)
		if x := r.PendingExtension(); x == nil || x.Minutes != 60 || !r.AccessEndsAt.Equal(end) {
			t.Fatalf("after asking: %+v, ends %v", r.Extensions, r.AccessEndsAt)
		}
		time.Sleep(time.Until(end) - time.Second)
		g := h.MustGrant(r)
		time.Sleep(time.Second)
		got, err := h.svc.GetRequest(h.as("approver@contoso.test"), r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != lockbox.StatusCompleted || got.Extensions[0].Status != lockbox.ExtensionLapsed || !got.EndedAt.Equal(end) {
			t.Fatalf("at access_ends_at, before any worker: %s, extension %s, ended %v", got.Status, got.Extensions[0].Status, got.EndedAt)
		}
		if d := h.check(g.Token, "Get-MailboxStatistics"); d.Allowed {
			t.Fatalf("access allowed at the end with an undecided extension: %+v", d)
		}
		_, err = h.svc.Act(h.as("approver@contoso.test"), r.ID, lockbox.EventExtensionApprove, lockbox.Decision{})
		wantCode(t, err, lockbox.ECONFLICT)
		if err := h.svc.SettleDue(t.Context()); err != nil {
			t.Fatal(err)
		}
		n := h.ops(r)
		if n[lockbox.OpRequestExtensionRequested] != 1 || n[lockbox.OpRequestExtensionLapsed] != 1 || n[lockbox.OpRequestCompleted] != 1 {
			t.Fatalf("audit %v: want one request, one lapse, one completion", n)
		}
		sent := h.sent()
		for _, want := range []string{
			"email request.extension_requested admin@contoso.test", "email request.extension_requested approver@contoso.test",
			"email request.extension_lapsed operator@provider.test",
			"webhook request.extension_requested " + hook.ID, "webhook request.extension_lapsed " + hook.ID,
		} {
			if !slices.Contains(sent, want) {
				t.Errorf("outbox lacks %q:\n%v", want, sent)
			}
		}
	})
}

// TestExtensionApprovedMovesTheEnd: approved, the extension keeps access
// open past the old end and closes it at the new one, worker or not.
func TestExtensionApprovedMovesTheEnd(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := newGrantHarness(t)
		in := validRequest()
		in.DurationMinutes = 10
		r := h.MustActive(in)
		end := *r.AccessEndsAt
		h.extend(r, 5)
		r, err := h.svc.Act(h.as("approver@contoso.test"), r.ID, lockbox.EventExtensionApprove, lockbox.Decision{Comment: "ok"})
		if err != nil {
			t.Fatal(err)
		}
		if !r.AccessEndsAt.Equal(end.Add(5*time.Minute)) || r.Extensions[0].Status != lockbox.ExtensionApproved {
			t.Fatalf("after approval: ends %v, %+v", r.AccessEndsAt, r.Extensions[0])
		}
		time.Sleep(time.Until(end) + time.Minute)
		if d := h.check(h.MustGrant(r).Token, "Get-MailboxStatistics"); !d.Allowed {
			t.Fatalf("a minute past the old end: %+v", d)
		}
		g := h.MustGrant(r)
		if g.ExpiresAt.After(end.Add(5 * time.Minute)) {
			t.Fatalf("grant expires %v, after the new end", g.ExpiresAt)
		}
		time.Sleep(time.Until(end.Add(5 * time.Minute)))
		if d := h.check(g.Token, "Get-MailboxStatistics"); d.Allowed {
			t.Fatalf("at the new end: %+v", d)
		}
	})
}

// TestExtensionCapOfTheTenant: the whole access stays within
// max_total_access_minutes; the refusal changes nothing.
func TestExtensionCapOfTheTenant(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	if _, err := h.svc.UpdateSettings(h.as("admin@contoso.test"), "contoso", lockbox.SettingsPatch{MaxTotalAccessMinutes: ptr(150)}); err != nil {
		t.Fatal(err)
	}
	r := h.MustActive(validRequest()) // 120 minutes
	before := len(h.audit("contoso"))
	_, err := h.svc.Act(h.as("operator@provider.test"), r.ID, lockbox.EventExtend,
		lockbox.Decision{Extend: &lockbox.ExtensionAsk{Minutes: 31, Reason: "more"}})
	wantCode(t, err, lockbox.EINVALID)
	if len(h.audit("contoso")) != before || len(h.stored(r.ID).Extensions) != 0 {
		t.Fatal("a refused extension left a trace")
	}
	h.extend(r, 30)
}

// TestRaceOfExtensionApprovers: 32 approvers decide a 3-of-N extension at
// once: three approvals, one approval of the extension, the rest 409.
func TestRaceOfExtensionApprovers(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	approvers := h.addApprovers(32)
	h.setQuorum(3)
	r := h.MustPending(validRequest())
	for _, a := range approvers[:3] {
		r = h.MustAct(a, r, lockbox.EventApprove)
	}
	r = h.extend(r, 30)
	wins := raceEach(t, h, r, approvers, lockbox.EventExtensionApprove)
	got := h.stored(r.ID)
	n := h.ops(r)
	if wins != 3 || len(got.Extensions[0].Approvals) != 3 || got.Extensions[0].Status != lockbox.ExtensionApproved ||
		!got.AccessEndsAt.Equal(r.AccessEndsAt.Add(30*time.Minute)) {
		t.Fatalf("%d winners, extension %+v, ends %v", wins, got.Extensions[0], got.AccessEndsAt)
	}
	if n[lockbox.OpRequestExtensionApproved] != 1 || n[lockbox.OpRequestDecisionRefused] != 29 {
		t.Fatalf("audit %v: want 1 extension_approved and 29 refusals", n)
	}
}
