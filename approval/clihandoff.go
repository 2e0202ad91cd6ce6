package approval

import (
	"context"
	"net/url"
	"time"

	"github.com/lockboxhq/lockbox"
)

// lockbox login --browser: a person signed in to the admin center (with
// their password and, where they have one, their passkey — which the
// terminal cannot reach) hands that sign-in to the CLI on their own
// machine. It is the loopback flow of lockbox login --sso with the web
// session in the IdP's place: the same loopback-only redirect, the same
// single-use, short-lived code bound to the CLI's PKCE challenge, redeemed
// by RedeemCLICode unchanged.

// HandOffToCLI gives the signed-in caller's CLI a one-time code: it
// returns the CLI's loopback redirect with the code and state, for the
// browser to follow. Only a session that may do anything hands off (the
// same rule as every call: a one-time password or a session that must
// first register a passkey gets EPASSWORDCHANGE or EMFAREQUIRED), and
// only to a loopback address (checkCLIStart).
func (x *SSO) HandOffToCLI(ctx context.Context, redirect, state, challenge string) (string, error) {
	u, err := actor(ctx)
	if err != nil {
		return "", err
	}
	if u == lockbox.System || u.ServiceAccount {
		// A service account has tokens of its own and no sign-in to hand
		// off; System is no person at all.
		return "", lockbox.Errorf(lockbox.EFORBIDDEN, "Only a person signed in to the admin center can sign in the command line.")
	}
	if err := checkCLIStart(redirect, state, challenge); err != nil {
		return "", err
	}
	to, err := x.cliCode(ctx, u, u.Tenant, "", redirect, state, challenge, x.s.sessionNow())
	if err != nil {
		return "", err
	}
	x.s.opts.Logger.InfoContext(ctx, "cli hand-off", "user", u.Email, "tenant", u.Tenant)
	return to, nil
}

// DeclineCLI returns the CLI's loopback redirect with error=access_denied
// and its state: the person declined on the confirmation page, and the
// CLI stops waiting. It issues nothing; the redirect is checked like
// HandOffToCLI's (checkCLIStart), so the page is no open redirect.
func (x *SSO) DeclineCLI(ctx context.Context, redirect, state, challenge string) (string, error) {
	if err := checkCLIStart(redirect, state, challenge); err != nil {
		return "", err
	}
	q := url.Values{"error": {"access_denied"}, "state": {state}}
	return redirect + "?" + q.Encode(), nil
}

// cliCode stores a one-time code for u's CLI (RedeemCLICode takes it once,
// within cliCodeTTL, with the verifier of challenge) and returns the
// loopback redirect that carries it. Shared by the CLI's single sign-on
// (FinishSSO) and its hand-off from a web session (HandOffToCLI); the
// caller has checked redirect, state and challenge (checkCLIStart).
func (x *SSO) cliCode(ctx context.Context, u *lockbox.User, tenant, issuer, redirect, state, challenge string, now time.Time) (string, error) {
	code := randomSecret("", 32)
	cf := &lockbox.SSOFlow{Tenant: tenant, Issuer: issuer, UserID: u.ID, CLIChallenge: challenge,
		ExpiresAt: now.Add(cliCodeTTL)}
	if err := x.s.store.Update(ctx, func(tx lockbox.Tx) error {
		return tx.InsertSSOFlow(ctx, tokenHash(code), cf)
	}); err != nil {
		return "", err
	}
	q := url.Values{"code": {code}, "state": {state}}
	return redirect + "?" + q.Encode(), nil
}
