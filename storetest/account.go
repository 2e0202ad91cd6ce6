package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lockboxhq/lockbox"
)

// testUserLifecycle: a password change and the one-time mark round-trip;
// a disabled user's tokens and sessions resolve to nothing, and resolve
// again once enabled; LockUser finds the user; unknown ids are not_found.
func testUserLifecycle(t *testing.T, s lockbox.Store) {
	MustInsertUser(t, s, NewUser("u1", "operator@provider.test", "", lockbox.RoleOperator), "h1")
	mustInsertToken(t, s, "tok", "u1", time.Time{})
	mustInsertWebSession(t, s, "web", newWebSession("u1", time.Hour, 2*time.Hour))

	MustUpdate(t, s, func(tx lockbox.Tx) error { return tx.SetPassword(t.Context(), "u1", "h2", true) })
	u, hash, err := getUserByEmail(t, s, "operator@provider.test")
	if err != nil || hash != "h2" || !u.PasswordChangeRequired || u.Disabled {
		t.Fatalf("after SetPassword: %+v %q %v", u, hash, err)
	}
	MustUpdate(t, s, func(tx lockbox.Tx) error { return tx.SetUserDisabled(t.Context(), "u1", true) })
	if _, err := userByToken(t, s, "tok", T0); lockbox.ErrorCode(err) != lockbox.ENOTFOUND {
		t.Errorf("a disabled user's token: %v, want not_found", err)
	}
	MustView(t, s, func(tx lockbox.Tx) error {
		_, _, err := tx.WebSessionByHash(t.Context(), sessionHash("web"), T0)
		wantCode(t, err, lockbox.ENOTFOUND)
		return nil
	})
	MustUpdate(t, s, func(tx lockbox.Tx) error { // LockUser holds the row inside Update
		u, err := tx.LockUser(t.Context(), "u1", false)
		if err != nil || !u.Disabled || !u.PasswordChangeRequired {
			t.Errorf("LockUser: %+v, %v", u, err)
		}
		return nil
	})
	err = s.Update(t.Context(), func(tx lockbox.Tx) error { _, err := tx.LockUser(t.Context(), "nobody", true); return err })
	wantCode(t, err, lockbox.ENOTFOUND)
	MustUpdate(t, s, func(tx lockbox.Tx) error { return tx.SetUserDisabled(t.Context(), "u1", false) })
	if u, err := userByToken(t, s, "tok", T0); err != nil || u.ID != "u1" {
		t.Errorf("an enabled user's token: %v, %v", u, err)
	}
	err = s.Update(t.Context(), func(tx lockbox.Tx) error { return tx.SetPassword(t.Context(), "nobody", "h", false) })
	wantCode(t, err, lockbox.ENOTFOUND)
	err = s.Update(t.Context(), func(tx lockbox.Tx) error { return tx.SetUserDisabled(t.Context(), "nobody", true) })
	wantCode(t, err, lockbox.ENOTFOUND)
}

func testListServiceAccounts(t *testing.T, s lockbox.Store) {
	MustInsertUser(t, s, NewUser("u1", "operator@provider.test", "", lockbox.RoleOperator), "h")
	for _, name := range []string{"b", "a"} {
		sa := &lockbox.User{ID: "sa-" + name, Email: "service:" + name, Name: name, ServiceAccount: true,
			Roles: []lockbox.Role{lockbox.RoleServiceAccount}, CreatedAt: T0}
		MustInsertUser(t, s, sa, "")
	}
	var got []string
	MustView(t, s, func(tx lockbox.Tx) error {
		sas, err := tx.ListServiceAccounts(t.Context())
		for _, sa := range sas {
			got = append(got, sa.Name)
		}
		return err
	})
	if diff := cmp.Diff([]string{"a", "b"}, got); diff != "" {
		t.Errorf("ListServiceAccounts (-want +got):\n%s", diff)
	}
}

// testTokenListTouchDelete: a user's live tokens and sessions list oldest
// first with their times; touching records the last use; one token goes.
func testTokenListTouchDelete(t *testing.T, s lockbox.Store) {
	MustInsertUser(t, s, NewUser("u1", "operator@provider.test", "", lockbox.RoleOperator), "h")
	MustInsertUser(t, s, NewUser("u2", "manager@provider.test", "", lockbox.RoleSupportManager), "h")
	MustUpdate(t, s, func(tx lockbox.Tx) error {
		for _, k := range []struct {
			tok     string
			user    string
			created time.Time
			expires time.Time
		}{
			{"b", "u1", T0.Add(time.Minute), T0.Add(time.Hour)},
			{"a", "u1", T0, time.Time{}},
			{"dead", "u1", T0, T0.Add(time.Second)},
			{"other", "u2", T0, time.Time{}},
		} {
			if err := tx.InsertToken(t.Context(), []byte(k.tok), k.user, k.created, k.expires); err != nil {
				return err
			}
		}
		return tx.TouchToken(t.Context(), []byte("b"), T0.Add(2*time.Minute))
	})
	var got []*lockbox.Token
	MustView(t, s, func(tx lockbox.Tx) (err error) {
		got, err = tx.ListUserTokens(t.Context(), "u1", T0.Add(time.Minute))
		return err
	})
	used := T0.Add(2 * time.Minute)
	want := []*lockbox.Token{
		{Hash: []byte("a"), UserID: "u1", CreatedAt: T0},
		{Hash: []byte("b"), UserID: "u1", CreatedAt: T0.Add(time.Minute), LastUsedAt: &used, ExpiresAt: T0.Add(time.Hour)},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ListUserTokens (-want +got):\n%s", diff)
	}
	MustView(t, s, func(tx lockbox.Tx) error {
		k, u, err := tx.TokenByHash(t.Context(), []byte("b"), T0)
		if err != nil || u.ID != "u1" || k.LastUsedAt == nil || !k.LastUsedAt.Equal(used) {
			t.Errorf("TokenByHash: %+v %v %v", k, u, err)
		}
		return nil
	})
	MustUpdate(t, s, func(tx lockbox.Tx) error { return tx.DeleteToken(t.Context(), []byte("a")) })
	MustUpdate(t, s, func(tx lockbox.Tx) error { return tx.DeleteToken(t.Context(), []byte("missing")) })
	if _, err := userByToken(t, s, "a", T0); lockbox.ErrorCode(err) != lockbox.ENOTFOUND {
		t.Errorf("deleted token: %v", err)
	}
	if _, err := userByToken(t, s, "other", T0); err != nil {
		t.Errorf("another user's token: %v", err)
	}

	mustInsertWebSession(t, s, "w1", newWebSession("u1", 30*time.Minute, 2*time.Hour))
	MustUpdate(t, s, func(tx lockbox.Tx) error {
		return tx.TouchWebSession(t.Context(), sessionHash("w1"), T0.Add(10*time.Minute), T0.Add(40*time.Minute))
	})
	var sessions []*lockbox.Token
	MustView(t, s, func(tx lockbox.Tx) (err error) {
		sessions, err = tx.ListUserWebSessions(t.Context(), "u1", T0.Add(20*time.Minute))
		return err
	})
	touched := T0.Add(10 * time.Minute)
	wantS := []*lockbox.Token{{Hash: sessionHash("w1"), UserID: "u1", CreatedAt: T0, LastUsedAt: &touched, ExpiresAt: T0.Add(40 * time.Minute)}}
	if diff := cmp.Diff(wantS, sessions); diff != "" {
		t.Errorf("ListUserWebSessions (-want +got):\n%s", diff)
	}
}

// testExpireUserTokens: tokens valid past the time now end then; ones that
// end sooner keep their time; other users' are untouched.
func testExpireUserTokens(t *testing.T, s lockbox.Store) {
	MustInsertUser(t, s, NewUser("u1", "operator@provider.test", "", lockbox.RoleOperator), "h")
	MustInsertUser(t, s, NewUser("u2", "manager@provider.test", "", lockbox.RoleSupportManager), "h")
	mustInsertToken(t, s, "forever", "u1", time.Time{})
	mustInsertToken(t, s, "soon", "u1", T0.Add(time.Minute))
	mustInsertToken(t, s, "other", "u2", time.Time{})
	MustUpdate(t, s, func(tx lockbox.Tx) error { return tx.ExpireUserTokens(t.Context(), "u1", T0.Add(10*time.Minute)) })
	var got []*lockbox.Token
	MustView(t, s, func(tx lockbox.Tx) (err error) {
		got, err = tx.ListUserTokens(t.Context(), "u1", T0)
		return err
	})
	expires := map[string]time.Time{}
	for _, k := range got {
		expires[string(k.Hash)] = k.ExpiresAt
	}
	want := map[string]time.Time{"forever": T0.Add(10 * time.Minute), "soon": T0.Add(time.Minute)}
	if diff := cmp.Diff(want, expires); diff != "" {
		t.Errorf("after ExpireUserTokens (-want +got):\n%s", diff)
	}
	if _, err := userByToken(t, s, "other", T0.Add(time.Hour)); err != nil {
		t.Errorf("another user's token: %v", err)
	}
}

// testOneAddressManyPopulations: one address may be an account of the
// provider and of several tenants, each its own; within one population it
// is one account in any letter case.
func testOneAddressManyPopulations(t *testing.T, s lockbox.Store) {
	const email = "consultant@example.test"
	MustInsertUser(t, s, NewUser("p", email, "", lockbox.RoleOperator), "hp")
	MustInsertUser(t, s, NewUser("c", email, "contoso", lockbox.RoleLockboxApprover), "hc")
	MustInsertUser(t, s, NewUser("f", "Consultant@Example.test", "fabrikam", lockbox.RoleAuditReader), "hf")
	err := s.Update(t.Context(), func(tx lockbox.Tx) error {
		return tx.InsertUser(t.Context(), NewUser("c2", "CONSULTANT@example.test", "contoso", lockbox.RoleAuditReader), "h")
	})
	wantCode(t, err, lockbox.ECONFLICT)
	MustView(t, s, func(tx lockbox.Tx) error {
		users, hashes, err := tx.UsersByEmail(t.Context(), "consultant@EXAMPLE.test")
		if err != nil {
			return err
		}
		var got []string
		for i, u := range users {
			got = append(got, u.Tenant+"/"+u.ID+"/"+hashes[i])
		}
		if diff := cmp.Diff([]string{"/p/hp", "contoso/c/hc", "fabrikam/f/hf"}, got); diff != "" {
			t.Errorf("UsersByEmail (-want +got):\n%s", diff)
		}
		for tenant, id := range map[string]string{"": "p", "contoso": "c", "fabrikam": "f"} {
			u, _, err := tx.GetUserByEmail(t.Context(), tenant, email)
			if err != nil || u.ID != id {
				t.Errorf("GetUserByEmail(%q) = %v, %v; want %s", tenant, u, err, id)
			}
		}
		return nil
	})
}
