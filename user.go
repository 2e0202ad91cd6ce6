package lockbox

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Role is what a user may do. Provider roles and tenant roles are disjoint:
// a user belongs to the provider (Tenant == "") or to exactly one tenant.
type Role string

const (
	RoleOperator        Role = "operator"
	RoleSupportManager  Role = "support_manager"
	RoleProviderAdmin   Role = "provider_admin"
	RoleServiceAccount  Role = "service_account"
	RoleGlobalAdmin     Role = "global_admin"
	RoleLockboxApprover Role = "lockbox_approver"
	RoleAuditReader     Role = "audit_reader"
)

// ProviderRoles are the roles a provider staff member may hold.
var ProviderRoles = []Role{RoleOperator, RoleSupportManager, RoleProviderAdmin}

// TenantRoles are the roles a tenant user may hold.
var TenantRoles = []Role{RoleGlobalAdmin, RoleLockboxApprover, RoleAuditReader}

// User is an authenticated principal: provider staff, a provider service
// account, or a tenant user.
type User struct {
	ID             string `json:"id"`
	Email          string `json:"email"`
	Name           string `json:"name,omitempty"`
	Tenant         string `json:"tenant,omitempty"`
	Roles          []Role `json:"roles"`
	ServiceAccount bool   `json:"service_account,omitempty"`
	// Disabled staff cannot sign in; their tokens and sessions were ended
	// when they were disabled (SPEC §10.1).
	Disabled bool `json:"disabled,omitempty"`
	// PasswordChangeRequired: the account's password is a one-time
	// password (a reset, the bootstrap admin's, a generated initial one).
	// Until it is changed every call but the change answers 403
	// password_change_required (CheckActive).
	PasswordChangeRequired bool `json:"password_change_required,omitempty"`
	// PasskeySetupRequired: this session signed in with a password alone
	// where a passkey is mandatory (--require-mfa, require_mfa), and the
	// account has none yet. Until it has one the session may only register
	// one (CheckActiveFor). A property of the session, never stored with
	// the account, hence not in JSON.
	PasskeySetupRequired bool      `json:"-"`
	CreatedAt            time.Time `json:"created_at"`
	// InitialPassword is set only in the response that creates the account
	// when no password was given: it is shown once and stored hashed.
	InitialPassword string `json:"initial_password,omitempty"`
}

// System is the principal of background workers. It is never authenticated
// from outside and never appears as a human decider.
var System = &User{ID: "system", Email: "system"}

// PolicyActor is the principal of a tenant's policy rule that decides a
// request by itself (SPEC §11): it is recorded as "policy:<rule id>" with
// actor type policy. It belongs to the tenant whose rule it is and holds
// no role; like System it is never authenticated from outside.
func PolicyActor(tenant, ruleID string) *User {
	return &User{ID: policyIDPrefix + ruleID, Email: policyIDPrefix + ruleID, Tenant: tenant}
}

// policyIDPrefix starts a PolicyActor's id. Accounts' ids are UUIDs that
// the service generates, so no account has one that starts so.
const policyIDPrefix = "policy:"

// IsPolicy reports whether u is a policy rule deciding (PolicyActor).
func (u *User) IsPolicy() bool { return u != nil && strings.HasPrefix(u.ID, policyIDPrefix) }

// HasRole reports whether u holds any of the roles.
func (u *User) HasRole(roles ...Role) bool {
	if u == nil {
		return false
	}
	for _, r := range roles {
		if slices.Contains(u.Roles, r) {
			return true
		}
	}
	return false
}

// IsProvider reports whether u is provider staff or a provider service account.
func (u *User) IsProvider() bool { return u != nil && u.Tenant == "" && u != System && !u.IsPolicy() }

// IsTenantApprover reports whether u may decide requests of tenant t.
func (u *User) IsTenantApprover(t string) bool {
	return u != nil && u.Tenant == t && u.HasRole(RoleGlobalAdmin, RoleLockboxApprover)
}

var emailRE = regexp.MustCompile(`^[^@\s\x00-\x1f\x7f\x{80}-\x{9f}<>()",;:\\\[\]]{1,64}@[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$`)

// NormalizeEmail lower-cases and trims an address so that aliases differing in
// case are the same account (and so the same person for separation of duties).
func NormalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// ValidEmail reports whether s looks like a deliverable address.
func ValidEmail(s string) bool { return len(s) <= 254 && emailRE.MatchString(s) }

// ValidateRoles checks that roles are known, not repeated, and all of the
// population (provider or tenant) given.
func ValidateRoles(roles []Role, tenant bool) error {
	allowed := ProviderRoles
	if tenant {
		allowed = TenantRoles
	}
	if len(roles) == 0 {
		return FieldErrorf(EINVALID, "roles", "At least one role is required (one of %s).", joinRoles(allowed))
	}
	seen := map[Role]bool{}
	for _, r := range roles {
		if !slices.Contains(allowed, r) {
			return FieldErrorf(EINVALID, "roles", "Unknown role %q; use one of %s.", r, joinRoles(allowed))
		}
		if seen[r] {
			return FieldErrorf(EINVALID, "roles", "Role %q is listed twice.", r)
		}
		seen[r] = true
	}
	return nil
}

func joinRoles(rs []Role) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}

// NewUser is the input to create a user.
type NewUser struct {
	Email    string `json:"email"`
	Name     string `json:"name,omitempty"`
	Roles    []Role `json:"roles"`
	Password string `json:"password,omitempty"`
}

// UserUpdate changes a user's roles.
type UserUpdate struct {
	Roles []Role `json:"roles"`
}

// StaffUpdate changes a staff member: nil fields stay as they are.
type StaffUpdate struct {
	Roles    []Role `json:"roles,omitempty"`
	Disabled *bool  `json:"disabled,omitempty"`
}

// PasswordChange is the body of POST /v1/me/password.
type PasswordChange struct {
	Current string `json:"current"`
	New     string `json:"new"`
}

// OneTimePassword is the answer to a password reset: shown once.
type OneTimePassword struct {
	Email    string `json:"email"`
	Password string `json:"one_time_password"`
}

// Token is a stored bearer credential (an API token or a web session):
// its hash, never the token itself.
type Token struct {
	Hash       []byte
	UserID     string
	CreatedAt  time.Time
	LastUsedAt *time.Time // nil: never used since it was issued
	ExpiresAt  time.Time  // zero: never expires (service accounts)
}

// Token kinds in TokenInfo.
const (
	TokenKindAPI = "api" // a bearer token from POST /v1/auth/token
	TokenKindWeb = "web" // an admin center session
)

// TokenInfo describes one of the caller's sessions or API tokens
// (GET /v1/me/tokens). The ID names it for DELETE /v1/me/tokens/{id}; it
// is derived from the stored hash and useless as a credential.
type TokenInfo struct {
	ID         string     `json:"id"`
	Kind       string     `json:"kind"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	Current    bool       `json:"current,omitempty"` // the credential of this call
}

// ServiceAccount is a data-plane service's identity. Token is set only in
// the response that creates it: it is stored hashed and never shown again.
type ServiceAccount struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Token     string    `json:"token,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	// LastUsedAt: the latest use of any of its tokens (nil: never used).
	// GraceEndsAt: when a rotated-out token stops (nil: no token is in a
	// grace period). Both are set by the listing only.
	LastUsedAt  *time.Time `json:"last_used_at,omitempty"`
	GraceEndsAt *time.Time `json:"grace_ends_at,omitempty"`
}

// Session is a bearer token issued to a user.
type Session struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
	// PasswordChangeRequired: the password was a one-time password, and
	// this token may only change it (POST /v1/me/password).
	PasswordChangeRequired bool `json:"password_change_required,omitempty"`
	// PasskeySetupRequired: a passkey is mandatory for this account and it
	// has none, and this token may only register one (and sign out, and
	// change a one-time password) until it has.
	PasskeySetupRequired bool `json:"passkey_setup_required,omitempty"`
}

// AccountService manages authentication, provider staff, service accounts
// and tenant users. Every method authorizes the caller in the context.
type AccountService interface {
	// Login checks a password and issues a bearer token. EUNAUTHENTICATED on
	// any mismatch (unknown email and wrong password look the same);
	// ERATELIMITED after too many failures for one account.
	Login(ctx context.Context, email, password string) (*Session, error)
	// Authenticate resolves a bearer token to its user; EUNAUTHENTICATED when
	// unknown or expired.
	Authenticate(ctx context.Context, token string) (*User, error)
	// Me returns the caller.
	Me(ctx context.Context) (*User, error)

	// ListStaff, AddStaff: provider_admin only.
	ListStaff(ctx context.Context) ([]*User, error)
	AddStaff(ctx context.Context, in NewUser) (*User, error)
	// CreateServiceAccount: provider_admin only. The token is in the result, once.
	CreateServiceAccount(ctx context.Context, name string) (*ServiceAccount, error)

	// Logout ends the credential of the call (ctx's, see
	// NewContextWithCredential). Allowed with a one-time password.
	Logout(ctx context.Context) error
	// ChangePassword changes the caller's password (EINVALID with field
	// "current" or "new" when wrong or too weak) and ends every other
	// session and token of theirs. Allowed with a one-time password.
	ChangePassword(ctx context.Context, in PasswordChange) error
	// ListMyTokens lists the caller's live sessions and API tokens;
	// RevokeMyToken ends one (ENOTFOUND for an id not theirs).
	ListMyTokens(ctx context.Context) ([]*TokenInfo, error)
	RevokeMyToken(ctx context.Context, id string) error

	// UpdateStaff, RemoveStaff, ResetStaffPassword: provider_admin, never
	// on themselves (EFORBIDDEN) nor on a tenant user (ENOTFOUND). Disabling
	// or removing ends the member's sessions and tokens and ends their
	// requests (approved/active revoked, open canceled), in one transaction.
	UpdateStaff(ctx context.Context, email string, upd StaffUpdate) (*User, error)
	RemoveStaff(ctx context.Context, email string) error
	ResetStaffPassword(ctx context.Context, email string) (*OneTimePassword, error)
	// ResetTenantUserPassword: the tenant's global_admin.
	ResetTenantUserPassword(ctx context.Context, tenant, email string) (*OneTimePassword, error)

	// Service accounts: provider_admin. Rotate returns the new token once;
	// the old one stops after grace (0: at once).
	ListServiceAccounts(ctx context.Context) ([]*ServiceAccount, error)
	RevokeServiceAccount(ctx context.Context, name string) error
	RotateServiceAccount(ctx context.Context, name string, grace time.Duration) (*ServiceAccount, error)

	// Tenant users: global_admin of that tenant (list: approvers too).
	// Another tenant's users answer ENOTFOUND.
	ListTenantUsers(ctx context.Context, tenant string) ([]*User, error)
	AddTenantUser(ctx context.Context, tenant string, in NewUser) (*User, error)
	UpdateTenantUser(ctx context.Context, tenant, email string, upd UserUpdate) (*User, error)
	RemoveTenantUser(ctx context.Context, tenant, email string) error
}
