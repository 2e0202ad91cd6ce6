package lockbox_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lockboxhq/lockbox"
)

// t0 is the fixtures' time; the request was filed then.
var t0 = time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)

func at(d time.Duration) *time.Time { return ptr(t0.Add(d)) }

// inStatus is a request that reached st by the usual path: reviewed after
// one hour, decided after two, access from 3 h to 5 h, ended at 4 h.
func inStatus(st lockbox.Status) *lockbox.AccessRequest {
	r := &lockbox.AccessRequest{ID: "r", Tenant: "contoso", Status: st, DurationMinutes: 120,
		CreatedAt: t0, ExpiresAt: t0.Add(lockbox.ReviewTTL), Version: 1}
	if st == lockbox.StatusPendingReview {
		return r
	}
	r.ReviewedAt, r.ExpiresAt = at(time.Hour), t0.Add(13*time.Hour)
	switch st {
	case lockbox.StatusPending, lockbox.StatusExpired, lockbox.StatusDenied, lockbox.StatusCanceled:
		return r
	}
	r.DecidedAt, r.AccessStartsAt, r.AccessEndsAt = at(2*time.Hour), at(3*time.Hour), at(5*time.Hour)
	return r
}

func TestNextDeadline(t *testing.T) {
	tests := []struct {
		status lockbox.Status
		at     *time.Time
		event  lockbox.Event
	}{
		{lockbox.StatusPendingReview, at(lockbox.ReviewTTL), lockbox.EventExpire},
		{lockbox.StatusPending, at(13 * time.Hour), lockbox.EventExpire},
		{lockbox.StatusApproved, at(3 * time.Hour), lockbox.EventActivate},
		{lockbox.StatusActive, at(5 * time.Hour), lockbox.EventAccessEnd},
		{lockbox.StatusCompleted, nil, ""},
		{lockbox.StatusDenied, nil, ""},
		{lockbox.StatusCanceled, nil, ""},
		{lockbox.StatusExpired, nil, ""},
		{lockbox.StatusRevoked, nil, ""},
	}
	for _, tt := range tests {
		t.Run(string(tt.status), func(t *testing.T) {
			r := inStatus(tt.status)
			when, ev, ok := r.NextDeadline()
			if ok != (tt.at != nil) || ev != tt.event || (ok && !when.Equal(*tt.at)) {
				t.Fatalf("NextDeadline = %v, %q, %v; want %v, %q", when, ev, ok, tt.at, tt.event)
			}
			if !ok {
				return
			}
			// Due from the deadline on, not a microsecond before.
			if ev, due := r.Due(when.Add(-time.Microsecond)); due {
				t.Errorf("due a microsecond early: %s", ev)
			}
			if ev, due := r.Due(when); !due || ev != tt.event {
				t.Errorf("Due at the deadline = %q, %v; want %q", ev, due, tt.event)
			}
		})
	}
}

func TestRemindAt(t *testing.T) {
	pending := inStatus(lockbox.StatusPending) // reviewed at 1 h, expires at 13 h
	unreviewed := inStatus(lockbox.StatusPending)
	unreviewed.ReviewedAt = nil
	tests := []struct {
		name    string
		r       *lockbox.AccessRequest
		minutes int
		want    *time.Time
	}{
		{"TwoHoursBefore", pending, 120, at(11 * time.Hour)},
		{"Off", pending, 0, nil},
		{"JustAfterReview", pending, 719, at(time.Hour + time.Minute)},
		{"AtReview", pending, 720, nil}, // would repeat the email that asked them to decide
		{"BeforeReview", pending, 721, nil},
		{"NotPending", inStatus(lockbox.StatusPendingReview), 120, nil},
		{"Approved", inStatus(lockbox.StatusApproved), 120, nil},
		{"NeverReviewed", unreviewed, 120, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := lockbox.DefaultSettings()
			s.ReminderMinutesBeforeExpiry = tt.minutes
			if diff := cmp.Diff(tt.want, lockbox.RemindAt(tt.r, s)); diff != "" {
				t.Errorf("RemindAt (-want +got):\n%s", diff)
			}
		})
	}
}

// TestApply: each group of who-fields, the times a new status implies, the
// schedule, and no change on a refused event.
func TestApply(t *testing.T) {
	settings := lockbox.DefaultSettings() // 12 h to decide, reminder 2 h before
	now := t0.Add(2 * time.Hour)
	start := t0.Add(30 * time.Hour)
	tests := []struct {
		name string
		r    *lockbox.AccessRequest
		ev   lockbox.Event
		edit func(want *lockbox.AccessRequest)
	}{
		{"ReviewMakesPending", inStatus(lockbox.StatusPendingReview), lockbox.EventReviewApprove, func(w *lockbox.AccessRequest) {
			w.Status, w.TenantVisible = lockbox.StatusPending, true
			w.ReviewedBy, w.ReviewedAt, w.ReviewComment = ptr("amy"), &now, ptr("why")
			w.ExpiresAt = now.Add(12 * time.Hour)
			w.Deadline, w.RemindAt = &w.ExpiresAt, ptr(now.Add(10*time.Hour))
			w.ApprovalsRequired = 1
		}},
		{"ApproveNow", inStatus(lockbox.StatusPending), lockbox.EventApprove, func(w *lockbox.AccessRequest) {
			w.Status, w.TenantVisible = lockbox.StatusApproved, true
			w.DecidedBy, w.DecidedAt, w.DecisionComment = ptr("amy"), &now, ptr("why")
			w.AccessStartsAt, w.AccessEndsAt = &now, ptr(now.Add(2*time.Hour))
			w.Deadline = &now // activates at once
			w.Approvals = []lockbox.Approval{{By: "amy", At: now, Comment: ptr("why")}}
		}},
		{"ApproveScheduled", func() *lockbox.AccessRequest {
			r := inStatus(lockbox.StatusPending)
			r.StartTime = &start
			return r
		}(), lockbox.EventApprove, func(w *lockbox.AccessRequest) {
			w.Status, w.TenantVisible = lockbox.StatusApproved, true
			w.DecidedBy, w.DecidedAt, w.DecisionComment = ptr("amy"), &now, ptr("why")
			w.AccessStartsAt, w.AccessEndsAt = &start, ptr(start.Add(2*time.Hour))
			w.Deadline = &start
			w.Approvals = []lockbox.Approval{{By: "amy", At: now, Comment: ptr("why")}}
		}},
		{"Revoke", inStatus(lockbox.StatusActive), lockbox.EventRevoke, func(w *lockbox.AccessRequest) {
			w.Status = lockbox.StatusRevoked
			w.EndedBy, w.EndComment, w.EndedAt = ptr("amy"), ptr("why"), &now
		}},
		{"DenyEndsWithoutEnder", inStatus(lockbox.StatusPending), lockbox.EventDeny, func(w *lockbox.AccessRequest) {
			w.Status = lockbox.StatusDenied
			w.DecidedBy, w.DecidedAt, w.DecisionComment = ptr("amy"), &now, ptr("why")
			w.EndedAt = &now
		}},
		{"ExpiryEndsAtTheDeadline", inStatus(lockbox.StatusPending), lockbox.EventExpire, func(w *lockbox.AccessRequest) {
			w.Status = lockbox.StatusExpired
			w.EndedBy, w.EndComment, w.EndedAt = ptr("amy"), ptr("why"), ptr(t0.Add(13*time.Hour))
		}},
		{"ActivateRecordsNobody", inStatus(lockbox.StatusApproved), lockbox.EventActivate, func(w *lockbox.AccessRequest) {
			w.Status = lockbox.StatusActive
			w.Deadline = w.AccessEndsAt
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.r.Clone()
			want.Version++
			tt.edit(want)
			before := tt.r.Status
			from, err := tt.r.Apply(tt.ev, "amy", "why", now, &settings)
			if err != nil || from != before {
				t.Fatalf("Apply = %q, %v", from, err)
			}
			if diff := cmp.Diff(want, tt.r); diff != "" {
				t.Errorf("after %s (-want +got):\n%s", tt.ev, diff)
			}
		})
	}
	t.Run("Refused", func(t *testing.T) {
		r := inStatus(lockbox.StatusDenied)
		want := r.Clone()
		if _, err := r.Apply(lockbox.EventApprove, "amy", "", now, &settings); lockbox.ErrorCode(err) != lockbox.ECONFLICT {
			t.Fatalf("approving a denied request: %v, want conflict", err)
		}
		if diff := cmp.Diff(want, r); diff != "" {
			t.Errorf("a refused event changed the request (-want +got):\n%s", diff)
		}
	})
	t.Run("PendingNeedsSettings", func(t *testing.T) {
		if _, err := inStatus(lockbox.StatusPendingReview).Apply(lockbox.EventReviewApprove, "amy", "", now, nil); err == nil {
			t.Fatal("a request became pending without its tenant's settings")
		}
	})
}

// TestSettle: a reader's view of a request whose deadlines passed is what
// the writer later stores, whenever the reader looks.
func TestSettle(t *testing.T) {
	for _, late := range []time.Duration{0, time.Hour, 48 * time.Hour} {
		r := inStatus(lockbox.StatusApproved) // access 3 h to 5 h
		r.Schedule(nil)
		if err := r.Settle(t0.Add(5*time.Hour + late)); err != nil {
			t.Fatal(err)
		}
		want := inStatus(lockbox.StatusApproved)
		want.Status, want.Version = lockbox.StatusCompleted, 3 // activated, then ended
		want.EndedBy, want.EndedAt = ptr(lockbox.System.Email), at(5*time.Hour)
		if diff := cmp.Diff(want, r); diff != "" {
			t.Errorf("settled %v late (-want +got):\n%s", late, diff)
		}
	}
	r := inStatus(lockbox.StatusActive)
	r.Schedule(nil)
	want := r.Clone()
	if err := r.Settle(t0.Add(5*time.Hour - time.Microsecond)); err != nil || !cmp.Equal(want, r) {
		t.Errorf("settled before the deadline: %v, %s", err, cmp.Diff(want, r))
	}
}
