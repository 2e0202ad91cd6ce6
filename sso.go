package lockbox

import (
	"context"
	"time"
)

// Single sign-on with OpenID Connect (SPEC §10.2, docs/identity.md).

// Audit operations of single sign-on (tenant log).
const (
	// OpSSOConfigured: a tenant's global admin set (or, with audit_data
	// "removed": true, removed) the tenant's IdP. Never carries the secret.
	OpSSOConfigured = "sso.configured"
	// OpBreakGlassSignIn: a password sign-in that enforced SSO would have
	// refused, by the tenant's break-glass admin (or, in the provider log,
	// the bootstrap admin under --oidc-only).
	OpBreakGlassSignIn = "account.break_glass_sign_in"
	// OpSSOVerified (provider log): the first sign-in of a staff member
	// through the provider's IdP succeeded. From then on --oidc-only no
	// longer lets the bootstrap admin use its password (SPEC §10.2: "the
	// bootstrap admin excepted until SSO works").
	OpSSOVerified = "sso.verified"
)

// TenantSSO is a tenant's own IdP. ClientSecret is never serialized: no
// route, log or audit record shows it (ClientSecretSet says whether one is
// stored). As stored, and as a store returns it, ClientSecret is sealed
// (SecretBox): only the workflow service opens it, to send it to the IdP.
type TenantSSO struct {
	Tenant          string   `json:"tenant"`
	Issuer          string   `json:"issuer"`
	ClientID        string   `json:"client_id"`
	ClientSecret    string   `json:"-"`
	ClientSecretSet bool     `json:"client_secret_set"`
	AllowedDomains  []string `json:"allowed_domains"`
	// Enforce refuses password sign-in to the tenant's users, except
	// BreakGlass.
	Enforce bool `json:"enforce"`
	// BreakGlass is the email of the one global admin who may still sign
	// in with a password when Enforce is on (audited each time), so an
	// IdP outage never locks the tenant out.
	BreakGlass string    `json:"break_glass,omitempty"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// TenantSSOInput is the body of PUT /v1/tenants/{tenant}/sso. An empty
// ClientSecret keeps the stored one (the admin cannot read it back to
// resend it) for the same Issuer and ClientID; the first PUT, and one
// that changes either, must give one.
type TenantSSOInput struct {
	Issuer         string   `json:"issuer"`
	ClientID       string   `json:"client_id"`
	ClientSecret   string   `json:"client_secret,omitempty"`
	AllowedDomains []string `json:"allowed_domains"`
	Enforce        bool     `json:"enforce"`
	BreakGlass     string   `json:"break_glass,omitempty"`
}

// SSOFlow is a sign-in in progress at an IdP, stored under the hash of its
// "state" for a few minutes and taken (deleted) exactly once at the
// callback, so a replayed callback finds nothing.
type SSOFlow struct {
	// Tenant whose IdP is used; "" for the provider's staff IdP.
	Tenant string `json:"tenant,omitempty"`
	// Issuer the flow was started with: a configuration changed meanwhile
	// does not let a token of the new issuer finish an old flow.
	Issuer   string `json:"issuer"`
	Nonce    string `json:"nonce"`
	Verifier string `json:"verifier"` // PKCE code verifier
	// Browser is the SHA-256 of a random value held in a cookie of the
	// browser that started the flow (web flows): a callback from another
	// browser is refused.
	Browser []byte `json:"browser,omitempty"`
	// Next is the local page to land on after a web sign-in.
	Next string `json:"next,omitempty"`
	// CLI flows (lockbox login --sso): the loopback redirect of the CLI,
	// its state and its PKCE challenge for the one-time code.
	CLIRedirect  string `json:"cli_redirect,omitempty"`
	CLIState     string `json:"cli_state,omitempty"`
	CLIChallenge string `json:"cli_challenge,omitempty"`
	// UserID is set on a CLI code: the account that signed in, to be
	// issued a token when the CLI presents the code and its verifier.
	UserID    string    `json:"user_id,omitempty"`
	ExpiresAt time.Time `json:"expires_at"`
}

// SSOTx is the persistence of single sign-on, part of every store's Tx.
type SSOTx interface {
	// GetTenantSSO returns the tenant's IdP; ENOTFOUND when none.
	GetTenantSSO(ctx context.Context, tenant string) (*TenantSSO, error)
	// PutTenantSSO stores (replaces) the tenant's IdP and its domains.
	// ECONFLICT when a domain is another tenant's.
	PutTenantSSO(ctx context.Context, c *TenantSSO) error
	// DeleteTenantSSO removes it; ENOTFOUND when none.
	DeleteTenantSSO(ctx context.Context, tenant string) error
	// TenantSSOByDomain finds the IdP whose allowed domains include
	// domain (lower case); ENOTFOUND when none.
	TenantSSOByDomain(ctx context.Context, domain string) (*TenantSSO, error)
	// InsertSSOFlow stores f under hash; ECONFLICT when taken.
	InsertSSOFlow(ctx context.Context, hash []byte, f *SSOFlow) error
	// StaleSSOSecrets returns, in order, the tenants whose stored client
	// secret does not start with current (SecretBox.Current): the only ones
	// the start-up pass may have to seal, so a start reads none of the
	// others.
	StaleSSOSecrets(ctx context.Context, current string) ([]string, error)
	// ReplaceSSOSecret stores secret as the tenant's client secret only if
	// the stored one is still old (compare and set, so a configuration
	// saved meanwhile is never overwritten); ENOTFOUND otherwise.
	ReplaceSSOSecret(ctx context.Context, tenant, old, secret string) error
	// TakeSSOFlow deletes the flow stored under hash and returns it if it
	// was still valid at now; ENOTFOUND otherwise (also for a second take).
	// It also removes some flows expired at now (housekeeping).
	TakeSSOFlow(ctx context.Context, hash []byte, now time.Time) (*SSOFlow, error)
}

// OIDCClaims are the claims of a verified ID token Lockbox uses.
type OIDCClaims struct {
	Issuer        string
	Subject       string
	Email         string
	EmailVerified bool
}

// OIDCClient is the relying party (package oidcrp): it builds the
// authorization URL and exchanges a code for a verified ID token. The
// workflow service (approval) holds every rule about who may sign in; this
// is only the protocol.
type OIDCClient interface {
	// AuthCodeURL is the IdP's authorization URL for a flow with state,
	// nonce and the PKCE verifier (sent as its S256 challenge). EUNAVAILABLE
	// when the IdP's discovery document cannot be fetched.
	AuthCodeURL(ctx context.Context, idp OIDCProvider, state, nonce, verifier, loginHint string) (string, error)
	// Exchange redeems code with the verifier and verifies the ID token:
	// signature from the issuer's JWKS, issuer, audience (the client id),
	// expiry, and nonce. EUNAUTHENTICATED when the IdP refuses the code or
	// the token does not verify; EUNAVAILABLE when the IdP cannot be
	// reached.
	Exchange(ctx context.Context, idp OIDCProvider, code, verifier, nonce string) (*OIDCClaims, error)
}

// OIDCProvider is an IdP as the relying party needs it.
type OIDCProvider struct {
	Issuer       string
	ClientID     string
	ClientSecret string
	RedirectURL  string
	// Private lets Lockbox reach the IdP on a private, loopback or
	// link-local address: the provider's own IdP (set by its operator), and
	// tenants' IdPs only on servers run with --allow-private-webhooks.
	Private bool
}

// SSOStart starts a sign-in at an IdP.
type SSOStart struct {
	// Email selects a tenant's IdP by its domain; empty selects the
	// provider's staff IdP.
	Email string
	// Provider asks for the provider's staff IdP explicitly.
	Provider bool
	// Browser is the random value of the starting browser's cookie (web).
	Browser string
	Next    string
	// CLI loopback flow (lockbox login --sso).
	CLIRedirect  string `json:"redirect_uri"`
	CLIState     string `json:"state"`
	CLIChallenge string `json:"code_challenge"`
}

// SSOCallback is what the IdP sent back to /auth/callback.
type SSOCallback struct {
	State, Code      string
	Error, ErrorDesc string
	Browser          string // the cookie value of the browser (web)
}

// SSOResult is the outcome of a callback: a signed-in account for a web
// flow (the caller starts a session), or a loopback redirect carrying a
// one-time code for a CLI flow.
type SSOResult struct {
	User *User
	// SessionToken is the new web session's token (web flows).
	SessionToken string
	Next         string
	// Redirect is where to send the browser (CLI flows: the loopback with
	// the one-time code).
	Redirect string
}

// SSOService is single sign-on (approval implements it).
type SSOService interface {
	// ProviderIdP names the provider's staff IdP ("" when none is set).
	ProviderIdP() string
	// StartSSO records a flow and returns the IdP's authorization URL.
	// EINVALID for an address whose domain has no IdP; EUNAVAILABLE when
	// the IdP cannot be reached.
	StartSSO(ctx context.Context, in SSOStart) (string, error)
	// FinishSSO checks a callback (state, browser, code, ID token, and who
	// may sign in). EUNAUTHENTICATED with a message a person understands
	// for every refusal.
	FinishSSO(ctx context.Context, cb SSOCallback) (*SSOResult, error)
	// RedeemCLICode trades a CLI flow's one-time code and PKCE verifier for
	// a bearer token.
	RedeemCLICode(ctx context.Context, code, verifier string) (*Session, error)
	// HandOffToCLI gives the signed-in caller's CLI (lockbox login
	// --browser) a one-time code for RedeemCLICode: the loopback redirect
	// with code and state. EINVALID for a redirect that is not loopback, or
	// a bad state or challenge; the CheckActive errors for a session that
	// may not act.
	HandOffToCLI(ctx context.Context, redirect, state, challenge string) (string, error)
	// DeclineCLI is the loopback redirect that tells a waiting lockbox
	// login --browser the person said no (error=access_denied, RFC 6749
	// §4.1.2.1), so it stops at once: nothing is issued. EINVALID as
	// HandOffToCLI for a redirect that is not loopback.
	DeclineCLI(ctx context.Context, redirect, state, challenge string) (string, error)
	// Tenant SSO configuration: that tenant's global_admin only.
	GetTenantSSO(ctx context.Context, tenant string) (*TenantSSO, error)
	PutTenantSSO(ctx context.Context, tenant string, in TenantSSOInput) (*TenantSSO, error)
	DeleteTenantSSO(ctx context.Context, tenant string) error
}

// SecretBox seals the secrets Lockbox must keep in its database, tenants'
// IdP client secrets and webhook signing secrets, with a key the database
// does not hold (it is derived from the signing keys of the key directory,
// package keys). A copy of the database, a backup or a read-only SQL
// account then yields no credential for any tenant's IdP, and cannot sign
// a webhook delivery.
type SecretBox interface {
	// Seal encrypts secret with the active key, bound to aad: a sealed
	// value copied to another record (aad) does not open.
	Seal(secret string, aad []byte) (string, error)
	// Open decrypts a value of Seal made with the same aad. stale says it
	// should be sealed again: it was sealed with an older key, or stored in
	// clear before sealing existed (a value without SealedPrefix, which is
	// returned as it is).
	Open(sealed string, aad []byte) (secret string, stale bool, err error)
	// Current is how every value sealed now starts (SealedPrefix and the
	// active key's id): a stored value that does not may be stale.
	Current() string
}

// SealedPrefix starts every value of a SecretBox.
const SealedPrefix = "lbsealed1."
