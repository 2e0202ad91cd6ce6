package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lockboxhq/lockbox"
)

// lockbox.ReadAhead is a hint a store may act on (PostgreSQL reads the rows
// named with the account's lock) or ignore (SQLite): these hold every
// store to answering exactly as if there were no hint.
var readAheadTests = []test{
	{"SameAnswers", testReadAheadSameAnswers},
	{"ChangesSeen", testReadAheadChangesSeen},
	{"IsolatesFailures", testReadAheadIsolatesFailures},
}

// readAheadFixture stores a tenant, an operator, a service and request 1.
func readAheadFixture(t *testing.T, s lockbox.Store) {
	t.Helper()
	MustInsertTenant(t, s, "contoso")
	MustInsertUser(t, s, NewUser("user-operator", "operator@provider.test", "", lockbox.RoleOperator), "x")
	MustPutService(t, s, &lockbox.Service{Name: "exchange", DisplayName: "Exchange", Operations: []string{"Get-MailboxStatistics"}, UpdatedAt: T0})
	MustInsertRequest(t, s, NewRequest(1))
}

// readAheadAnswers is what a step's first reads return: each value, or
// its error's code.
type readAheadAnswers struct {
	User                              *lockbox.User
	Request                           *lockbox.AccessRequest
	Settings                          *lockbox.Settings
	Service                           *lockbox.Service
	UserErr, RequestErr, SettingsErr  string
	ServiceErr                        string
	RequestKey, TenantKey, ServiceKey string
	LockTenant                        bool // settings read with LockSettings(…, false)
}

// read makes the reads in the order a workflow step makes them: the
// account's lock (with ctx, which may carry the hint), then the others.
func (a *readAheadAnswers) read(ctx context.Context, tx lockbox.Tx, user string) {
	var err error
	a.User, err = tx.LockUser(ctx, user, false)
	a.UserErr = lockbox.ErrorCode(err)
	if a.RequestKey != "" {
		a.Request, err = tx.GetRequest(context.Background(), a.RequestKey)
		a.RequestErr = lockbox.ErrorCode(err)
	}
	if a.TenantKey != "" {
		if a.LockTenant {
			a.Settings, err = tx.LockSettings(context.Background(), a.TenantKey, false)
		} else {
			a.Settings, err = tx.GetSettings(context.Background(), a.TenantKey)
		}
		a.SettingsErr = lockbox.ErrorCode(err)
	}
	if a.ServiceKey != "" {
		a.Service, err = tx.GetService(context.Background(), a.ServiceKey)
		a.ServiceErr = lockbox.ErrorCode(err)
	}
}

// testReadAheadSameAnswers: with each hint, the reads after the account's
// lock answer what they answer without one, whether the hint names what
// is then read, something else, or nothing that exists.
func testReadAheadSameAnswers(t *testing.T, s lockbox.Store) {
	readAheadFixture(t, s)
	for _, tc := range []struct {
		name                       string
		hint                       lockbox.ReadAhead
		user, request, tenant, svc string
		lockTenant                 bool // settings read with LockSettings(…, false)
	}{
		{"request, tenant held shared", lockbox.ReadAhead{Request: "req-000001", ShareTenant: true}, "user-operator", "req-000001", "contoso", "", true},
		{"tenant held shared, read unlocked", lockbox.ReadAhead{Tenant: "contoso", ShareTenant: true}, "user-operator", "", "contoso", "", false},
		{"tenant read unlocked, then locked", lockbox.ReadAhead{Request: "req-000001"}, "user-operator", "req-000001", "contoso", "", true},
		{"no such tenant, held shared", lockbox.ReadAhead{Tenant: "nope", ShareTenant: true}, "user-operator", "", "nope", "", true},
		{"request by id", lockbox.ReadAhead{Request: "req-000001"}, "user-operator", "req-000001", "contoso", "", false},
		{"request by reference in another case", lockbox.ReadAhead{Request: "lb-00000001"}, "user-operator", "lb-00000001", "contoso", "", false},
		{"hint names another key of the request", lockbox.ReadAhead{Request: "req-000001"}, "user-operator", "LB-00000001", "contoso", "", false},
		{"no such request", lockbox.ReadAhead{Request: "req-nope"}, "user-operator", "req-nope", "contoso", "", false},
		{"hint names another request", lockbox.ReadAhead{Request: "req-000001"}, "user-operator", "req-nope", "", "", false},
		{"tenant and service", lockbox.ReadAhead{Tenant: "contoso", Service: "exchange"}, "user-operator", "", "contoso", "exchange", false},
		{"no such tenant or service", lockbox.ReadAhead{Tenant: "nope", Service: "nope"}, "user-operator", "", "nope", "nope", false},
		{"hint names other rows", lockbox.ReadAhead{Tenant: "nope", Service: "nope"}, "user-operator", "req-000001", "contoso", "exchange", false},
		{"no such account", lockbox.ReadAhead{Request: "req-000001"}, "user-nope", "req-000001", "contoso", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := readAheadAnswers{RequestKey: tc.request, TenantKey: tc.tenant, ServiceKey: tc.svc, LockTenant: tc.lockTenant}
			got := want
			MustUpdate(t, s, func(tx lockbox.Tx) error {
				want.read(t.Context(), tx, tc.user)
				return nil
			})
			MustUpdate(t, s, func(tx lockbox.Tx) error {
				got.read(lockbox.WithReadAhead(t.Context(), tc.hint), tx, tc.user)
				return nil
			})
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("with the hint (-without +with):\n%s", diff)
			}
		})
	}
}

// testReadAheadChangesSeen: rows a hint named and the transaction then
// changed read back changed, not as they were read ahead.
func testReadAheadChangesSeen(t *testing.T, s lockbox.Store) {
	readAheadFixture(t, s)
	ctx := lockbox.WithReadAhead(t.Context(), lockbox.ReadAhead{Request: "req-000001", Service: "exchange"})
	r := MustGetRequest(t, s, "req-000001")
	MustUpdate(t, s, func(tx lockbox.Tx) error {
		if _, err := tx.LockUser(ctx, "user-operator", false); err != nil {
			return err
		}
		changed := *r
		comment := "changed before it was read"
		changed.ReviewComment, changed.Version = &comment, 2
		if err := tx.UpdateRequest(t.Context(), &changed, 1); err != nil {
			return err
		}
		if got, err := tx.GetRequest(t.Context(), "req-000001"); err != nil || got.Version != 2 || got.ReviewComment == nil {
			t.Errorf("request read after its change: %+v, %v; want version 2 with the comment", got, err)
		}
		svc := &lockbox.Service{Name: "exchange", DisplayName: "Exchange Online", Operations: []string{"Repair-Mailbox"}, UpdatedAt: T0}
		if err := tx.PutService(t.Context(), svc); err != nil {
			return err
		}
		if got, err := tx.GetService(t.Context(), "exchange"); err != nil || got.DisplayName != "Exchange Online" {
			t.Errorf("service read after its change: %+v, %v; want the new one", got, err)
		}
		settings := lockbox.DefaultSettings()
		settings.MaxAccessMinutes = 30
		if err := tx.UpdateSettings(t.Context(), "contoso", settings); err != nil {
			return err
		}
		if got, err := tx.GetSettings(t.Context(), "contoso"); err != nil || got.MaxAccessMinutes != 30 {
			t.Errorf("settings read after their change: %+v, %v; want max 30 minutes", got, err)
		}
		return nil
	})
}

// testReadAheadIsolatesFailures: many concurrent steps, each reading ahead
// its own request, so they share commit groups (on PostgreSQL the hinted
// reads go with each member's savepoint); every third fails after writing.
// Exactly the successful ones' changes persist.
func testReadAheadIsolatesFailures(t *testing.T, s lockbox.Store) {
	readAheadFixture(t, s)
	const n = 48
	for i := 2; i <= n; i++ {
		MustInsertRequest(t, s, NewRequest(i))
	}
	errBoom := errors.New("boom")
	results := make([]error, n+1)
	var wg sync.WaitGroup
	for i := 1; i <= n; i++ {
		wg.Go(func() {
			id := NewRequest(i).ID
			ctx := lockbox.WithReadAhead(t.Context(), lockbox.ReadAhead{Request: id})
			results[i] = s.Update(ctx, func(tx lockbox.Tx) error {
				if _, err := tx.LockUser(ctx, "user-operator", false); err != nil {
					return err
				}
				r, err := tx.GetRequest(ctx, id)
				if err != nil {
					return err
				}
				if r.ID != id || r.Version != 1 {
					return fmt.Errorf("read %s version %d, want %s version 1", r.ID, r.Version, id)
				}
				if _, err := tx.GetSettings(ctx, r.Tenant); err != nil {
					return err
				}
				r.Version = 2
				if err := tx.UpdateRequest(ctx, r, 1); err != nil {
					return err
				}
				if err := tx.AppendAudit(ctx, NewAuditRecord("contoso", "rec-"+id)); err != nil {
					return err
				}
				if i%3 == 0 {
					return errBoom
				}
				return nil
			})
		})
	}
	wg.Wait()
	kept := 0
	for i := 1; i <= n; i++ {
		failed := i%3 == 0
		if err := results[i]; (err != nil) != failed || (failed && !errors.Is(err, errBoom)) {
			t.Errorf("step %d: %v, want failed=%t with its own error", i, err, failed)
		}
		want := 2
		if failed {
			want = 1
		} else {
			kept++
		}
		if got := MustGetRequest(t, s, NewRequest(i).ID).Version; got != want {
			t.Errorf("request %d at version %d, want %d", i, got, want)
		}
	}
	if got := MustAuditSize(t, s, "contoso"); got != int64(kept) {
		t.Errorf("%d audit records, want %d (the successful steps')", got, kept)
	}
}
