package approval_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
	"github.com/lockboxhq/lockbox/storetest"
)

// Every test here runs in a synctest bubble: time is fake, so 12 hours pass
// in milliseconds and instants are exact.

func TestExpiryAtExactlyTheDeadline(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		setup func(h *harness) *lockbox.AccessRequest
		ttl   time.Duration
		event lockbox.Event
		by    string
	}{
		{"PendingReview", func(h *harness) *lockbox.AccessRequest { return h.MustFile(validRequest()) },
			12 * time.Hour, lockbox.EventReviewApprove, "manager@provider.test"},
		{"Pending", func(h *harness) *lockbox.AccessRequest { return h.MustPending(validRequest()) },
			12 * time.Hour, lockbox.EventApprove, "approver@contoso.test"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				h := newHarness(t)
				r := tc.setup(h)
				if got := time.Until(r.ExpiresAt); got != tc.ttl {
					t.Fatalf("expires in %v, want %v", got, tc.ttl)
				}
				time.Sleep(tc.ttl - time.Microsecond)
				got, err := h.svc.GetRequest(h.as(tc.by), r.ID)
				if err != nil || got.Status != r.Status {
					t.Fatalf("1µs before the deadline: %v, %v; want still %s", got.Status, err, r.Status)
				}
				time.Sleep(time.Microsecond)
				_, err = h.svc.Act(h.as(tc.by), r.ID, tc.event, lockbox.Decision{})
				wantCode(t, err, lockbox.ECONFLICT)
				if s := h.stored(r.ID); s.Status != lockbox.StatusExpired || !s.EndedAt.Equal(r.ExpiresAt) {
					t.Fatalf("after a decision at the deadline: %s ended %v, want expired at %v", s.Status, s.EndedAt, r.ExpiresAt)
				}
				if n := h.ops(r); n[lockbox.OpRequestExpired] != 1 || n[lockbox.OpRequestDecisionRefused] != 1 {
					t.Fatalf("audit ops %v, want one expiry and one refused decision", n)
				}
			})
		})
	}
}

func TestWorkerExpiresWithoutAnyReader(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); h.svc.RunWorker(ctx, time.Hour) }()
		r := h.MustPending(validRequest())
		time.Sleep(12*time.Hour - time.Second)
		synctest.Wait()
		if s := h.stored(r.ID); s.Status != lockbox.StatusPending {
			t.Fatalf("a second early: %s", s.Status)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if s := h.stored(r.ID); s.Status != lockbox.StatusExpired {
			t.Fatalf("at the deadline the worker left it %s", s.Status)
		}
		cancel()
		<-done
		if n := h.ops(r); n[lockbox.OpRequestExpired] != 1 {
			t.Fatalf("expired records: %d, want 1", n[lockbox.OpRequestExpired])
		}
	})
}

// TestWorkerSettlesNothingWhileNotReady: a replica whose store is not
// ready (on PostgreSQL, also while its clock is out of step with the
// database server's) expires nothing, so that a clock ahead does not
// expire requests early; once ready again, it settles what is due.
func TestWorkerSettlesNothingWhileNotReady(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		st := &storetest.UnreadyStore{Store: h.store}
		st.Unready.Store(true)
		replica := approval.New(st, lockbox.SystemClock{}, h.opts)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); replica.RunWorker(ctx, time.Hour) }()
		r := h.MustPending(validRequest())
		time.Sleep(12*time.Hour + time.Minute)
		synctest.Wait()
		if s := h.stored(r.ID); s.Status != lockbox.StatusPending {
			t.Fatalf("a replica that is not ready left it %s, want it pending in the store", s.Status)
		}
		st.Unready.Store(false)
		time.Sleep(time.Hour)
		synctest.Wait()
		if s := h.stored(r.ID); s.Status != lockbox.StatusExpired || !s.EndedAt.Equal(r.ExpiresAt) {
			t.Fatalf("once ready: %s ended %v, want expired at %v", s.Status, s.EndedAt, r.ExpiresAt)
		}
		cancel()
		<-done
	})
}

func TestAccessEndsAtTheApprovedDuration(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		in := validRequest()
		in.DurationMinutes = 90
		r := h.MustAct("approver@contoso.test", h.MustPending(in), lockbox.EventApprove)
		if r.Status != lockbox.StatusActive || r.AccessEndsAt.Sub(*r.AccessStartsAt) != 90*time.Minute {
			t.Fatalf("after approval: %s window %v–%v", r.Status, r.AccessStartsAt, r.AccessEndsAt)
		}
		time.Sleep(90*time.Minute - time.Microsecond)
		if got, _ := h.svc.GetRequest(h.as("operator@provider.test"), r.ID); got.Status != lockbox.StatusActive {
			t.Fatalf("1µs before the end: %s", got.Status)
		}
		time.Sleep(time.Microsecond)
		// No worker runs: reading alone must show it ended, at the exact end.
		got, err := h.svc.GetRequest(h.as("operator@provider.test"), r.ID)
		if err != nil || got.Status != lockbox.StatusCompleted || !got.EndedAt.Equal(*r.AccessEndsAt) {
			t.Fatalf("at the end: %+v, %v", got, err)
		}
		_, err = h.svc.Act(h.as("operator@provider.test"), r.ID, lockbox.EventComplete, lockbox.Decision{})
		wantCode(t, err, lockbox.ECONFLICT)
	})
}

func TestScheduledStart(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); h.svc.RunWorker(ctx, time.Hour) }()
		in := validRequest()
		in.StartTime = ptr(time.Now().Add(3 * time.Hour))
		r := h.MustAct("approver@contoso.test", h.MustPending(in), lockbox.EventApprove)
		if r.Status != lockbox.StatusApproved || !r.AccessStartsAt.Equal(*in.StartTime) {
			t.Fatalf("approved early: %s starts %v", r.Status, r.AccessStartsAt)
		}
		time.Sleep(3*time.Hour - time.Second)
		synctest.Wait()
		if s := h.stored(r.ID); s.Status != lockbox.StatusApproved {
			t.Fatalf("a second before the start: %s", s.Status)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if s := h.stored(r.ID); s.Status != lockbox.StatusActive {
			t.Fatalf("at the start: %s", s.Status)
		}
		time.Sleep(120 * time.Minute)
		synctest.Wait()
		if s := h.stored(r.ID); s.Status != lockbox.StatusCompleted {
			t.Fatalf("after the window: %s", s.Status)
		}
		cancel()
		<-done
	})
}

func TestTenantRequestTTL(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		if _, err := h.svc.UpdateSettings(h.as("admin@contoso.test"), "contoso", lockbox.SettingsPatch{RequestTTLMinutes: ptr(60)}); err != nil {
			t.Fatal(err)
		}
		r := h.MustFile(validRequest())
		time.Sleep(2 * time.Hour) // the review takes 2 hours
		r = h.MustAct("manager@provider.test", r, lockbox.EventReviewApprove)
		if got := time.Until(r.ExpiresAt); got != time.Hour {
			t.Fatalf("the tenant's deadline is %v after review, want 1h", got)
		}
		time.Sleep(time.Hour)
		_, err := h.svc.Act(h.as("approver@contoso.test"), r.ID, lockbox.EventApprove, lockbox.Decision{})
		wantCode(t, err, lockbox.ECONFLICT)
	})
}

func TestMaxAccessDurationOfTenant(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		if _, err := h.svc.UpdateSettings(h.as("approver@contoso.test"), "contoso", lockbox.SettingsPatch{MaxAccessMinutes: ptr(30)}); err != nil {
			t.Fatal(err)
		}
		in := validRequest()
		in.DurationMinutes = 31
		_, err := h.svc.CreateRequest(h.as("operator@provider.test"), in)
		wantCode(t, err, lockbox.EINVALID)
		wantField(t, err, "duration_minutes")
		in.DurationMinutes = 30
		h.MustFile(in)
	})
}
