package approval

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lockboxhq/lockbox"
)

// Single sign-on with OpenID Connect (SPEC §10.2). This file holds every
// rule of who may sign in through an IdP, and of when a password is no
// longer enough; the protocol itself is lockbox.OIDCClient (package oidcrp).

// SSOOptions configure single sign-on.
type SSOOptions struct {
	// Client is the relying party. Nil: single sign-on is off (every SSO
	// entry point answers EUNAVAILABLE, tenant configuration included).
	Client lockbox.OIDCClient
	// Provider is the provider's staff IdP (--oidc-issuer, --oidc-client-id,
	// LOCKBOX_OIDC_CLIENT_SECRET); Provider.Issuer "" means none.
	Provider lockbox.OIDCProvider
	// ProviderName is shown as "Sign in with <name>" (default: the
	// issuer's host).
	ProviderName string
	// OIDCOnly refuses password sign-in to staff, except the bootstrap
	// admin (BootstrapEmail), the provider's break-glass account.
	OIDCOnly bool
	// AllowPrivateIdPs lets tenants' IdPs be on private, loopback or
	// link-local addresses, and on plain http (--dev, tests,
	// --allow-private-webhooks). Off, a tenant admin cannot make Lockbox
	// reach into the provider's own network.
	AllowPrivateIdPs bool
}

// flowTTL bounds a sign-in at an IdP; cliCodeTTL the CLI's one-time code.
const (
	flowTTL    = 10 * time.Minute
	cliCodeTTL = 2 * time.Minute
)

// SSO is the single sign-on service (lockbox.SSOService).
type SSO struct {
	s        *Service
	ws       *WebSessions
	redirect string
	// verified: this process saw the provider log's sso.verified record
	// (or wrote it), so later staff sign-ins need not look again. Only a
	// shortcut: the log is the truth every replica reads (ssoVerified).
	verified atomic.Bool
	// verifying serializes this process's sign-ins that may write the
	// record (the store's lock does so across processes, where there is
	// one: not on SQLite).
	verifying sync.Mutex
}

var _ lockbox.SSOService = (*SSO)(nil)

// SSO returns the single sign-on service: web sign-ins start sessions of
// ws; redirectURL is <external-url>/auth/callback, registered at every IdP.
func (s *Service) SSO(ws *WebSessions, redirectURL string) *SSO {
	return &SSO{s: s, ws: ws, redirect: redirectURL}
}

func (x *SSO) opts() SSOOptions { return x.s.opts.SSO }

// ProviderIdP names the staff IdP, "" when there is none.
func (x *SSO) ProviderIdP() string {
	o := x.opts()
	if o.Client == nil || o.Provider.Issuer == "" {
		return ""
	}
	if o.ProviderName != "" {
		return o.ProviderName
	}
	if u, err := url.Parse(o.Provider.Issuer); err == nil && u.Host != "" {
		return u.Host
	}
	return o.Provider.Issuer
}

func errSSOOff() error {
	return lockbox.Errorf(lockbox.EUNAVAILABLE, "Single sign-on is not available on this server.")
}

// idp is the IdP of a tenant (nil: the provider's) as the relying party
// needs it, from a stored configuration: its secret opened.
func (x *SSO) idp(ctx context.Context, c *lockbox.TenantSSO) (lockbox.OIDCProvider, error) {
	if c == nil {
		p := x.opts().Provider
		p.RedirectURL, p.Private = x.redirect, true
		return p, nil
	}
	secret, _, err := x.s.openSecret(ctx, ssoSecretOf(c), c.ClientSecret)
	if err != nil {
		return lockbox.OIDCProvider{}, lockbox.Errorf(lockbox.EUNAVAILABLE, "Your organisation's single sign-on cannot be used on this server right now: it cannot read the IdP's client secret. Your global admin can set the secret again; until then, sign in with your password.")
	}
	return x.tenantIdP(c, secret), nil
}

func (x *SSO) tenantIdP(c *lockbox.TenantSSO, secret string) lockbox.OIDCProvider {
	return lockbox.OIDCProvider{Issuer: c.Issuer, ClientID: c.ClientID, ClientSecret: secret,
		RedirectURL: x.redirect, Private: x.opts().AllowPrivateIdPs}
}

// StartSSO records a flow and returns the IdP's authorization URL.
func (x *SSO) StartSSO(ctx context.Context, in lockbox.SSOStart) (string, error) {
	if x.opts().Client == nil {
		return "", errSSOOff()
	}
	cli := in.CLIRedirect != ""
	if cli {
		if err := checkCLIStart(in.CLIRedirect, in.CLIState, in.CLIChallenge); err != nil {
			return "", err
		}
	} else if in.Browser == "" {
		return "", lockbox.Errorf(lockbox.EINVALID, "This browser did not keep Lockbox's sign-in cookie; allow cookies and try again.")
	}
	var tenantCfg *lockbox.TenantSSO
	email := lockbox.NormalizeEmail(in.Email)
	if in.Provider || email == "" {
		if x.ProviderIdP() == "" {
			return "", lockbox.FieldErrorf(lockbox.EINVALID, "email", "Enter your work email: single sign-on for provider staff is not set up on this server.")
		}
	} else {
		if !lockbox.ValidEmail(email) {
			return "", lockbox.FieldErrorf(lockbox.EINVALID, "email", "Enter your work email address, like name@contoso.com.")
		}
		err := x.s.store.View(ctx, func(tx lockbox.Tx) (err error) {
			tenantCfg, err = tx.TenantSSOByDomain(ctx, domainOf(email))
			return err
		})
		if lockbox.ErrorCode(err) == lockbox.ENOTFOUND {
			return "", lockbox.FieldErrorf(lockbox.EINVALID, "email", "No single sign-on is set up for %s: sign in with your password.", domainOf(email))
		} else if err != nil {
			return "", err
		}
	}
	idp, err := x.idp(ctx, tenantCfg)
	if err != nil {
		return "", err
	}
	now := x.s.sessionNow()
	state := randomSecret("", 32)
	f := &lockbox.SSOFlow{Issuer: idp.Issuer, Nonce: randomSecret("", 32), Verifier: randomSecret("", 32),
		Next: in.Next, CLIRedirect: in.CLIRedirect, CLIState: in.CLIState, CLIChallenge: in.CLIChallenge,
		ExpiresAt: now.Add(flowTTL)}
	if tenantCfg != nil {
		f.Tenant = tenantCfg.Tenant
	}
	if !cli {
		f.Browser = tokenHash(in.Browser)
	}
	authURL, err := x.opts().Client.AuthCodeURL(ctx, idp, state, f.Nonce, f.Verifier, email)
	if err != nil {
		return "", err
	}
	if err := x.s.store.Update(ctx, func(tx lockbox.Tx) error {
		return tx.InsertSSOFlow(ctx, tokenHash(state), f)
	}); err != nil {
		return "", err
	}
	return authURL, nil
}

var (
	pkceRE     = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)
	cliStateRE = regexp.MustCompile(`^[A-Za-z0-9._~-]{8,128}$`)
	oauthErrRE = regexp.MustCompile(`^[a-z_]{1,64}$`)
)

// checkCLIStart accepts only a loopback redirect (RFC 8252 §7.3): the one-
// time code goes to a program on the person's own machine, never to a host
// someone else named. Also the rule of lockbox login --browser (HandOffToCLI).
func checkCLIStart(redirect, state, challenge string) error {
	u, err := url.Parse(redirect)
	if err != nil || u.Scheme != "http" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Port() == "" {
		return lockbox.FieldErrorf(lockbox.EINVALID, "redirect_uri", "redirect_uri must be a loopback URL like http://127.0.0.1:PORT/callback.")
	}
	if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
		return lockbox.FieldErrorf(lockbox.EINVALID, "redirect_uri", "redirect_uri must be on 127.0.0.1 or [::1].")
	}
	if !cliStateRE.MatchString(state) {
		return lockbox.FieldErrorf(lockbox.EINVALID, "state", "state must be 8 to 128 URL-safe characters.")
	}
	if !pkceRE.MatchString(challenge) {
		return lockbox.FieldErrorf(lockbox.EINVALID, "code_challenge", "code_challenge must be the base64url SHA-256 of a verifier (43 characters, S256).")
	}
	return nil
}

func domainOf(email string) string { return email[strings.LastIndexByte(email, '@')+1:] }

func ssoRefused(format string, args ...any) error {
	return lockbox.Errorf(lockbox.EUNAUTHENTICATED, format, args...)
}

// FinishSSO checks a callback from an IdP and signs the person in.
func (x *SSO) FinishSSO(ctx context.Context, cb lockbox.SSOCallback) (*lockbox.SSOResult, error) {
	if x.opts().Client == nil {
		return nil, errSSOOff()
	}
	if cb.State == "" {
		return nil, ssoRefused("This sign-in link is incomplete. Start again from the sign-in page.")
	}
	now := x.s.sessionNow()
	// Taken at once, whatever happens next: a state (and so its code)
	// works once.
	var f *lockbox.SSOFlow
	err := x.s.store.Update(ctx, func(tx lockbox.Tx) (err error) {
		f, err = tx.TakeSSOFlow(ctx, tokenHash(cb.State), now)
		return err
	})
	if lockbox.ErrorCode(err) == lockbox.ENOTFOUND || (err == nil && f.UserID != "") {
		return nil, ssoRefused("This sign-in has expired or was already used. Start again from the sign-in page.")
	} else if err != nil {
		return nil, err
	}
	if f.CLIRedirect == "" && subtle.ConstantTimeCompare(f.Browser, tokenHash(cb.Browser)) != 1 {
		return nil, ssoRefused("This sign-in was started in another browser. Start again from the sign-in page in this one.")
	}
	if cb.Error != "" {
		code := "an error"
		if oauthErrRE.MatchString(cb.Error) {
			code = cb.Error // a protocol code, never the IdP's free text
		}
		return nil, ssoRefused("Your identity provider did not sign you in (it answered %s).", code)
	}
	if cb.Code == "" {
		return nil, ssoRefused("Your identity provider sent no authorization code. Start again.")
	}
	var cfg *lockbox.TenantSSO
	if f.Tenant != "" {
		err := x.s.store.View(ctx, func(tx lockbox.Tx) (err error) {
			cfg, err = tx.GetTenantSSO(ctx, f.Tenant)
			return err
		})
		if lockbox.ErrorCode(err) == lockbox.ENOTFOUND {
			cfg = nil
		} else if err != nil {
			return nil, err
		}
		if cfg == nil || cfg.Issuer != f.Issuer {
			return nil, ssoRefused("Your organisation's single sign-on changed while you were signing in. Start again.")
		}
	} else if f.Issuer != x.opts().Provider.Issuer {
		return nil, ssoRefused("The provider's single sign-on changed while you were signing in. Start again.")
	}
	idp, err := x.idp(ctx, cfg)
	if err != nil {
		return nil, err
	}
	claims, err := x.opts().Client.Exchange(ctx, idp, cb.Code, f.Verifier, f.Nonce)
	if err != nil {
		return nil, err
	}
	u, err := x.account(ctx, f.Tenant, cfg, claims)
	if err != nil {
		x.s.opts.Logger.WarnContext(ctx, "sso sign-in refused", "tenant", f.Tenant, "email", claims.Email, "why", lockbox.ErrorMessage(err))
		return nil, err
	}
	if u, err = x.voidOneTimePassword(ctx, u, f.Issuer); err != nil {
		return nil, err
	}
	if f.Tenant == "" {
		if err := x.markVerified(ctx, u, f.Issuer); err != nil {
			return nil, err
		}
	}
	if f.CLIRedirect != "" {
		redirect, err := x.cliCode(ctx, u, f.Tenant, f.Issuer, f.CLIRedirect, f.CLIState, f.CLIChallenge, now)
		if err != nil {
			return nil, err
		}
		x.s.opts.Logger.InfoContext(ctx, "sso sign-in", "user", u.Email, "tenant", u.Tenant, "via", "cli")
		return &lockbox.SSOResult{User: u, Redirect: redirect}, nil
	}
	token, _, err := x.ws.startSession(ctx, u, SignInSSO, now)
	if err != nil {
		return nil, err
	}
	x.s.opts.Logger.InfoContext(ctx, "sso sign-in", "user", u.Email, "tenant", u.Tenant, "via", "web")
	return &lockbox.SSOResult{User: u, SessionToken: token, Next: f.Next}, nil
}

// account is the Lockbox account an IdP vouched for: always of the
// population whose IdP it is (nobody signs in to one tenant through
// another's IdP, nor to the provider through a tenant's), matched by a
// verified email, enabled.
func (x *SSO) account(ctx context.Context, tenant string, cfg *lockbox.TenantSSO, c *lockbox.OIDCClaims) (*lockbox.User, error) {
	email := lockbox.NormalizeEmail(c.Email)
	if email == "" || !lockbox.ValidEmail(email) {
		return nil, ssoRefused("Your identity provider did not say which email address you signed in with (the \"email\" claim).")
	}
	if !c.EmailVerified {
		return nil, ssoRefused("Your identity provider has not verified %s, so Lockbox cannot use it to sign you in.", email)
	}
	if cfg != nil && !slices.Contains(cfg.AllowedDomains, domainOf(email)) {
		return nil, ssoRefused("%s is not in a domain this organisation's single sign-on accepts.", email)
	}
	var u *lockbox.User
	err := x.s.store.View(ctx, func(tx lockbox.Tx) (err error) {
		u, _, err = tx.GetUserByEmail(ctx, tenant, email)
		return err
	})
	switch {
	case lockbox.ErrorCode(err) == lockbox.ENOTFOUND || (err == nil && u.ServiceAccount):
		if tenant == "" {
			return nil, ssoRefused("%s is not a Lockbox staff account. Ask a provider admin to add you.", email)
		}
		return nil, ssoRefused("%s is not a Lockbox user of this organisation. Ask your global admin to add you.", email)
	case err != nil:
		return nil, err
	case u.Disabled:
		return nil, ssoRefused("Your Lockbox account is disabled.")
	}
	return u, nil
}

// voidOneTimePassword ends the one-time password of an account that has
// just proved itself through its IdP, with every session and token that
// password gave. The person never needs it (their IdP signs them in), and
// it must not stay usable: whoever set it (an admin's reset, the provider
// that created a tenant) knows it and could sign in with it and choose a
// permanent password of their own. Nor may it keep the IdP's session on
// the Account page asking for a "current password" the person was never
// sent. An admin can still give the account a new one (a reset). Audited
// as a password change by the account itself, with how.
func (x *SSO) voidOneTimePassword(ctx context.Context, u *lockbox.User, issuer string) (*lockbox.User, error) {
	if !u.PasswordChangeRequired {
		return u, nil
	}
	now := x.s.sessionNow()
	var cur *lockbox.User
	err := x.s.store.Update(ctx, func(tx lockbox.Tx) (err error) {
		// Exclusive: a reset committed meanwhile set a newer one-time
		// password, which this sign-in then ends too (it read the flag);
		// two sign-ins at once void and audit it once.
		if cur, err = tx.LockUser(ctx, u.ID, true); err != nil {
			return err
		}
		if cur.Disabled {
			return ssoRefused("Your Lockbox account is disabled.")
		}
		if !cur.PasswordChangeRequired {
			return nil
		}
		if err := tx.SetPassword(ctx, cur.ID, "", false); err != nil {
			return err
		}
		if err := endSessions(ctx, tx, cur.ID, nil, now); err != nil {
			return err
		}
		rec := accountRecord(ctx, cur, cur, lockbox.OpPasswordChanged, x.s.now())
		rec.AuditData["how"] = "signed in through single sign-on; the one-time password, never changed, no longer works"
		rec.AuditData["issuer"] = issuer
		cur.PasswordChangeRequired = false
		return appendAudit(ctx, tx, rec)
	})
	if lockbox.ErrorCode(err) == lockbox.ENOTFOUND {
		return nil, ssoRefused("Your Lockbox account no longer exists.")
	} else if err != nil {
		return nil, err
	}
	return cur, nil
}

// markVerified records, once for the installation, that a staff sign-in
// through the provider's IdP succeeded (lockbox.OpSSOVerified): from then
// on --oidc-only refuses the bootstrap admin's password too
// (passwordAllowed). The provider log holds the fact, so every replica
// and every restart sees it; the store's lock keeps replicas from writing
// it twice at once (a second record would be harmless).
func (x *SSO) markVerified(ctx context.Context, u *lockbox.User, issuer string) error {
	if x.verified.Load() {
		return nil
	}
	x.verifying.Lock()
	defer x.verifying.Unlock()
	err := x.s.withStoreLock(ctx, "sso-verified", func(ctx context.Context) error {
		if _, done, err := x.s.ssoVerified(ctx); err != nil || done {
			return err
		}
		return x.s.store.Update(ctx, func(tx lockbox.Tx) error {
			rec := newRecord(ctx, u, lockbox.ProviderLog, lockbox.RecordProviderAdmin, lockbox.OpSSOVerified, x.s.now())
			rec.AuditData = map[string]any{"issuer": issuer, "target_user": u.Email,
				"why": "first staff sign-in through the provider's IdP: under --oidc-only " + BootstrapEmail + " no longer signs in with a password"}
			return appendAudit(ctx, tx, rec)
		})
	})
	if err != nil {
		return err
	}
	x.verified.Store(true)
	return nil
}

// ssoVerified reports whether a staff sign-in through the provider's IdP
// has ever succeeded (markVerified), and when.
func (s *Service) ssoVerified(ctx context.Context) (time.Time, bool, error) {
	var recs []*lockbox.AuditRecord
	err := s.store.View(ctx, func(tx lockbox.Tx) (err error) {
		recs, err = tx.SearchAudit(ctx, lockbox.AuditQuery{Log: lockbox.ProviderLog, Operations: []string{lockbox.OpSSOVerified}, Limit: 1})
		return err
	})
	if err != nil || len(recs) == 0 {
		return time.Time{}, false, err
	}
	return recs[0].Time, true, nil
}

// RedeemCLICode trades a CLI flow's one-time code for a bearer token.
func (x *SSO) RedeemCLICode(ctx context.Context, code, verifier string) (*lockbox.Session, error) {
	bad := func() error {
		return ssoRefused("This sign-in code is unknown, used or expired. Run lockbox login again.")
	}
	if code == "" || verifier == "" {
		return nil, bad()
	}
	now := x.s.sessionNow()
	var f *lockbox.SSOFlow
	err := x.s.store.Update(ctx, func(tx lockbox.Tx) (err error) {
		f, err = tx.TakeSSOFlow(ctx, tokenHash(code), now)
		return err
	})
	if lockbox.ErrorCode(err) == lockbox.ENOTFOUND {
		return nil, bad()
	} else if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(verifier))
	if f.UserID == "" || subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(f.CLIChallenge)) != 1 {
		return nil, bad()
	}
	var u *lockbox.User
	if err := x.s.store.View(ctx, func(tx lockbox.Tx) (err error) {
		u, err = tx.GetUserByID(ctx, f.UserID)
		return err
	}); err != nil {
		if lockbox.ErrorCode(err) == lockbox.ENOTFOUND {
			return nil, bad()
		}
		return nil, err
	}
	if u.Disabled {
		return nil, ssoRefused("Your Lockbox account is disabled.")
	}
	return x.s.issueToken(ctx, u, SignInSSO, now)
}

// BootstrapEmail is the account `lockbox serve` creates on first start;
// under --oidc-only it may still use its password (audited each time)
// until single sign-on has worked once (OpSSOVerified), so a provider can
// set up its IdP without locking itself out, and is not left with a
// password account that bypasses the IdP for good.
const BootstrapEmail = "admin@localhost"

// passwordAllowed is the rule for a right password (verifyPassword): with
// enforced SSO only the break-glass account may use one, and each such
// sign-in is audited.
func (s *Service) passwordAllowed(ctx context.Context, u *lockbox.User) error {
	if u.ServiceAccount {
		return nil
	}
	if u.Tenant == "" {
		o := s.opts.SSO
		if !o.OIDCOnly || o.Client == nil || o.Provider.Issuer == "" {
			return nil
		}
		idp := (&SSO{s: s}).ProviderIdP()
		if u.Email != BootstrapEmail {
			return ssoRefused("Provider staff sign in with single sign-on on this server: use \"Sign in with %s\".", idp)
		}
		since, verified, err := s.ssoVerified(ctx)
		if err != nil {
			return err
		}
		if verified {
			return ssoRefused("Single sign-on has worked on this server since %s, so %s no longer signs in with a password under --oidc-only: use \"Sign in with %s\" (if the IdP is down, restart the server without --oidc-only).",
				since.UTC().Format(time.RFC3339), BootstrapEmail, idp)
		}
		return s.auditBreakGlass(ctx, u, lockbox.ProviderLog, lockbox.RecordProviderAdmin)
	}
	var cfg *lockbox.TenantSSO
	err := s.store.View(ctx, func(tx lockbox.Tx) (err error) {
		cfg, err = tx.GetTenantSSO(ctx, u.Tenant)
		return err
	})
	if lockbox.ErrorCode(err) == lockbox.ENOTFOUND {
		return nil
	} else if err != nil {
		return err
	}
	if !cfg.Enforce {
		return nil
	}
	if cfg.BreakGlass == "" || lockbox.NormalizeEmail(u.Email) != cfg.BreakGlass || !u.HasRole(lockbox.RoleGlobalAdmin) {
		return ssoRefused("Your organisation signs in with single sign-on: enter your email and choose \"Sign in with single sign-on\".")
	}
	return s.auditBreakGlass(ctx, u, u.Tenant, lockbox.RecordTenantAdmin)
}

func (s *Service) auditBreakGlass(ctx context.Context, u *lockbox.User, log, recordType string) error {
	return s.store.Update(lockbox.NewContextWithUser(ctx, u), func(tx lockbox.Tx) error {
		rec := newRecord(ctx, u, log, recordType, lockbox.OpBreakGlassSignIn, s.now())
		rec.AuditData = map[string]any{"target_user": u.Email,
			"why": "password sign-in while single sign-on is enforced (break-glass account)"}
		return appendAudit(ctx, tx, rec)
	})
}

// Tenant configuration (global_admin of the tenant only).

// GetTenantSSO returns the tenant's IdP, without its secret.
func (x *SSO) GetTenantSSO(ctx context.Context, tenant string) (*lockbox.TenantSSO, error) {
	u, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	if err := lockbox.Authorize(u, lockbox.PermManageSSO, tenant); err != nil {
		return nil, err
	}
	var c *lockbox.TenantSSO
	err = x.s.store.View(ctx, func(tx lockbox.Tx) (err error) {
		if _, err := tx.GetTenant(ctx, tenant); err != nil {
			return err
		}
		c, err = tx.GetTenantSSO(ctx, tenant)
		return err
	})
	if lockbox.ErrorCode(err) == lockbox.ENOTFOUND {
		return nil, lockbox.Errorf(lockbox.ENOTFOUND, "No single sign-on is configured for tenant %q.", tenant)
	} else if err != nil {
		return nil, err
	}
	c.ClientSecret = ""
	return c, nil
}

var domainRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$`)

// PutTenantSSO sets the tenant's IdP after checking that it answers.
func (x *SSO) PutTenantSSO(ctx context.Context, tenant string, in lockbox.TenantSSOInput) (*lockbox.TenantSSO, error) {
	u, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	if err := lockbox.Authorize(u, lockbox.PermManageSSO, tenant); err != nil {
		return nil, err
	}
	if x.opts().Client == nil {
		return nil, errSSOOff()
	}
	if x.s.opts.Secrets == nil {
		return nil, errNoSecrets()
	}
	c, err := x.validSSO(tenant, in)
	if err != nil {
		return nil, err
	}
	// The tenant's own state: its break-glass admin, and the stored secret
	// when none is given.
	var old *lockbox.TenantSSO
	err = x.s.store.View(ctx, func(tx lockbox.Tx) error {
		if _, err := tx.GetTenant(ctx, tenant); err != nil {
			return err
		}
		if c.BreakGlass != "" {
			bg, _, err := tx.GetUserByEmail(ctx, tenant, c.BreakGlass)
			if lockbox.ErrorCode(err) == lockbox.ENOTFOUND || (err == nil && !bg.HasRole(lockbox.RoleGlobalAdmin)) {
				return lockbox.FieldErrorf(lockbox.EINVALID, "break_glass", "break_glass must be a global admin of tenant %s.", tenant)
			} else if err != nil {
				return err
			}
		}
		o, err := tx.GetTenantSSO(ctx, tenant)
		if err == nil {
			old = o
		} else if lockbox.ErrorCode(err) != lockbox.ENOTFOUND {
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	secretChanged := c.ClientSecret != ""
	secret := c.ClientSecret
	if !secretChanged {
		if err := keepSecret(old, c); err != nil {
			return nil, err
		}
		if secret, _, err = x.s.openSecret(ctx, ssoSecretOf(old), old.ClientSecret); err != nil {
			return nil, lockbox.FieldErrorf(lockbox.EINVALID, "client_secret", "The stored client_secret cannot be read with this server's keys: give it again.")
		}
	}
	// Sealed again even when kept: under the active key.
	if c.ClientSecret, err = x.s.sealSecret(ssoSecretOf(c), secret); err != nil {
		return nil, err
	}
	// An issuer that does not answer discovery would only fail at sign-in:
	// say so now, to the admin who typed it.
	if _, err := x.opts().Client.AuthCodeURL(ctx, x.tenantIdP(c, secret), "check", "check", randomSecret("", 32), ""); err != nil {
		return nil, lockbox.FieldErrorf(lockbox.EINVALID, "issuer", "Lockbox could not read %s/.well-known/openid-configuration: check the issuer URL, and that the IdP is reachable from the Lockbox server.", strings.TrimSuffix(c.Issuer, "/"))
	}
	err = x.s.store.Update(ctx, func(tx lockbox.Tx) error {
		c.UpdatedAt = x.s.now()
		if err := tx.PutTenantSSO(ctx, c); err != nil {
			return err
		}
		rec := newRecord(ctx, u, tenant, lockbox.RecordTenantAdmin, lockbox.OpSSOConfigured, c.UpdatedAt)
		rec.AuditData = map[string]any{"issuer": c.Issuer, "client_id": c.ClientID,
			"allowed_domains": c.AllowedDomains, "enforce": c.Enforce, "break_glass": c.BreakGlass,
			"client_secret_changed": secretChanged}
		return appendAudit(ctx, tx, rec)
	})
	if err != nil {
		return nil, err
	}
	c.ClientSecret, c.ClientSecretSet = "", true
	return c, nil
}

// keepSecret is the rule for a PUT without client_secret: the stored
// secret is kept only for the same client at the same IdP. The secret is
// sent to the issuer's token endpoint at every sign-in, so keeping it for
// a new issuer or client id would hand one IdP's credential to another
// (whoever can edit the configuration, or run that issuer, would read it).
func keepSecret(old, c *lockbox.TenantSSO) error {
	switch {
	case old == nil:
		return lockbox.FieldErrorf(lockbox.EINVALID, "client_secret", "client_secret is required the first time (the IdP gives it with the client id).")
	case old.Issuer != c.Issuer || old.ClientID != c.ClientID:
		return lockbox.FieldErrorf(lockbox.EINVALID, "client_secret", "client_secret is required when the issuer or client_id changes: the stored secret belongs to the previous IdP client and is never sent to another.")
	}
	return nil
}

// validSSO checks the body's shape (no store access).
func (x *SSO) validSSO(tenant string, in lockbox.TenantSSOInput) (*lockbox.TenantSSO, error) {
	for _, f := range []struct {
		name, v  string
		n        int
		required bool
	}{
		{"issuer", in.Issuer, 2048, true}, {"client_id", in.ClientID, 255, true},
		{"client_secret", in.ClientSecret, 1024, false}, {"break_glass", in.BreakGlass, 254, false},
	} {
		if err := lockbox.ValidText(f.name, f.v, f.n, f.required); err != nil {
			return nil, err
		}
	}
	iu, err := url.Parse(in.Issuer)
	private := x.opts().AllowPrivateIdPs
	if err != nil || !iu.IsAbs() || iu.Host == "" || iu.User != nil || iu.RawQuery != "" || iu.Fragment != "" ||
		(iu.Scheme != "https" && !(private && iu.Scheme == "http")) {
		return nil, lockbox.FieldErrorf(lockbox.EINVALID, "issuer", "issuer must be the IdP's https URL, exactly as its discovery document names it (like https://login.microsoftonline.com/TENANT-ID/v2.0).")
	}
	if !private {
		h, err := lockbox.ParseWebhookHost(iu.Hostname())
		if err != nil || (h.Addr.IsValid() && !lockbox.PublicAddr(h.Addr)) {
			return nil, lockbox.FieldErrorf(lockbox.EINVALID, "issuer", "issuer points to a private, loopback or link-local address (%s).", iu.Hostname())
		}
	}
	if len(in.AllowedDomains) == 0 || len(in.AllowedDomains) > 50 {
		return nil, lockbox.FieldErrorf(lockbox.EINVALID, "allowed_domains", "allowed_domains must list 1 to 50 email domains, like contoso.com.")
	}
	var domains []string
	for _, d := range in.AllowedDomains {
		d = strings.ToLower(strings.TrimSpace(d))
		if len(d) > 253 || !domainRE.MatchString(d) {
			return nil, lockbox.FieldErrorf(lockbox.EINVALID, "allowed_domains", "%q is not a domain name like contoso.com.", d)
		}
		if slices.Contains(domains, d) {
			return nil, lockbox.FieldErrorf(lockbox.EINVALID, "allowed_domains", "%s is listed twice.", d)
		}
		domains = append(domains, d)
	}
	slices.Sort(domains)
	bg := lockbox.NormalizeEmail(in.BreakGlass)
	if in.Enforce && bg == "" {
		return nil, lockbox.FieldErrorf(lockbox.EINVALID, "break_glass", "With enforce on, name one global admin as break_glass: the one account that can still sign in with a password when the IdP is down.")
	}
	return &lockbox.TenantSSO{Tenant: tenant, Issuer: in.Issuer, ClientID: in.ClientID, ClientSecret: in.ClientSecret,
		AllowedDomains: domains, Enforce: in.Enforce, BreakGlass: bg}, nil
}

// DeleteTenantSSO removes the tenant's IdP: its users sign in with
// passwords again.
func (x *SSO) DeleteTenantSSO(ctx context.Context, tenant string) error {
	u, err := actor(ctx)
	if err != nil {
		return err
	}
	if err := lockbox.Authorize(u, lockbox.PermManageSSO, tenant); err != nil {
		return err
	}
	return x.s.store.Update(ctx, func(tx lockbox.Tx) error {
		if _, err := tx.GetTenant(ctx, tenant); err != nil {
			return err
		}
		if err := tx.DeleteTenantSSO(ctx, tenant); err != nil {
			if lockbox.ErrorCode(err) == lockbox.ENOTFOUND {
				return lockbox.Errorf(lockbox.ENOTFOUND, "No single sign-on is configured for tenant %q.", tenant)
			}
			return err
		}
		rec := newRecord(ctx, u, tenant, lockbox.RecordTenantAdmin, lockbox.OpSSOConfigured, x.s.now())
		rec.AuditData = map[string]any{"removed": true}
		return appendAudit(ctx, tx, rec)
	})
}
