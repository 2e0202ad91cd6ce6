package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lockboxhq/lockbox"
)

// Migration 00007 added each request's stored schedule (next_deadline,
// remind_at) and filled it in for the requests already stored, in SQL that
// mirrors the workflow's Go rules. BackfillFixture and CheckBackfill let
// each store's migration test prove the two agree: the store writes the
// fixture at the schema before 00007 in its own SQL, migrates, and checks.

// BackfillTenant is a tenant of the backfill fixture and its settings.
type BackfillTenant struct {
	Name     string
	Settings lockbox.Settings
}

// BackfillFixture returns tenants whose reminders are on, off and long,
// and requests of theirs in every status, pending ones with different
// times to decide (so the reminder time falls after, at and before the
// review), none with a schedule set: the rows as a store held them
// before 00007.
func BackfillFixture() ([]BackfillTenant, []*lockbox.AccessRequest) {
	tenants := []BackfillTenant{{Name: "contoso"}, {Name: "fabrikam"}, {Name: "tailspin"}}
	for i, minutes := range []int{120, 0, 700} {
		tenants[i].Settings = lockbox.DefaultSettings()
		tenants[i].Settings.ReminderMinutesBeforeExpiry = minutes
	}
	var out []*lockbox.AccessRequest
	n := 0
	for _, tn := range tenants {
		for _, st := range lockbox.Statuses {
			for _, window := range []time.Duration{12 * time.Hour, 2 * time.Hour, time.Hour} {
				if st != lockbox.StatusPending && window != 12*time.Hour {
					continue
				}
				n++
				out = append(out, backfillRequest(n, tn.Name, st, window))
			}
		}
	}
	return tenants, out
}

// backfillRequest is request n of tenant in status st, as the workflow
// would have left it: reviewed an hour after filing with window to
// decide, approved an hour later for access from 3 h to 5 h, ended at 4 h.
func backfillRequest(n int, tenant string, st lockbox.Status, window time.Duration) *lockbox.AccessRequest {
	r := NewRequest(n)
	r.Tenant, r.Status = tenant, st
	r.ID, r.Reference = fmt.Sprintf("req-%s-%02d", tenant, n), fmt.Sprintf("LB-%s%02d", tenant[:3], n)
	at := func(d time.Duration) *time.Time { return ptr(r.CreatedAt.Add(d)) }
	if st == lockbox.StatusPendingReview {
		return r
	}
	r.ReviewedBy, r.ReviewedAt, r.TenantVisible = ptr("manager@provider.test"), at(time.Hour), true
	r.ExpiresAt = r.ReviewedAt.Add(window)
	switch st {
	case lockbox.StatusPending, lockbox.StatusExpired, lockbox.StatusCanceled:
		return r
	case lockbox.StatusDenied:
		r.DecidedBy, r.DecidedAt, r.EndedAt = ptr("approver@contoso.test"), at(2*time.Hour), at(2*time.Hour)
		return r
	}
	r.DecidedBy, r.DecidedAt = ptr("approver@contoso.test"), at(2*time.Hour)
	r.AccessStartsAt, r.AccessEndsAt = at(3*time.Hour), at(5*time.Hour)
	if st.Terminal() {
		r.EndedAt = at(4 * time.Hour)
	}
	return r
}

// CheckBackfill reads every fixture request from s, migrated past 00007,
// and checks its stored schedule against the workflow's rule (lockbox's
// Schedule under its tenant's settings), and that nothing else changed.
func CheckBackfill(t *testing.T, s lockbox.Store, tenants []BackfillTenant, requests []*lockbox.AccessRequest) {
	t.Helper()
	settings := map[string]lockbox.Settings{}
	for _, tn := range tenants {
		settings[tn.Name] = tn.Settings
	}
	var reminders, deadlines int
	for _, r := range requests {
		want := r.Clone()
		st := settings[r.Tenant]
		want.Schedule(&st)
		got := MustGetRequest(t, s, r.ID)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (%s, reminder %d min) after the migration (-want +got):\n%s",
				r.ID, r.Status, st.ReminderMinutesBeforeExpiry, diff)
		}
		if want.RemindAt != nil {
			reminders++
		}
		if want.Deadline != nil {
			deadlines++
		}
	}
	// Guard against a vacuous pass: the fixture holds both kinds, and
	// requests without either.
	if reminders < 2 || deadlines < 8 || deadlines == len(requests) {
		t.Errorf("fixture has %d reminders and %d deadlines in %d requests", reminders, deadlines, len(requests))
	}
}
