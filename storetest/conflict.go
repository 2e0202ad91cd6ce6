package storetest

import (
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
)

// conflictTests: a refused write (ECONFLICT, ENOTFOUND) fails only itself.
// The transaction stays usable and commits what else it did, whatever the
// engine (PostgreSQL aborts a whole transaction on a failed statement
// unless the store avoids failing it). The workflow relies on this: it
// retries a taken reference code inside the transaction that files the
// request.
var conflictTests = []test{
	{"InsertRequest", testConflictInsertRequest},
	{"InsertUser", testConflictInsertUser},
	{"InsertTenant", testConflictInsertTenant},
	{"InsertToken", testConflictInsertToken},
	{"AppendAudit", testConflictAppendAudit},
}

// afterRefusal runs refused (which must fail with code) and then ok in one
// transaction, and checks that the transaction commits.
func afterRefusal(t *testing.T, s lockbox.Store, code string, refused, ok func(tx lockbox.Tx) error) {
	t.Helper()
	MustUpdate(t, s, func(tx lockbox.Tx) error {
		wantCode(t, refused(tx), code)
		return ok(tx)
	})
}

func testConflictInsertRequest(t *testing.T, s lockbox.Store) {
	MustInsertRequest(t, s, NewRequest(1))
	taken := NewRequest(2)
	taken.Reference = "lb-00000001" // request 1's, in another case
	afterRefusal(t, s, lockbox.ECONFLICT,
		func(tx lockbox.Tx) error { return tx.InsertRequest(t.Context(), taken) },
		func(tx lockbox.Tx) error { return tx.InsertRequest(t.Context(), NewRequest(2)) })
	if got := MustGetRequest(t, s, "LB-00000002"); got.ID != "req-000002" {
		t.Errorf("request inserted after the conflict: got %q", got.ID)
	}
}

func testConflictInsertUser(t *testing.T, s lockbox.Store) {
	MustInsertUser(t, s, NewUser("u1", "approver@contoso.test", "contoso", lockbox.RoleLockboxApprover), "h")
	afterRefusal(t, s, lockbox.ECONFLICT,
		func(tx lockbox.Tx) error {
			return tx.InsertUser(t.Context(), NewUser("u2", "Approver@Contoso.test", "contoso", lockbox.RoleGlobalAdmin), "h")
		},
		func(tx lockbox.Tx) error {
			return tx.InsertUser(t.Context(), NewUser("u2", "admin@contoso.test", "contoso", lockbox.RoleGlobalAdmin), "h")
		})
	if _, err := getUserByID(t, s, "u2"); err != nil {
		t.Errorf("user inserted after the conflict: %v", err)
	}
}

func testConflictInsertTenant(t *testing.T, s lockbox.Store) {
	MustInsertTenant(t, s, "contoso")
	afterRefusal(t, s, lockbox.ECONFLICT,
		func(tx lockbox.Tx) error {
			return tx.InsertTenant(t.Context(), &lockbox.Tenant{Name: "contoso", CreatedAt: T0}, lockbox.DefaultSettings())
		},
		func(tx lockbox.Tx) error {
			return tx.InsertTenant(t.Context(), &lockbox.Tenant{Name: "fabrikam", CreatedAt: T0}, lockbox.DefaultSettings())
		})
	MustView(t, s, func(tx lockbox.Tx) error { _, err := tx.GetTenant(t.Context(), "fabrikam"); return err })
}

func testConflictInsertToken(t *testing.T, s lockbox.Store) {
	MustInsertUser(t, s, NewUser("u1", "approver@contoso.test", "contoso", lockbox.RoleLockboxApprover), "h")
	MustUpdate(t, s, func(tx lockbox.Tx) error {
		return tx.InsertToken(t.Context(), []byte("t1"), "u1", T0, T0.Add(time.Hour))
	})
	afterRefusal(t, s, lockbox.ENOTFOUND,
		func(tx lockbox.Tx) error { return tx.InsertToken(t.Context(), []byte("t2"), "nobody", T0, time.Time{}) },
		func(tx lockbox.Tx) error {
			wantCode(t, tx.InsertToken(t.Context(), []byte("t1"), "u1", T0, time.Time{}), lockbox.ECONFLICT)
			return tx.InsertToken(t.Context(), []byte("t3"), "u1", T0, time.Time{})
		})
	MustView(t, s, func(tx lockbox.Tx) error { _, err := tx.UserByToken(t.Context(), []byte("t3"), T0); return err })
}

// testConflictAppendAudit: a record id already stored is refused either at
// the call, and then the transaction goes on and commits the rest (sqlite),
// or when the transaction commits, and then Update fails with ECONFLICT and
// commits nothing (postgres, whose append is sent with COMMIT to hold the
// log's head briefly; lockbox.Tx.AppendAudit allows both). Never accepted.
func testConflictAppendAudit(t *testing.T, s lockbox.Store) {
	MustAppendAudit(t, s, NewAuditRecord("contoso", "rec-0"))
	refusedAtCall := false
	err := s.Update(t.Context(), func(tx lockbox.Tx) error {
		if err := tx.AppendAudit(t.Context(), NewAuditRecord("contoso", "rec-0")); err != nil {
			wantCode(t, err, lockbox.ECONFLICT)
			refusedAtCall = true
		}
		if err := tx.InsertTenant(t.Context(), &lockbox.Tenant{Name: "fabrikam", CreatedAt: T0}, lockbox.DefaultSettings()); err != nil {
			return err
		}
		return tx.AppendAudit(t.Context(), NewAuditRecord("contoso", "rec-1"))
	})
	tenantErr := s.View(t.Context(), func(tx lockbox.Tx) error { _, err := tx.GetTenant(t.Context(), "fabrikam"); return err })
	recs := MustAuditRecords(t, s, "contoso", 0, 10)
	var ids []string
	for _, r := range recs {
		ids = append(ids, r.ID)
	}
	switch {
	case refusedAtCall:
		if err != nil {
			t.Fatalf("Update after a refused append = %v, want nil", err)
		}
		if len(recs) != 2 || recs[1].ID != "rec-1" || recs[1].Index != 1 {
			t.Errorf("log after a refused append: %v, want rec-0, rec-1 at 0, 1", ids)
		}
		if tenantErr != nil {
			t.Errorf("tenant inserted after a refused append: %v", tenantErr)
		}
	default:
		wantCode(t, err, lockbox.ECONFLICT)
		if len(recs) != 1 {
			t.Errorf("log after an Update refused for a duplicate record: %v, want rec-0 alone", ids)
		}
		// The state change goes with its record: not committed either.
		wantCode(t, tenantErr, lockbox.ENOTFOUND)
	}
}
