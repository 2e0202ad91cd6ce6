package approval_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
	"github.com/lockboxhq/lockbox/internal/lockboxtest"
	"github.com/lockboxhq/lockbox/storetest"
)

// sent summarizes the outbox as "channel type recipient" lines, sorted.
func (h *harness) sent() []string {
	h.t.Helper()
	var out []string
	for _, m := range storetest.MustListOutbox(h.t, h.store, lockbox.OutboxQuery{Limit: 1000}) {
		to := m.To
		if m.Channel == lockbox.ChannelWebhook {
			to = m.WebhookID
		}
		out = append(out, m.Channel+" "+m.Type+" "+to)
	}
	slices.Sort(out)
	return out
}

func (h *harness) mustWebhook(email string, events ...string) *lockbox.Webhook {
	h.t.Helper()
	w, err := h.svc.CreateWebhook(h.as(email), "contoso", lockbox.NewWebhook{URL: "https://hooks.example.com/x", Events: events})
	if err != nil {
		h.t.Fatal(err)
	}
	return w
}

func TestNotificationsOfTheLifecycle(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	if _, err := h.svc.UpdateSettings(h.as("admin@contoso.test"), "contoso",
		lockbox.SettingsPatch{NotifyEmails: &[]string{"soc@contoso.test"}}); err != nil {
		t.Fatal(err)
	}
	all := h.mustWebhook("approver@contoso.test")
	pendingOnly := h.mustWebhook("admin@contoso.test", lockbox.EventTypeRequestPending)

	r := h.MustFile(validRequest())
	if got := h.sent(); len(got) != 0 {
		t.Fatalf("filing notified %v; the tenant hears of it only once reviewed", got)
	}
	r = h.MustAct("manager@provider.test", r, lockbox.EventReviewApprove)
	r = h.MustAct("approver@contoso.test", r, lockbox.EventApprove) // active at once
	h.MustAct("approver@contoso.test", r, lockbox.EventRevoke)
	want := []string{
		"email request.access_report admin@contoso.test",
		"email request.access_report approver@contoso.test",
		"email request.access_report soc@contoso.test",
		"email request.approved operator@provider.test",
		"email request.pending admin@contoso.test",
		"email request.pending approver@contoso.test",
		"email request.pending soc@contoso.test",
		"email request.revoked operator@provider.test",
		"webhook request.activated " + all.ID,
		"webhook request.approved " + all.ID,
		"webhook request.pending " + all.ID,
		"webhook request.pending " + pendingOnly.ID,
		"webhook request.revoked " + all.ID,
	}
	if diff := cmp.Diff(want, h.sent()); diff != "" {
		t.Errorf("outbox (-want +got):\n%s", diff)
	}
	for _, m := range storetest.MustListOutbox(t, h.store, lockbox.OutboxQuery{Channel: lockbox.ChannelWebhook, Limit: 100}) {
		var n lockbox.Notice
		if err := json.Unmarshal(m.Payload, &n); err != nil || n.Type != m.Type || n.Data.Request == nil || n.Data.Request.ID != r.ID {
			t.Errorf("webhook payload %s: %v", m.Payload, err)
		}
	}
}

func TestProviderInternalStepsNotifyOnlyTheRequester(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	hook := h.mustWebhook("approver@contoso.test")
	r := h.MustFile(validRequest())
	h.MustAct("manager@provider.test", r, lockbox.EventReviewDeny)
	c := h.MustFile(validRequest())
	h.MustAct("operator@provider.test", c, lockbox.EventCancel)
	if diff := cmp.Diff([]string{"email request.denied operator@provider.test"}, h.sent()); diff != "" {
		t.Errorf("outbox (-want +got; no webhook %s for steps the tenant cannot see):\n%s", hook.ID, diff)
	}
}

func TestSystemApprovalSendsApproversAnFYI(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	off := false
	if _, err := h.svc.UpdateSettings(h.as("admin@contoso.test"), "contoso", lockbox.SettingsPatch{RequireApproval: &off}); err != nil {
		t.Fatal(err)
	}
	h.MustPending(validRequest())
	want := []string{
		"email request.approved operator@provider.test",
		"email request.auto_approved admin@contoso.test",
		"email request.auto_approved approver@contoso.test",
	}
	if diff := cmp.Diff(want, h.sent()); diff != "" {
		t.Errorf("outbox (-want +got):\n%s", diff)
	}
}

func TestRefusedDecisionNotifiesNobody(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := h.MustPending(validRequest())
	before := h.sent()
	h.MustAct("approver@contoso.test", r, lockbox.EventDeny)
	afterDeny := h.sent()
	if _, err := h.svc.Act(h.as("admin@contoso.test"), r.ID, lockbox.EventApprove, lockbox.Decision{}); err == nil {
		t.Fatal("approving a denied request succeeded")
	}
	if diff := cmp.Diff(afterDeny, h.sent()); diff != "" {
		t.Errorf("the refused approval changed the outbox (-before +after):\n%s", diff)
	}
	if len(afterDeny) != len(before)+1 {
		t.Errorf("deny added %d messages, want 1 (to the requester)", len(afterDeny)-len(before))
	}
}

// TestReminderOnceAcrossReplicas runs the reminder sweep of four services
// (four replicas) on one store at the reminder time, twice: the approvers
// get exactly one reminder each, and none before the time.
func TestReminderOnceAcrossReplicas(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		r := h.MustPending(validRequest()) // 12 h to decide; reminder 2 h before
		replicas := make([]*approval.Service, 4)
		for i := range replicas {
			replicas[i] = approval.New(h.store, lockbox.SystemClock{}, approval.Options{PasswordMemoryKiB: 64, PasswordTime: 1, Resolver: lockboxtest.DNS})
		}
		sweep := func() {
			var wg sync.WaitGroup
			for _, s := range replicas {
				wg.Go(func() {
					if err := s.EnqueueReminders(context.Background()); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
		}
		reminders := func() int {
			n := 0
			for _, m := range storetest.MustListOutbox(t, h.store, lockbox.OutboxQuery{Limit: 100}) {
				if m.Type == lockbox.NoticeReminder {
					n++
				}
			}
			return n
		}
		time.Sleep(time.Until(r.ExpiresAt.Add(-2*time.Hour)) - time.Microsecond)
		sweep()
		if n := reminders(); n != 0 {
			t.Fatalf("%d reminders a microsecond early", n)
		}
		time.Sleep(time.Microsecond)
		sweep()
		sweep()
		if n := reminders(); n != 2 {
			t.Errorf("%d reminders, want 2 (admin and approver, once each)", n)
		}
	})
}

// TestWorkerSendsReminderOnTime runs the real worker loop: it wakes for the
// reminder, not only for deadlines.
func TestWorkerSendsReminderOnTime(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); h.svc.RunWorker(ctx, time.Hour) }()
		defer func() { cancel(); <-done }()
		r := h.MustPending(validRequest())
		time.Sleep(time.Until(r.ExpiresAt.Add(-2 * time.Hour)))
		synctest.Wait()
		var got []string
		for _, m := range storetest.MustListOutbox(t, h.store, lockbox.OutboxQuery{Limit: 100}) {
			if m.Type == lockbox.NoticeReminder {
				got = append(got, m.To)
			}
		}
		slices.Sort(got)
		if diff := cmp.Diff([]string{"admin@contoso.test", "approver@contoso.test"}, got); diff != "" {
			t.Errorf("reminders at the reminder time (-want +got):\n%s", diff)
		}
	})
}

func TestWebhookManagement(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	w := h.mustWebhook("approver@contoso.test", lockbox.OpOperatorAction, lockbox.OpOperatorAction)
	if !slices.Equal(w.Events, []string{lockbox.OpOperatorAction}) || len(w.Secret) < 40 {
		t.Errorf("created %+v", w)
	}
	for _, tc := range []struct {
		name, as, url string
		want          string
	}{
		{"Auditor", "auditor@contoso.test", "https://hooks.example.com/x", lockbox.EFORBIDDEN},
		{"OtherTenant", "admin@fabrikam.test", "https://hooks.example.com/x", lockbox.ENOTFOUND},
		{"ProviderAdmin", "admin@provider.test", "https://hooks.example.com/x", lockbox.EFORBIDDEN},
		{"PlainHTTP", "approver@contoso.test", "http://hooks.example.com/x", lockbox.EINVALID},
		{"Loopback", "approver@contoso.test", "https://127.0.0.1/x", lockbox.EINVALID},
		{"Metadata", "approver@contoso.test", "https://169.254.169.254/latest", lockbox.EINVALID},
		{"Localhost", "approver@contoso.test", "https://localhost:8443/x", lockbox.EINVALID},
		{"Credentials", "approver@contoso.test", "https://user:pw@hooks.example.com/x", lockbox.EINVALID},
		{"NotAURL", "approver@contoso.test", "hooks", lockbox.EINVALID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.svc.CreateWebhook(h.as(tc.as), "contoso", lockbox.NewWebhook{URL: tc.url})
			wantCode(t, err, tc.want)
		})
	}
	for range lockbox.MaxWebhooksPerTenant - 1 {
		h.mustWebhook("admin@contoso.test")
	}
	_, err := h.svc.CreateWebhook(h.as("admin@contoso.test"), "contoso", lockbox.NewWebhook{URL: "https://hooks.example.com/x"})
	wantCode(t, err, lockbox.EINVALID)
	wantCode(t, h.svc.DeleteWebhook(h.as("admin@fabrikam.test"), "contoso", w.ID), lockbox.ENOTFOUND)
	if err := h.svc.DeleteWebhook(h.as("approver@contoso.test"), "contoso", w.ID); err != nil {
		t.Fatal(err)
	}
	var created, deleted int
	for _, rec := range h.audit("contoso") {
		switch rec.Operation {
		case lockbox.OpWebhookCreated:
			created++
		case lockbox.OpWebhookDeleted:
			deleted++
			if rec.AuditData["webhook_id"] != w.ID || rec.UserID != "approver@contoso.test" {
				t.Errorf("delete record %+v", rec)
			}
		}
		b, _ := rec.Canonical()
		if secret := w.Secret; len(secret) > 6 && strings.Contains(string(b), secret[6:]) {
			t.Errorf("the audit record %s holds the secret", rec.Operation)
		}
	}
	if created != lockbox.MaxWebhooksPerTenant || deleted != 1 {
		t.Errorf("audited %d created, %d deleted; want %d, 1", created, deleted, lockbox.MaxWebhooksPerTenant)
	}
}
