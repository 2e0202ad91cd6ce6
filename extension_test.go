package lockbox_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lockboxhq/lockbox"
)

// activeOf is an active request (access 3 h to 5 h after t0) needing
// quorum approvals.
func activeOf(quorum int) *lockbox.AccessRequest {
	r := inStatus(lockbox.StatusActive)
	r.Reference, r.ApprovalsRequired, r.RequesterID = "LB-1", quorum, "op1"
	r.Schedule(nil)
	return r
}

func ask(minutes int) lockbox.Actor {
	return lockbox.Actor{Email: "op", UserID: "op1", Extend: &lockbox.ExtensionAsk{Minutes: minutes, Reason: "not done"}}
}

func TestExtensionGuardsAndCap(t *testing.T) {
	settings := lockbox.DefaultSettings() // 480 minutes in all
	now := t0.Add(4 * time.Hour)
	tests := []struct {
		name  string
		setup func(r *lockbox.AccessRequest)
		ev    lockbox.Event
		a     lockbox.Actor
		want  string
	}{
		{"Extend", nil, lockbox.EventExtend, ask(60), ""},
		{"ExtendUpToTheCap", nil, lockbox.EventExtend, ask(240), ""}, // 120 + 240 ≤ 480
		{"ExtendPastTheCap", func(r *lockbox.AccessRequest) { r.AccessEndsAt = at(10 * time.Hour) }, lockbox.EventExtend, ask(61), lockbox.EINVALID},
		{"ExtendZero", nil, lockbox.EventExtend, ask(0), lockbox.EINVALID},
		{"ExtendWithoutReason", nil, lockbox.EventExtend, lockbox.Actor{Extend: &lockbox.ExtensionAsk{Minutes: 5}}, lockbox.EINVALID},
		{"ExtendWithoutAsk", nil, lockbox.EventExtend, lockbox.Actor{}, lockbox.EINVALID},
		{"ExtendTwice", func(r *lockbox.AccessRequest) { mustApply(t, r, lockbox.EventExtend, ask(30), now) }, lockbox.EventExtend, ask(30), lockbox.ECONFLICT},
		{"ApproveNothingPending", nil, lockbox.EventExtensionApprove, lockbox.Actor{UserID: "ap"}, lockbox.ECONFLICT},
		{"DenyNothingPending", nil, lockbox.EventExtensionDeny, lockbox.Actor{UserID: "ap"}, lockbox.ECONFLICT},
		{"ApproveWithAsk", func(r *lockbox.AccessRequest) { mustApply(t, r, lockbox.EventExtend, ask(30), now) }, lockbox.EventExtensionApprove, ask(30), lockbox.EINVALID},
		// Access that started by break-glass (30 of the tenant's 60
		// minutes) may not grow past break_glass.max_minutes (409).
		{"BreakGlassUpToItsCap", brokeGlass30, lockbox.EventExtend, ask(30), ""},
		{"BreakGlassPastItsCap", brokeGlass30, lockbox.EventExtend, ask(31), lockbox.ECONFLICT},
		{"BreakGlassAcknowledgedPastItsCap", func(r *lockbox.AccessRequest) {
			brokeGlass30(r)
			r.NeedsReview, r.AcknowledgedAt = false, at(time.Hour)
		}, lockbox.EventExtend, ask(31), lockbox.ECONFLICT},
		// A break-glass request of a tenant that had not enabled it
		// followed the normal path: only max_total_access_minutes applies.
		{"BreakGlassNormalPath", func(r *lockbox.AccessRequest) { r.BreakGlass, r.Incident = true, "INC-1" }, lockbox.EventExtend, ask(240), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := activeOf(1)
			if tt.setup != nil {
				tt.setup(r)
			}
			before := r.Clone()
			_, err := r.ApplyAs(r.Resolve(tt.ev), tt.a, now, &settings)
			if got := lockbox.ErrorCode(err); got != tt.want {
				t.Fatalf("got %v (code %q), want %q", err, got, tt.want)
			}
			if err != nil && !cmp.Equal(before, r) {
				t.Errorf("a refused event changed the request:\n%s", cmp.Diff(before, r))
			}
		})
	}
}

// brokeGlass30 makes r access that started by break-glass 30 minutes
// long (3 h to 3 h 30 after t0).
func brokeGlass30(r *lockbox.AccessRequest) {
	r.BreakGlass, r.Incident, r.NeedsReview = true, "INC-1", true
	r.AccessEndsAt = at(3*time.Hour + 30*time.Minute)
	r.Schedule(nil)
}

// TestExtensionCapRecheckedAtApproval: both caps are checked again when
// the extension is approved, against the tenant's settings then: an
// extension asked within the cap and approved after the tenant lowered it
// is refused, and the request (the extension still pending) is unchanged.
func TestExtensionCapRecheckedAtApproval(t *testing.T) {
	now := t0.Add(3 * time.Hour)
	tests := []struct {
		name  string
		setup func(r *lockbox.AccessRequest)
		lower func(s *lockbox.Settings)
		want  string
	}{
		{"TotalUnchanged", nil, func(s *lockbox.Settings) {}, ""},
		{"TotalLowered", nil, func(s *lockbox.Settings) { s.MaxTotalAccessMinutes = 149 }, lockbox.EINVALID},
		{"BreakGlassUnchanged", brokeGlass30, func(s *lockbox.Settings) {}, ""},
		{"BreakGlassLowered", brokeGlass30, func(s *lockbox.Settings) { s.BreakGlass.MaxMinutes = 45 }, lockbox.ECONFLICT},
		{"BreakGlassTotalLowered", brokeGlass30, func(s *lockbox.Settings) { s.MaxTotalAccessMinutes = 45 }, lockbox.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := activeOf(1)
			if tt.setup != nil {
				tt.setup(r)
			}
			mustApply(t, r, lockbox.EventExtend, ask(30), now) // within every default cap
			s := lockbox.DefaultSettings()
			tt.lower(&s)
			before := r.Clone()
			_, err := r.ApplyAs(r.Resolve(lockbox.EventExtensionApprove), lockbox.Actor{Email: "ap", UserID: "ap"}, now, &s)
			if got := lockbox.ErrorCode(err); got != tt.want {
				t.Fatalf("got %v (code %q), want %q", err, got, tt.want)
			}
			if err != nil && !cmp.Equal(before, r) {
				t.Errorf("a refused approval changed the request:\n%s", cmp.Diff(before, r))
			}
			if err == nil && r.Extensions[0].Status != lockbox.ExtensionApproved {
				t.Errorf("extension %s after approval", r.Extensions[0].Status)
			}
		})
	}
}

func mustApply(t *testing.T, r *lockbox.AccessRequest, ev lockbox.Event, a lockbox.Actor, now time.Time) {
	t.Helper()
	s := lockbox.DefaultSettings()
	if _, err := r.ApplyAs(r.Resolve(ev), a, now, &s); err != nil {
		t.Fatalf("%s: %v", ev, err)
	}
}

// TestExtensionQuorum: an extension needs the request's quorum of distinct
// approvers; approved, access ends later and the deadline follows.
func TestExtensionQuorum(t *testing.T) {
	now := t0.Add(4 * time.Hour)
	r := activeOf(2)
	mustApply(t, r, lockbox.EventExtend, ask(30), now)
	if r.Resolve(lockbox.EventExtensionApprove) != lockbox.EventRecordExtensionApproval {
		t.Fatal("the first of two extension approvals is not a partial one")
	}
	mustApply(t, r, lockbox.EventExtensionApprove, lockbox.Actor{Email: "ann", UserID: "ann"}, now)
	if !r.AccessEndsAt.Equal(t0.Add(5*time.Hour)) || r.PendingExtension() == nil {
		t.Fatalf("one of two approvals moved the end to %v", r.AccessEndsAt)
	}
	if err := r.CheckDecider(lockbox.EventExtensionApprove, "ann"); lockbox.ErrorCode(err) != lockbox.ECONFLICT {
		t.Fatalf("ann approving the extension twice: %v", err)
	}
	mustApply(t, r, lockbox.EventExtensionApprove, lockbox.Actor{Email: "bob", UserID: "bob"}, now)
	want := t0.Add(5*time.Hour + 30*time.Minute)
	if !r.AccessEndsAt.Equal(want) || !r.Deadline.Equal(want) || r.Extensions[0].Status != lockbox.ExtensionApproved || r.Status != lockbox.StatusActive {
		t.Fatalf("after two approvals: ends %v, deadline %v, %+v", r.AccessEndsAt, r.Deadline, r.Extensions[0])
	}
}

// TestExtensionLapses: an undecided extension lapses at access_ends_at,
// and the access ends there too, whenever a reader settles it; a decision
// at that instant is too late.
func TestExtensionLapses(t *testing.T) {
	for _, late := range []time.Duration{0, time.Minute, 24 * time.Hour} {
		r := activeOf(1)
		mustApply(t, r, lockbox.EventExtend, ask(30), t0.Add(4*time.Hour))
		if at, ev, _ := r.NextDeadline(); ev != lockbox.EventExtensionLapse || !at.Equal(t0.Add(5*time.Hour)) {
			t.Fatalf("next deadline %s at %v, want the lapse at the access end", ev, at)
		}
		if err := r.Settle(t0.Add(5*time.Hour + late)); err != nil {
			t.Fatal(err)
		}
		if r.Status != lockbox.StatusCompleted || r.Extensions[0].Status != lockbox.ExtensionLapsed ||
			!r.EndedAt.Equal(t0.Add(5*time.Hour)) || !r.AccessEndsAt.Equal(t0.Add(5*time.Hour)) {
			t.Fatalf("settled %v late: %s, extension %s, ended %v", late, r.Status, r.Extensions[0].Status, r.EndedAt)
		}
		if err := r.Check(lockbox.EventExtensionApprove); lockbox.ErrorCode(err) != lockbox.ECONFLICT {
			t.Fatalf("approving a lapsed extension: %v", err)
		}
	}
}
