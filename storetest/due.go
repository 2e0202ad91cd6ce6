package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lockboxhq/lockbox"
)

var dueTests = []test{
	{"DueRequests", testDueRequests},
	{"DueRequestsPaging", testDueRequestsPaging},
	{"DueFollowsUpdates", testDueFollowsUpdates},
	{"NextDue", testNextDue},
}

// withDeadline is request id with its stored deadline at T0 plus d, or
// none when d is nil. Which deadline a request has is the workflow's rule
// (lockbox's Schedule); a store only keeps and scans it, so these fixtures
// set it directly, sometimes against the rule, to prove the store reads
// nothing else.
func withDeadline(id string, st lockbox.Status, d *time.Duration) *lockbox.AccessRequest {
	r := NewRequest(1)
	r.ID, r.Reference, r.Status = id, "LB-"+id, st
	r.CreatedAt = T0.Add(-24 * time.Hour)
	if d != nil {
		r.Deadline = ptr(T0.Add(*d))
	}
	return r
}

func dueRequests(t *testing.T, s lockbox.Store, now time.Time, after string, limit int) []string {
	t.Helper()
	var got []string
	MustView(t, s, func(tx lockbox.Tx) (err error) {
		got, err = tx.DueRequests(t.Context(), now, after, limit)
		return err
	})
	return got
}

// testDueRequests: a request is due when its stored deadline is at or
// before now, whatever its status or other times say.
func testDueRequests(t *testing.T, s lockbox.Store) {
	const usec, h = time.Microsecond, time.Hour
	tests := []struct {
		r   *lockbox.AccessRequest
		due bool
	}{
		{withDeadline("past", lockbox.StatusPending, ptr(-h)), true},
		{withDeadline("now", lockbox.StatusApproved, ptr(time.Duration(0))), true},
		{withDeadline("future", lockbox.StatusActive, ptr(usec)), false},
		{withDeadline("none", lockbox.StatusCompleted, nil), false},
		// The store scans the deadline column only: a stale expires_at in
		// the past does not make a request due, and neither does a status.
		{func() *lockbox.AccessRequest {
			r := withDeadline("stale-expiry", lockbox.StatusPending, ptr(h))
			r.ExpiresAt = T0.Add(-h)
			return r
		}(), false},
		{withDeadline("terminal-with-deadline", lockbox.StatusExpired, ptr(-h)), true},
	}
	want := []string{}
	for _, tt := range tests {
		MustInsertRequest(t, s, tt.r)
		if tt.due {
			want = append(want, tt.r.ID)
		}
	}
	slices.Sort(want)
	got := dueRequests(t, s, T0, "", 100)
	if diff := cmp.Diff(want, append([]string{}, got...)); diff != "" {
		t.Errorf("DueRequests (-want +got):\n%s", diff)
	}
}

// testDueRequestsPaging: afterID and limit walk the due set in id order,
// skipping requests that are not due.
func testDueRequestsPaging(t *testing.T, s lockbox.Store) {
	var want []string
	for n := range 20 {
		id := fmt.Sprintf("r%02d", n)
		d := time.Duration(n%3-1) * time.Minute // -1m, 0, +1m: two of three due
		MustInsertRequest(t, s, withDeadline(id, lockbox.StatusPending, &d))
		if d <= 0 {
			want = append(want, id)
		}
	}
	for _, limit := range []int{1, 3, 13, 100} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			var got []string
			after := ""
			for range 50 {
				page := dueRequests(t, s, T0, after, limit)
				if len(page) > limit {
					t.Fatalf("page of %d ids, limit %d", len(page), limit)
				}
				got = append(got, page...)
				if len(page) < limit {
					break
				}
				after = page[len(page)-1]
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("due ids (-want +got):\n%s", diff)
			}
		})
	}
}

// testDueFollowsUpdates: UpdateRequest writes the deadline, moving a
// request into and out of the due set.
func testDueFollowsUpdates(t *testing.T, s lockbox.Store) {
	r := withDeadline("r", lockbox.StatusPending, ptr(time.Hour))
	MustInsertRequest(t, s, r)
	for _, tc := range []struct {
		deadline *time.Time
		want     []string
	}{
		{ptr(T0.Add(-time.Minute)), []string{"r"}},
		{nil, nil},
		{ptr(T0), []string{"r"}},
	} {
		r.Deadline = tc.deadline
		r.Version++
		if err := updateRequest(t, s, r, r.Version-1); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, dueRequests(t, s, T0, "", 10)); diff != "" {
			t.Errorf("deadline %v: due (-want +got):\n%s", tc.deadline, diff)
		}
	}
}

func nextDue(t *testing.T, s lockbox.Store, now time.Time) time.Time {
	t.Helper()
	var got time.Time
	MustView(t, s, func(tx lockbox.Tx) (err error) {
		got, err = tx.NextDue(t.Context(), now)
		return err
	})
	return got
}

// testNextDue: the earliest stored deadline strictly after now.
func testNextDue(t *testing.T, s lockbox.Store) {
	const m = time.Minute
	if got := nextDue(t, s, T0); !got.IsZero() {
		t.Fatalf("NextDue on an empty store = %v, want zero", got)
	}
	for _, r := range []*lockbox.AccessRequest{
		withDeadline("a", lockbox.StatusPendingReview, ptr(10*m)),
		withDeadline("b", lockbox.StatusApproved, ptr(20*m)),
		withDeadline("c", lockbox.StatusActive, ptr(30*m)),
		withDeadline("d", lockbox.StatusCompleted, nil),
		withDeadline("e", lockbox.StatusPending, ptr(40*m)),
	} {
		MustInsertRequest(t, s, r)
	}
	tests := []struct {
		now, want time.Duration
		none      bool
	}{
		{now: 0, want: 10 * m},
		{now: 10 * m, want: 20 * m}, // a deadline at now is due, not next
		{now: 25 * m, want: 30 * m},
		{now: 30 * m, want: 40 * m},
		{now: 40 * m, none: true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.now), func(t *testing.T) {
			got := nextDue(t, s, T0.Add(tt.now))
			want := T0.Add(tt.want)
			if tt.none {
				want = time.Time{}
			}
			if !got.Equal(want) || (!got.IsZero() && got.Location() != time.UTC) {
				t.Errorf("NextDue(T0+%v) = %v, want %v in UTC", tt.now, got, want)
			}
		})
	}
}
