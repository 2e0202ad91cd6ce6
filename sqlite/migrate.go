package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"

	"github.com/lockboxhq/lockbox/internal/schema"
)

// migrationFiles are the schema changes, numbered, one transaction each.
// A released file is never edited: a change is a new, higher-numbered file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrate brings the schema up to the newest embedded migration, after
// checking that the database is not from a newer binary (schema.RefuseNewer).
func migrate(ctx context.Context, db *sql.DB) error {
	p, err := newProvider(db)
	if err != nil {
		return err
	}
	current, err := p.GetDBVersion(ctx)
	if err != nil {
		return fmt.Errorf("sqlite: read schema version: %w", err)
	}
	if err := schema.RefuseNewer(p, current); err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	return nil
}

// newProvider returns a goose provider over the embedded migrations only:
// Go migrations registered globally by any other package are ignored, and
// goose's own logging is silenced because the server logs with slog.
func newProvider(db *sql.DB) (*goose.Provider, error) {
	fsys, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("sqlite: migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, fsys,
		goose.WithDisableGlobalRegistry(true),
		goose.WithLogger(goose.NopLogger()))
	if err != nil {
		return nil, fmt.Errorf("sqlite: migrations: %w", err)
	}
	return p, nil
}
