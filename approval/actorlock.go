package approval

import (
	"context"

	"github.com/lockboxhq/lockbox"
)

// actorStore makes every write transaction of a signed-in caller hold the
// caller's account (Tx.LockUser) and refuse to commit when it was removed
// or disabled. The caller was authenticated when the call began; without
// this, a request that authenticated a moment before an admin removed the
// account could still file a request or mint a grant a moment after. With
// it, a removal and a write by the removed account serialize: the write
// commits first (and the removal then ends what it did: staff.go), or it
// finds the account gone.
type actorStore struct {
	lockbox.Store
}

// Update runs fn after checking, inside the same transaction, that the
// caller in ctx (if any person or service account) still exists, enabled.
func (s actorStore) Update(ctx context.Context, fn func(lockbox.Tx) error) error {
	u := lockbox.UserFromContext(ctx)
	if u == nil || u == lockbox.System {
		return s.Store.Update(ctx, fn)
	}
	return s.Store.Update(ctx, func(tx lockbox.Tx) error {
		cur, err := tx.LockUser(ctx, u.ID, false)
		if lockbox.ErrorCode(err) == lockbox.ENOTFOUND || (err == nil && cur.Disabled) {
			return lockbox.Errorf(lockbox.EUNAUTHENTICATED, "Your account was removed or disabled.")
		} else if err != nil {
			return err
		}
		return fn(tx)
	})
}
