package lockbox

import (
	"context"
	"time"
)

// Store is the persistence port. Each backend (sqlite, postgres) implements
// it with the same behaviour, proven by the storetest conformance suite.
// Stores hold no business rules: the workflow services decide, stores keep.
type Store interface {
	// Update runs fn in one read-write transaction and commits when fn
	// returns nil. A request read with Tx.GetRequest inside Update is locked
	// until the transaction ends, so decisions on one request serialize
	// across goroutines and server replicas.
	//
	// fn may be run a second time, all the changes of its first run rolled
	// back: the PostgreSQL store does this when fn, sharing a transaction
	// with other Updates, found a row locked elsewhere, and both stores
	// when fn's audit read (or, on PostgreSQL, its DeleteWebhook) must
	// first see what other Updates committed before it queued (below),
	// even if fn returned nil after that statement failed. So fn must leave nothing behind outside tx when a run does
	// not commit, and must not call Update or View on the same Store.
	//
	// fn's audit reads see the records of every Update committed before
	// it, those of Updates committed together with it included (both
	// stores write a group's appends at its commit: an Update whose read
	// could return one of them, AuditQuery.MayMatch, is run again after
	// they are written). fn's own appends it need not read back.
	Update(ctx context.Context, fn func(Tx) error) error
	// View runs fn in a read-only transaction.
	View(ctx context.Context, fn func(Tx) error) error
	// Ping reports whether the database answers (readiness), and for a
	// database several replicas share, whether this process's clock agrees
	// with the database server's: deadlines are judged on it.
	Ping(ctx context.Context) error
	Close() error
}

// OneReader is a Store that can run a single read without a transaction
// of its own: on PostgreSQL, a View is three round trips (BEGIN, the read,
// ROLLBACK) where one statement needs one. Use it through ViewOne.
type OneReader interface {
	// ViewOne runs fn, which must make exactly one call to a Tx method
	// that reads with one statement (UserByToken, TokenByHash), outside
	// any transaction. It fails if fn made more than one statement.
	ViewOne(ctx context.Context, fn func(Tx) error) error
}

// TokenFinder is a Store that looks bearer tokens up outside any
// transaction, letting the lookups made at the same moment share one
// statement (PostgreSQL: one round trip for all the calls being
// authenticated at once). FindToken answers as Tx.TokenByHash does in a
// read of its own; nothing is cached. Use it through FindToken.
type TokenFinder interface {
	FindToken(ctx context.Context, hash []byte, now time.Time) (*Token, *User, error)
}

// FindToken resolves a token hash valid at now with the store's
// TokenFinder if it has one, else with Tx.TokenByHash in ViewOne.
func FindToken(ctx context.Context, s Store, hash []byte, now time.Time) (k *Token, u *User, err error) {
	if f, ok := s.(TokenFinder); ok {
		return f.FindToken(ctx, hash, now)
	}
	err = ViewOne(ctx, s, func(tx Tx) error {
		k, u, err = tx.TokenByHash(ctx, hash, now)
		return err
	})
	return k, u, err
}

// ViewOne runs fn, one read (see OneReader), with the store's ViewOne if
// it has one, else in View.
func ViewOne(ctx context.Context, s Store, fn func(Tx) error) error {
	if r, ok := s.(OneReader); ok {
		return r.ViewOne(ctx, fn)
	}
	return s.View(ctx, fn)
}

// Tx is the set of operations inside one transaction. Times passed in are
// the caller's clock: stores never read their own clock.
type Tx interface {
	AuditLogTx // audit search, leaves and Merkle hashes (auditlog.go)

	SessionTx     // web admin center sessions (websession.go)
	SSOTx         // single sign-on: tenants' IdPs, flows in progress (sso.go)
	KeysTx        // published signing keys (signingkey.go)
	OutboxTx      // notification outbox, webhook endpoints, reminders (notify.go)
	PasskeyTx     // passkeys and WebAuthn challenges (passkey.go)
	SignInLimitTx // failed sign-ins per account and client, shared by replicas (signinlimit.go)
	// InsertRequest stores a new request, its Deadline and RemindAt
	// included. ECONFLICT when the id or reference is taken.
	InsertRequest(ctx context.Context, r *AccessRequest) error
	// GetRequest finds a request by id or reference (ENOTFOUND) and, inside
	// Update, locks it.
	GetRequest(ctx context.Context, idOrRef string) (*AccessRequest, error)
	// UpdateRequest writes r's mutable fields if the stored version is still
	// prevVersion; ECONFLICT otherwise.
	UpdateRequest(ctx context.Context, r *AccessRequest, prevVersion int) error
	// ListRequests returns requests matching q, newest first (created_at,
	// then id, descending), at most q.Limit of them.
	ListRequests(ctx context.Context, q RequestQuery) ([]*AccessRequest, error)
	// DueRequests returns the ids of requests whose stored Deadline (which
	// the workflow computes, see AccessRequest.Schedule) is at or before now,
	// in id order after afterID, at most limit of them (none: no limit).
	DueRequests(ctx context.Context, now time.Time, afterID string, limit int) ([]string, error)
	// NextDue returns the earliest stored Deadline after now, or zero if none.
	NextDue(ctx context.Context, now time.Time) (time.Time, error)

	InsertTenant(ctx context.Context, t *Tenant, s Settings) error // ECONFLICT when taken
	GetTenant(ctx context.Context, name string) (*Tenant, error)   // ENOTFOUND
	ListTenants(ctx context.Context) ([]*Tenant, error)
	GetSettings(ctx context.Context, tenant string) (*Settings, error) // ENOTFOUND
	// LockSettings is GetSettings that, inside Update, holds the tenant's
	// settings until the transaction ends: shared while writing something
	// computed from them (a pending request's reminder time), exclusive to
	// change them. So a settings change and a write that used the old values
	// never interleave: the change waits, then sees that write, or the write
	// waits, then reads the new values.
	LockSettings(ctx context.Context, tenant string, exclusive bool) (*Settings, error)
	UpdateSettings(ctx context.Context, tenant string, s Settings) error
	// GetPolicy returns a tenant's policy rules (none: an empty list);
	// ENOTFOUND for an unknown tenant. Read it after LockSettings to hold
	// it too: the rules live on the settings' row.
	GetPolicy(ctx context.Context, tenant string) (*Policy, error)
	// UpdatePolicy replaces a tenant's rules; ENOTFOUND for an unknown
	// tenant.
	UpdatePolicy(ctx context.Context, tenant string, p Policy) error

	// InsertUser stores an account; ECONFLICT when its population (u.Tenant:
	// one tenant, or "" for provider staff and service accounts) has an
	// account with the email already, in any letter case. Other populations
	// may have one: an address is one account per population.
	InsertUser(ctx context.Context, u *User, passwordHash string) error
	// GetUserByEmail returns the account of email in population tenant
	// ("" for provider staff and service accounts) and its password hash;
	// ENOTFOUND.
	GetUserByEmail(ctx context.Context, tenant, email string) (*User, string, error)
	// UsersByEmail returns every account with the email, in any population,
	// ordered by tenant, with their password hashes (sign-in).
	UsersByEmail(ctx context.Context, email string) ([]*User, []string, error)
	GetUserByID(ctx context.Context, id string) (*User, error) // ENOTFOUND
	// ListUsers lists a tenant's users, or provider staff when tenant is ""
	// (service accounts excluded), ordered by email.
	ListUsers(ctx context.Context, tenant string) ([]*User, error)
	UpdateUserRoles(ctx context.Context, id string, roles []Role) error
	DeleteUser(ctx context.Context, id string) error
	// LockUser is GetUserByID that, inside Update, holds the user's row
	// until the transaction ends (shared, or exclusive to change the
	// account), so a transaction acting as a user and one disabling or
	// deleting that user never interleave. ENOTFOUND.
	LockUser(ctx context.Context, id string, exclusive bool) (*User, error)
	// SetPassword stores a new password hash and whether it is a one-time
	// password; ENOTFOUND when there is no such user.
	SetPassword(ctx context.Context, id, passwordHash string, changeRequired bool) error
	// SetUserDisabled marks a user disabled or enabled; ENOTFOUND.
	SetUserDisabled(ctx context.Context, id string, disabled bool) error
	// ListServiceAccounts lists the service accounts, ordered by email.
	ListServiceAccounts(ctx context.Context) ([]*User, error)

	// InsertToken stores a bearer token's hash. expiresAt zero: never expires.
	InsertToken(ctx context.Context, hash []byte, userID string, createdAt, expiresAt time.Time) error
	// UserByToken resolves a token hash valid at now, of a user who is not
	// disabled; ENOTFOUND otherwise.
	UserByToken(ctx context.Context, hash []byte, now time.Time) (*User, error)
	// TokenByHash is UserByToken with the stored token.
	TokenByHash(ctx context.Context, hash []byte, now time.Time) (*Token, *User, error)
	// TouchToken records that the token was used at now.
	TouchToken(ctx context.Context, hash []byte, now time.Time) error
	// ListUserTokens lists a user's tokens valid at now, oldest first.
	ListUserTokens(ctx context.Context, userID string, now time.Time) ([]*Token, error)
	// DeleteToken removes one token (a missing one is not an error).
	DeleteToken(ctx context.Context, hash []byte) error
	// ExpireUserTokens makes every token of a user that would be valid
	// after at expire at at (none is not an error).
	ExpireUserTokens(ctx context.Context, userID string, at time.Time) error
	DeleteUserTokens(ctx context.Context, userID string) error

	PutService(ctx context.Context, s *Service) error
	GetService(ctx context.Context, name string) (*Service, error) // ENOTFOUND
	ListServices(ctx context.Context) ([]*Service, error)

	// AppendAudit appends rec to the log named rec.Tenant (ProviderLog for
	// the provider's own log) as part of this transaction: it commits or
	// rolls back with everything else. rec.Index is the next index of that
	// log, set at the latest when Update returns (PostgreSQL assigns it just
	// before commit, to hold the log's head lock briefly), so code inside the
	// transaction must not rely on it or read the record back. Indexes are
	// gap-free from 0 and appends to one log serialize. ECONFLICT when a
	// record with rec.ID exists: from AppendAudit (the transaction goes on),
	// or from Update, which then commits nothing (PostgreSQL writes the
	// record with the COMMIT).
	AppendAudit(ctx context.Context, rec *AuditRecord) error
	// AuditRecords returns a log's records with start <= index < end.
	AuditRecords(ctx context.Context, log string, start, end int64) ([]*AuditRecord, error)
	// AuditSize returns the number of records in a log.
	AuditSize(ctx context.Context, log string) (int64, error)
}

// RequestQuery is what the store filters on. Visibility constraints are
// set by the workflow service from authz, never by a client.
type RequestQuery struct {
	Tenant        string
	Statuses      []Status
	Service       string
	CreatedAfter  *time.Time
	RequesterID   string // only this requester's requests, when set
	TenantVisible bool   // only requests that have reached the tenant
	NeedsReview   bool   // only requests with NeedsReview
	// OrDueBy, when set, widens the Statuses filter: a request whose
	// Deadline is at or before OrDueBy matches whatever its stored status,
	// since the event due then changes it (the workflow settles such rows
	// and filters them on the status they have now).
	OrDueBy *time.Time
	// Before is the keyset cursor: only rows strictly older than
	// (BeforeCreatedAt, BeforeID) in (created_at desc, id desc) order.
	BeforeCreatedAt *time.Time
	BeforeID        string
	Limit           int
}
