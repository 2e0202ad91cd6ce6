package main

import (
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/spf13/cobra"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
	"github.com/lockboxhq/lockbox/auditlog"
	"github.com/lockboxhq/lockbox/web"
)

// webConfig configures the web admin center of `lockbox serve`.
type webConfig struct {
	// ExternalURL is where people reach the server; https makes session
	// cookies Secure and __Host- prefixed when TLS ends at a proxy.
	ExternalURL string
	IdleTimeout time.Duration
	MaxSession  time.Duration
}

func addServeWebFlags(cmd *cobra.Command, cfg *serverConfig) {
	f := cmd.Flags()
	f.StringVar(&cfg.Web.ExternalURL, "external-url", "", "the URL people open the admin center at (https makes session cookies Secure and __Host- prefixed)")
	f.DurationVar(&cfg.Web.IdleTimeout, "session-idle", 30*time.Minute, "web sessions end after this long without use")
	f.DurationVar(&cfg.Web.MaxSession, "session-max", 12*time.Hour, "web sessions end this long after sign-in, however busy")
}

// checkWebConfig refuses settings that would make sessions meaningless.
func checkWebConfig(c webConfig) error {
	switch {
	case c.IdleTimeout < time.Minute || c.MaxSession < time.Minute:
		return usageErrorf("--session-idle and --session-max must be at least 1m (got %s and %s)", c.IdleTimeout, c.MaxSession)
	case c.IdleTimeout > c.MaxSession:
		return usageErrorf("--session-idle (%s) must not be longer than --session-max (%s)", c.IdleTimeout, c.MaxSession)
	}
	if c.ExternalURL != "" {
		u, err := url.Parse(c.ExternalURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return usageErrorf("--external-url %q must be an http:// or https:// URL", c.ExternalURL)
		}
	}
	return nil
}

// apiPrefixes are served by the JSON API (bearer tokens only, never
// cookies); every other path is the web admin center.
var apiPrefixes = []string{"/v1/", "/.well-known/", "/healthz", "/readyz", "/metrics"}

// withWeb returns the server's handler: the API at its prefixes and the
// admin center everywhere else. The audit page checks the checkpoint's
// cosignatures by witnesses (those the log sends its checkpoints to).
func (rs *runningServer) withWeb(cfg serverConfig, api http.Handler, audit lockbox.AuditService, witnesses []auditlog.Witness, quorum int,
	devClock *lockbox.OffsetClock) (http.Handler, error) {
	// cfg.Web is checked, and its defaults filled in, by checkServe.
	var clock lockbox.Clock = lockbox.SystemClock{}
	if devClock != nil {
		clock = devClock
	}
	admin, err := web.New(web.Config{
		Requests: rs.service, Accounts: rs.service, Tenants: rs.service, Catalog: rs.service,
		Sessions: rs.service.WebSessions(approval.WebSessionOptions{IdleTimeout: cfg.Web.IdleTimeout, AbsoluteTimeout: cfg.Web.MaxSession}),
		Audit:    audit, Grants: rs.service, Policies: rs.service, DevMail: rs.notify.devMailbox(), Dev: cfg.Dev, Clock: clock,
		Passkeys: rs.service, Webhooks: rs.service,
		ExternalURL: cfg.Web.ExternalURL, Logger: rs.logger, Witnesses: witnesses, WitnessQuorum: quorum,
		SSO: rs.sso,
	})
	if err != nil {
		return nil, fmt.Errorf("web admin center: %w", err)
	}
	mux := http.NewServeMux()
	for _, p := range apiPrefixes {
		mux.Handle(p, api)
	}
	mux.Handle("/", admin)
	return mux, nil
}
