package approval_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"testing"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
)

// cliLoopback is a CLI's loopback redirect, as lockbox login --browser
// sends it.
const cliLoopback = "http://127.0.0.1:49152/callback"

// pkce returns a verifier and its S256 challenge.
func pkce(seed string) (verifier, challenge string) {
	verifier = base64.RawURLEncoding.EncodeToString([]byte(seed + "-verifier-of-at-least-43-characters-long"))
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// handOffCode hands the caller of ctx off to a CLI and returns the code
// the loopback got, checking the redirect goes to the loopback with state.
func handOffCode(t *testing.T, sso *approval.SSO, ctx context.Context, state, challenge string) string {
	t.Helper()
	to, err := sso.HandOffToCLI(ctx, cliLoopback, state, challenge)
	if err != nil {
		t.Fatalf("hand-off: %v", err)
	}
	u, err := url.Parse(to)
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme+"://"+u.Host+u.Path != cliLoopback || u.Query().Get("state") != state || u.Query().Get("code") == "" {
		t.Fatalf("hand-off redirect %s, want %s?code=…&state=%s", to, cliLoopback, state)
	}
	return u.Query().Get("code")
}

// TestHandOffToCLI: a signed-in person's session becomes a CLI token only
// through a loopback redirect, a single-use code and the CLI's verifier;
// a session that may not act (one-time password, passkey to register,
// disabled) hands off nothing.
func TestHandOffToCLI(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	sso := h.svc.SSO(h.svc.WebSessions(approval.WebSessionOptions{}), ssoRedirect)
	bg := context.Background()
	verifier, challenge := pkce("right")
	wrong, _ := pkce("wrong")

	t.Run("RedeemsOnceWithTheVerifier", func(t *testing.T) {
		ctx := h.as("approver@contoso.test")
		code := handOffCode(t, sso, ctx, "state-one", challenge)
		s, err := sso.RedeemCLICode(bg, code, verifier)
		if err != nil {
			t.Fatalf("redeem: %v", err)
		}
		u, err := h.svc.Authenticate(bg, s.Token)
		if err != nil {
			t.Fatal(err)
		}
		if want := lockbox.UserFromContext(ctx); u.ID != want.ID || u.Email != "approver@contoso.test" {
			t.Errorf("the token is %s's (%s), want approver@contoso.test's", u.Email, u.ID)
		}
		if s.PasswordChangeRequired || s.PasskeySetupRequired {
			t.Errorf("the CLI token is restricted: %+v", s)
		}
		if _, err := sso.RedeemCLICode(bg, code, verifier); lockbox.ErrorCode(err) != lockbox.EUNAUTHENTICATED {
			t.Errorf("the code redeemed twice: %v", err)
		}
	})

	t.Run("WrongVerifierBurnsTheCode", func(t *testing.T) {
		code := handOffCode(t, sso, h.as("approver@contoso.test"), "state-two", challenge)
		if _, err := sso.RedeemCLICode(bg, code, wrong); lockbox.ErrorCode(err) != lockbox.EUNAUTHENTICATED {
			t.Fatalf("a wrong verifier redeemed: %v", err)
		}
		// Whoever intercepted the code and guessed wrong also spent it.
		if _, err := sso.RedeemCLICode(bg, code, verifier); lockbox.ErrorCode(err) != lockbox.EUNAUTHENTICATED {
			t.Errorf("the code still redeems after a wrong verifier: %v", err)
		}
	})

	t.Run("DisabledBeforeRedeeming", func(t *testing.T) {
		code := handOffCode(t, sso, h.as("operator2@provider.test"), "state-three", challenge)
		off := true
		if _, err := h.svc.UpdateStaff(h.as("admin@provider.test"), "operator2@provider.test", lockbox.StaffUpdate{Disabled: &off}); err != nil {
			t.Fatal(err)
		}
		if s, err := sso.RedeemCLICode(bg, code, verifier); lockbox.ErrorCode(err) != lockbox.EUNAUTHENTICATED {
			t.Errorf("a disabled account's code redeemed: %+v, %v", s, err)
		}
	})

	t.Run("BadInput", func(t *testing.T) {
		ctx := h.as("approver@contoso.test")
		for _, tc := range []struct {
			name, redirect, state, challenge, field string
		}{
			{"ElsewhereHost", "https://evil.example/cb", "state-four", challenge, "redirect_uri"},
			{"ElsewhereHTTP", "http://evil.example:8080/cb", "state-four", challenge, "redirect_uri"},
			{"LocalhostName", "http://localhost:49152/callback", "state-four", challenge, "redirect_uri"},
			{"LoopbackWithQuery", cliLoopback + "?next=x", "state-four", challenge, "redirect_uri"},
			{"NoRedirect", "", "state-four", challenge, "redirect_uri"},
			{"ShortState", cliLoopback, "x", challenge, "state"},
			{"StateWithSpace", cliLoopback, "state four", challenge, "state"},
			{"PlainChallenge", cliLoopback, "state-four", "not-a-challenge", "code_challenge"},
			{"NoChallenge", cliLoopback, "state-four", "", "code_challenge"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				to, err := sso.HandOffToCLI(ctx, tc.redirect, tc.state, tc.challenge)
				if lockbox.ErrorCode(err) != lockbox.EINVALID || lockbox.ErrorField(err) != tc.field {
					t.Errorf("HandOffToCLI = %q, %v; want EINVALID on %s", to, err, tc.field)
				}
				// Cancel sends the browser to the same redirect: it must
				// not be an open redirect either.
				to, err = sso.DeclineCLI(ctx, tc.redirect, tc.state, tc.challenge)
				if lockbox.ErrorCode(err) != lockbox.EINVALID || lockbox.ErrorField(err) != tc.field {
					t.Errorf("DeclineCLI = %q, %v; want EINVALID on %s", to, err, tc.field)
				}
			})
		}
	})

	t.Run("CallerMayNotAct", func(t *testing.T) {
		base := lockbox.UserFromContext(h.as("auditor@contoso.test"))
		with := func(f func(u *lockbox.User)) context.Context {
			u := *base
			f(&u)
			return lockbox.NewContextWithUser(bg, &u)
		}
		for _, tc := range []struct {
			name string
			ctx  context.Context
			code string
		}{
			{"Anonymous", bg, lockbox.EUNAUTHENTICATED},
			{"Disabled", with(func(u *lockbox.User) { u.Disabled = true }), lockbox.EUNAUTHENTICATED},
			{"OneTimePassword", with(func(u *lockbox.User) { u.PasswordChangeRequired = true }), lockbox.EPASSWORDCHANGE},
			{"PasskeySetupSession", with(func(u *lockbox.User) { u.PasskeySetupRequired = true }), lockbox.EMFAREQUIRED},
			{"ServiceAccount", with(func(u *lockbox.User) { u.ServiceAccount = true }), lockbox.EFORBIDDEN},
			{"System", lockbox.NewContextWithUser(bg, lockbox.System), lockbox.EFORBIDDEN},
		} {
			t.Run(tc.name, func(t *testing.T) {
				to, err := sso.HandOffToCLI(tc.ctx, cliLoopback, "state-five", challenge)
				if lockbox.ErrorCode(err) != tc.code || to != "" {
					t.Errorf("HandOffToCLI = %q, %v; want %s", to, err, tc.code)
				}
			})
		}
	})
}
