package postgres

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/postgres/pgtest"
)

// twoReplicas opens two stores (two pools, as two server processes have)
// on one fresh schema with the tenant contoso.
func twoReplicas(t *testing.T) (dsn string, a, b *Store) {
	t.Helper()
	dsn = pgtest.Migrated(t, pgtest.DSN(t))
	for _, s := range []**Store{&a, &b} {
		var err error
		if *s, err = Open(t.Context(), dsn); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { (*s).Close() })
	}
	err := a.Update(t.Context(), func(tx lockbox.Tx) error {
		return tx.InsertTenant(t.Context(), &lockbox.Tenant{Name: "contoso", DisplayName: "Contoso", CreatedAt: time.Unix(0, 0)}, lockbox.Settings{})
	})
	if err != nil {
		t.Fatal(err)
	}
	return dsn, a, b
}

// hookIDs lists contoso's webhooks in a step-like transaction of s: the
// tenant's row first (as a workflow step reads it), then the list.
func hookIDs(t *testing.T, s *Store) []string {
	t.Helper()
	var ids []string
	err := s.Update(t.Context(), func(tx lockbox.Tx) error {
		if _, err := tx.LockSettings(t.Context(), "contoso", false); err != nil {
			return err
		}
		hooks, err := tx.ListWebhooks(t.Context(), "contoso")
		for _, h := range hooks {
			ids = append(ids, h.ID)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func insertHook(ctx context.Context, tx lockbox.Tx, id string) error {
	return tx.InsertWebhook(ctx, &lockbox.Webhook{ID: id, Tenant: "contoso", URL: "https://example.test/" + id,
		Events: []string{"request.created"}, CreatedAt: time.Unix(1, 0)}, "whsec_x")
}

// TestWebhookCacheAcrossReplicas: a webhook change committed on one replica
// is in the list the other replica's next step uses, though that replica
// remembers the list from before the change; and a change that rolled
// back is never remembered, even when its version number is later taken by
// another change.
func TestWebhookCacheAcrossReplicas(t *testing.T) {
	t.Parallel()
	_, a, b := twoReplicas(t)
	ctx := t.Context()
	check := func(s *Store, want ...string) {
		t.Helper()
		if got := hookIDs(t, s); !slices.Equal(got, want) {
			t.Fatalf("webhooks = %q, want %q", got, want)
		}
	}
	check(a)
	check(a) // remembered now
	if err := b.Update(ctx, func(tx lockbox.Tx) error { return insertHook(ctx, tx, "wh-1") }); err != nil {
		t.Fatal(err)
	}
	check(a, "wh-1")
	if err := b.Update(ctx, func(tx lockbox.Tx) error { return tx.DeleteWebhook(ctx, "contoso", "wh-1") }); err != nil {
		t.Fatal(err)
	}
	check(a)

	// A change that rolls back, having listed its own uncommitted webhook.
	errUndo := errors.New("undo")
	err := a.Update(ctx, func(tx lockbox.Tx) error {
		if err := insertHook(ctx, tx, "wh-gone"); err != nil {
			return err
		}
		hooks, err := tx.ListWebhooks(ctx, "contoso")
		if err != nil || len(hooks) != 1 || hooks[0].ID != "wh-gone" {
			t.Errorf("own change listed as %v, %v", hooks, err)
		}
		return errUndo
	})
	if !errors.Is(err, errUndo) {
		t.Fatal(err)
	}
	check(a)
	if err := b.Update(ctx, func(tx lockbox.Tx) error { return insertHook(ctx, tx, "wh-2") }); err != nil {
		t.Fatal(err)
	}
	check(a, "wh-2")
	check(b, "wh-2")
}

// TestWebhookCacheSavesTheRead: a step that read the tenant's row at the
// version a list was remembered with gets that list without reading the
// webhooks table (shown by a change made behind the version's back, which
// only a read would see).
func TestWebhookCacheSavesTheRead(t *testing.T) {
	t.Parallel()
	dsn, a, _ := twoReplicas(t)
	ctx := t.Context()
	if err := a.Update(ctx, func(tx lockbox.Tx) error { return insertHook(ctx, tx, "wh-1") }); err != nil {
		t.Fatal(err)
	}
	if got := hookIDs(t, a); !slices.Equal(got, []string{"wh-1"}) {
		t.Fatalf("webhooks = %q", got)
	}
	pgtest.Exec(t, dsn, `ALTER TABLE webhooks DISABLE TRIGGER webhooks_version`)
	pgtest.Exec(t, dsn, `DELETE FROM webhooks`)
	if got := hookIDs(t, a); !slices.Equal(got, []string{"wh-1"}) {
		t.Errorf("webhooks = %q, want the remembered [wh-1]", got)
	}
}

// userEmails lists contoso's accounts in a step-like transaction of s:
// the tenant's row first (as a workflow step reads it), then the list.
func userEmails(t *testing.T, s *Store) []string {
	t.Helper()
	var emails []string
	err := s.Update(t.Context(), func(tx lockbox.Tx) error {
		if _, err := tx.GetSettings(t.Context(), "contoso"); err != nil {
			return err
		}
		users, err := tx.ListUsers(t.Context(), "contoso")
		for _, u := range users {
			emails = append(emails, u.Email)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return emails
}

func insertUser(ctx context.Context, tx lockbox.Tx, id string) error {
	return tx.InsertUser(ctx, &lockbox.User{ID: id, Email: id + "@contoso.test", Tenant: "contoso",
		Roles: []lockbox.Role{lockbox.RoleLockboxApprover}, CreatedAt: time.Unix(1, 0)}, "hash")
}

// TestUserListCacheAcrossReplicas: an account change committed on one
// replica (a new account, a disabled one, a removed one) is in the list the
// other replica's next step uses, though that replica remembers the list
// from before the change; a change that rolled back is never remembered,
// even when its version number is later taken by another change; and a
// group's member after one that changed an account does not fill the cache
// with that uncommitted change.
func TestUserListCacheAcrossReplicas(t *testing.T) {
	t.Parallel()
	_, a, b := twoReplicas(t)
	ctx := t.Context()
	check := func(s *Store, want ...string) {
		t.Helper()
		if got := userEmails(t, s); !slices.Equal(got, want) {
			t.Fatalf("accounts = %q, want %q", got, want)
		}
	}
	check(a)
	check(a) // remembered now
	if err := b.Update(ctx, func(tx lockbox.Tx) error { return insertUser(ctx, tx, "u1") }); err != nil {
		t.Fatal(err)
	}
	check(a, "u1@contoso.test")
	disabled := func(s *Store) bool {
		t.Helper()
		var users []*lockbox.User
		err := s.Update(ctx, func(tx lockbox.Tx) (err error) {
			if _, err := tx.GetSettings(ctx, "contoso"); err != nil {
				return err
			}
			users, err = tx.ListUsers(ctx, "contoso")
			return err
		})
		if err != nil || len(users) != 1 {
			t.Fatalf("accounts = %v, %v", users, err)
		}
		return users[0].Disabled
	}
	if disabled(a) {
		t.Fatal("u1 disabled before it was")
	}
	if err := b.Update(ctx, func(tx lockbox.Tx) error { return tx.SetUserDisabled(ctx, "u1", true) }); err != nil {
		t.Fatal(err)
	}
	if !disabled(a) {
		t.Error("u1 disabled on replica b, still enabled in replica a's list")
	}
	if err := b.Update(ctx, func(tx lockbox.Tx) error { return tx.DeleteUser(ctx, "u1") }); err != nil {
		t.Fatal(err)
	}
	check(a)

	// A change that rolls back, having listed its own uncommitted account.
	errUndo := errors.New("undo")
	err := a.Update(ctx, func(tx lockbox.Tx) error {
		if err := insertUser(ctx, tx, "gone"); err != nil {
			return err
		}
		if _, err := tx.GetSettings(ctx, "contoso"); err != nil {
			return err
		}
		users, err := tx.ListUsers(ctx, "contoso")
		if err != nil || len(users) != 1 || users[0].ID != "gone" {
			t.Errorf("own change listed as %v, %v", users, err)
		}
		return errUndo
	})
	if !errors.Is(err, errUndo) {
		t.Fatal(err)
	}
	check(a)
	if err := b.Update(ctx, func(tx lockbox.Tx) error { return insertUser(ctx, tx, "u2") }); err != nil {
		t.Fatal(err)
	}
	check(a, "u2@contoso.test")
	check(b, "u2@contoso.test")
}

// TestUserListCacheSavesTheRead: a step that read the tenant's row at the
// version a list was remembered with gets that list without reading the
// accounts (shown by a change made behind the version's back, which only a
// read would see).
func TestUserListCacheSavesTheRead(t *testing.T) {
	t.Parallel()
	dsn, a, _ := twoReplicas(t)
	ctx := t.Context()
	if err := a.Update(ctx, func(tx lockbox.Tx) error { return insertUser(ctx, tx, "u1") }); err != nil {
		t.Fatal(err)
	}
	if got := userEmails(t, a); !slices.Equal(got, []string{"u1@contoso.test"}) {
		t.Fatalf("accounts = %q", got)
	}
	pgtest.Exec(t, dsn, `ALTER TABLE users DISABLE TRIGGER users_version`)
	pgtest.Exec(t, dsn, `DELETE FROM users`)
	if got := userEmails(t, a); !slices.Equal(got, []string{"u1@contoso.test"}) {
		t.Errorf("accounts = %q, want the remembered [u1@contoso.test]", got)
	}
}

// TestViewOne: one read runs outside a transaction; a second statement or
// a write is refused.
func TestViewOne(t *testing.T) {
	t.Parallel()
	_, a, _ := twoReplicas(t)
	ctx := t.Context()
	var tn *lockbox.Tenant
	err := lockbox.ViewOne(ctx, a, func(tx lockbox.Tx) (err error) {
		tn, err = tx.GetTenant(ctx, "contoso")
		return err
	})
	if err != nil || tn.Name != "contoso" {
		t.Fatalf("one read = %v, %v", tn, err)
	}
	err = a.ViewOne(ctx, func(tx lockbox.Tx) error {
		if _, err := tx.ListTenants(ctx); err != nil {
			return err
		}
		_, err := tx.ListTenants(ctx)
		return err
	})
	if err == nil {
		t.Error("two statements in ViewOne: no error")
	}
	err = a.ViewOne(ctx, func(tx lockbox.Tx) error {
		return tx.UpdateSettings(ctx, "contoso", lockbox.Settings{RequireApproval: true})
	})
	if err == nil {
		t.Error("a write in ViewOne: no error")
	}
}

// TestPoolKeepsItsConnections: by default an idle pool keeps as many
// connections as it may open, so a busy replica does not close and reopen
// them (each a PostgreSQL server process).
func TestPoolKeepsItsConnections(t *testing.T) {
	for _, open := range []int{0, 2, 20, 64} {
		o := Options{MaxOpenConns: open}.withDefaults()
		if o.MaxIdleConns != o.MaxOpenConns {
			t.Errorf("MaxOpenConns %d: MaxIdleConns = %d, want %d", open, o.MaxIdleConns, o.MaxOpenConns)
		}
	}
	if o := (Options{MaxOpenConns: 20, MaxIdleConns: 5}).withDefaults(); o.MaxIdleConns != 5 {
		t.Errorf("MaxIdleConns 5 became %d", o.MaxIdleConns)
	}
}
