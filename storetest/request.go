package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lockboxhq/lockbox"
)

var requestTests = []test{
	{"RoundTripMinimal", testRequestRoundTripMinimal},
	{"RoundTripAllFields", testRequestRoundTripAllFields},
	{"TimesInUTC", testRequestTimesInUTC},
	{"GetByReference", testGetRequestByReference},
	{"GetNotFound", testGetRequestNotFound},
	{"InsertConflict", testInsertRequestConflict},
	{"Update", testUpdateRequest},
	{"UpdateStaleVersion", testUpdateRequestStaleVersion},
	{"UpdateKeepsFiledFields", testUpdateRequestKeepsFiledFields},
	{"UpdateClearsOptionalFields", testUpdateRequestClearsOptionalFields},
	{"LockedInsideUpdate", testGetRequestLockedInsideUpdate},
}

// decidedRequest is request n as an active request: every field is set.
func decidedRequest(n int) *lockbox.AccessRequest {
	r := NewRequest(n)
	at := func(m int) *time.Time { return ptr(r.CreatedAt.Add(time.Duration(m) * time.Minute)) }
	r.StartTime = at(30)
	r.Status = lockbox.StatusActive
	r.ReviewedBy, r.ReviewedAt, r.ReviewComment = ptr("manager@provider.test"), at(5), ptr("looks right")
	r.DecidedBy, r.DecidedAt, r.DecisionComment = ptr("approver@contoso.test"), at(10), ptr("OK for 2h")
	r.AccessStartsAt, r.AccessEndsAt, r.EndedAt = at(30), at(150), at(140)
	r.EndedBy, r.EndComment = ptr("approver@contoso.test"), ptr("fixed, thanks")
	r.TenantVisible = true
	r.Version = 4
	// The stored schedule: a store keeps what it is given (the workflow
	// computes it), so both are set here to prove the round trip.
	r.Deadline, r.RemindAt = at(150), at(100)
	// A quorum of two that narrowed the request: the approvals keep the
	// approvers' ids, which the API does not show.
	r.RequestedStartTime = at(20)
	r.ApprovalsRequired = 2
	r.Operations = []string{"Repair-Mailbox"}
	r.Approvals = []lockbox.Approval{
		{By: "approver@contoso.test", At: *at(8), Comment: ptr("only repair"), Operations: []string{"Repair-Mailbox"}, UserID: "user-approver"},
		{By: "admin@contoso.test", At: *at(10), DurationMinutes: ptr(120), StartTime: at(30), UserID: "user-admin"},
	}
	r.Extensions = []lockbox.Extension{
		{Minutes: 30, Reason: "not done yet", Status: lockbox.ExtensionApproved, RequestedAt: *at(100),
			Approvals: []lockbox.Approval{{By: "admin@contoso.test", At: *at(101), UserID: "user-admin"}},
			DecidedBy: ptr("admin@contoso.test"), DecidedAt: at(101), Comment: ptr("ok")},
		{Minutes: 20, Reason: "still not", Status: lockbox.ExtensionPending, RequestedAt: *at(110), Approvals: []lockbox.Approval{}},
	}
	return r
}

func testRequestRoundTripMinimal(t *testing.T, s lockbox.Store) {
	want := NewRequest(1)
	MustInsertRequest(t, s, want)
	if diff := cmp.Diff(want, MustGetRequest(t, s, want.ID)); diff != "" {
		t.Errorf("GetRequest mismatch (-want +got):\n%s", diff)
	}
}

func testRequestRoundTripAllFields(t *testing.T, s lockbox.Store) {
	want := decidedRequest(1)
	MustInsertRequest(t, s, want)
	if diff := cmp.Diff(want, MustGetRequest(t, s, want.ID)); diff != "" {
		t.Errorf("GetRequest mismatch (-want +got):\n%s", diff)
	}
}

// testRequestTimesInUTC: times given in another zone come back as the same
// instant in UTC, with their microseconds.
func testRequestTimesInUTC(t *testing.T, s lockbox.Store) {
	zone := time.FixedZone("UTC+5", 5*60*60)
	r := decidedRequest(1)
	r.CreatedAt = r.CreatedAt.In(zone)
	r.AccessEndsAt = ptr(r.AccessEndsAt.In(zone))
	MustInsertRequest(t, s, r)
	got := MustGetRequest(t, s, r.ID)
	for name, tm := range map[string]time.Time{"created_at": got.CreatedAt, "access_ends_at": *got.AccessEndsAt} {
		if tm.Location() != time.UTC {
			t.Errorf("%s location = %v, want UTC", name, tm.Location())
		}
	}
	if !got.CreatedAt.Equal(r.CreatedAt) || got.CreatedAt.Nanosecond() != 123456000 {
		t.Errorf("created_at = %v, want %v", got.CreatedAt, r.CreatedAt)
	}
}

func testGetRequestByReference(t *testing.T, s lockbox.Store) {
	r := NewRequest(1)
	r.Reference = "LB-7K3Q9MXA"
	MustInsertRequest(t, s, r)
	MustInsertRequest(t, s, NewRequest(2))
	for _, ref := range []string{"LB-7K3Q9MXA", "lb-7k3q9mxa", "Lb-7K3q9MxA", r.ID} {
		t.Run(ref, func(t *testing.T) {
			if got := MustGetRequest(t, s, ref); got.ID != r.ID {
				t.Errorf("GetRequest(%q).ID = %q, want %q", ref, got.ID, r.ID)
			}
		})
	}
}

func testGetRequestNotFound(t *testing.T, s lockbox.Store) {
	MustInsertRequest(t, s, NewRequest(1))
	for _, key := range []string{"req-999999", "LB-99999999", "", "LB-0000000"} {
		t.Run(key, func(t *testing.T) {
			err := s.View(t.Context(), func(tx lockbox.Tx) error {
				_, err := tx.GetRequest(t.Context(), key)
				return err
			})
			wantCode(t, err, lockbox.ENOTFOUND)
		})
	}
}

func testInsertRequestConflict(t *testing.T, s lockbox.Store) {
	orig := NewRequest(1)
	orig.Reference = "LB-7K3Q9MXA"
	MustInsertRequest(t, s, orig)
	tests := []struct {
		name string
		edit func(r *lockbox.AccessRequest)
	}{
		{"SameID", func(r *lockbox.AccessRequest) { r.Reference = "LB-AAAAAAAA" }},
		{"SameReference", func(r *lockbox.AccessRequest) { r.ID = "req-other" }},
		{"SameReferenceOtherCase", func(r *lockbox.AccessRequest) { r.ID, r.Reference = "req-other", "lb-7k3q9mxa" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewRequest(2)
			r.ID, r.Reference = orig.ID, orig.Reference
			tt.edit(r)
			err := s.Update(t.Context(), func(tx lockbox.Tx) error { return tx.InsertRequest(t.Context(), r) })
			wantCode(t, err, lockbox.ECONFLICT)
		})
	}
	if diff := cmp.Diff(orig, MustGetRequest(t, s, orig.ID)); diff != "" {
		t.Errorf("original changed (-want +got):\n%s", diff)
	}
}

// updateRequest runs UpdateRequest in its own transaction.
func updateRequest(t *testing.T, s lockbox.Store, r *lockbox.AccessRequest, prev int) error {
	return s.Update(t.Context(), func(tx lockbox.Tx) error { return tx.UpdateRequest(t.Context(), r, prev) })
}

func testUpdateRequest(t *testing.T, s lockbox.Store) {
	want := decidedRequest(1)
	r := NewRequest(1)
	r.StartTime = want.StartTime // filed with the request, not changed by an update
	MustInsertRequest(t, s, r)
	if err := updateRequest(t, s, want, 1); err != nil {
		t.Fatalf("UpdateRequest: %v", err)
	}
	if diff := cmp.Diff(want, MustGetRequest(t, s, r.ID)); diff != "" {
		t.Errorf("after update (-want +got):\n%s", diff)
	}
}

func testUpdateRequestStaleVersion(t *testing.T, s lockbox.Store) {
	orig := NewRequest(1)
	MustInsertRequest(t, s, orig)
	tests := []struct {
		name string
		id   string
		prev int
	}{
		{"OlderVersion", orig.ID, 0},
		{"NewerVersion", orig.ID, 2},
		{"UnknownRequest", "req-999999", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := orig.Clone()
			r.ID, r.Status, r.Version = tt.id, lockbox.StatusDenied, tt.prev+1
			wantCode(t, updateRequest(t, s, r, tt.prev), lockbox.ECONFLICT)
		})
	}
	if diff := cmp.Diff(orig, MustGetRequest(t, s, orig.ID)); diff != "" {
		t.Errorf("request changed by a refused update (-want +got):\n%s", diff)
	}
}

// testUpdateRequestKeepsFiledFields: what the operator filed, the ids and
// the creation time are not mutable; an update never rewrites them.
func testUpdateRequestKeepsFiledFields(t *testing.T, s lockbox.Store) {
	orig := NewRequest(1)
	MustInsertRequest(t, s, orig)
	r := orig.Clone()
	r.Reference, r.Tenant, r.Service = "LB-ZZZZZZZZ", "fabrikam", "teams"
	r.ServiceRequest, r.Reason = "SR-X", "other"
	r.RequestedBy, r.RequesterID, r.CreatedAt = "x@provider.test", "user-x", T0.Add(time.Hour)
	r.Status, r.Version = lockbox.StatusPending, 2
	// What an approval narrows is written (SPEC §11).
	r.Operations, r.DurationMinutes, r.StartTime = []string{"Repair-Mailbox"}, 5, ptr(T0)
	if err := updateRequest(t, s, r, 1); err != nil {
		t.Fatalf("UpdateRequest: %v", err)
	}
	want := orig.Clone()
	want.Status, want.Version = lockbox.StatusPending, 2
	want.Operations, want.DurationMinutes, want.StartTime = []string{"Repair-Mailbox"}, 5, ptr(T0)
	if diff := cmp.Diff(want, MustGetRequest(t, s, orig.ID)); diff != "" {
		t.Errorf("after update (-want +got):\n%s", diff)
	}
}

func testUpdateRequestClearsOptionalFields(t *testing.T, s lockbox.Store) {
	MustInsertRequest(t, s, decidedRequest(1))
	want := NewRequest(1)
	want.Version = 5
	if err := updateRequest(t, s, want, 4); err != nil {
		t.Fatalf("UpdateRequest: %v", err)
	}
	if diff := cmp.Diff(want, MustGetRequest(t, s, want.ID)); diff != "" {
		t.Errorf("after update (-want +got):\n%s", diff)
	}
}

// testGetRequestLockedInsideUpdate: read-modify-write cycles on one request
// from many goroutines never see a version change under them, because
// GetRequest inside Update holds the request until the transaction ends.
func testGetRequestLockedInsideUpdate(t *testing.T, s lockbox.Store) {
	const workers, rounds = 8, 5
	MustInsertRequest(t, s, NewRequest(1))
	errs := make(chan error, workers*rounds)
	done := make(chan struct{})
	for range workers {
		go func() {
			defer func() { done <- struct{}{} }()
			for range rounds {
				errs <- s.Update(t.Context(), func(tx lockbox.Tx) error {
					r, err := tx.GetRequest(t.Context(), "req-000001")
					if err != nil {
						return err
					}
					prev := r.Version
					r.Version++
					return tx.UpdateRequest(t.Context(), r, prev)
				})
			}
		}()
	}
	for range workers {
		<-done
	}
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("read-modify-write: %v", err)
		}
	}
	if got := MustGetRequest(t, s, "req-000001").Version; got != 1+workers*rounds {
		t.Errorf("version = %d, want %d", got, 1+workers*rounds)
	}
}
