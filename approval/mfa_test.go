package approval_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
	"github.com/lockboxhq/lockbox/internal/passkeytest"
	"github.com/lockboxhq/lockbox/passkey"
)

// signInChallenge signs in email with its password and returns the
// passkey step the service must answer with.
func (h *harness) signInChallenge(email string) (string, []byte) {
	h.t.Helper()
	_, err := h.svc.Login(context.Background(), email, approval.DevPassword)
	c := lockbox.ErrorSignIn(err)
	if lockbox.ErrorCode(err) != lockbox.EPASSKEYREQUIRED || c == nil {
		h.t.Fatalf("password alone for %s: %v, want passkey_required with a challenge", email, err)
	}
	return c.Challenge, optionsChallenge(h.t, c.Options)
}

// optionsChallenge is the WebAuthn challenge of navigator.credentials.get
// options.
func optionsChallenge(t testing.TB, options []byte) []byte {
	t.Helper()
	var o struct {
		PublicKey struct {
			Challenge string `json:"challenge"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(options, &o); err != nil {
		t.Fatal(err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(o.PublicKey.Challenge)
	if err != nil || len(raw) < 16 {
		t.Fatalf("options challenge %q: %v", o.PublicKey.Challenge, err)
	}
	return raw
}

func TestPasskeySecondFactor(t *testing.T) {
	t.Parallel()
	h := newPasskeyHarness(t)
	ctx := context.Background()

	// Without a passkey the password alone signs in, as before.
	if _, err := h.svc.Login(ctx, "admin@contoso.test", approval.DevPassword); err != nil {
		t.Fatalf("no passkey: %v", err)
	}
	a := h.mustRegister("admin@contoso.test")
	other := h.mustRegister("approver@contoso.test")

	// A wrong password is still a wrong password: no challenge for it.
	if _, err := h.svc.Login(ctx, "admin@contoso.test", "wrong-password"); lockbox.ErrorCode(err) != lockbox.EUNAUTHENTICATED || lockbox.ErrorSignIn(err) != nil {
		t.Fatalf("wrong password: %v", err)
	}

	challenge, raw := h.signInChallenge("admin@contoso.test")
	sess, err := h.svc.LoginPasskey(ctx, challenge, a.Assert(raw))
	if err != nil {
		t.Fatalf("right assertion: %v", err)
	}
	if u, err := h.svc.Authenticate(ctx, sess.Token); err != nil || u.Email != "admin@contoso.test" {
		t.Fatalf("token of the second step: %v, %v", u, err)
	}
	// Two sign-ins recorded: the password alone, before the passkey; then
	// both.
	var how []any
	for _, r := range h.auditOf("contoso", lockbox.OpSignedIn) {
		if r.UserID == "admin@contoso.test" {
			how = append(how, r.AuditData["method"])
		}
	}
	if !slices.Equal(how, []any{approval.SignInPassword, approval.SignInPasskey}) {
		t.Errorf("sign-ins recorded with methods %v, want password, then password_and_passkey", how)
	}
	// The challenge works once.
	if _, err := h.svc.LoginPasskey(ctx, challenge, a.Assert(raw)); lockbox.ErrorCode(err) != lockbox.EUNAUTHENTICATED {
		t.Fatalf("replayed challenge: %v", err)
	}

	for _, tc := range []struct {
		name string
		sign func(challenge string, raw []byte) (string, lockbox.PasskeyAssertion)
	}{
		{"another account's passkey", func(c string, raw []byte) (string, lockbox.PasskeyAssertion) { return c, other.Assert(raw) }},
		{"over another challenge", func(c string, raw []byte) (string, lockbox.PasskeyAssertion) {
			return c, a.Assert([]byte("0123456789abcdef0123456789abcdef"))
		}},
		{"at another origin", func(c string, raw []byte) (string, lockbox.PasskeyAssertion) {
			return c, a.AssertAt("https://phish.test", raw)
		}},
		{"an unknown challenge id", func(c string, raw []byte) (string, lockbox.PasskeyAssertion) { return c + "x", a.Assert(raw) }},
		{"no account in the challenge", func(c string, raw []byte) (string, lockbox.PasskeyAssertion) { return "nonsense", a.Assert(raw) }},
		{"another account's challenge id", func(c string, raw []byte) (string, lockbox.PasskeyAssertion) {
			c2, raw2 := h.signInChallenge("approver@contoso.test")
			// The approver's challenge signed by the admin's key, and the
			// admin's challenge id moved onto the approver's account.
			_, id, _ := strings.Cut(c, ".")
			acct, _, _ := strings.Cut(c2, ".")
			return acct + "." + id, other.Assert(raw2)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, raw := h.signInChallenge("admin@contoso.test")
			c2, as := tc.sign(c, raw)
			if _, err := h.svc.LoginPasskey(ctx, c2, as); lockbox.ErrorCode(err) != lockbox.EUNAUTHENTICATED {
				t.Fatalf("%s: %v, want unauthenticated", tc.name, err)
			}
		})
	}
}

// A wrong assertion costs a sign-in attempt like a wrong password: after
// the account's burst, even the right one is refused.
func TestPasskeySecondFactorThrottled(t *testing.T) {
	t.Parallel()
	h := newPasskeyHarness(t)
	ctx := context.Background()
	h.mustRegister("admin@contoso.test")
	other := passkeytest.New(pkRPID, pkOrigin)
	for i := range 10 { // approval.Options' default LoginBurst
		c, raw := h.signInChallenge("admin@contoso.test")
		if _, err := h.svc.LoginPasskey(ctx, c, other.Assert(raw)); lockbox.ErrorCode(err) != lockbox.EUNAUTHENTICATED {
			t.Fatalf("bad assertion %d: %v", i, err)
		}
	}
	if _, err := h.svc.Login(ctx, "admin@contoso.test", approval.DevPassword); lockbox.ErrorCode(err) != lockbox.ERATELIMITED {
		t.Fatalf("after 10 bad assertions: %v, want rate_limited", err)
	}
}

func TestRequireMFA(t *testing.T) {
	t.Parallel()
	h := newPasskeyHarness(t)
	ctx := context.Background()
	on := true
	if _, err := h.svc.UpdateSettings(h.as("admin@contoso.test"), "contoso", lockbox.SettingsPatch{RequireMFA: &on}); err != nil {
		t.Fatal(err)
	}
	// A tenant user without a passkey gets a session that may only
	// register one, on the API and the web (mfasetup_test.go).
	if sess, err := h.svc.Login(ctx, "approver@contoso.test", approval.DevPassword); err != nil || !sess.PasskeySetupRequired {
		t.Fatalf("require_mfa, no passkey: %+v, %v; want a passkey setup session", sess, err)
	}
	web := h.svc.WebSessions(approval.WebSessionOptions{})
	if token, _, err := web.SignIn(ctx, "approver@contoso.test", approval.DevPassword); err != nil {
		t.Fatalf("web, require_mfa, no passkey: %v", err)
	} else if u, _, err := web.ResumeWebSession(ctx, token); err != nil || !u.PasskeySetupRequired {
		t.Fatalf("web, require_mfa, no passkey: %+v, %v; want a passkey setup session", u, err)
	}
	// With one, the passkey step, and a web session at its end.
	a := h.mustRegister("approver@contoso.test")
	_, _, err := web.SignIn(ctx, "approver@contoso.test", approval.DevPassword)
	c := lockbox.ErrorSignIn(err)
	if lockbox.ErrorCode(err) != lockbox.EPASSKEYREQUIRED || c == nil {
		t.Fatalf("web, with a passkey: %v", err)
	}
	token, _, err := web.SignInPasskey(ctx, c.Challenge, a.Assert(optionsChallenge(t, c.Options)))
	if err != nil {
		t.Fatal(err)
	}
	if u, _, err := web.ResumeWebSession(ctx, token); err != nil || u.Email != "approver@contoso.test" {
		t.Fatalf("session: %v %v", u, err)
	}
	// Staff are not the tenant's: they sign in as before...
	if _, err := h.svc.Login(ctx, "operator@provider.test", approval.DevPassword); err != nil {
		t.Fatalf("staff, tenant require_mfa: %v", err)
	}
	// ...unless the server requires MFA of staff.
	rp, err := passkey.New(pkOrigin, "")
	if err != nil {
		t.Fatal(err)
	}
	strict := approval.New(h.store, lockbox.SystemClock{}, approval.Options{PasswordMemoryKiB: 64, PasswordTime: 1, Passkeys: rp, RequireMFA: true})
	if sess, err := strict.Login(ctx, "operator@provider.test", approval.DevPassword); err != nil || !sess.PasskeySetupRequired {
		t.Fatalf("--require-mfa, staff without passkey: %+v, %v; want a passkey setup session", sess, err)
	}
	h.mustRegister("operator@provider.test")
	if _, err := strict.Login(ctx, "operator@provider.test", approval.DevPassword); lockbox.ErrorCode(err) != lockbox.EPASSKEYREQUIRED {
		t.Fatalf("--require-mfa, staff with a passkey: %v", err)
	}
}

// An account disabled between its password and its passkey gets neither
// a token nor a web session.
func TestPasskeySecondFactorDisabledMeanwhile(t *testing.T) {
	t.Parallel()
	h := newPasskeyHarness(t)
	ctx := context.Background()
	a := h.mustRegister("operator@provider.test")
	c1, raw1 := h.signInChallenge("operator@provider.test")
	c2, raw2 := h.signInChallenge("operator@provider.test")
	off := true
	if _, err := h.svc.UpdateStaff(h.as("admin@provider.test"), "operator@provider.test", lockbox.StaffUpdate{Disabled: &off}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.LoginPasskey(ctx, c1, a.Assert(raw1)); lockbox.ErrorCode(err) != lockbox.EUNAUTHENTICATED {
		t.Fatalf("API, disabled meanwhile: %v", err)
	}
	web := h.svc.WebSessions(approval.WebSessionOptions{})
	if _, _, err := web.SignInPasskey(ctx, c2, a.Assert(raw2)); lockbox.ErrorCode(err) != lockbox.EUNAUTHENTICATED {
		t.Fatalf("web, disabled meanwhile: %v", err)
	}
}
