package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lockboxhq/lockbox"
)

var userTests = []test{
	{"RoundTrip", testUserRoundTrip},
	{"EmailAnyCase", testUserEmailAnyCase},
	{"InsertConflict", testInsertUserConflict},
	{"NotFound", testUserNotFound},
	{"List", testListUsers},
	{"UpdateRoles", testUpdateUserRoles},
	{"Delete", testDeleteUser},
	{"Lifecycle", testUserLifecycle},
	{"OneAddressManyPopulations", testOneAddressManyPopulations},
	{"ListServiceAccounts", testListServiceAccounts},
}

var tokenTests = []test{
	{"Expiry", testTokenExpiry},
	{"UnknownHash", testTokenUnknown},
	{"InsertConflict", testInsertTokenConflict},
	{"UnknownUser", testInsertTokenUnknownUser},
	{"DeleteUserTokens", testDeleteUserTokens},
	{"ListTouchDelete", testTokenListTouchDelete},
	{"ExpireUserTokens", testExpireUserTokens},
	{"FindTokenConcurrently", testFindTokenConcurrently},
}

// getUserByEmail finds the one account with email, in whatever
// population: the fixtures here give every address one account.
func getUserByEmail(t *testing.T, s lockbox.Store, email string) (*lockbox.User, string, error) {
	var u *lockbox.User
	var hash string
	err := s.View(t.Context(), func(tx lockbox.Tx) error {
		users, hashes, err := tx.UsersByEmail(t.Context(), email)
		if err != nil {
			return err
		}
		if len(users) != 1 {
			return lockbox.Errorf(lockbox.ENOTFOUND, "%d accounts with %s", len(users), email)
		}
		u, hash, err = tx.GetUserByEmail(t.Context(), users[0].Tenant, email)
		if err == nil && (u.ID != users[0].ID || hash != hashes[0]) {
			t.Errorf("GetUserByEmail and UsersByEmail disagree: %+v, %+v", u, users[0])
		}
		return err
	})
	return u, hash, err
}

func getUserByID(t *testing.T, s lockbox.Store, id string) (*lockbox.User, error) {
	var u *lockbox.User
	err := s.View(t.Context(), func(tx lockbox.Tx) (err error) {
		u, err = tx.GetUserByID(t.Context(), id)
		return err
	})
	return u, err
}

func testUserRoundTrip(t *testing.T, s lockbox.Store) {
	tests := []*lockbox.User{
		{ID: "u1", Email: "admin@contoso.test", Name: "Ada Admin", Tenant: "contoso",
			Roles: []lockbox.Role{lockbox.RoleGlobalAdmin, lockbox.RoleLockboxApprover}, CreatedAt: T0},
		{ID: "u2", Email: "operator@provider.test", Roles: []lockbox.Role{lockbox.RoleOperator}, CreatedAt: T0},
		{ID: "u3", Email: "svc-exchange@provider.test", Name: "exchange", ServiceAccount: true,
			Roles: []lockbox.Role{lockbox.RoleServiceAccount}, CreatedAt: T0.Add(time.Second)},
	}
	for _, want := range tests {
		t.Run(want.ID, func(t *testing.T) {
			MustInsertUser(t, s, want, "$argon2id$"+want.ID)
			got, hash, err := getUserByEmail(t, s, want.Email)
			if err != nil {
				t.Fatalf("GetUserByEmail: %v", err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("GetUserByEmail (-want +got):\n%s", diff)
			}
			if hash != "$argon2id$"+want.ID {
				t.Errorf("password hash = %q, want %q", hash, "$argon2id$"+want.ID)
			}
			got, err = getUserByID(t, s, want.ID)
			if err != nil {
				t.Fatalf("GetUserByID: %v", err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("GetUserByID (-want +got):\n%s", diff)
			}
		})
	}
}

// testUserEmailAnyCase: two spellings of one address are one account.
func testUserEmailAnyCase(t *testing.T, s lockbox.Store) {
	MustInsertUser(t, s, NewUser("u1", "approver@contoso.test", "contoso", lockbox.RoleLockboxApprover), "h")
	got, _, err := getUserByEmail(t, s, "Approver@Contoso.TEST")
	if err != nil {
		t.Fatalf("GetUserByEmail: %v", err)
	}
	if got.ID != "u1" {
		t.Errorf("GetUserByEmail found %q, want u1", got.ID)
	}
}

func testInsertUserConflict(t *testing.T, s lockbox.Store) {
	orig := NewUser("u1", "approver@contoso.test", "contoso", lockbox.RoleLockboxApprover)
	MustInsertUser(t, s, orig, "h")
	tests := []struct {
		name string
		u    *lockbox.User
	}{
		{"SameEmail", NewUser("u2", "approver@contoso.test", "contoso", lockbox.RoleGlobalAdmin)},
		{"SameEmailOtherCase", NewUser("u2", "APPROVER@contoso.test", "contoso", lockbox.RoleGlobalAdmin)},
		{"SameID", NewUser("u1", "other@contoso.test", "contoso", lockbox.RoleGlobalAdmin)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Update(t.Context(), func(tx lockbox.Tx) error { return tx.InsertUser(t.Context(), tt.u, "h2") })
			wantCode(t, err, lockbox.ECONFLICT)
		})
	}
	got, hash, err := getUserByEmail(t, s, orig.Email)
	if err != nil || hash != "h" {
		t.Fatalf("GetUserByEmail = hash %q, %v; want h", hash, err)
	}
	if diff := cmp.Diff(orig, got); diff != "" {
		t.Errorf("user changed (-want +got):\n%s", diff)
	}
}

func testUserNotFound(t *testing.T, s lockbox.Store) {
	MustInsertUser(t, s, NewUser("u1", "approver@contoso.test", "contoso", lockbox.RoleLockboxApprover), "h")
	tests := []struct {
		name string
		fn   func(tx lockbox.Tx) error
	}{
		{"GetUserByEmail", func(tx lockbox.Tx) error {
			_, _, err := tx.GetUserByEmail(t.Context(), "contoso", "nobody@contoso.test")
			return err
		}},
		{"GetUserByEmailOtherPopulation", func(tx lockbox.Tx) error {
			_, _, err := tx.GetUserByEmail(t.Context(), "fabrikam", "approver@contoso.test")
			return err
		}},
		{"GetUserByID", func(tx lockbox.Tx) error { _, err := tx.GetUserByID(t.Context(), "u2"); return err }},
		{"UpdateUserRoles", func(tx lockbox.Tx) error {
			return tx.UpdateUserRoles(t.Context(), "u2", []lockbox.Role{lockbox.RoleAuditReader})
		}},
		{"DeleteUser", func(tx lockbox.Tx) error { return tx.DeleteUser(t.Context(), "u2") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantCode(t, s.Update(t.Context(), tt.fn), lockbox.ENOTFOUND) })
	}
}

func listUsers(t *testing.T, s lockbox.Store, tenant string) []string {
	t.Helper()
	var us []*lockbox.User
	MustView(t, s, func(tx lockbox.Tx) (err error) { us, err = tx.ListUsers(t.Context(), tenant); return err })
	emails := []string{}
	for _, u := range us {
		emails = append(emails, u.Email)
	}
	return emails
}

func testListUsers(t *testing.T, s lockbox.Store) {
	svc := NewUser("s1", "svc@provider.test", "", lockbox.RoleServiceAccount)
	svc.ServiceAccount = true
	for _, u := range []*lockbox.User{
		NewUser("p1", "operator@provider.test", "", lockbox.RoleOperator),
		NewUser("p2", "admin@provider.test", "", lockbox.RoleProviderAdmin),
		svc,
		NewUser("p3", "manager@provider.test", "", lockbox.RoleSupportManager),
		NewUser("c1", "auditor@contoso.test", "contoso", lockbox.RoleAuditReader),
		NewUser("c2", "admin@contoso.test", "contoso", lockbox.RoleGlobalAdmin),
		NewUser("f1", "admin@fabrikam.test", "fabrikam", lockbox.RoleGlobalAdmin),
	} {
		MustInsertUser(t, s, u, "h")
	}
	tests := []struct {
		tenant string
		want   []string
	}{
		{"", []string{"admin@provider.test", "manager@provider.test", "operator@provider.test"}},
		{"contoso", []string{"admin@contoso.test", "auditor@contoso.test"}},
		{"fabrikam", []string{"admin@fabrikam.test"}},
		{"northwind", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.tenant, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, listUsers(t, s, tt.tenant)); diff != "" {
				t.Errorf("ListUsers(%q) (-want +got):\n%s", tt.tenant, diff)
			}
		})
	}
}

func testUpdateUserRoles(t *testing.T, s lockbox.Store) {
	want := NewUser("u1", "approver@contoso.test", "contoso", lockbox.RoleLockboxApprover)
	MustInsertUser(t, s, want, "h")
	want.Roles = []lockbox.Role{lockbox.RoleAuditReader, lockbox.RoleGlobalAdmin}
	MustUpdate(t, s, func(tx lockbox.Tx) error { return tx.UpdateUserRoles(t.Context(), "u1", want.Roles) })
	got, err := getUserByID(t, s, "u1")
	if err != nil {
		t.Fatalf("GetUserByID: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after UpdateUserRoles (-want +got):\n%s", diff)
	}
}

// testDeleteUser: the user and every token of theirs go; others stay.
func testDeleteUser(t *testing.T, s lockbox.Store) {
	MustInsertUser(t, s, NewUser("u1", "approver@contoso.test", "contoso", lockbox.RoleLockboxApprover), "h")
	MustInsertUser(t, s, NewUser("u2", "admin@contoso.test", "contoso", lockbox.RoleGlobalAdmin), "h")
	mustInsertToken(t, s, "u1-a", "u1", time.Time{})
	mustInsertToken(t, s, "u1-b", "u1", T0.Add(time.Hour))
	mustInsertToken(t, s, "u2-a", "u2", time.Time{})
	MustUpdate(t, s, func(tx lockbox.Tx) error { return tx.DeleteUser(t.Context(), "u1") })

	if _, err := getUserByID(t, s, "u1"); lockbox.ErrorCode(err) != lockbox.ENOTFOUND {
		t.Errorf("GetUserByID after delete: %v, want not_found", err)
	}
	for _, tok := range []string{"u1-a", "u1-b"} {
		if _, err := userByToken(t, s, tok, T0); lockbox.ErrorCode(err) != lockbox.ENOTFOUND {
			t.Errorf("UserByToken(%s) after delete: %v, want not_found", tok, err)
		}
	}
	if u, err := userByToken(t, s, "u2-a", T0); err != nil || u.ID != "u2" {
		t.Errorf("another user's token: %v, %v", u, err)
	}
}

func mustInsertToken(t *testing.T, s lockbox.Store, token, userID string, expires time.Time) {
	t.Helper()
	MustUpdate(t, s, func(tx lockbox.Tx) error {
		return tx.InsertToken(t.Context(), []byte(token), userID, T0, expires)
	})
}

func userByToken(t *testing.T, s lockbox.Store, token string, now time.Time) (*lockbox.User, error) {
	var u *lockbox.User
	err := s.View(t.Context(), func(tx lockbox.Tx) (err error) {
		u, err = tx.UserByToken(t.Context(), []byte(token), now)
		return err
	})
	return u, err
}

// testTokenExpiry: a token is valid strictly before its expiry; a zero
// expiry never expires.
func testTokenExpiry(t *testing.T, s lockbox.Store) {
	want := NewUser("u1", "operator@provider.test", "", lockbox.RoleOperator)
	MustInsertUser(t, s, want, "h")
	expiry := T0.Add(8 * time.Hour)
	mustInsertToken(t, s, "expiring", "u1", expiry)
	mustInsertToken(t, s, "forever", "u1", time.Time{})
	tests := []struct {
		name, token string
		now         time.Time
		valid       bool
	}{
		{"Before", "expiring", T0, true},
		{"JustBefore", "expiring", expiry.Add(-time.Microsecond), true},
		{"AtExpiry", "expiring", expiry, false},
		{"After", "expiring", expiry.Add(time.Hour), false},
		{"NeverExpires", "forever", T0.AddDate(100, 0, 0), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := userByToken(t, s, tt.token, tt.now)
			if !tt.valid {
				wantCode(t, err, lockbox.ENOTFOUND)
				return
			}
			if err != nil {
				t.Fatalf("UserByToken: %v", err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("UserByToken (-want +got):\n%s", diff)
			}
		})
	}
}

func testTokenUnknown(t *testing.T, s lockbox.Store) {
	MustInsertUser(t, s, NewUser("u1", "operator@provider.test", "", lockbox.RoleOperator), "h")
	mustInsertToken(t, s, "token", "u1", time.Time{})
	for _, tok := range []string{"other", "toke", "token\x00", ""} {
		_, err := userByToken(t, s, tok, T0)
		wantCode(t, err, lockbox.ENOTFOUND)
	}
}

func testInsertTokenConflict(t *testing.T, s lockbox.Store) {
	MustInsertUser(t, s, NewUser("u1", "operator@provider.test", "", lockbox.RoleOperator), "h")
	MustInsertUser(t, s, NewUser("u2", "manager@provider.test", "", lockbox.RoleSupportManager), "h")
	mustInsertToken(t, s, "token", "u1", time.Time{})
	err := s.Update(t.Context(), func(tx lockbox.Tx) error {
		return tx.InsertToken(t.Context(), []byte("token"), "u2", T0, time.Time{})
	})
	wantCode(t, err, lockbox.ECONFLICT)
	if u, err := userByToken(t, s, "token", T0); err != nil || u.ID != "u1" {
		t.Errorf("UserByToken after a refused insert = %v, %v; want u1", u, err)
	}
}

func testInsertTokenUnknownUser(t *testing.T, s lockbox.Store) {
	err := s.Update(t.Context(), func(tx lockbox.Tx) error {
		return tx.InsertToken(t.Context(), []byte("token"), "nobody", T0, time.Time{})
	})
	wantCode(t, err, lockbox.ENOTFOUND)
}

func testDeleteUserTokens(t *testing.T, s lockbox.Store) {
	MustInsertUser(t, s, NewUser("u1", "operator@provider.test", "", lockbox.RoleOperator), "h")
	MustInsertUser(t, s, NewUser("u2", "manager@provider.test", "", lockbox.RoleSupportManager), "h")
	mustInsertToken(t, s, "u1-a", "u1", time.Time{})
	mustInsertToken(t, s, "u1-b", "u1", T0.Add(time.Hour))
	mustInsertToken(t, s, "u2-a", "u2", time.Time{})
	MustUpdate(t, s, func(tx lockbox.Tx) error { return tx.DeleteUserTokens(t.Context(), "u1") })
	MustUpdate(t, s, func(tx lockbox.Tx) error { return tx.DeleteUserTokens(t.Context(), "nobody") })
	for _, tok := range []string{"u1-a", "u1-b"} {
		_, err := userByToken(t, s, tok, T0)
		wantCode(t, err, lockbox.ENOTFOUND)
	}
	if u, err := userByToken(t, s, "u2-a", T0); err != nil || u.ID != "u2" {
		t.Errorf("another user's token: %v, %v", u, err)
	}
	if _, err := getUserByID(t, s, "u1"); err != nil {
		t.Errorf("user gone with their tokens: %v", err)
	}
}

// testFindTokenConcurrently: lookups made at the same moment (which a store
// may answer from one statement: lockbox.TokenFinder) each get their own
// answer, the same token included at two clocks: valid strictly before
// its expiry, of an account that is not disabled.
func testFindTokenConcurrently(t *testing.T, s lockbox.Store) {
	u1 := NewUser("u1", "operator@provider.test", "", lockbox.RoleOperator)
	MustInsertUser(t, s, u1, "h")
	MustInsertUser(t, s, NewUser("u2", "off@provider.test", "", lockbox.RoleOperator), "h")
	MustUpdate(t, s, func(tx lockbox.Tx) error { return tx.SetUserDisabled(t.Context(), "u2", true) })
	expiry := T0.Add(time.Hour)
	mustInsertToken(t, s, "forever", "u1", time.Time{})
	mustInsertToken(t, s, "expiring", "u1", expiry)
	mustInsertToken(t, s, "disabled", "u2", time.Time{})
	lookups := []struct {
		token   string
		now     time.Time
		expires time.Time // of the token found; zero for none
		found   bool
	}{
		{"forever", T0, time.Time{}, true},
		{"expiring", T0, expiry, true},
		{"expiring", expiry.Add(-time.Microsecond), expiry, true},
		{"expiring", expiry, time.Time{}, false},
		{"disabled", T0, time.Time{}, false},
		{"unknown", T0, time.Time{}, false},
	}
	const rounds = 8
	var wg sync.WaitGroup
	errs := make(chan string, rounds*len(lookups))
	for range rounds {
		for _, l := range lookups {
			wg.Go(func() {
				k, u, err := lockbox.FindToken(t.Context(), s, []byte(l.token), l.now)
				switch {
				case !l.found && lockbox.ErrorCode(err) != lockbox.ENOTFOUND:
					errs <- fmt.Sprintf("%s at %v: %v, %v; want not_found", l.token, l.now, u, err)
				case l.found && err != nil:
					errs <- fmt.Sprintf("%s at %v: %v", l.token, l.now, err)
				case l.found && (!cmp.Equal(u1, u) || string(k.Hash) != l.token || k.UserID != "u1" || !k.ExpiresAt.Equal(l.expires)):
					errs <- fmt.Sprintf("%s at %v: token %+v of %+v", l.token, l.now, k, u)
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
