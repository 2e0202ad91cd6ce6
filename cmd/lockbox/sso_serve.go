package main

import (
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
	"github.com/lockboxhq/lockbox/oidcrp"
)

// ssoConfig is single sign-on of `lockbox serve` (SPEC §10.2): the
// provider's staff IdP. Tenants configure their own IdPs through the API.
type ssoConfig struct {
	Issuer       string
	ClientID     string
	ClientSecret string // LOCKBOX_OIDC_CLIENT_SECRET only: never on the command line
	Name         string
	OIDCOnly     bool
	// RequireMFA: staff confirm password sign-in with a passkey, and
	// staff without one sign in with a password only to register one
	// (SPEC §10.3).
	RequireMFA bool
}

var ssoEnv = []envVar{
	{"oidc-issuer", "LOCKBOX_OIDC_ISSUER"},
	{"oidc-client-id", "LOCKBOX_OIDC_CLIENT_ID"},
	{"oidc-client-secret", "LOCKBOX_OIDC_CLIENT_SECRET"},
	{"oidc-name", "LOCKBOX_OIDC_NAME"},
	{"oidc-only", "LOCKBOX_OIDC_ONLY"},
	{"require-mfa", "LOCKBOX_REQUIRE_MFA"},
}

func addServeSSOFlags(cmd *cobra.Command, cfg *serverConfig) {
	f := cmd.Flags()
	f.StringVar(&cfg.SSO.Issuer, "oidc-issuer", "", "the provider's OpenID Connect IdP for staff sign-in (its issuer URL); its redirect URI is <external-url>/auth/callback")
	f.StringVar(&cfg.SSO.ClientID, "oidc-client-id", "", "Lockbox's client id at --oidc-issuer (the client secret is read from LOCKBOX_OIDC_CLIENT_SECRET)")
	f.StringVar(&cfg.SSO.ClientSecret, "oidc-client-secret", "", "Lockbox's client secret at --oidc-issuer: set the variable rather than this flag, whose value shows in the process list")
	f.StringVar(&cfg.SSO.Name, "oidc-name", "", "the IdP's name on the sign-in page, \"Sign in with <name>\" (default: the issuer's host)")
	f.BoolVar(&cfg.SSO.OIDCOnly, "oidc-only", false, "refuse password sign-in to provider staff (admin@localhost excepted, audited, until a staff sign-in through the IdP has worked)")
	f.BoolVar(&cfg.SSO.RequireMFA, "require-mfa", false, "staff confirm password sign-in with a passkey; staff without one sign in with a password only to register one (single sign-on is not affected)")
}

// checkSSOConfig refuses a half-configured staff IdP.
func checkSSOConfig(c ssoConfig) error {
	switch {
	case (c.Issuer == "") != (c.ClientID == ""):
		return usageErrorf("--oidc-issuer and --oidc-client-id go together")
	case c.OIDCOnly && c.Issuer == "":
		return usageErrorf("--oidc-only needs --oidc-issuer and --oidc-client-id")
	case c.Issuer != "":
		u, err := url.Parse(c.Issuer)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return usageErrorf("--oidc-issuer %q must be an https:// URL", c.Issuer)
		}
	}
	return nil
}

func ssoOptions(cfg serverConfig, rs *runningServer) approval.SSOOptions {
	return approval.SSOOptions{
		Client:       oidcrp.New(rs.logger),
		Provider:     lockbox.OIDCProvider{Issuer: cfg.SSO.Issuer, ClientID: cfg.SSO.ClientID, ClientSecret: cfg.SSO.ClientSecret},
		ProviderName: cfg.SSO.Name,
		OIDCOnly:     cfg.SSO.OIDCOnly,
		// Tenants' IdPs on the provider's own network: only where private
		// webhook targets are allowed too (and in --dev, for the test IdP).
		AllowPrivateIdPs: cfg.Dev || cfg.Notify.AllowPrivateWebhooks,
	}
}

// newSSO is the single sign-on service once the server's address is
// known: the redirect URI is <external-url>/auth/callback, or the
// listening address's when no --external-url is set.
func (rs *runningServer) newSSO(cfg serverConfig) *approval.SSO {
	base := cfg.Web.ExternalURL
	if base == "" {
		base = rs.url
	}
	// The session limits' defaults are filled in by checkServe.
	ws := rs.service.WebSessions(approval.WebSessionOptions{IdleTimeout: cfg.Web.IdleTimeout, AbsoluteTimeout: cfg.Web.MaxSession})
	return rs.service.SSO(ws, strings.TrimSuffix(base, "/")+"/auth/callback")
}
