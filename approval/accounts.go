package approval

import (
	"context"
	"slices"
	"time"

	"github.com/lockboxhq/lockbox"
)

// Login checks a password and issues a bearer token.
func (s *Service) Login(ctx context.Context, email, password string) (*lockbox.Session, error) {
	now := s.sessionNow()
	u, err := s.verifyPassword(ctx, email, password, now)
	if err != nil {
		return nil, err
	}
	if u, err = s.secondFactor(ctx, u, now); err != nil {
		return nil, err
	}
	return s.issueToken(ctx, u, SignInPassword, now)
}

// verifyPassword returns the account of email when password is its
// password. Every sign-in path (API token, web session) goes through it, so
// they share one limit on failures per account and one per client address
// (a spray of one password over many accounts from one client is stopped
// by the second). A disabled account fails like a wrong password.
func (s *Service) verifyPassword(ctx context.Context, email, password string, now time.Time) (*lockbox.User, error) {
	// Text no account can have (a NUL, invalid UTF-8) is refused as input
	// (an empty one is a wrong sign-in like any unknown address),
	// the same on every store, before it reaches one: PostgreSQL would
	// refuse it as a parameter, SQLite would look it up.
	if err := lockbox.ValidText("email", email, 254, false); err != nil {
		return nil, err
	}
	email = lockbox.NormalizeEmail(email)
	client := clientKey(ctx)
	if err := s.loginLimited(ctx, email, client, now); err != nil {
		return nil, err
	}
	var users []*lockbox.User
	var hashes []string
	err := s.store.View(ctx, func(tx lockbox.Tx) error {
		var err error
		users, hashes, err = tx.UsersByEmail(ctx, email)
		return err
	})
	if err != nil {
		return nil, err
	}
	u, err := s.matchPassword(users, hashes, password)
	if u == nil {
		s.failedSignIn(ctx, email, client, now)
		return nil, err
	}
	// Enforced single sign-on refuses a right password too (sso.go).
	if err := s.passwordAllowed(ctx, u); err != nil {
		return nil, err
	}
	return u, nil
}

// matchPassword returns the account, among those with one address (one
// per population, docs/identity.md), whose password is password. An
// unknown address costs one hash like a known one. Each account signs in
// only with its own password; when one password opens accounts of several
// populations, which one is meant cannot be guessed: the person is told
// to give each its own password (they proved they hold them all).
func (s *Service) matchPassword(users []*lockbox.User, hashes []string, password string) (*lockbox.User, error) {
	if len(users) == 0 {
		checkPassword(s.dummyHash, password)
		return nil, errBadLogin()
	}
	var match []*lockbox.User
	for i, u := range users {
		if hashes[i] != "" && checkPassword(hashes[i], password) && !u.Disabled {
			match = append(match, u)
		}
	}
	switch len(match) {
	case 0:
		return nil, errBadLogin()
	case 1:
		return match[0], nil
	}
	return nil, lockbox.Errorf(lockbox.ECONFLICT, "This password opens accounts of this address in several organisations, so Lockbox cannot tell which you mean: give each account its own password.")
}

func errBadLogin() error {
	return lockbox.Errorf(lockbox.EUNAUTHENTICATED, "Wrong email or password.")
}

// issueToken stores a new bearer token for u, valid for the session TTL,
// with its sign-in record (signInRecord; how is how u proved who they
// are). It writes as u (actorStore), so a token is never issued to an
// account removed or disabled since its password was checked.
func (s *Service) issueToken(ctx context.Context, u *lockbox.User, how string, now time.Time) (*lockbox.Session, error) {
	token := randomSecret(sessionPrefix("lbt", u), 32)
	expires := now.Add(s.opts.SessionTTL)
	err := s.store.Update(lockbox.NewContextWithUser(ctx, u), func(tx lockbox.Tx) error {
		if err := tx.InsertToken(ctx, tokenHash(token), u.ID, now, expires); err != nil {
			return err
		}
		return appendAudit(ctx, tx, signInRecord(ctx, u, how, "api_token", now))
	})
	if lockbox.ErrorCode(err) == lockbox.EUNAUTHENTICATED {
		return nil, errBadLogin()
	} else if err != nil {
		return nil, err
	}
	return &lockbox.Session{Token: token, ExpiresAt: expires, PasswordChangeRequired: u.PasswordChangeRequired,
		PasskeySetupRequired: u.PasskeySetupRequired}, nil
}

// Authenticate resolves a bearer token to its user.
func (s *Service) Authenticate(ctx context.Context, token string) (*lockbox.User, error) {
	if token == "" {
		return nil, lockbox.Errorf(lockbox.EUNAUTHENTICATED, "Sign in first.")
	}
	if u, ok := s.access.serviceAccount(token); ok { // data-plane hot path (accesscache.go)
		return u, nil
	}
	epoch := s.access.begin()
	now := s.sessionNow()
	// One statement, no transaction of its own (a round trip less on
	// PostgreSQL for every authenticated call), which calls authenticated
	// at the same moment may share (lockbox.TokenFinder).
	k, u, err := lockbox.FindToken(ctx, s.reads, tokenHash(token), now)
	if lockbox.ErrorCode(err) == lockbox.ENOTFOUND {
		return nil, lockbox.Errorf(lockbox.EUNAUTHENTICATED, "Your session is invalid or has expired; sign in again.")
	} else if err != nil {
		return nil, err
	}
	// touchEvery (websession.go) also bounds how stale a token's "last
	// used" may get: one write a minute per token, not one per call.
	if k.LastUsedAt == nil || now.Sub(*k.LastUsedAt) >= touchEvery {
		// Bookkeeping for GET /v1/me/tokens: a failure to record it must
		// not refuse the call.
		if err := s.store.Update(ctx, func(tx lockbox.Tx) error { return tx.TouchToken(ctx, k.Hash, now) }); err != nil {
			s.opts.Logger.WarnContext(ctx, "record token use", "err", err)
		}
	}
	// Only tokens that never expire are cached: a rotated token in its
	// grace period must stop at its expiry, which the cache cannot see.
	if k.ExpiresAt.IsZero() {
		s.access.putServiceAccount(token, u, epoch)
	}
	return s.setupSession(ctx, token, u)
}

// Me returns the caller.
func (s *Service) Me(ctx context.Context) (*lockbox.User, error) {
	return actor(ctx)
}

// ListStaff lists provider staff.
func (s *Service) ListStaff(ctx context.Context) ([]*lockbox.User, error) {
	return s.listUsers(ctx, lockbox.PermManageStaff, "")
}

func (s *Service) listUsers(ctx context.Context, p lockbox.Permission, tenant string) ([]*lockbox.User, error) {
	u, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	if err := lockbox.Authorize(u, p, tenant); err != nil {
		return nil, err
	}
	var out []*lockbox.User
	err = s.store.View(ctx, func(tx lockbox.Tx) error {
		if tenant != "" {
			if _, err := tx.GetTenant(ctx, tenant); err != nil {
				return err
			}
		}
		out, err = tx.ListUsers(ctx, tenant)
		return err
	})
	return out, err
}

// AddStaff creates a provider staff account.
func (s *Service) AddStaff(ctx context.Context, in lockbox.NewUser) (*lockbox.User, error) {
	u, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	if err := lockbox.Authorize(u, lockbox.PermManageStaff, ""); err != nil {
		return nil, err
	}
	var out *lockbox.User
	err = s.store.Update(ctx, func(tx lockbox.Tx) error {
		now := s.now()
		out, err = s.insertUser(ctx, tx, "", in, now)
		if err != nil {
			return err
		}
		rec := newRecord(ctx, u, lockbox.ProviderLog, lockbox.RecordProviderAdmin, lockbox.OpStaffAdded, now)
		rec.AuditData = map[string]any{"email": out.Email, "roles": out.Roles}
		return appendAudit(ctx, tx, rec)
	})
	return out, err
}

// insertUser validates and stores a new account. With no password given it
// generates one and returns it once in InitialPassword.
func (s *Service) insertUser(ctx context.Context, tx lockbox.Tx, tenant string, in lockbox.NewUser, now time.Time) (*lockbox.User, error) {
	email := lockbox.NormalizeEmail(in.Email)
	if !lockbox.ValidEmail(email) {
		return nil, lockbox.FieldErrorf(lockbox.EINVALID, "email", "%q is not an email address.", in.Email)
	}
	if err := lockbox.ValidateRoles(in.Roles, tenant != ""); err != nil {
		return nil, err
	}
	if err := lockbox.ValidText("name", in.Name, 200, false); err != nil {
		return nil, err
	}
	pw, initial := in.Password, ""
	if pw == "" {
		pw = oneTimePassword()
		initial = pw
	} else if len(pw) < 8 || len(pw) > 256 {
		return nil, lockbox.FieldErrorf(lockbox.EINVALID, "password", "A password must be 8 to 256 characters long.")
	}
	// A generated password is one-time: shown to whoever created the
	// account, so its owner must replace it before doing anything.
	nu := &lockbox.User{ID: newID(), Email: email, Name: in.Name, Tenant: tenant,
		Roles: slices.Clone(in.Roles), CreatedAt: now, PasswordChangeRequired: initial != ""}
	// Only the same population conflicts (docs/identity.md): another
	// tenant's account with this address is never visible here.
	if err := tx.InsertUser(ctx, nu, s.hashPassword(pw)); lockbox.ErrorCode(err) == lockbox.ECONFLICT {
		if tenant == "" {
			return nil, lockbox.Errorf(lockbox.ECONFLICT, "The provider already has an account %s.", email)
		}
		return nil, lockbox.Errorf(lockbox.ECONFLICT, "%s is already a user of tenant %s.", email, tenant)
	} else if err != nil {
		return nil, err
	}
	out := *nu
	out.InitialPassword = initial
	return &out, nil
}

// CreateServiceAccount creates a data-plane service identity.
func (s *Service) CreateServiceAccount(ctx context.Context, name string) (*lockbox.ServiceAccount, error) {
	return s.createServiceAccount(ctx, name, randomSecret("lbs_", 32))
}

func (s *Service) createServiceAccount(ctx context.Context, name, token string) (*lockbox.ServiceAccount, error) {
	u, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	if err := lockbox.Authorize(u, lockbox.PermManageStaff, ""); err != nil {
		return nil, err
	}
	if err := lockbox.ValidateTenantName(name); err != nil {
		return nil, lockbox.FieldErrorf(lockbox.EINVALID, "name", "Service account name %q must be 2–63 lower-case letters, digits or hyphens.", name)
	}
	var out *lockbox.ServiceAccount
	err = s.store.Update(ctx, func(tx lockbox.Tx) error {
		now := s.now()
		sa := &lockbox.User{ID: newID(), Email: "service:" + name, Name: name,
			Roles: []lockbox.Role{lockbox.RoleServiceAccount}, ServiceAccount: true, CreatedAt: now}
		if err := tx.InsertUser(ctx, sa, ""); lockbox.ErrorCode(err) == lockbox.ECONFLICT {
			return lockbox.Errorf(lockbox.ECONFLICT, "Service account %s already exists.", name)
		} else if err != nil {
			return err
		}
		if err := tx.InsertToken(ctx, tokenHash(token), sa.ID, now, time.Time{}); err != nil {
			return err
		}
		rec := newRecord(ctx, u, lockbox.ProviderLog, lockbox.RecordProviderAdmin, lockbox.OpServiceAccountCreated, now)
		rec.AuditData = map[string]any{"name": name}
		out = &lockbox.ServiceAccount{ID: sa.ID, Name: name, Token: token, CreatedAt: now}
		return appendAudit(ctx, tx, rec)
	})
	return out, err
}

// ListTenantUsers lists a tenant's users.
func (s *Service) ListTenantUsers(ctx context.Context, tenant string) ([]*lockbox.User, error) {
	return s.listUsers(ctx, lockbox.PermReadTenantUsers, tenant)
}

// AddTenantUser adds a user to the caller's tenant (global_admin only).
func (s *Service) AddTenantUser(ctx context.Context, tenant string, in lockbox.NewUser) (*lockbox.User, error) {
	u, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	if err := lockbox.Authorize(u, lockbox.PermWriteTenantUsers, tenant); err != nil {
		return nil, err
	}
	var out *lockbox.User
	err = s.store.Update(ctx, func(tx lockbox.Tx) error {
		if _, err := tx.GetTenant(ctx, tenant); err != nil {
			return err
		}
		now := s.now()
		if out, err = s.insertUser(ctx, tx, tenant, in, now); err != nil {
			return err
		}
		return auditRoles(ctx, tx, u, tenant, out.Email, out.Roles, nil, now)
	})
	return out, err
}

// auditRoles writes one role.assigned or role.removed record per role change.
func auditRoles(ctx context.Context, tx lockbox.Tx, u *lockbox.User, tenant, email string, added, removed []lockbox.Role, now time.Time) error {
	write := func(op string, r lockbox.Role) error {
		rec := newRecord(ctx, u, tenant, lockbox.RecordTenantAdmin, op, now)
		rec.AuditData = map[string]any{"target_user": email, "role": string(r)}
		return appendAudit(ctx, tx, rec)
	}
	for _, r := range added {
		if err := write(lockbox.OpRoleAssigned, r); err != nil {
			return err
		}
	}
	for _, r := range removed {
		if err := write(lockbox.OpRoleRemoved, r); err != nil {
			return err
		}
	}
	return nil
}

// UpdateTenantUser replaces a tenant user's roles.
func (s *Service) UpdateTenantUser(ctx context.Context, tenant, email string, upd lockbox.UserUpdate) (*lockbox.User, error) {
	if err := lockbox.ValidateRoles(upd.Roles, true); err != nil {
		return nil, err
	}
	var out *lockbox.User
	err := s.changeTenantUser(ctx, tenant, email, func(tx lockbox.Tx, target *lockbox.User) ([]lockbox.Role, []lockbox.Role, error) {
		added, removed := diffRoles(target.Roles, upd.Roles)
		if err := tx.UpdateUserRoles(ctx, target.ID, upd.Roles); err != nil {
			return nil, nil, err
		}
		target.Roles = slices.Clone(upd.Roles)
		out = target
		return added, removed, nil
	})
	return out, err
}

// RemoveTenantUser deletes a tenant user and their sessions.
func (s *Service) RemoveTenantUser(ctx context.Context, tenant, email string) error {
	return s.changeTenantUser(ctx, tenant, email, func(tx lockbox.Tx, target *lockbox.User) ([]lockbox.Role, []lockbox.Role, error) {
		if err := tx.DeleteUser(ctx, target.ID); err != nil {
			return nil, nil, err
		}
		// SPEC §10.1: the removal itself, beside one role.removed per role.
		u := lockbox.UserFromContext(ctx)
		if err := appendAudit(ctx, tx, accountRecord(ctx, u, target, lockbox.OpAccountRemoved, s.now())); err != nil {
			return nil, nil, err
		}
		removed := target.Roles
		target.Roles = nil
		return nil, removed, nil
	})
}

// changeTenantUser authorizes the caller, finds the target in the tenant,
// applies change, refuses to leave the tenant without a global admin, and
// audits the role changes.
func (s *Service) changeTenantUser(ctx context.Context, tenant, email string,
	change func(lockbox.Tx, *lockbox.User) (added, removed []lockbox.Role, err error)) error {
	u, err := actor(ctx)
	if err != nil {
		return err
	}
	if err := lockbox.Authorize(u, lockbox.PermWriteTenantUsers, tenant); err != nil {
		return err
	}
	return s.store.Update(ctx, func(tx lockbox.Tx) error {
		target, _, err := tx.GetUserByEmail(ctx, tenant, lockbox.NormalizeEmail(email))
		if lockbox.ErrorCode(err) == lockbox.ENOTFOUND {
			return lockbox.Errorf(lockbox.ENOTFOUND, "User %s not found in tenant %s.", email, tenant)
		} else if err != nil {
			return err
		}
		added, removed, err := change(tx, target)
		if err != nil {
			return err
		}
		if err := requireGlobalAdmin(ctx, tx, tenant); err != nil {
			return err
		}
		return auditRoles(ctx, tx, u, tenant, target.Email, added, removed, s.now())
	})
}

// requireGlobalAdmin refuses a change that leaves a tenant with no global
// admin: nobody could manage its approvers again, and the provider may not.
func requireGlobalAdmin(ctx context.Context, tx lockbox.Tx, tenant string) error {
	users, err := tx.ListUsers(ctx, tenant)
	if err != nil {
		return err
	}
	for _, u := range users {
		if u.HasRole(lockbox.RoleGlobalAdmin) {
			return nil
		}
	}
	return lockbox.Errorf(lockbox.ECONFLICT, "Tenant %s must keep at least one global admin.", tenant)
}

func diffRoles(old, updated []lockbox.Role) (added, removed []lockbox.Role) {
	for _, r := range updated {
		if !slices.Contains(old, r) {
			added = append(added, r)
		}
	}
	for _, r := range old {
		if !slices.Contains(updated, r) {
			removed = append(removed, r)
		}
	}
	return added, removed
}
