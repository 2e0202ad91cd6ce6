package postgres

import (
	"context"
	"database/sql"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/lockboxhq/lockbox"
)

// A workflow step on this store used to make its first reads one round
// trip at a time: the member's savepoint, the caller's account lock
// (approval's actorStore), the request, the tenant — four waits on the
// database, each a context switch on both sides, before it wrote anything
// (docs/benchmarks.md, issue 16). When the step names them up front
// (lockbox.ReadAhead), LockUser sends them all in one pgx batch on the
// group's connection instead: the same statements, in the same order, in
// the same transaction, so the same locks taken in the same order and the
// same rows returned; only the waits between them are gone. What the
// batch read is handed out by the reads that follow, once each.

// ahead is what readAhead read besides the account (the tenant is in
// memo), each until asked for.
type ahead struct {
	request aheadRow[lockbox.AccessRequest]
	service aheadRow[lockbox.Service]
}

// aheadRow is one row read ahead under key (an id, a reference, a name),
// or the error reading it gave; key "" when none is kept.
type aheadRow[T any] struct {
	key string
	row *T
	err error
}

// take hands out the row read as key, once; false when none was.
func (a *aheadRow[T]) take(key string) (*T, bool, error) {
	if a.key == "" || a.key != key {
		return nil, false, nil
	}
	row, err := a.row, a.err
	*a = aheadRow[T]{}
	return row, true, err
}

// readAhead runs LockUser(id) (lock is its row lock) and the reads ra
// names, with the member's savepoint, in one round trip. It is used only
// for an Update member's first statements; false when it does not apply.
func (t *tx) readAhead(ctx context.Context, id, lock string, ra lockbox.ReadAhead) (*lockbox.User, bool, error) {
	q, ok := t.tx.(*memberQuerier)
	if !ok || q.started || q.g.broken != nil {
		return nil, false, nil
	}
	ctx = context.WithoutCancel(ctx)           // as memberQuerier's statements
	bounded := q.g.bounded                     // before take bounds the waits
	earlier, savepoint := q.g.writes, q.take() // earlier members' writes first (later.go)
	q.g.writes = nil
	q.n++
	b := &pgx.Batch{}
	queueLater(b, earlier, bounded)
	for _, stmt := range savepoint {
		b.Queue(stmt)
	}
	b.Queue(`SELECT `+userColumns+` FROM users WHERE id = $1 `+lock, id)
	share := ""
	if ra.ShareTenant {
		share = " FOR SHARE" // as LockSettings(…, false)
	}
	if ra.Request != "" {
		b.Queue(getRequestQuery(ra.Request)+` FOR UPDATE`, ra.Request)
		b.Queue(tenantSelect+` FROM tenants WHERE name = (SELECT tenant FROM requests WHERE `+requestByKey(ra.Request)+`)`+share, ra.Request)
	} else if ra.Tenant != "" {
		b.Queue(tenantSelect+` FROM tenants WHERE name = $1`+share, ra.Tenant)
	}
	if ra.Service != "" {
		b.Queue(serviceSelect+` FROM services WHERE name = $1`, ra.Service)
	}
	var u *lockbox.User
	var uerr error
	err := q.g.conn.Raw(func(dc any) error {
		br := dc.(*stdlib.Conn).Conn().SendBatch(ctx, b)
		if err := readLater(br, earlier, bounded); err != nil {
			_ = br.Close()
			return err
		}
		for range savepoint {
			if _, err := br.Exec(); err != nil {
				_ = br.Close()
				return err
			}
		}
		u, uerr = scanUser(br.QueryRow())
		a := &ahead{}
		if ra.Request != "" {
			a.request.key = ra.Request
			a.request.row, a.request.err = scanRequest(br.QueryRow())
			if a.request.err == nil {
				t.lockedAt(a.request.row)
			}
			t.keepAhead(ra.Request, br.QueryRow(), ra.ShareTenant)
		} else if ra.Tenant != "" {
			t.keepAhead(ra.Tenant, br.QueryRow(), ra.ShareTenant)
		}
		if ra.Service != "" {
			a.service.key = ra.Service
			a.service.row, a.service.err = scanService(br.QueryRow())
		}
		t.ahead = a
		if err := br.Close(); err != nil && !isStatementError(err) {
			return err
		}
		return nil
	})
	if err != nil {
		// The connection or the savepoint failed: the transaction cannot
		// be trusted any further (as begin's failure).
		t.ahead = nil
		q.g.broken = wrap("read ahead", err)
		return nil, true, q.g.broken
	}
	if errors.Is(uerr, sql.ErrNoRows) {
		return nil, true, lockbox.Errorf(lockbox.ENOTFOUND, "User %q not found.", id)
	}
	return u, true, wrap("lock user", uerr)
}

// keepAhead keeps the tenant read ahead (keepTenant), and that its row is
// held shared when it was read so. A tenant not read is read when asked.
func (t *tx) keepAhead(key string, row scanner, shared bool) {
	if tn, _, err := t.keepTenant(key, row); err == nil && shared {
		t.memo.setShared(tn.Name)
	}
}

// isStatementError reports whether err is PostgreSQL refusing a statement
// (the batch's reads keep theirs, for the reads that hand them out) rather
// than the connection failing.
func isStatementError(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr)
}

// forget drops what was read ahead and not asked for yet: the
// transaction is about to change such rows, and a later read must see the
// change. The tenant read ahead is in memo, which forgets it itself.
func (a *ahead) forget() {
	if a != nil {
		*a = ahead{}
	}
}

// aheadRequest hands out the request read ahead as idOrRef, once.
func (t *tx) aheadRequest(idOrRef string) (*lockbox.AccessRequest, bool, error) {
	if t.ahead == nil {
		return nil, false, nil
	}
	return t.ahead.request.take(idOrRef)
}

// aheadService hands out the service read ahead as name, once.
func (t *tx) aheadService(name string) (*lockbox.Service, bool, error) {
	if t.ahead == nil {
		return nil, false, nil
	}
	return t.ahead.service.take(name)
}
