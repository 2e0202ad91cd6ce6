package approval_test

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
	"github.com/lockboxhq/lockbox/internal/lockboxtest"
	"github.com/lockboxhq/lockbox/internal/testop"
	"github.com/lockboxhq/lockbox/oidcrp"
)

// ssoRedirect is Lockbox's redirect URI at the test OP; the tests never
// follow it: they hand the callback's state and code to FinishSSO.
const ssoRedirect = "http://lockbox.test/auth/callback"

// ssoHarness is the workflow service with single sign-on against a real
// OpenID provider (internal/testop) in-process: "provider" is the staff
// IdP, "contoso" is tenant contoso's.
type ssoHarness struct {
	*harness
	op   *testop.Server
	opts approval.Options
	sso  *approval.SSO
	ws   *approval.WebSessions
}

// newSSOHarness seeds the dev accounts unless bare (then the database is
// empty, for Bootstrap).
func newSSOHarness(t *testing.T, oidcOnly, bare bool) *ssoHarness {
	t.Helper()
	op, err := testop.Start("127.0.0.1:0", testop.DefaultConfig(ssoRedirect), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { op.Close() })
	st := openTestStore(t)
	opts := approval.Options{PasswordMemoryKiB: 64, PasswordTime: 1, Resolver: lockboxtest.DNS,
		Secrets: lockboxtest.SecretBox(t),
		SSO: approval.SSOOptions{Client: oidcrp.New(nil), AllowPrivateIdPs: true, OIDCOnly: oidcOnly,
			Provider: lockbox.OIDCProvider{Issuer: op.Issuer("provider"), ClientID: testop.DefaultClientID, ClientSecret: testop.DefaultClientSecret}}}
	svc := approval.New(st, lockbox.SystemClock{}, opts)
	if !bare {
		if err := svc.SeedDev(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	ws := svc.WebSessions(approval.WebSessionOptions{})
	return &ssoHarness{harness: &harness{t: t, store: st, svc: svc}, op: op, opts: opts, sso: svc.SSO(ws, ssoRedirect), ws: ws}
}

// replica is another Lockbox process on the same database.
func (h *ssoHarness) replica() *approval.Service {
	return approval.New(h.store, lockbox.SystemClock{}, h.opts)
}

// contosoIdP configures contoso's own IdP as its global admin.
func (h *ssoHarness) contosoIdP() lockbox.TenantSSOInput {
	h.t.Helper()
	in := h.contosoInput()
	if _, err := h.sso.PutTenantSSO(h.as("admin@contoso.test"), "contoso", in); err != nil {
		h.t.Fatal(err)
	}
	return in
}

// contosoInput is contoso's own IdP at the test OP.
func (h *ssoHarness) contosoInput() lockbox.TenantSSOInput {
	return lockbox.TenantSSOInput{Issuer: h.op.Issuer("contoso"), ClientID: testop.DefaultClientID,
		ClientSecret: testop.DefaultClientSecret, AllowedDomains: []string{"contoso.test"}}
}

// signIn walks the whole web sign-in: start (email "" picks the staff
// IdP), the person signs in at the test OP as who, the callback.
func (h *ssoHarness) signIn(email, who string) (*lockbox.SSOResult, error) {
	h.t.Helper()
	return h.signInAt(h.sso, email, who)
}

// signInAt is signIn through another process's service (a replica); an
// error of the start is returned too.
func (h *ssoHarness) signInAt(sso *approval.SSO, email, who string) (*lockbox.SSOResult, error) {
	h.t.Helper()
	ctx := context.Background()
	const browser = "browser-cookie"
	authURL, err := sso.StartSSO(ctx, lockbox.SSOStart{Email: email, Provider: email == "", Browser: browser})
	if err != nil {
		return nil, err
	}
	back, err := testop.SignIn(ctx, nil, authURL, who, testop.DefaultPassword)
	if err != nil {
		h.t.Fatal(err)
	}
	u, err := url.Parse(back)
	if err != nil {
		h.t.Fatal(err)
	}
	return sso.FinishSSO(ctx, lockbox.SSOCallback{State: u.Query().Get("state"), Code: u.Query().Get("code"), Browser: browser})
}

// storedSSO is the tenant's stored IdP with its secret opened, after
// checking that the database holds it sealed, never in clear.
func (h *ssoHarness) storedSSO(tenant string) *lockbox.TenantSSO {
	h.t.Helper()
	c := h.rawSSO(tenant)
	secret, stale, err := h.svc.OpenStoredSSOSecret(context.Background(), c)
	if !strings.HasPrefix(c.ClientSecret, lockbox.SealedPrefix) || err != nil || stale || strings.Contains(c.ClientSecret, secret) {
		h.t.Fatalf("stored client secret %q (stale %v, %v): want it sealed with the active key", c.ClientSecret, stale, err)
	}
	c.ClientSecret = secret
	return c
}

// rawSSO is the tenant's IdP as the database holds it.
func (h *ssoHarness) rawSSO(tenant string) *lockbox.TenantSSO {
	h.t.Helper()
	var c *lockbox.TenantSSO
	if err := h.store.View(context.Background(), func(tx lockbox.Tx) (err error) {
		c, err = tx.GetTenantSSO(context.Background(), tenant)
		return err
	}); err != nil {
		h.t.Fatal(err)
	}
	return c
}

func (h *ssoHarness) audit(log, op string) []*lockbox.AuditRecord {
	h.t.Helper()
	var out []*lockbox.AuditRecord
	if err := h.store.View(context.Background(), func(tx lockbox.Tx) (err error) {
		out, err = tx.SearchAudit(context.Background(), lockbox.AuditQuery{Log: log, Operations: []string{op}, Limit: 100})
		return err
	}); err != nil {
		h.t.Fatal(err)
	}
	return out
}

// TestTenantSSOSecretStaysWithItsClient: a PUT without client_secret keeps
// the stored secret only for the same issuer and client id; pointing the
// configuration at another IdP client without a new secret answers 400 on
// client_secret and changes nothing, so the old secret is never sent to
// the new issuer's token endpoint.
func TestTenantSSOSecretStaysWithItsClient(t *testing.T) {
	t.Parallel()
	h := newSSOHarness(t, false, false)
	first := h.contosoIdP()
	ctx := h.as("admin@contoso.test")
	for _, tc := range []struct {
		name string
		edit func(*lockbox.TenantSSOInput)
	}{
		{"NewIssuer", func(in *lockbox.TenantSSOInput) { in.Issuer = h.op.Issuer("provider") }},
		{"NewClientID", func(in *lockbox.TenantSSOInput) { in.ClientID = "another-client" }},
		{"Both", func(in *lockbox.TenantSSOInput) { in.Issuer, in.ClientID = h.op.Issuer("provider"), "another-client" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := first
			in.ClientSecret = ""
			tc.edit(&in)
			_, err := h.sso.PutTenantSSO(ctx, "contoso", in)
			if lockbox.ErrorCode(err) != lockbox.EINVALID || lockbox.ErrorField(err) != "client_secret" {
				t.Fatalf("PUT to another client without a secret: %v, want invalid on client_secret", err)
			}
			if c := h.storedSSO("contoso"); c.Issuer != first.Issuer || c.ClientID != first.ClientID || c.ClientSecret != first.ClientSecret {
				t.Errorf("a refused PUT changed the stored IdP: %s %s", c.Issuer, c.ClientID)
			}
			if n := len(h.audit("contoso", lockbox.OpSSOConfigured)); n != 1 {
				t.Errorf("%d sso.configured records, want 1 (a refused PUT audits nothing)", n)
			}
		})
	}
	// The same client keeps its secret; another client with its own secret
	// is fine.
	same := first
	same.ClientSecret, same.Enforce, same.BreakGlass = "", true, "admin@contoso.test"
	if _, err := h.sso.PutTenantSSO(ctx, "contoso", same); err != nil {
		t.Fatalf("same client without a secret: %v", err)
	}
	if c := h.storedSSO("contoso"); c.ClientSecret != first.ClientSecret || !c.Enforce {
		t.Errorf("same client: secret kept %v, enforce %v", c.ClientSecret == first.ClientSecret, c.Enforce)
	}
	moved := first
	moved.Issuer, moved.ClientSecret = h.op.Issuer("provider"), "the-new-client-secret"
	if _, err := h.sso.PutTenantSSO(ctx, "contoso", moved); err != nil {
		t.Fatalf("another issuer with its secret: %v", err)
	}
	if c := h.storedSSO("contoso"); c.Issuer != moved.Issuer || c.ClientSecret != moved.ClientSecret {
		t.Errorf("another issuer with its secret: stored %s", c.Issuer)
	}
	recs := h.audit("contoso", lockbox.OpSSOConfigured)
	if len(recs) != 3 || recs[0].AuditData["client_secret_changed"] != true || recs[1].AuditData["client_secret_changed"] != false {
		t.Errorf("sso.configured records: %d, newest first %v / %v", len(recs), recs[0].AuditData, recs[1].AuditData)
	}
}

// TestSSOVoidsOneTimePassword: an account holding a one-time password (new
// without one, or reset) that signs in through its IdP is not held on the
// Account page: its one-time password stops working, with every session
// and token it gave (whoever set it knows it), audited in the account's
// log; the IdP's session can do everything the roles allow.
func TestSSOVoidsOneTimePassword(t *testing.T) {
	t.Parallel()
	h := newSSOHarness(t, false, false)
	h.contosoIdP()
	for _, tc := range []struct {
		name, email, start, log string
		add                     func(email string) (*lockbox.User, error)
		can                     func(ctx context.Context) error // a call of its role
	}{
		{"TenantUserAdded", "newbie@contoso.test", "newbie@contoso.test", "contoso",
			func(email string) (*lockbox.User, error) {
				return h.svc.AddTenantUser(h.as("admin@contoso.test"), "contoso",
					lockbox.NewUser{Email: email, Roles: []lockbox.Role{lockbox.RoleLockboxApprover}})
			},
			func(ctx context.Context) error { _, err := h.svc.GetSettings(ctx, "contoso"); return err }},
		{"StaffReset", "operator@provider.test", "", lockbox.ProviderLog,
			func(email string) (*lockbox.User, error) {
				otp, err := h.svc.ResetStaffPassword(h.as("admin@provider.test"), email)
				if err != nil {
					return nil, err
				}
				return &lockbox.User{Email: email, InitialPassword: otp.Password}, nil
			},
			func(ctx context.Context) error { _, err := h.svc.ListServices(ctx); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.log != lockbox.ProviderLog {
				if err := h.op.AddUser(tc.log, testop.User{Email: tc.email, Password: testop.DefaultPassword, EmailVerified: true}); err != nil {
					t.Fatal(err)
				}
			}
			nu, err := tc.add(tc.email)
			if err != nil {
				t.Fatal(err)
			}
			// Whoever knows the one-time password signs in with it: that
			// token can only change it.
			otpToken, err := h.svc.Login(context.Background(), tc.email, nu.InitialPassword)
			if err != nil || !otpToken.PasswordChangeRequired {
				t.Fatalf("one-time sign-in: %+v, %v", otpToken, err)
			}

			res, err := h.signIn(tc.start, tc.email)
			if err != nil {
				t.Fatalf("SSO sign-in: %v", err)
			}
			if res.User.PasswordChangeRequired {
				t.Error("the SSO sign-in still says the password must change")
			}
			u, _, err := h.ws.ResumeWebSession(context.Background(), res.SessionToken)
			if err != nil {
				t.Fatal(err)
			}
			if err := lockbox.CheckActive(u); err != nil {
				t.Errorf("the SSO session is held back: %v", err)
			}
			if err := tc.can(lockbox.NewContextWithUser(context.Background(), u)); err != nil {
				t.Errorf("the SSO session cannot work: %v", err)
			}
			if _, err := h.svc.Authenticate(context.Background(), otpToken.Token); lockbox.ErrorCode(err) != lockbox.EUNAUTHENTICATED {
				t.Errorf("the one-time password's token still works: %v", err)
			}
			if _, err := h.svc.Login(context.Background(), tc.email, nu.InitialPassword); lockbox.ErrorCode(err) != lockbox.EUNAUTHENTICATED {
				t.Errorf("the one-time password still signs in: %v", err)
			}
			// Two sign-ins: the one-time password's, then the IdP's.
			var how []any
			for _, r := range h.audit(tc.log, lockbox.OpSignedIn) {
				if r.UserID == tc.email {
					how = append(how, r.AuditData["method"])
				}
			}
			if !slices.Contains(how, approval.SignInSSO) || len(how) != 2 {
				t.Errorf("sign-ins of %s recorded with methods %v, want password and sso", tc.email, how)
			}
			var voided []*lockbox.AuditRecord
			for _, r := range h.audit(tc.log, lockbox.OpPasswordChanged) {
				if r.AuditData["target_user"] == tc.email && r.AuditData["how"] != nil {
					voided = append(voided, r)
				}
			}
			if len(voided) != 1 || voided[0].UserID != tc.email {
				t.Errorf("%d password_changed records for the voided one-time password in %s, want 1 by the account", len(voided), tc.log)
			}
			// Again: nothing more to void, nothing more audited.
			if _, err := h.signIn(tc.start, tc.email); err != nil {
				t.Fatal(err)
			}
			if n := len(h.audit(tc.log, lockbox.OpPasswordChanged)); n != 1 {
				t.Errorf("%d password_changed records after a second SSO sign-in, want 1", n)
			}

			// With no password left, the SSO session chooses a first one,
			// with the current one empty (there is none to prove); a
			// current password given is refused as a mistake.
			ctx := lockbox.NewContextWithUser(context.Background(), u)
			if err := h.svc.ChangePassword(ctx, lockbox.PasswordChange{Current: nu.InitialPassword, New: "a first passphrase of mine"}); lockbox.ErrorCode(err) != lockbox.EINVALID || lockbox.ErrorField(err) != "current" {
				t.Errorf("first password with a current one given: %v, want invalid on current", err)
			}
			if err := h.svc.ChangePassword(ctx, lockbox.PasswordChange{New: "a first passphrase of mine"}); err != nil {
				t.Fatalf("first password from the SSO session: %v", err)
			}
			if s, err := h.svc.Login(context.Background(), tc.email, "a first passphrase of mine"); err != nil || s.PasswordChangeRequired {
				t.Errorf("sign-in with the first password: %+v, %v", s, err)
			}
			var first int
			for _, r := range h.audit(tc.log, lockbox.OpPasswordChanged) {
				if how, _ := r.AuditData["how"].(string); strings.HasPrefix(how, "first password") {
					first++
				}
			}
			if first != 1 {
				t.Errorf("%d first-password records, want 1", first)
			}
			// Now it has one: the empty current password is wrong again.
			if err := h.svc.ChangePassword(ctx, lockbox.PasswordChange{New: "another passphrase of mine"}); lockbox.ErrorCode(err) != lockbox.EINVALID {
				t.Errorf("a second change with no current password: %v, want invalid", err)
			}
		})
	}
}

// TestOIDCOnlyBootstrapUntilSSOWorks: under --oidc-only the bootstrap admin
// signs in with its password (audited) only until a staff member has
// signed in through the provider's IdP; that is recorded once in the
// provider log (sso.verified), so another replica and a restart refuse the
// password too.
func TestOIDCOnlyBootstrapUntilSSOWorks(t *testing.T) {
	t.Parallel()
	h := newSSOHarness(t, true, true)
	ctx := context.Background()
	pw, err := h.svc.Bootstrap(ctx)
	if err != nil || pw == "" {
		t.Fatalf("bootstrap: %q, %v", pw, err)
	}
	if _, err := h.svc.Login(ctx, approval.BootstrapEmail, pw); err != nil {
		t.Fatalf("bootstrap admin before SSO worked: %v", err)
	}
	if n := len(h.audit(lockbox.ProviderLog, lockbox.OpBreakGlassSignIn)); n != 1 {
		t.Errorf("%d break-glass records, want 1", n)
	}
	system := lockbox.NewContextWithUser(ctx, lockbox.System)
	if _, err := h.svc.AddStaff(system, lockbox.NewUser{Email: "operator@provider.test", Roles: []lockbox.Role{lockbox.RoleOperator}}); err != nil {
		t.Fatal(err)
	}
	// A refused SSO sign-in proves nothing.
	if _, err := h.signIn("", "stranger@provider.test"); lockbox.ErrorCode(err) != lockbox.EUNAUTHENTICATED {
		t.Fatalf("stranger: %v", err)
	}
	if _, err := h.svc.Login(ctx, approval.BootstrapEmail, pw); err != nil {
		t.Fatalf("bootstrap admin after a refused SSO sign-in: %v", err)
	}
	for range 2 {
		if _, err := h.signIn("", "operator@provider.test"); err != nil {
			t.Fatalf("staff SSO sign-in: %v", err)
		}
	}
	recs := h.audit(lockbox.ProviderLog, lockbox.OpSSOVerified)
	if len(recs) != 1 || recs[0].AuditData["issuer"] != h.op.Issuer("provider") || recs[0].AuditData["target_user"] != "operator@provider.test" {
		t.Fatalf("sso.verified records: %d, want 1 naming the issuer and the staff member", len(recs))
	}
	for name, svc := range map[string]*approval.Service{"this replica": h.svc, "another replica": h.replica()} {
		_, err := svc.Login(ctx, approval.BootstrapEmail, pw)
		if lockbox.ErrorCode(err) != lockbox.EUNAUTHENTICATED {
			t.Errorf("%s: bootstrap password after SSO worked: %v, want refused", name, err)
		}
	}
	if n := len(h.audit(lockbox.ProviderLog, lockbox.OpBreakGlassSignIn)); n != 2 {
		t.Errorf("%d break-glass records, want 2 (none for the refused sign-ins)", n)
	}
	// Without --oidc-only the bootstrap admin's password works as any.
	opts := h.opts
	opts.SSO.OIDCOnly = false
	if _, err := approval.New(h.store, lockbox.SystemClock{}, opts).Login(ctx, approval.BootstrapEmail, pw); err != nil {
		t.Errorf("without --oidc-only: %v", err)
	}
}

// TestSSOVerifiedOnce: staff sign-ins through the provider's IdP finishing
// at once, in one process and (where the store is shared by processes) on
// several replicas, write sso.verified once.
func TestSSOVerifiedOnce(t *testing.T) {
	t.Parallel()
	h := newSSOHarness(t, true, false)
	ctx := context.Background()
	finishers := []*approval.SSO{h.sso, h.sso, h.sso, h.sso, h.sso, h.sso, h.sso, h.sso}
	if _, shared := h.store.(lockbox.StoreLocker); shared {
		r := h.replica()
		rs := r.SSO(r.WebSessions(approval.WebSessionOptions{}), ssoRedirect)
		finishers = append(finishers, rs, rs, rs, rs, rs, rs, rs, rs)
	}
	const browser = "browser-cookie"
	callbacks := make([]lockbox.SSOCallback, len(finishers))
	for i := range callbacks {
		authURL, err := h.sso.StartSSO(ctx, lockbox.SSOStart{Provider: true, Browser: browser})
		if err != nil {
			t.Fatal(err)
		}
		back, err := testop.SignIn(ctx, nil, authURL, "operator@provider.test", testop.DefaultPassword)
		if err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(back)
		callbacks[i] = lockbox.SSOCallback{State: u.Query().Get("state"), Code: u.Query().Get("code"), Browser: browser}
	}
	errs := make(chan error, len(finishers))
	for i, f := range finishers {
		go func() {
			_, err := f.FinishSSO(ctx, callbacks[i])
			errs <- err
		}()
	}
	for range finishers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n := len(h.audit(lockbox.ProviderLog, lockbox.OpSSOVerified)); n != 1 {
		t.Errorf("%d sso.verified records after %d sign-ins at once, want 1", n, len(finishers))
	}
}
