// Package guard is what a provider's data-plane service imports to enforce
// Lockbox grants (SPEC §6): it verifies an operator's grant token offline
// against the server's published keys (a cached JWKS, fetched again when a
// token names a key it does not know), optionally asks the server online
// whether the grant still holds, and reports every operator action so it
// lands in the tenant's audit log.
//
//	g, err := guard.New(guard.Config{Server: "https://lockbox.example", ServiceToken: tok, Service: "exchange"})
//	mux.Handle("GET /mailboxes/{user}", g.Protect(guard.Operation("Get-Mailbox", "user"), handler))
//
// Offline verification is fast and needs no network, but cannot see a
// revocation before the token expires (at most 15 minutes); Protect
// therefore reports each action online, which both checks the live state
// and records it. It imports the root package, grant, client and
// internal/middleware only.
package guard

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/client"
	"github.com/lockboxhq/lockbox/grant"
)

// Config configures a Guard.
type Config struct {
	// Server is the Lockbox server's base URL.
	Server string
	// ServiceToken is the bearer token of the service's Lockbox service
	// account (lockbox service-accounts create); needed for online checks
	// and action reports, not for offline verification.
	ServiceToken string
	// Service is this service's name in the Lockbox catalog: a grant is
	// accepted only when its audience is this service.
	Service string
	// Issuer is the accepted "iss" (default lockbox.DefaultGrantIssuer).
	Issuer string
	// Leeway tolerates clock skew between this machine and Lockbox on
	// "nbf" and "iat"; "exp" is always exact.
	Leeway time.Duration
	// HTTPClient talks to Lockbox (default: a client with a 10 s timeout).
	HTTPClient *http.Client
	// Now is the clock for offline checks (default time.Now).
	Now func() time.Time
	// Logger receives what Protect cannot tell the operator: that Lockbox
	// could not be reached (the request then fails closed with 503). Nil
	// means slog.Default() at the time of logging, as for net/http's own
	// logging; pass a discarding logger to silence it.
	Logger *slog.Logger
}

// Guard verifies grants and reports operator actions for one service.
type Guard struct {
	cfg      Config
	verifier *grant.Verifier
	keys     *grant.KeySet
	api      *client.Client
}

// New returns a Guard. It does not contact the server until first used.
func New(cfg Config) (*Guard, error) {
	if cfg.Server == "" || cfg.Service == "" {
		return nil, errors.New("guard: Server and Service are required")
	}
	cfg.Server = strings.TrimSuffix(cfg.Server, "/")
	if cfg.Issuer == "" {
		cfg.Issuer = lockbox.DefaultGrantIssuer
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	g := &Guard{cfg: cfg, api: client.New(cfg.Server, cfg.ServiceToken).WithHTTPClient(cfg.HTTPClient)}
	g.keys = &grant.KeySet{Fetch: g.fetchJWKS}
	g.verifier = &grant.Verifier{Keys: g.keys, Issuer: cfg.Issuer, Leeway: cfg.Leeway, Cache: grant.NewCache(0)}
	return g, nil
}

// Verify checks a grant offline (signature, type, issuer, audience, times)
// and returns its claims. Errors are lockbox EUNAUTHENTICATED errors with a
// reason for the operator, except when the keys cannot be fetched.
func (g *Guard) Verify(ctx context.Context, token string) (*lockbox.GrantClaims, error) {
	c, err := g.verifier.Verify(ctx, token, g.cfg.Now())
	if err != nil {
		return nil, err
	}
	if c.Audience != g.cfg.Service {
		return nil, lockbox.Errorf(lockbox.EUNAUTHENTICATED, "Grant token rejected: it is for service %s, not %s.", c.Audience, g.cfg.Service)
	}
	return c, nil
}

// Allows reports whether a verified grant covers op, offline.
func Allows(c *lockbox.GrantClaims, op string) bool { return grant.HasOperation(c, op) }

// Check asks Lockbox online whether token allows op on resource now: a
// revoked, completed or expired request is refused at once.
func (g *Guard) Check(ctx context.Context, token, op, resource string) (*lockbox.AccessDecision, error) {
	return g.api.CheckAccess(ctx, lockbox.AccessCheck{Token: token, Operation: op, Resource: resource, Service: g.cfg.Service})
}

// Report checks online like Check and records the action in the tenant's
// audit log (operator.action, or operator.action_blocked when refused).
// clientIP is the operator's address as this service saw it.
func (g *Guard) Report(ctx context.Context, token, op, resource, clientIP string) (*lockbox.AccessDecision, error) {
	return g.api.RecordOperatorAction(ctx, lockbox.AccessCheck{Token: token, Operation: op, Resource: resource,
		Service: g.cfg.Service, ClientIP: clientIP})
}

func (g *Guard) logger() *slog.Logger {
	if g.cfg.Logger == nil {
		return slog.Default()
	}
	return g.cfg.Logger
}

func (g *Guard) fetchJWKS(ctx context.Context) (map[string]ed25519.PublicKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.cfg.Server+"/.well-known/jwks.json", nil)
	if err != nil {
		return nil, err
	}
	resp, err := g.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch JWKS: %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("fetch JWKS: %w", err)
	}
	return grant.ParseJWKS(body)
}
