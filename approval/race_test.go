package approval_test

import (
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lockboxhq/lockbox"
)

// decision is one racer: who sends which event.
type decision struct {
	by string
	ev lockbox.Event
}

var racers = []decision{
	{"approver@contoso.test", lockbox.EventApprove},
	{"admin@contoso.test", lockbox.EventDeny},
	{"approver@contoso.test", lockbox.EventCancel},
	{"admin@contoso.test", lockbox.EventRevoke},
}

// race sends 32 decisions at r at once and returns each one's error.
func race(h *harness, r *lockbox.AccessRequest, ifVersion int) []error {
	errs := make([]error, 32)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range errs {
		d := racers[i%len(racers)]
		ctx := h.as(d.by)
		wg.Go(func() {
			<-start
			_, errs[i] = h.svc.Act(ctx, r.ID, d.ev, lockbox.Decision{IfVersion: ifVersion, Comment: fmt.Sprint("racer ", i)})
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// raceEach has each of emails send ev at r at once, and returns how many
// succeeded; every other one must be a conflict (409).
func raceEach(t *testing.T, h *harness, r *lockbox.AccessRequest, emails []string, ev lockbox.Event) int {
	t.Helper()
	errs := make([]error, len(emails))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, email := range emails {
		ctx := h.as(email)
		wg.Go(func() {
			<-start
			_, errs[i] = h.svc.Act(ctx, r.ID, ev, lockbox.Decision{Comment: fmt.Sprint("racer ", i)})
		})
	}
	close(start)
	wg.Wait()
	wins := 0
	for i, err := range errs {
		switch lockbox.ErrorCode(err) {
		case "":
			wins++
		case lockbox.ECONFLICT:
		default:
			t.Errorf("racer %d: %v", i, err)
		}
	}
	return wins
}

var decisionOps = []string{lockbox.OpRequestApproved, lockbox.OpRequestDenied, lockbox.OpRequestCanceled, lockbox.OpRequestRevoked}

// TestRaceOfDecisionsOnWhatTheySaw: 32 approvers who all saw the pending
// request (and say so with If-Match) decide at once: exactly one wins.
func TestRaceOfDecisionsOnWhatTheySaw(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := h.MustPending(validRequest())
	errs := race(h, r, r.Version)
	wins := 0
	for i, err := range errs {
		switch lockbox.ErrorCode(err) {
		case "":
			wins++
		case lockbox.ECONFLICT:
		default:
			t.Errorf("racer %d: %v", i, err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d winners, want exactly 1", wins)
	}
	n := h.ops(r)
	decided := 0
	for _, op := range decisionOps {
		decided += n[op]
	}
	if decided != 1 || n[lockbox.OpRequestDecisionRefused] != 31 {
		t.Fatalf("audit %v: want exactly one decision record and 31 refusals", n)
	}
}

// TestRaceOfBlindDecisions: without If-Match, later decisions act on the
// state they find. The history must still be one valid serial order: one of
// approve/deny/cancel decides the pending request, and at most one revoke
// follows, only after an approval.
func TestRaceOfBlindDecisions(t *testing.T) {
	t.Parallel()
	for i := range 5 {
		t.Run(fmt.Sprint("round", i), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			r := h.MustPending(validRequest())
			errs := race(h, r, 0)
			won := map[lockbox.Event]int{}
			for i, err := range errs {
				if err == nil {
					won[racers[i%len(racers)].ev]++
				} else if lockbox.ErrorCode(err) != lockbox.ECONFLICT {
					t.Fatalf("racer %d: %v", i, err)
				}
			}
			first := won[lockbox.EventApprove] + won[lockbox.EventDeny] + won[lockbox.EventCancel]
			if first != 1 || won[lockbox.EventRevoke] > won[lockbox.EventApprove] {
				t.Fatalf("winners %v: want one of approve/deny/cancel, and a revoke only after an approval", won)
			}
			n := h.ops(r)
			if got := n[lockbox.OpRequestApproved] + n[lockbox.OpRequestDenied] + n[lockbox.OpRequestCanceled] + n[lockbox.OpRequestRevoked]; got != first+won[lockbox.EventRevoke] {
				t.Fatalf("audit %v does not match winners %v", n, won)
			}
			if n[lockbox.OpRequestDecisionRefused] != 32-first-won[lockbox.EventRevoke] {
				t.Fatalf("refusals %d, want one per loser", n[lockbox.OpRequestDecisionRefused])
			}
		})
	}
}

// TestRaceWithTheDeadline: 32 decisions and the worker all arrive at the
// very instant of the deadline. A decision at the deadline is refused, so
// nobody wins, and the request expires exactly once.
func TestRaceWithTheDeadline(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		r := h.MustPending(validRequest())
		time.Sleep(time.Until(r.ExpiresAt))
		var wg sync.WaitGroup
		wg.Go(func() {
			if err := h.svc.SettleDue(t.Context()); err != nil {
				t.Error(err)
			}
		})
		errs := race(h, r, 0)
		wg.Wait()
		for i, err := range errs {
			if lockbox.ErrorCode(err) != lockbox.ECONFLICT {
				t.Fatalf("racer %d at the deadline: %v, want conflict", i, err)
			}
		}
		n := h.ops(r)
		if n[lockbox.OpRequestExpired] != 1 || n[lockbox.OpRequestDecisionRefused] != 32 {
			t.Fatalf("audit %v: want one expiry and 32 refusals", n)
		}
		if s := h.stored(r.ID); s.Status != lockbox.StatusExpired {
			t.Fatalf("status %s", s.Status)
		}
	})
}

// TestRaceOfSettingsAndReviews changes a tenant's settings while its
// requests become pending: every pending request ends with the reminder
// time the final settings give (none kept from the old ones), and two
// changes of different settings at once both survive.
func TestRaceOfSettingsAndReviews(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	const n = 16
	filed := make([]*lockbox.AccessRequest, n)
	for i := range filed {
		filed[i] = h.MustFile(validRequest())
	}
	admin := h.as("admin@contoso.test")
	errs := make([]error, n+2)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, r := range filed {
		ctx := h.as("manager@provider.test")
		wg.Go(func() {
			<-start
			_, errs[i] = h.svc.Act(ctx, r.ID, lockbox.EventReviewApprove, lockbox.Decision{})
		})
	}
	wg.Go(func() {
		<-start
		_, errs[n] = h.svc.UpdateSettings(admin, "contoso", lockbox.SettingsPatch{ReminderMinutesBeforeExpiry: ptr(90)})
	})
	wg.Go(func() {
		<-start
		_, errs[n+1] = h.svc.UpdateSettings(admin, "contoso", lockbox.SettingsPatch{MaxAccessMinutes: ptr(200)})
	})
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("racer %d: %v", i, err)
		}
	}
	s, err := h.svc.GetSettings(admin, "contoso")
	if err != nil {
		t.Fatal(err)
	}
	if s.ReminderMinutesBeforeExpiry != 90 || s.MaxAccessMinutes != 200 {
		t.Fatalf("settings after two changes at once: %+v; want both", s)
	}
	for _, r := range filed {
		got := h.stored(r.ID)
		want := lockbox.RemindAt(got, *s)
		if want == nil || got.RemindAt == nil || !got.RemindAt.Equal(*want) {
			t.Errorf("%s: stored remind_at %v, the settings give %v", r.Reference, got.RemindAt, want)
		}
	}
}
