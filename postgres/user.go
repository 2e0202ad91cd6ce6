package postgres

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/internal/sqlrows"
)

const userColumns = `id, email, name, tenant, roles, service_account, disabled, password_change_required, created_at`

// userColumnsU is userColumns of the users table aliased u, for joins.
const userColumnsU = `u.id, u.email, u.name, u.tenant, u.roles, u.service_account, u.disabled, u.password_change_required, u.created_at`

// InsertUser stores an account; ECONFLICT when the id or the email (in any
// letter case) is taken.
func (t *tx) InsertUser(ctx context.Context, u *lockbox.User, passwordHash string) error {
	roles, err := sqlrows.JSONList(u.Roles)
	if err != nil {
		return wrap("insert user", err)
	}
	t.memo.users.changed()
	ok, err := t.insert(ctx, "insert user", `INSERT INTO users (`+userColumns+`, password_hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING`,
		u.ID, u.Email, u.Name, u.Tenant, roles, u.ServiceAccount, u.Disabled, u.PasswordChangeRequired,
		ts(u.CreatedAt), passwordHash)
	if err == nil && !ok {
		return lockbox.Errorf(lockbox.ECONFLICT, "A user with the email %q already exists.", u.Email)
	}
	return err
}

// GetUserByEmail returns the account with that email in any letter case
// in population tenant, and its password hash; ENOTFOUND when there is none.
func (t *tx) GetUserByEmail(ctx context.Context, tenant, email string) (*lockbox.User, string, error) {
	var hash string
	row := t.tx.QueryRowContext(ctx, `SELECT `+userColumns+`, password_hash FROM users
		WHERE tenant = $1 AND lower(email) = lower($2::text COLLATE "C")`, tenant, email)
	u, err := scanUser(row, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, "", lockbox.Errorf(lockbox.ENOTFOUND, "User %q not found.", email)
	} else if err != nil {
		return nil, "", wrap("get user", err)
	}
	return u, hash, nil
}

// UsersByEmail returns every account with that email in any letter case,
// ordered by tenant, and their password hashes.
func (t *tx) UsersByEmail(ctx context.Context, email string) ([]*lockbox.User, []string, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT `+userColumns+`, password_hash FROM users
		WHERE lower(email) = lower($1::text COLLATE "C") ORDER BY tenant`, email)
	if err != nil {
		return nil, nil, wrap("users by email", err)
	}
	var hashes []string
	users, err := sqlrows.Collect(rows, func(s scanner) (*lockbox.User, error) {
		var hash string
		u, err := scanUser(s, &hash)
		hashes = append(hashes, hash)
		return u, err
	})
	return users, hashes, wrap("users by email", err)
}

// GetUserByID returns a user; ENOTFOUND when there is none.
func (t *tx) GetUserByID(ctx context.Context, id string) (*lockbox.User, error) {
	row := t.tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id)
	u, err := scanUser(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, lockbox.Errorf(lockbox.ENOTFOUND, "User %q not found.", id)
	}
	return u, wrap("get user", err)
}

// ListUsers lists a tenant's users, or provider staff when tenant is ""
// (service accounts are not staff), ordered by email in any letter case
// (as SQLite's NOCASE column orders them). A list this transaction read
// already, or one the Store remembers at the version of the tenant's
// accounts this transaction read with the tenant's row (listcache.go),
// costs no round trip: every step that notifies a tenant's approvers
// lists them, whatever their number.
func (t *tx) ListUsers(ctx context.Context, tenant string) ([]*lockbox.User, error) {
	return listOf(&t.memo.users, t.users, tenant, cloneUser, func() ([]*lockbox.User, int64, bool, error) {
		return t.readUsers(ctx, tenant)
	})
}

// usersVersionOf is the SQL of the version of the accounts of the tenant
// named by the expression tenant (migration 00022): 0 until one changes.
func usersVersionOf(tenant string) string {
	return `coalesce((SELECT version FROM user_list_versions WHERE tenant = ` + tenant + `), 0)`
}

// readUsers reads the list and its version in one statement, so one
// snapshot: the list is the one of that version. No account is one row of
// empty columns.
func (t *tx) readUsers(ctx context.Context, tenant string) ([]*lockbox.User, int64, bool, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT v.version, coalesce(u.id, ''), coalesce(u.email, ''),
		coalesce(u.name, ''), coalesce(u.tenant, ''), coalesce(u.roles, '[]'), coalesce(u.service_account, false),
		coalesce(u.disabled, false), coalesce(u.password_change_required, false), coalesce(u.created_at, 'epoch')
		FROM (SELECT `+usersVersionOf("$1")+` AS version) v
		LEFT JOIN users u ON u.tenant = $1 AND ($1 <> '' OR NOT u.service_account)
		ORDER BY lower(u.email)`, tenant)
	if err != nil {
		return nil, 0, false, wrap("list users", err)
	}
	var version int64
	all, err := sqlrows.Collect(rows, func(s scanner) (*lockbox.User, error) { return scanUser(versioned{s, &version}) })
	if err != nil {
		return nil, 0, false, wrap("list users", err)
	}
	out := make([]*lockbox.User, 0, len(all))
	for _, u := range all {
		if u.ID != "" {
			out = append(out, u)
		}
	}
	return out, version, true, nil
}

// UpdateUserRoles replaces a user's roles; ENOTFOUND when there is no such user.
func (t *tx) UpdateUserRoles(ctx context.Context, id string, roles []lockbox.Role) error {
	js, err := sqlrows.JSONList(roles)
	if err != nil {
		return wrap("update user roles", err)
	}
	t.memo.users.changed()
	res, err := t.tx.ExecContext(ctx, `UPDATE users SET roles = $1 WHERE id = $2`, js, id)
	return expectRow(res, err, "update user roles", "User %q not found.", id)
}

// DeleteUser removes a user and every token issued to them, so a removed
// account cannot keep acting on an old session; ENOTFOUND when there is no
// such user.
func (t *tx) DeleteUser(ctx context.Context, id string) error {
	// The foreign key cascades too; deleting explicitly keeps the guarantee
	// visible here, as in the sqlite store.
	if err := t.DeleteUserTokens(ctx, id); err != nil {
		return err
	}
	t.memo.users.changed()
	res, err := t.tx.ExecContext(ctx, `DELETE FROM users WHERE id = $1`, id)
	return expectRow(res, err, "delete user", "User %q not found.", id)
}

// scanUser reads one row of userColumns, then any extra columns into extra.
func scanUser(s scanner, extra ...any) (*lockbox.User, error) {
	var u lockbox.User
	var roles string
	var created time.Time
	dest := append([]any{&u.ID, &u.Email, &u.Name, &u.Tenant, &roles, &u.ServiceAccount,
		&u.Disabled, &u.PasswordChangeRequired, &created}, extra...)
	if err := s.Scan(dest...); err != nil {
		return nil, err
	}
	var err error
	if u.Roles, err = sqlrows.ParseList[lockbox.Role](roles); err != nil {
		return nil, err
	}
	u.CreatedAt = created.UTC()
	return &u, nil
}

// InsertToken stores a bearer token's hash; a zero expiresAt never expires.
// ECONFLICT when the hash is already stored; ENOTFOUND for an unknown user.
// Both are found without a failing statement, which would abort the
// transaction in PostgreSQL (the row is inserted only if the user exists).
func (t *tx) InsertToken(ctx context.Context, hash []byte, userID string, createdAt, expiresAt time.Time) error {
	ok, err := t.insert(ctx, "insert token", `INSERT INTO tokens (hash, user_id, created_at, expires_at)
		SELECT $1::bytea, id, $4::timestamptz, $3::timestamptz FROM users WHERE id = $2 ON CONFLICT DO NOTHING`,
		hash, userID, zeroAsNull(expiresAt), ts(createdAt))
	switch {
	case isForeignKey(err): // the user was deleted by a transaction that committed meanwhile
		return lockbox.Errorf(lockbox.ENOTFOUND, "User %q not found.", userID)
	case err != nil || ok:
		return err
	}
	if _, err := t.GetUserByID(ctx, userID); err != nil {
		return err
	}
	return lockbox.Errorf(lockbox.ECONFLICT, "Token already exists.")
}

// UserByToken resolves a token hash that has not expired at now (a token
// is invalid from its expiry instant on); ENOTFOUND otherwise.
func (t *tx) UserByToken(ctx context.Context, hash []byte, now time.Time) (*lockbox.User, error) {
	_, u, err := t.TokenByHash(ctx, hash, now)
	return u, err
}

// TokenByHash resolves a token hash valid at now, of a user who is not
// disabled, to the token and its user; ENOTFOUND otherwise. It runs the
// statement FindToken batches (tokenbatch.go), for one hash.
func (t *tx) TokenByHash(ctx context.Context, hash []byte, now time.Time) (*lockbox.Token, *lockbox.User, error) {
	found, err := queryTokens(ctx, t.tx, [][]byte{hash}, []time.Time{ts(now)})
	if err != nil {
		return nil, nil, err
	}
	return found[0].k, found[0].u, found[0].err
}

// TouchToken records that a token was used at now.
func (t *tx) TouchToken(ctx context.Context, hash []byte, now time.Time) error {
	_, err := t.tx.ExecContext(ctx, `UPDATE tokens SET last_used_at = $1 WHERE hash = $2`, ts(now), hash)
	return wrap("touch token", err)
}

// ListUserTokens lists a user's tokens valid at now, oldest first.
func (t *tx) ListUserTokens(ctx context.Context, userID string, now time.Time) ([]*lockbox.Token, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT hash, created_at, last_used_at, expires_at FROM tokens
		WHERE user_id = $1 AND (expires_at IS NULL OR expires_at > $2) ORDER BY created_at, hash`, userID, ts(now))
	if err != nil {
		return nil, wrap("list user tokens", err)
	}
	out, err := sqlrows.Collect(rows, func(s scanner) (*lockbox.Token, error) {
		k := lockbox.Token{UserID: userID}
		var created time.Time
		var used, expires sql.Null[time.Time]
		if err := s.Scan(&k.Hash, &created, &used, &expires); err != nil {
			return nil, err
		}
		k.CreatedAt, k.LastUsedAt = created.UTC(), timePtr(used)
		if expires.Valid {
			k.ExpiresAt = expires.V.UTC()
		}
		return &k, nil
	})
	return out, wrap("list user tokens", err)
}

// DeleteToken removes one token.
func (t *tx) DeleteToken(ctx context.Context, hash []byte) error {
	_, err := t.tx.ExecContext(ctx, `DELETE FROM tokens WHERE hash = $1`, hash)
	return wrap("delete token", err)
}

// ExpireUserTokens makes every token of a user valid after at expire at at.
func (t *tx) ExpireUserTokens(ctx context.Context, userID string, at time.Time) error {
	_, err := t.tx.ExecContext(ctx, `UPDATE tokens SET expires_at = $1
		WHERE user_id = $2 AND (expires_at IS NULL OR expires_at > $1)`, ts(at), userID)
	return wrap("expire user tokens", err)
}

// LockUser returns a user and holds a lock on its row until the
// transaction ends: disabling or deleting the user (which lock it
// exclusively) waits for a transaction acting as them, or that transaction
// finds the change made.
func (t *tx) LockUser(ctx context.Context, id string, exclusive bool) (*lockbox.User, error) {
	lock := "FOR SHARE"
	if exclusive {
		lock = "FOR UPDATE"
	}
	if ra, ok := lockbox.ReadAheadFrom(ctx); ok {
		if u, ok, err := t.readAhead(ctx, id, lock, ra); ok {
			return u, err
		}
	}
	row := t.tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1 `+lock, id)
	u, err := scanUser(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, lockbox.Errorf(lockbox.ENOTFOUND, "User %q not found.", id)
	}
	return u, wrap("lock user", err)
}

// SetPassword stores a new password hash; ENOTFOUND when there is no such user.
func (t *tx) SetPassword(ctx context.Context, id, passwordHash string, changeRequired bool) error {
	t.memo.users.changed()
	res, err := t.tx.ExecContext(ctx, `UPDATE users SET password_hash = $1, password_change_required = $2 WHERE id = $3`,
		passwordHash, changeRequired, id)
	return expectRow(res, err, "set password", "User %q not found.", id)
}

// SetUserDisabled marks a user disabled or enabled; ENOTFOUND.
func (t *tx) SetUserDisabled(ctx context.Context, id string, disabled bool) error {
	t.memo.users.changed()
	res, err := t.tx.ExecContext(ctx, `UPDATE users SET disabled = $1 WHERE id = $2`, disabled, id)
	return expectRow(res, err, "set user disabled", "User %q not found.", id)
}

// ListServiceAccounts lists the service accounts, ordered by email.
func (t *tx) ListServiceAccounts(ctx context.Context) ([]*lockbox.User, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT `+userColumns+` FROM users WHERE service_account ORDER BY lower(email)`)
	if err != nil {
		return nil, wrap("list service accounts", err)
	}
	out, err := sqlrows.Collect(rows, func(s scanner) (*lockbox.User, error) { return scanUser(s) })
	return out, wrap("list service accounts", err)
}

// DeleteUserTokens removes every token of a user (none is not an error).
func (t *tx) DeleteUserTokens(ctx context.Context, userID string) error {
	_, err := t.tx.ExecContext(ctx, `DELETE FROM tokens WHERE user_id = $1`, userID)
	return wrap("delete user tokens", err)
}
