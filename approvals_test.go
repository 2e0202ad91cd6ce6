package lockbox_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lockboxhq/lockbox"
)

// pendingOf is a pending request needing quorum approvals, asking for
// three operations for two hours from start (nil: at once).
func pendingOf(quorum int, start *time.Time) *lockbox.AccessRequest {
	r := inStatus(lockbox.StatusPending)
	r.Reference = "LB-1"
	r.Operations = []string{"Get-Mailbox", "Get-MailboxStatistics", "Repair-Mailbox"}
	r.RequestedOperations = []string{"Get-Mailbox", "Get-MailboxStatistics", "Repair-Mailbox"}
	r.RequestedDurationMinutes = 120
	r.StartTime, r.RequestedStartTime = start, start
	r.ApprovalsRequired = quorum
	return r
}

func TestResolveQuorum(t *testing.T) {
	tests := []struct {
		quorum, approvals int
		ev, want          lockbox.Event
	}{
		{1, 0, lockbox.EventApprove, lockbox.EventApprove},
		{0, 0, lockbox.EventApprove, lockbox.EventApprove}, // stored before quorums: one
		{2, 0, lockbox.EventApprove, lockbox.EventRecordApproval},
		{2, 1, lockbox.EventApprove, lockbox.EventApprove},
		{3, 1, lockbox.EventApprove, lockbox.EventRecordApproval},
		{3, 2, lockbox.EventApprove, lockbox.EventApprove},
		{3, 1, lockbox.EventDeny, lockbox.EventDeny}, // one deny denies
		{3, 1, lockbox.EventCancel, lockbox.EventCancel},
	}
	for _, tt := range tests {
		r := pendingOf(tt.quorum, nil)
		for i := range tt.approvals {
			r.Approvals = append(r.Approvals, lockbox.Approval{UserID: string(rune('a' + i))})
		}
		if got := r.Resolve(tt.ev); got != tt.want {
			t.Errorf("quorum %d with %d approvals: %s resolves to %s, want %s", tt.quorum, tt.approvals, tt.ev, got, tt.want)
		}
	}
}

// approveAs applies the person's approval the way the workflow does.
func approveAs(r *lockbox.AccessRequest, id string, c lockbox.Changes, now time.Time) error {
	_, err := r.ApplyAs(r.Resolve(lockbox.EventApprove), lockbox.Actor{Email: id + "@contoso.test", UserID: id, Changes: c}, now, ptr(lockbox.DefaultSettings()))
	return err
}

func TestQuorumOfDistinctApprovers(t *testing.T) {
	now := t0.Add(2 * time.Hour)
	r := pendingOf(2, nil)
	if err := approveAs(r, "ann", lockbox.Changes{}, now); err != nil {
		t.Fatal(err)
	}
	if r.Status != lockbox.StatusPending || len(r.Approvals) != 1 || r.DecidedBy != nil || !r.ExpiresAt.Equal(t0.Add(13*time.Hour)) {
		t.Fatalf("after one of two approvals: %s, %d approvals, decided by %v, expires %v", r.Status, len(r.Approvals), r.DecidedBy, r.ExpiresAt)
	}
	before := r.Clone()
	err := approveAs(r, "ann", lockbox.Changes{}, now)
	if lockbox.ErrorCode(err) != lockbox.ECONFLICT {
		t.Fatalf("the same approver again: %v, want conflict", err)
	}
	if diff := cmp.Diff(before, r); diff != "" {
		t.Fatalf("a refused approval changed the request (-want +got):\n%s", diff)
	}
	if err := approveAs(r, "bob", lockbox.Changes{}, now); err != nil {
		t.Fatal(err)
	}
	if r.Status != lockbox.StatusApproved || len(r.Approvals) != 2 || *r.DecidedBy != "bob@contoso.test" {
		t.Fatalf("after the second approval: %s, %d approvals, decided by %v", r.Status, len(r.Approvals), *r.DecidedBy)
	}
}

// TestApproveWithChanges: each approval may narrow; widening is EINVALID
// and changes nothing; under a quorum the narrowest of all applies.
func TestApproveWithChanges(t *testing.T) {
	now := t0.Add(2 * time.Hour)
	requestedStart := t0.Add(5 * time.Hour)
	type approval struct {
		by string
		c  lockbox.Changes
	}
	tests := []struct {
		name      string
		quorum    int
		start     *time.Time
		approvals []approval
		wantCode  string // of the last approval
		wantOps   []string
		wantMin   int
		wantStart *time.Time
	}{
		{name: "NoChanges", quorum: 1, approvals: []approval{{"ann", lockbox.Changes{}}},
			wantOps: []string{"Get-Mailbox", "Get-MailboxStatistics", "Repair-Mailbox"}, wantMin: 120},
		{name: "Shorter", quorum: 1, approvals: []approval{{"ann", lockbox.Changes{DurationMinutes: ptr(60)}}},
			wantOps: []string{"Get-Mailbox", "Get-MailboxStatistics", "Repair-Mailbox"}, wantMin: 60},
		{name: "Subset", quorum: 1, approvals: []approval{{"ann", lockbox.Changes{Operations: []string{"Repair-Mailbox", "Get-Mailbox", "Get-Mailbox"}}}},
			wantOps: []string{"Get-Mailbox", "Repair-Mailbox"}, wantMin: 120},
		{name: "LaterStart", quorum: 1, start: &requestedStart, approvals: []approval{{"ann", lockbox.Changes{StartTime: ptr(requestedStart.Add(time.Hour))}}},
			wantOps: []string{"Get-Mailbox", "Get-MailboxStatistics", "Repair-Mailbox"}, wantMin: 120, wantStart: ptr(requestedStart.Add(time.Hour))},
		{name: "Longer", quorum: 1, approvals: []approval{{"ann", lockbox.Changes{DurationMinutes: ptr(121)}}}, wantCode: lockbox.EINVALID},
		{name: "ZeroMinutes", quorum: 1, approvals: []approval{{"ann", lockbox.Changes{DurationMinutes: ptr(0)}}}, wantCode: lockbox.EINVALID},
		{name: "OperationNotRequested", quorum: 1, approvals: []approval{{"ann", lockbox.Changes{Operations: []string{"Export-Mailbox"}}}}, wantCode: lockbox.EINVALID},
		{name: "NoOperations", quorum: 1, approvals: []approval{{"ann", lockbox.Changes{Operations: []string{}}}}, wantCode: lockbox.EINVALID},
		{name: "EarlierStart", quorum: 1, start: &requestedStart, approvals: []approval{{"ann", lockbox.Changes{StartTime: ptr(requestedStart.Add(-time.Minute))}}}, wantCode: lockbox.EINVALID},
		{name: "StartInThePast", quorum: 1, approvals: []approval{{"ann", lockbox.Changes{StartTime: ptr(now.Add(-time.Hour))}}}, wantCode: lockbox.EINVALID},
		{name: "QuorumNarrowestWins", quorum: 2, start: &requestedStart, approvals: []approval{
			{"ann", lockbox.Changes{DurationMinutes: ptr(60), Operations: []string{"Get-Mailbox", "Get-MailboxStatistics"}}},
			{"bob", lockbox.Changes{DurationMinutes: ptr(90), Operations: []string{"Get-MailboxStatistics", "Repair-Mailbox"}, StartTime: ptr(requestedStart.Add(time.Hour))}},
		}, wantOps: []string{"Get-MailboxStatistics"}, wantMin: 60, wantStart: ptr(requestedStart.Add(time.Hour))},
		{name: "QuorumNothingInCommon", quorum: 2, approvals: []approval{
			{"ann", lockbox.Changes{Operations: []string{"Get-Mailbox"}}},
			{"bob", lockbox.Changes{Operations: []string{"Repair-Mailbox"}}},
		}, wantCode: lockbox.EINVALID},
		{name: "QuorumWideningStillRefused", quorum: 2, approvals: []approval{
			{"ann", lockbox.Changes{DurationMinutes: ptr(60)}},
			{"bob", lockbox.Changes{DurationMinutes: ptr(180)}},
		}, wantCode: lockbox.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := pendingOf(tt.quorum, tt.start)
			var err error
			var before *lockbox.AccessRequest
			for _, a := range tt.approvals {
				before = r.Clone()
				if err = approveAs(r, a.by, a.c, now); err != nil {
					break
				}
			}
			if got := lockbox.ErrorCode(err); got != tt.wantCode {
				t.Fatalf("got %v (code %q), want code %q", err, got, tt.wantCode)
			}
			if err != nil {
				if diff := cmp.Diff(before, r); diff != "" {
					t.Fatalf("a refused approval changed the request (-want +got):\n%s", diff)
				}
				return
			}
			if r.Status != lockbox.StatusApproved {
				t.Fatalf("status %s", r.Status)
			}
			if diff := cmp.Diff(tt.wantOps, r.Operations); diff != "" {
				t.Errorf("operations (-want +got):\n%s", diff)
			}
			if r.DurationMinutes != tt.wantMin || r.RequestedDurationMinutes != 120 || len(r.RequestedOperations) != 3 {
				t.Errorf("duration %d (requested %d, %v), want %d", r.DurationMinutes, r.RequestedDurationMinutes, r.RequestedOperations, tt.wantMin)
			}
			wantStart := now
			if tt.wantStart != nil {
				wantStart = *tt.wantStart
			} else if tt.start != nil {
				wantStart = *tt.start
			}
			if !r.AccessStartsAt.Equal(wantStart) || !r.AccessEndsAt.Equal(wantStart.Add(time.Duration(tt.wantMin)*time.Minute)) {
				t.Errorf("access %v..%v, want from %v for %d minutes", r.AccessStartsAt, r.AccessEndsAt, wantStart, tt.wantMin)
			}
		})
	}
}

func TestOnlyApprovalsChange(t *testing.T) {
	for _, ev := range []lockbox.Event{lockbox.EventDeny, lockbox.EventCancel} {
		r := pendingOf(1, nil)
		before := r.Clone()
		_, err := r.ApplyAs(ev, lockbox.Actor{Email: "ann", Changes: lockbox.Changes{DurationMinutes: ptr(5)}}, t0, nil)
		if lockbox.ErrorCode(err) != lockbox.EINVALID || !cmp.Equal(before, r) {
			t.Errorf("%s with changes: %v, want EINVALID and no change", ev, err)
		}
	}
}
