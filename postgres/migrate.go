package postgres

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"hash/fnv"
	"io/fs"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/lockboxhq/lockbox/internal/schema"
)

// migrationFiles are the schema changes, numbered like sqlite's (the same
// number is the same change), one transaction each. A released file is
// never edited: a change is a new, higher-numbered file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrate brings the schema up to the newest embedded migration, after
// checking that the database is not from a newer binary (schema.RefuseNewer).
// Up runs under a session advisory lock, so replicas that start together
// apply each migration once while the others wait.
func migrate(ctx context.Context, db *sql.DB) error {
	p, err := newProvider(ctx, db)
	if err != nil {
		return err
	}
	if err := checkVersion(ctx, p); err != nil {
		return err
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("postgres: migrate: %w", unavailable(err))
	}
	// Checked again under no lock but after Up: a newer replica may have
	// migrated while this one waited for the lock.
	return checkVersion(ctx, p)
}

func checkVersion(ctx context.Context, p *goose.Provider) error {
	current, err := p.GetDBVersion(ctx)
	if err != nil {
		return fmt.Errorf("postgres: read schema version: %w", unavailable(err))
	}
	if err := schema.RefuseNewer(p, current); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	return nil
}

// newProvider returns a goose provider over the embedded migrations only,
// with goose's logging silenced (the server logs with slog) and a session
// locker keyed by the current schema: replicas on one schema exclude each
// other, while databases in other schemas (tests run one per case) do not
// wait for each other.
func newProvider(ctx context.Context, db *sql.DB) (*goose.Provider, error) {
	fsys, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("postgres: migrations: %w", err)
	}
	id, err := lockID(ctx, db)
	if err != nil {
		return nil, err
	}
	// Polled every second for up to five minutes: a replica waits while
	// another one migrates, and gives up only when that one is stuck.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(id), lock.WithLockTimeout(1, 300))
	if err != nil {
		return nil, fmt.Errorf("postgres: migration lock: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys,
		goose.WithDisableGlobalRegistry(true),
		goose.WithLogger(goose.NopLogger()),
		goose.WithSessionLocker(locker))
	if err != nil {
		return nil, fmt.Errorf("postgres: migrations: %w", err)
	}
	return p, nil
}

// lockID is the advisory lock id of migrations in the current schema.
func lockID(ctx context.Context, db *sql.DB) (int64, error) {
	var schema sql.NullString
	if err := db.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return 0, fmt.Errorf("postgres: read current schema: %w", unavailable(err))
	}
	if !schema.Valid {
		return 0, fmt.Errorf("postgres: no schema to create tables in: the search_path names no existing schema")
	}
	h := fnv.New64a()
	h.Write([]byte("lockbox migrations " + schema.String))
	return int64(h.Sum64()), nil
}
