package approval_test

import (
	"context"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/lockboxhq/lockbox"
)

// Reading a request shows it as it stands now: a deadline that has passed
// is applied in memory, and nothing is written until the worker (or the
// next decision) records it.

// TestReadingAtADeadlineWritesNothing reads requests whose deadlines
// passed with no worker running: GetRequest and ListRequests show them
// expired and completed, the audit log, the outbox and the stored rows stay
// as they were, and what the worker then writes is exactly what they showed.
func TestReadingAtADeadlineWritesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		in := validRequest()
		in.StartTime = ptr(time.Now().Add(time.Hour).UTC())
		scheduled := h.MustAct("approver@contoso.test", h.MustPending(in), lockbox.EventApprove) // access 1 h to 3 h
		pending := h.MustPending(validRequest())                                                 // expires at 12 h
		time.Sleep(12 * time.Hour)
		ids := []string{scheduled.ID, pending.ID}
		storedBefore := []*lockbox.AccessRequest{h.stored(ids[0]), h.stored(ids[1])}
		auditBefore, outboxBefore := len(h.audit("contoso")), h.sent()

		operator := h.as("operator@provider.test")
		var read []*lockbox.AccessRequest
		for _, id := range ids {
			r, err := h.svc.GetRequest(operator, id)
			if err != nil {
				t.Fatal(err)
			}
			read = append(read, r)
		}
		page, err := h.svc.ListRequests(operator, lockbox.RequestFilter{})
		if err != nil {
			t.Fatal(err)
		}
		listed := map[string]*lockbox.AccessRequest{}
		for _, r := range page.Requests {
			listed[r.ID] = r
		}
		if read[0].Status != lockbox.StatusCompleted || read[1].Status != lockbox.StatusExpired {
			t.Fatalf("read %s and %s, want completed and expired", read[0].Status, read[1].Status)
		}
		if n := len(h.audit("contoso")); n != auditBefore {
			t.Errorf("reading appended %d audit records", n-auditBefore)
		}
		if diff := cmp.Diff(outboxBefore, h.sent()); diff != "" {
			t.Errorf("reading queued notifications (-before +after):\n%s", diff)
		}
		for i, id := range ids {
			if diff := cmp.Diff(storedBefore[i], h.stored(id)); diff != "" {
				t.Errorf("reading changed stored request %d (-before +after):\n%s", i, diff)
			}
		}

		if err := h.svc.SettleDue(context.Background()); err != nil {
			t.Fatal(err)
		}
		for i, id := range ids {
			written := h.stored(id)
			if diff := cmp.Diff(written, read[i]); diff != "" {
				t.Errorf("GetRequest showed other than the worker wrote (-written +read):\n%s", diff)
			}
			if diff := cmp.Diff(written, listed[id]); diff != "" {
				t.Errorf("ListRequests showed other than the worker wrote (-written +listed):\n%s", diff)
			}
		}
		if n := h.ops(scheduled); n[lockbox.OpRequestActivated] != 1 || n[lockbox.OpRequestCompleted] != 1 {
			t.Errorf("the worker recorded %v, want the activation and the end once each", n)
		}
	})
}

// TestStatusFilterIsExactAcrossPages lets the deadlines of some requests
// pass unrecorded, newer ones before older ones: a listing filtered by
// status shows each request in the status it has now, in full pages, with
// cursors that walk the whole listing once, however many rows in a page's
// way drop out.
func TestStatusFilterIsExactAcrossPages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		type filed struct {
			id       string
			deadline time.Time
			reviewed bool
		}
		var all []filed // oldest first
		for range 14 {
			r := h.MustFile(validRequest())
			all = append(all, filed{r.ID, r.ExpiresAt, false})
			time.Sleep(10 * time.Minute)
		}
		// Every third stays in review; the older rest get 12 h to decide,
		// the newer ones, reviewed after the tenant shortened its deadline,
		// one hour.
		for n := range all {
			if n == 7 {
				if _, err := h.svc.UpdateSettings(h.as("admin@contoso.test"), "contoso",
					lockbox.SettingsPatch{RequestTTLMinutes: ptr(60)}); err != nil {
					t.Fatal(err)
				}
			}
			if n%3 != 0 {
				r := h.MustAct("manager@provider.test", &lockbox.AccessRequest{ID: all[n].id}, lockbox.EventReviewApprove)
				all[n].deadline, all[n].reviewed = r.ExpiresAt, true
			}
		}
		time.Sleep(time.Hour) // the newer reviewed ones have expired, unrecorded
		auditBefore := len(h.audit("contoso"))
		want := func(st lockbox.Status) []string {
			var out []string
			for _, f := range slices.Backward(all) { // newest first
				var now lockbox.Status
				switch {
				case !time.Now().Before(f.deadline):
					now = lockbox.StatusExpired
				case f.reviewed:
					now = lockbox.StatusPending
				default:
					now = lockbox.StatusPendingReview
				}
				if now == st {
					out = append(out, f.id)
				}
			}
			return out
		}
		for _, st := range []lockbox.Status{lockbox.StatusPending, lockbox.StatusExpired, lockbox.StatusPendingReview} {
			for _, size := range []int{1, 2, 3, 5, 100} {
				got := h.walk(lockbox.RequestFilter{Status: []lockbox.Status{st}, Limit: size})
				if diff := cmp.Diff(want(st), got); diff != "" {
					t.Errorf("%s, pages of %d (-want +got):\n%s", st, size, diff)
				}
			}
		}
		if len(want(lockbox.StatusExpired)) != 5 || len(want(lockbox.StatusPending)) != 4 {
			t.Fatalf("fixture: %d expired, %d pending", len(want(lockbox.StatusExpired)), len(want(lockbox.StatusPending)))
		}
		if n := len(h.audit("contoso")); n != auditBefore {
			t.Errorf("listing appended %d audit records", n-auditBefore)
		}
	})
}

// walk lists every page of f as the operator and returns the ids, failing
// on a page that is short before the last or a cursor that loops.
func (h *harness) walk(f lockbox.RequestFilter) []string {
	h.t.Helper()
	var ids []string
	for range 100 {
		page, err := h.svc.ListRequests(h.as("operator@provider.test"), f)
		if err != nil {
			h.t.Fatal(err)
		}
		for _, r := range page.Requests {
			ids = append(ids, r.ID)
			if !slices.Contains(f.Status, r.Status) {
				h.t.Errorf("%s listed as %s under filter %v", r.ID, r.Status, f.Status)
			}
		}
		if page.NextCursor == "" {
			return ids
		}
		if len(page.Requests) != f.Limit {
			h.t.Errorf("a page of %d before the last, limit %d", len(page.Requests), f.Limit)
		}
		f.Cursor = page.NextCursor
	}
	h.t.Fatal("paging did not end")
	return nil
}

// TestSettingsChangeMovesReminders changes a tenant's reminder setting
// while requests are pending: their stored reminder times follow in the
// same transaction, so the reminder comes at the new time, once, and
// another tenant's requests keep theirs.
func TestSettingsChangeMovesReminders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		r := h.MustPending(validRequest()) // expires at 12 h; reminder 2 h before
		other := validRequest()
		other.Tenant = "fabrikam"
		o := h.MustPending(other)
		remindAt := func(id string) *time.Time { return h.stored(id).RemindAt }
		if got := remindAt(r.ID); got == nil || !got.Equal(r.ExpiresAt.Add(-2*time.Hour)) {
			t.Fatalf("reminder at %v, want 2 h before %v", got, r.ExpiresAt)
		}
		setReminder := func(minutes int) {
			t.Helper()
			if _, err := h.svc.UpdateSettings(h.as("admin@contoso.test"), "contoso",
				lockbox.SettingsPatch{ReminderMinutesBeforeExpiry: &minutes}); err != nil {
				t.Fatal(err)
			}
		}
		reminders := func() int {
			t.Helper()
			if err := h.svc.EnqueueReminders(context.Background()); err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, line := range h.sent() {
				if line == "email request.reminder approver@contoso.test" {
					n++
				}
			}
			return n
		}
		setReminder(0)
		if got := remindAt(r.ID); got != nil {
			t.Errorf("reminders off: reminder still at %v", got)
		}
		setReminder(60)
		if got := remindAt(r.ID); got == nil || !got.Equal(r.ExpiresAt.Add(-time.Hour)) {
			t.Errorf("reminder at %v, want 1 h before %v", got, r.ExpiresAt)
		}
		if got, want := remindAt(o.ID), o.ExpiresAt.Add(-2*time.Hour); got == nil || !got.Equal(want) {
			t.Errorf("another tenant's reminder moved to %v, want %v", got, want)
		}
		if got := h.stored(r.ID).Version; got != r.Version {
			t.Errorf("moving the reminder changed the version to %d, want %d", got, r.Version)
		}
		time.Sleep(time.Until(r.ExpiresAt.Add(-2 * time.Hour)))
		if n := reminders(); n != 0 {
			t.Fatalf("%d reminders at the old time", n)
		}
		time.Sleep(time.Hour)
		if n := reminders(); n != 1 {
			t.Fatalf("%d reminders at the new time, want 1", n)
		}
		setReminder(30) // a reminder sent is not sent again
		time.Sleep(30 * time.Minute)
		if n := reminders(); n != 1 {
			t.Errorf("%d reminders after the setting moved past the sent one, want 1", n)
		}
	})
}

// TestStaleScheduleIsHealed stores a deadline and a reminder time that do
// not follow the rule (as a bug or an old rule would leave them): each
// worker sweep changes nothing about the request but puts the rule's time
// back, so the row stops coming up as due.
func TestStaleScheduleIsHealed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		r := h.MustPending(validRequest())
		wantDeadline, wantRemind := r.ExpiresAt, r.ExpiresAt.Add(-2*time.Hour)
		auditBefore, outboxBefore := len(h.audit("contoso")), h.sent()
		for _, tc := range []struct {
			name  string
			field func(r *lockbox.AccessRequest) **time.Time
			sweep func(context.Context) error
		}{
			{"Deadline", func(r *lockbox.AccessRequest) **time.Time { return &r.Deadline }, h.svc.SettleDue},
			{"Reminder", func(r *lockbox.AccessRequest) **time.Time { return &r.RemindAt }, h.svc.EnqueueReminders},
		} {
			stale := h.stored(r.ID)
			*tc.field(stale) = ptr(time.Now().Add(-time.Minute))
			if err := h.store.Update(context.Background(), func(tx lockbox.Tx) error {
				return tx.UpdateRequest(context.Background(), stale, stale.Version)
			}); err != nil {
				t.Fatal(err)
			}
			if err := tc.sweep(context.Background()); err != nil {
				t.Fatal(err)
			}
			got := h.stored(r.ID)
			if !got.Deadline.Equal(wantDeadline) || !got.RemindAt.Equal(wantRemind) {
				t.Errorf("%s: after the sweep: deadline %v, reminder %v; want %v and %v", tc.name, got.Deadline, got.RemindAt, wantDeadline, wantRemind)
			}
			if got.Status != lockbox.StatusPending || got.Version != r.Version {
				t.Errorf("%s: the sweep left the request %s v%d, want pending v%d", tc.name, got.Status, got.Version, r.Version)
			}
		}
		if len(h.audit("contoso")) != auditBefore || !cmp.Equal(outboxBefore, h.sent()) {
			t.Errorf("a stale schedule wrote audit records or notifications")
		}
	})
}
