package storetest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
)

// T0 is the fixtures' reference time: UTC with a microsecond part, the
// finest precision every store keeps.
var T0 = time.Date(2026, 11, 21, 9, 0, 0, 123456000, time.UTC)

// MustUpdate runs fn in s.Update and fails the test on an error.
func MustUpdate(tb testing.TB, s lockbox.Store, fn func(lockbox.Tx) error) {
	tb.Helper()
	if err := s.Update(tb.Context(), fn); err != nil {
		tb.Fatalf("Update: %v", err)
	}
}

// MustView runs fn in s.View and fails the test on an error.
func MustView(tb testing.TB, s lockbox.Store, fn func(lockbox.Tx) error) {
	tb.Helper()
	if err := s.View(tb.Context(), fn); err != nil {
		tb.Fatalf("View: %v", err)
	}
}

// MustInsertTenant stores a tenant named name with default settings.
func MustInsertTenant(tb testing.TB, s lockbox.Store, name string) *lockbox.Tenant {
	tb.Helper()
	tn := &lockbox.Tenant{Name: name, DisplayName: "Tenant " + name, CreatedAt: T0}
	MustUpdate(tb, s, func(tx lockbox.Tx) error {
		return tx.InsertTenant(tb.Context(), tn, lockbox.DefaultSettings())
	})
	return tn
}

// MustInsertUser stores u with the password hash.
func MustInsertUser(tb testing.TB, s lockbox.Store, u *lockbox.User, passwordHash string) {
	tb.Helper()
	MustUpdate(tb, s, func(tx lockbox.Tx) error {
		return tx.InsertUser(tb.Context(), u, passwordHash)
	})
}

// MustInsertRequest stores r.
func MustInsertRequest(tb testing.TB, s lockbox.Store, r *lockbox.AccessRequest) {
	tb.Helper()
	MustUpdate(tb, s, func(tx lockbox.Tx) error {
		return tx.InsertRequest(tb.Context(), r)
	})
}

// MustGetRequest reads a request by id or reference.
func MustGetRequest(tb testing.TB, s lockbox.Store, idOrRef string) *lockbox.AccessRequest {
	tb.Helper()
	var r *lockbox.AccessRequest
	MustView(tb, s, func(tx lockbox.Tx) (err error) {
		r, err = tx.GetRequest(tb.Context(), idOrRef)
		return err
	})
	return r
}

// MustPutService stores a catalog entry.
func MustPutService(tb testing.TB, s lockbox.Store, svc *lockbox.Service) {
	tb.Helper()
	MustUpdate(tb, s, func(tx lockbox.Tx) error {
		return tx.PutService(tb.Context(), svc)
	})
}

// MustAppendAudit appends rec in its own transaction and returns its index.
func MustAppendAudit(tb testing.TB, s lockbox.Store, rec *lockbox.AuditRecord) int64 {
	tb.Helper()
	MustUpdate(tb, s, func(tx lockbox.Tx) error {
		return tx.AppendAudit(tb.Context(), rec)
	})
	return rec.Index
}

// MustAuditRecords reads a log's records with start <= index < end.
func MustAuditRecords(tb testing.TB, s lockbox.Store, log string, start, end int64) []*lockbox.AuditRecord {
	tb.Helper()
	var recs []*lockbox.AuditRecord
	MustView(tb, s, func(tx lockbox.Tx) (err error) {
		recs, err = tx.AuditRecords(tb.Context(), log, start, end)
		return err
	})
	return recs
}

// MustAuditSize reads a log's size.
func MustAuditSize(tb testing.TB, s lockbox.Store, log string) int64 {
	tb.Helper()
	var n int64
	MustView(tb, s, func(tx lockbox.Tx) (err error) {
		n, err = tx.AuditSize(tb.Context(), log)
		return err
	})
	return n
}

// NewRequest returns a fresh pending_review request numbered n, created at
// T0 + n minutes, with every optional field unset. Ids sort in n order.
func NewRequest(n int) *lockbox.AccessRequest {
	created := T0.Add(time.Duration(n) * time.Minute)
	return &lockbox.AccessRequest{
		ID:              fmt.Sprintf("req-%06d", n),
		Reference:       fmt.Sprintf("LB-%08X", n),
		Tenant:          "contoso",
		Service:         "exchange",
		ServiceRequest:  fmt.Sprintf("SR-2026-%06d", n),
		Reason:          "Mailbox of a user fails to load.",
		Operations:      []string{"Get-MailboxStatistics", "Repair-Mailbox"},
		DurationMinutes: 120,
		Status:          lockbox.StatusPendingReview,
		RequestedBy:     "operator@provider.test",
		RequesterID:     "user-operator",
		CreatedAt:       created,
		ExpiresAt:       created.Add(lockbox.ReviewTTL),
		Version:         1,

		RequestedOperations:      []string{"Get-MailboxStatistics", "Repair-Mailbox"},
		RequestedDurationMinutes: 120,
		ApprovalsRequired:        1,
		Approvals:                []lockbox.Approval{},
		Extensions:               []lockbox.Extension{},
	}
}

// NewUser returns a user of tenant ("" for provider staff) with one role.
func NewUser(id, email, tenant string, role lockbox.Role) *lockbox.User {
	return &lockbox.User{ID: id, Email: email, Name: "User " + id, Tenant: tenant,
		Roles: []lockbox.Role{role}, CreatedAt: T0}
}

// NewAuditRecord returns a record for log with string-only audit data (so
// it reads back equal: canonical JSON numbers come back as json.Number).
func NewAuditRecord(log, id string) *lockbox.AuditRecord {
	return &lockbox.AuditRecord{
		ID: id, Time: T0.Truncate(time.Millisecond), Tenant: log,
		RecordType: lockbox.RecordLockboxDecision, Operation: lockbox.OpRequestApproved,
		UserID: "approver@contoso.test", ActorType: lockbox.ActorTenantUser,
		ClientIP: "203.0.113.7", RequestID: "req-000001", Result: lockbox.ResultSucceeded,
		AuditData: map[string]any{"comment": "OK for 2h", "reference": "LB-7K3Q9MXA"},
	}
}

func ptr[T any](v T) *T { return &v }

// wantCode fails the test unless err carries the lockbox error code want.
func wantCode(tb testing.TB, err error, want string) {
	tb.Helper()
	if got := lockbox.ErrorCode(err); got != want {
		tb.Fatalf("error code = %q (%v), want %q", got, err, want)
	}
}

// UnreadyStore is a store whose Ping fails (EUNAVAILABLE) while Unready
// is set, as a PostgreSQL store's does while this process's clock is out
// of step with the database server's: workers must then do nothing
// (lockbox.ReadyWatch).
type UnreadyStore struct {
	lockbox.Store
	Unready atomic.Bool
}

func (s *UnreadyStore) Ping(ctx context.Context) error {
	if s.Unready.Load() {
		return lockbox.Errorf(lockbox.EUNAVAILABLE, "its clock is 5s ahead of its database server's.")
	}
	return s.Store.Ping(ctx)
}
