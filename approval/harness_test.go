package approval_test

import (
	"context"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
	"github.com/lockboxhq/lockbox/internal/lockboxtest"
)

// harness is a real workflow service on a real database (openTestStore),
// seeded with the dev accounts.
type harness struct {
	t     testing.TB
	store lockbox.Store
	svc   *approval.Service
	opts  approval.Options // svc's, for another replica on the same store
}

func newHarness(t testing.TB) *harness { return newHarnessWith(t, nil) }

// newHarnessWith is newHarness with its options changed by tune.
func newHarnessWith(t testing.TB, tune func(*approval.Options)) *harness {
	t.Helper()
	ctx := context.Background()
	st := openTestStore(t) // SQLite, or PostgreSQL with LOCKBOX_TEST_STORE=postgres
	// Cheap password hashing: tests create many accounts.
	opts := approval.Options{PasswordMemoryKiB: 64, PasswordTime: 1, Resolver: lockboxtest.DNS, Secrets: lockboxtest.SecretBox(t)}
	if tune != nil {
		tune(&opts)
	}
	svc := approval.New(st, lockbox.SystemClock{}, opts)
	if err := svc.SeedDev(ctx); err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, store: st, svc: svc, opts: opts}
}

// as returns a context acting as the account with email.
func (h *harness) as(email string) context.Context {
	h.t.Helper()
	var u *lockbox.User
	err := h.store.View(context.Background(), func(tx lockbox.Tx) error {
		var err error
		// Test accounts have one account per address.
		var users []*lockbox.User
		users, _, err = tx.UsersByEmail(context.Background(), email)
		if err == nil && len(users) != 1 {
			err = lockbox.Errorf(lockbox.ENOTFOUND, "%d accounts with %s", len(users), email)
		}
		if err == nil {
			u = users[0]
		}
		return err
	})
	if err != nil {
		h.t.Fatalf("user %s: %v", email, err)
	}
	return lockbox.NewContextWithUser(context.Background(), u)
}

func validRequest() lockbox.NewRequest {
	return lockbox.NewRequest{Tenant: "contoso", Service: "exchange", ServiceRequest: "SR-2026-004211",
		Reason: "Mailbox fails to load.", Operations: []string{"Get-MailboxStatistics"}, DurationMinutes: 120}
}

// MustFile files a request as operator@provider.test.
func (h *harness) MustFile(in lockbox.NewRequest) *lockbox.AccessRequest {
	h.t.Helper()
	r, err := h.svc.CreateRequest(h.as("operator@provider.test"), in)
	if err != nil {
		h.t.Fatalf("create: %v", err)
	}
	return r
}

// MustAct applies ev as email and fails the test on error.
func (h *harness) MustAct(email string, r *lockbox.AccessRequest, ev lockbox.Event) *lockbox.AccessRequest {
	h.t.Helper()
	out, err := h.svc.Act(h.as(email), r.ID, ev, lockbox.Decision{})
	if err != nil {
		h.t.Fatalf("%s by %s: %v", ev, email, err)
	}
	return out
}

// MustPending files a request and has the manager approve it in review.
func (h *harness) MustPending(in lockbox.NewRequest) *lockbox.AccessRequest {
	h.t.Helper()
	return h.MustAct("manager@provider.test", h.MustFile(in), lockbox.EventReviewApprove)
}

// stored reads a request straight from the store, bypassing the service's
// deadline settling, to see what the worker has (or has not) written.
func (h *harness) stored(id string) *lockbox.AccessRequest {
	h.t.Helper()
	var r *lockbox.AccessRequest
	err := h.store.View(context.Background(), func(tx lockbox.Tx) error {
		var err error
		r, err = tx.GetRequest(context.Background(), id)
		return err
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

// audit returns a log's records in order.
func (h *harness) audit(log string) []*lockbox.AuditRecord {
	h.t.Helper()
	var out []*lockbox.AuditRecord
	err := h.store.View(context.Background(), func(tx lockbox.Tx) error {
		n, err := tx.AuditSize(context.Background(), log)
		if err != nil {
			return err
		}
		out, err = tx.AuditRecords(context.Background(), log, 0, n)
		return err
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return out
}

// auditOf returns a log's records of operation op, in order.
func (h *harness) auditOf(log, op string) []*lockbox.AuditRecord {
	h.t.Helper()
	var out []*lockbox.AuditRecord
	for _, rec := range h.audit(log) {
		if rec.Operation == op {
			out = append(out, rec)
		}
	}
	return out
}

// ops counts a request's audit operations.
func (h *harness) ops(r *lockbox.AccessRequest) map[string]int {
	h.t.Helper()
	n := map[string]int{}
	for _, rec := range h.audit(r.Tenant) {
		if rec.RequestID == r.ID {
			n[rec.Operation]++
		}
	}
	return n
}

func wantCode(t testing.TB, err error, code string) {
	t.Helper()
	if got := lockbox.ErrorCode(err); got != code {
		t.Fatalf("got error %v (code %q), want code %q", err, got, code)
	}
}

func ptr[T any](v T) *T { return &v }

var _ = time.Second
