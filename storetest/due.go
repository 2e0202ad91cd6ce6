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
	{"NextDue", testNextDue},
}

// deadlines builds a request whose deadlines are offsets from T0. A request
// keeps the deadlines of its earlier states (an active request still has
// its decision deadline), and only the current one may count.
func deadlines(id string, st lockbox.Status, expires, starts, ends time.Duration) *lockbox.AccessRequest {
	r := NewRequest(1)
	r.ID, r.Reference, r.Status = id, "LB-"+id, st
	r.CreatedAt = T0.Add(-24 * time.Hour)
	r.ExpiresAt = T0.Add(expires)
	if st != lockbox.StatusPendingReview && st != lockbox.StatusPending {
		r.AccessStartsAt, r.AccessEndsAt = ptr(T0.Add(starts)), ptr(T0.Add(ends))
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

type dueCase struct {
	r   *lockbox.AccessRequest
	due bool
}

// testDueRequests checks each deadline kind before, at and after now, and
// that only the deadline of the current status counts.
func testDueRequests(t *testing.T, s lockbox.Store) {
	const usec, h = time.Microsecond, time.Hour
	tests := []dueCase{
		{deadlines("review-past", lockbox.StatusPendingReview, -h, 0, 0), true},
		{deadlines("review-now", lockbox.StatusPendingReview, 0, 0, 0), true},
		{deadlines("review-future", lockbox.StatusPendingReview, usec, 0, 0), false},
		{deadlines("pending-past", lockbox.StatusPending, -h, 0, 0), true},
		{deadlines("pending-now", lockbox.StatusPending, 0, 0, 0), true},
		{deadlines("pending-future", lockbox.StatusPending, usec, 0, 0), false},
		{deadlines("approved-past", lockbox.StatusApproved, -2*h, -h, h), true},
		{deadlines("approved-now", lockbox.StatusApproved, -2*h, 0, h), true},
		{deadlines("approved-future", lockbox.StatusApproved, -2*h, usec, h), false},
		{deadlines("active-past", lockbox.StatusActive, -3*h, -2*h, -h), true},
		{deadlines("active-now", lockbox.StatusActive, -3*h, -h, 0), true},
		{deadlines("active-future", lockbox.StatusActive, -3*h, -h, usec), false},
	}
	for _, st := range []lockbox.Status{lockbox.StatusCompleted, lockbox.StatusDenied,
		lockbox.StatusCanceled, lockbox.StatusExpired, lockbox.StatusRevoked} {
		r := deadlines("terminal-"+string(st), st, -3*h, -2*h, -h)
		tests = append(tests, dueCase{r, false})
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
		expires := time.Duration(n%3-1) * time.Minute // -1m, 0, +1m: two of three due
		MustInsertRequest(t, s, deadlines(id, lockbox.StatusPending, expires, 0, 0))
		if expires <= 0 {
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

func nextDue(t *testing.T, s lockbox.Store, now time.Time) time.Time {
	t.Helper()
	var got time.Time
	MustView(t, s, func(tx lockbox.Tx) (err error) {
		got, err = tx.NextDue(t.Context(), now)
		return err
	})
	return got
}

// testNextDue: the earliest current deadline strictly after now. Stale
// deadlines of earlier states and deadlines of finished requests never count.
func testNextDue(t *testing.T, s lockbox.Store) {
	const m = time.Minute
	if got := nextDue(t, s, T0); !got.IsZero() {
		t.Fatalf("NextDue on an empty store = %v, want zero", got)
	}
	for _, r := range []*lockbox.AccessRequest{
		deadlines("a", lockbox.StatusPendingReview, 10*m, 0, 0),
		deadlines("b", lockbox.StatusApproved, 5*m, 20*m, 140*m), // expires_at is stale
		deadlines("c", lockbox.StatusActive, 1*m, -90*m, 30*m),   // expires_at is stale
		deadlines("d", lockbox.StatusCompleted, 2*m, 3*m, 4*m),   // finished
		deadlines("e", lockbox.StatusPending, 40*m, 0, 0),
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
