// Package oidcrp is Lockbox's OpenID Connect relying party (SPEC §10.2):
// the protocol only — discovery, the authorization code flow with PKCE
// (S256), and ID token verification with github.com/coreos/go-oidc (the
// signature from the issuer's JWKS, issuer, audience, expiry) plus the
// nonce. Who may sign in is decided by the workflow service (approval).
package oidcrp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/lockboxhq/lockbox"
)

// discoveryTTL is how long a provider's discovery document is reused; its
// JWKS is refetched by go-oidc whenever a token names an unknown key.
const discoveryTTL = 15 * time.Minute

// Client implements lockbox.OIDCClient.
type Client struct {
	logger  *slog.Logger
	public  *http.Client // refuses private, loopback and link-local addresses
	private *http.Client // any address (the provider's own IdP, tests)

	mu        sync.Mutex
	providers map[string]cached
}

type cached struct {
	p       *oidc.Provider
	fetched time.Time
}

var _ lockbox.OIDCClient = (*Client)(nil)

// New returns a relying party. Calls to an IdP time out after 10 s.
func New(logger *slog.Logger) *Client {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	guarded := &net.Dialer{Timeout: 10 * time.Second, Control: publicOnly}
	return &Client{
		logger: logger,
		public: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			DialContext: guarded.DialContext, TLSHandshakeTimeout: 10 * time.Second, Proxy: nil}},
		private:   &http.Client{Timeout: 10 * time.Second},
		providers: map[string]cached{},
	}
}

var errBlocked = errors.New("the IdP's address is private, loopback or link-local")

// publicOnly refuses a connection to an address a tenant must not make
// Lockbox reach (its own network), whatever name resolved to it.
func publicOnly(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil || !lockbox.PublicAddr(ap.Addr()) {
		return errBlocked
	}
	return nil
}

func (c *Client) httpClient(idp lockbox.OIDCProvider) *http.Client {
	if idp.Private {
		return c.private
	}
	return c.public
}

func (c *Client) provider(ctx context.Context, idp lockbox.OIDCProvider) (*oidc.Provider, context.Context, error) {
	ctx = oidc.ClientContext(ctx, c.httpClient(idp))
	key := fmt.Sprintf("%t %s", idp.Private, idp.Issuer)
	c.mu.Lock()
	e, ok := c.providers[key]
	c.mu.Unlock()
	if ok && time.Since(e.fetched) < discoveryTTL {
		return e.p, ctx, nil
	}
	// The provider's context is used for its JWKS fetches later on: it
	// must outlive this request, so it is a background one with the client.
	p, err := oidc.NewProvider(oidc.ClientContext(context.WithoutCancel(ctx), c.httpClient(idp)), idp.Issuer)
	if err != nil {
		c.logger.WarnContext(ctx, "oidc discovery failed", "issuer", idp.Issuer, "err", err)
		return nil, nil, unavailable()
	}
	c.mu.Lock()
	c.providers[key] = cached{p: p, fetched: time.Now()}
	c.mu.Unlock()
	return p, ctx, nil
}

func unavailable() error {
	return lockbox.Errorf(lockbox.EUNAVAILABLE, "The identity provider cannot be reached right now. Try again in a few minutes, or ask your administrator.")
}

func (c *Client) config(p *oidc.Provider, idp lockbox.OIDCProvider) *oauth2.Config {
	return &oauth2.Config{ClientID: idp.ClientID, ClientSecret: idp.ClientSecret, Endpoint: p.Endpoint(),
		RedirectURL: idp.RedirectURL, Scopes: []string{oidc.ScopeOpenID, "email", "profile"}}
}

// AuthCodeURL builds the authorization URL.
func (c *Client) AuthCodeURL(ctx context.Context, idp lockbox.OIDCProvider, state, nonce, verifier, loginHint string) (string, error) {
	p, _, err := c.provider(ctx, idp)
	if err != nil {
		return "", err
	}
	opts := []oauth2.AuthCodeOption{oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)}
	if loginHint != "" {
		opts = append(opts, oauth2.SetAuthURLParam("login_hint", loginHint))
	}
	return c.config(p, idp).AuthCodeURL(state, opts...), nil
}

// Exchange redeems the code and verifies the ID token.
func (c *Client) Exchange(ctx context.Context, idp lockbox.OIDCProvider, code, verifier, nonce string) (*lockbox.OIDCClaims, error) {
	p, ctx, err := c.provider(ctx, idp)
	if err != nil {
		return nil, err
	}
	tok, err := c.config(p, idp).Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode < 500 {
			// The IdP refused the code: used already, expired, or not
			// for this client. Logged without the code itself.
			c.logger.WarnContext(ctx, "oidc code refused", "issuer", idp.Issuer, "error", re.ErrorCode)
			return nil, refused("The identity provider did not accept this sign-in (it may have been used already or have expired). Start again.")
		}
		c.logger.WarnContext(ctx, "oidc token endpoint failed", "issuer", idp.Issuer, "err", err)
		return nil, unavailable()
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, refused("The identity provider did not send an ID token.")
	}
	id, err := p.Verifier(&oidc.Config{ClientID: idp.ClientID}).Verify(ctx, raw)
	if err != nil {
		c.logger.WarnContext(ctx, "oidc id token refused", "issuer", idp.Issuer, "err", err)
		var expired *oidc.TokenExpiredError
		if errors.As(err, &expired) {
			return nil, refused("The identity provider's answer has expired. Start again.")
		}
		return nil, refused("The identity provider's answer could not be verified.")
	}
	if id.Nonce != nonce {
		c.logger.WarnContext(ctx, "oidc id token refused", "issuer", idp.Issuer, "err", "nonce mismatch")
		return nil, refused("The identity provider's answer does not belong to this sign-in.")
	}
	var claims struct {
		Email         string `json:"email"`
		EmailVerified any    `json:"email_verified"`
		// Entra ID sends no email_verified; its optional claim xms_edov
		// ("email domain owner verified") is its equivalent.
		EntraVerified any `json:"xms_edov"`
	}
	if err := id.Claims(&claims); err != nil {
		return nil, refused("The identity provider's answer could not be read.")
	}
	return &lockbox.OIDCClaims{Issuer: id.Issuer, Subject: id.Subject, Email: claims.Email,
		EmailVerified: verified(claims.EmailVerified) || verified(claims.EntraVerified)}, nil
}

// verified reads email_verified, which some IdPs send as a string.
func verified(v any) bool {
	switch v := v.(type) {
	case bool:
		return v
	case string:
		return v == "true" || v == "1"
	}
	return false
}

func refused(msg string) error { return lockbox.Errorf(lockbox.EUNAUTHENTICATED, "%s", msg) }
