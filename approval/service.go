// Package approval is Lockbox's workflow: it validates input, authorizes the
// caller (through the root package's single authorization point), applies
// the state machine and writes every change with its audit record in one
// store transaction. It also runs the deadline worker and seeds accounts.
//
// It imports only the root package, internal/ratelimit, rules (tenants'
// policy rules in CEL) and the standard library (plus golang.org/x/crypto for password hashing and google/uuid for
// ids): stores and transports are adapters that cmd/lockbox wires in.
package approval

import (
	"context"
	"log/slog"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/internal/ratelimit"
	"github.com/lockboxhq/lockbox/rules"
)

// Options tune a Service. Zero values mean the defaults.
type Options struct {
	Logger *slog.Logger
	// SessionTTL is how long a bearer token from Login stays valid.
	SessionTTL time.Duration
	// SessionClock times bearer tokens: sessions, sign-in tokens and the
	// times inside grants (which data-plane services check on their own
	// clocks). Dev mode keeps it on the wall clock, so moving the workflow
	// clock 12 hours ahead neither signs everyone out nor makes every grant
	// look issued in the future. Default: the service's clock.
	SessionClock lockbox.Clock
	// Password hashing cost (argon2id). Tests lower it; production keeps
	// the defaults (m=19 MiB, t=2, p=1).
	PasswordMemoryKiB uint32
	PasswordTime      uint32
	// LoginBurst failed logins per account are allowed before rate limiting;
	// one more is allowed every LoginRefill.
	LoginBurst  int
	LoginRefill time.Duration
	// ClientLoginBurst failed logins per client address (over any number
	// of accounts) are allowed before rate limiting; one more every
	// ClientLoginRefill.
	ClientLoginBurst  int
	ClientLoginRefill time.Duration
	// Secrets seals the secrets the database must keep, tenants' IdP
	// client secrets and webhook signing secrets (secrets.go), with a key
	// of the key directory, never of the database (keys.Ring.SecretBox).
	// Nil: neither can be created (EUNAVAILABLE).
	Secrets lockbox.SecretBox
	// AllowPrivateWebhooks lets webhook endpoints use plain http and
	// private, loopback or link-local addresses (tests and development).
	AllowPrivateWebhooks bool
	// Resolver looks webhook host names up at registration (nil:
	// net.DefaultResolver).
	Resolver lockbox.Resolver
	// Grants signs and verifies grant tokens (enforce.go). Nil: grants
	// and access checks answer EUNAVAILABLE.
	Grants lockbox.GrantAuthority
	// GrantIssuer is the "iss" of grant tokens (lockbox.DefaultGrantIssuer
	// when empty).
	GrantIssuer string
	// AccessCacheTTL > 0 caches requests and service accounts for access
	// checks (accesscache.go): exact for changes made through this
	// server, at most this stale for changes made by other replicas.
	AccessCacheTTL time.Duration
	// SSO is single sign-on (sso.go): the relying party, the redirect URI
	// and the provider's staff IdP.
	SSO SSOOptions
	// Passkeys runs WebAuthn ceremonies (passkeys.go). Nil: passkey
	// routes answer EUNAVAILABLE, and so does deciding in a tenant that
	// requires signed decisions.
	Passkeys lockbox.PasskeyRelyingParty
	// RequireMFA refuses a password sign-in to staff without a passkey
	// (lockbox serve --require-mfa; mfa.go).
	RequireMFA bool
	// Handoff, when set, is this process's delivery worker: notifications
	// are stored leased to it and handed to it as they commit (handoff.go).
	// Nil: they wait for a worker's round.
	Handoff lockbox.OutboxHandoff
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.SessionTTL == 0 {
		o.SessionTTL = 12 * time.Hour
	}
	if o.PasswordMemoryKiB == 0 {
		o.PasswordMemoryKiB = 19 * 1024
	}
	if o.PasswordTime == 0 {
		o.PasswordTime = 2
	}
	if o.LoginBurst == 0 {
		o.LoginBurst = 10
	}
	if o.LoginRefill == 0 {
		o.LoginRefill = 30 * time.Second
	}
	if o.ClientLoginBurst == 0 {
		o.ClientLoginBurst = 30
	}
	if o.ClientLoginRefill == 0 {
		o.ClientLoginRefill = 10 * time.Second
	}
	return o
}

// Service implements the workflow interfaces of the root package.
type Service struct {
	store lockbox.Store
	clock lockbox.Clock
	opts  Options
	// accountLimit and clientLimit limit failed sign-ins per account and
	// per client address (signinlimit.go); their buckets are in the store,
	// so every replica enforces one limit. clients holds the client limit's
	// buckets in this replica's memory too, so a throttled client's flood
	// is refused without reading the store.
	accountLimit, clientLimit ratelimit.Rule
	// dummyHash makes a login for an unknown address cost as much as one
	// for a known address, so timing does not reveal which accounts exist.
	dummyHash string
	access    *accessCache // nil: no caching (accesscache.go)
	clients   *ratelimit.Limiter
	// locker is the store's cross-process lock, when it has one (seeding).
	locker lockbox.StoreLocker
	// reads is the store itself, unwrapped, for single reads outside a
	// transaction (lockbox.ViewOne): the wrappers of store wrap only
	// Update, and would hide the store's OneReader.
	reads lockbox.Store
	// rules compiles and evaluates tenants' policy rules (policy.go).
	rules *rules.Env
}

var (
	_ lockbox.RequestService = (*Service)(nil)
	_ lockbox.AccountService = (*Service)(nil)
	_ lockbox.TenantService  = (*Service)(nil)
	_ lockbox.CatalogService = (*Service)(nil)
	_ lockbox.PolicyService  = (*Service)(nil)
	_ lockbox.PasskeyService = (*Service)(nil)
)

// New returns a Service on store, reading time from clock.
func New(store lockbox.Store, clock lockbox.Clock, opts Options) *Service {
	opts = opts.withDefaults()
	if opts.SessionClock == nil {
		opts.SessionClock = clock
	}
	s := &Service{
		store:        store,
		clock:        clock,
		opts:         opts,
		accountLimit: ratelimit.Rule{Burst: opts.LoginBurst, Every: opts.LoginRefill},
		clientLimit:  ratelimit.Rule{Burst: opts.ClientLoginBurst, Every: opts.ClientLoginRefill},
		clients:      ratelimit.New(opts.ClientLoginBurst, opts.ClientLoginRefill),
		access:       newAccessCache(opts.AccessCacheTTL),
		rules:        rules.MustEnv(),
	}
	s.locker, _ = store.(lockbox.StoreLocker)
	s.reads = store
	s.store = s.access.wrap(handoffStore{actorStore{store}, opts.Handoff})
	s.dummyHash = s.hashPassword(randomSecret("", 16))
	return s
}

// now is the one timestamp of a transaction, at the precision every store
// keeps (microseconds), so what is written reads back equal.
func (s *Service) now() time.Time {
	return s.clock.Now().UTC().Truncate(time.Microsecond)
}

// sessionNow is the time for issuing and checking bearer tokens.
func (s *Service) sessionNow() time.Time {
	return s.opts.SessionClock.Now().UTC().Truncate(time.Microsecond)
}

// actor returns the authenticated caller or EUNAUTHENTICATED.
// A caller with a one-time password gets EPASSWORDCHANGE (lockbox.CheckActive):
// only signedIn lets them through, for signing out and changing it.
func actor(ctx context.Context) (*lockbox.User, error) {
	u := lockbox.UserFromContext(ctx)
	if err := lockbox.CheckActive(u); err != nil {
		return nil, err
	}
	return u, nil
}

// signedIn returns the caller, even one with a one-time password.
func signedIn(ctx context.Context) (*lockbox.User, error) {
	u := lockbox.UserFromContext(ctx)
	if u == nil || u == lockbox.System {
		return nil, lockbox.Errorf(lockbox.EUNAUTHENTICATED, "Sign in first.")
	}
	return u, nil
}
