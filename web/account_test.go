package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"testing"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
)

// TestAccountPasswordChange: the Account page changes the password with
// plain forms (no JavaScript); the other browser's session ends and this
// one stays (SPEC §10.1).
func TestAccountPasswordChange(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	me, other := e.signIn("approver@contoso.test"), e.signIn("approver@contoso.test")
	res := me.get("/account")
	wantStatus(t, res, http.StatusOK)
	wantBody(t, res, "Change password", "Browser session", "(this one)")

	res = me.post("/account/password", url.Values{"current": {approval.DevPassword}, "new": {"1qaz2wsx3edc"}, "confirm": {"1qaz2wsx3edc"}})
	wantStatus(t, res, http.StatusBadRequest)
	res = me.post("/account/password", url.Values{"current": {approval.DevPassword}, "new": {"a long passphrase"}, "confirm": {"another one"}})
	wantStatus(t, res, http.StatusBadRequest)
	wantBody(t, res, "The two new passwords differ.")

	res = me.post("/account/password", url.Values{"current": {approval.DevPassword}, "new": {"a long passphrase"}, "confirm": {"a long passphrase"}})
	wantRedirect(t, res, "/account?done=password")
	wantStatus(t, me.get("/requests"), http.StatusOK)
	wantRedirect(t, other.get("/requests"), "/signin")
}

// TestOneTimePasswordInTheBrowser: a tenant admin resets a user; the user
// signs in with the one-time password and is held on the Account page
// until they choose their own.
func TestOneTimePasswordInTheBrowser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.signIn("admin@contoso.test")
	res := admin.post("/users/auditor@contoso.test/reset-password", nil)
	wantStatus(t, res, http.StatusOK)
	m := regexp.MustCompile(`<code class="secret">([^<]+)</code>`).FindStringSubmatch(res.body)
	if m == nil {
		t.Fatalf("no one-time password shown:\n%s", excerpt(res.body))
	}
	c := e.client()
	res = c.post("/signin", url.Values{"email": {"auditor@contoso.test"}, "password": {m[1]}})
	wantStatus(t, res, http.StatusSeeOther)
	wantRedirect(t, c.get("/audit"), "/account")
	wantBody(t, c.get("/account"), "one-time password")
	res = c.post("/account/password", url.Values{"current": {m[1]}, "new": {"my very own password"}, "confirm": {"my very own password"}})
	wantRedirect(t, res, "/account?done=password")
	wantStatus(t, c.get("/audit"), http.StatusOK)

	// The provider's admin center offers no reset of a tenant's users.
	provider := e.signIn("admin@provider.test")
	res = provider.post("/users/auditor@contoso.test/reset-password", nil)
	if res.StatusCode == http.StatusOK {
		t.Fatalf("a provider admin reset a tenant user's password")
	}
}

// TestStaffDisableInTheBrowser: a provider admin disables an operator on
// the Staff page; the operator's session ends at once.
func TestStaffDisableInTheBrowser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	op := e.signIn("operator@provider.test")
	admin := e.signIn("admin@provider.test")
	wantBody(t, admin.get("/staff"), "Disable", "Reset password")
	wantRedirect(t, admin.post("/staff/operator@provider.test/disable", nil), "/staff?done=disabled")
	wantRedirect(t, op.get("/requests"), "/signin")
	wantBody(t, admin.get("/staff"), "(disabled)", "Enable")
	res := admin.post("/staff/admin@provider.test/disable", nil)
	wantStatus(t, res, http.StatusForbidden)
}

// TestStaffRolesAndRemovalInTheWeb: a provider admin changes a staff
// member's roles on the Staff page (a tenant role is refused and changes
// nothing), and removing one asks first, as removing a tenant user does.
func TestStaffRolesAndRemovalInTheWeb(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.signIn("admin@provider.test")
	wantBody(t, admin.get("/staff"), "Save roles of operator@provider.test")
	wantRedirect(t, admin.post("/staff/operator@provider.test/roles",
		url.Values{"role": {"operator", "support_manager"}}), "/staff?done=roles")
	wantBody(t, admin.get("/staff?done=roles"), "Roles saved.")
	roles := func() []lockbox.Role {
		t.Helper()
		staff, err := e.svc.ListStaff(e.as("admin@provider.test"))
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range staff {
			if u.Email == "operator@provider.test" {
				return u.Roles
			}
		}
		t.Fatal("operator@provider.test is gone")
		return nil
	}
	if got := roles(); !slices.Equal(got, []lockbox.Role{lockbox.RoleOperator, lockbox.RoleSupportManager}) {
		t.Errorf("roles after saving = %v", got)
	}
	res := admin.post("/staff/operator@provider.test/roles", url.Values{"role": {"global_admin"}})
	wantStatus(t, res, http.StatusBadRequest)
	if got := roles(); len(got) != 2 {
		t.Errorf("a refused role change changed the roles to %v", got)
	}

	res = admin.get("/staff/operator@provider.test/remove")
	wantBody(t, res, "Remove <span class=\"reference\">operator@provider.test</span>?", "revoked")
	if got := roles(); len(got) == 0 {
		t.Error("opening the confirmation removed the staff member")
	}
	wantRedirect(t, admin.post("/staff/operator@provider.test/remove", nil), "/staff?done=staff_removed")
}
