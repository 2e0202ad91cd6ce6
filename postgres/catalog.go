package postgres

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/internal/sqlrows"
)

// PutService creates or replaces a catalog entry.
func (t *tx) PutService(ctx context.Context, s *lockbox.Service) error {
	ops, err := sqlrows.JSONList(s.Operations)
	if err != nil {
		return wrap("put service", err)
	}
	t.ahead.forget()
	_, err = t.tx.ExecContext(ctx, `INSERT INTO services (name, display_name, operations, updated_at)
		VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO UPDATE SET display_name = excluded.display_name,
		operations = excluded.operations, updated_at = excluded.updated_at`,
		s.Name, s.DisplayName, ops, ts(s.UpdatedAt))
	return wrap("put service", err)
}

// GetService returns a catalog entry; ENOTFOUND when there is none.
func (t *tx) GetService(ctx context.Context, name string) (*lockbox.Service, error) {
	s, ok, err := t.aheadService(name)
	if !ok {
		s, err = scanService(t.tx.QueryRowContext(ctx, serviceSelect+` FROM services WHERE name = $1`, name))
	}
	if errors.Is(err, sql.ErrNoRows) {
		return nil, lockbox.Errorf(lockbox.ENOTFOUND, "Service %q not found.", name)
	}
	return s, wrap("get service", err)
}

// ListServices returns the catalog ordered by name.
func (t *tx) ListServices(ctx context.Context) ([]*lockbox.Service, error) {
	rows, err := t.tx.QueryContext(ctx, serviceSelect+` FROM services ORDER BY name`)
	if err != nil {
		return nil, wrap("list services", err)
	}
	out, err := sqlrows.Collect(rows, scanService)
	return out, wrap("list services", err)
}

// serviceSelect reads a service's row as scanService scans it; the query
// goes on with the FROM clause.
const serviceSelect = `SELECT name, display_name, operations, updated_at`

func scanService(sc scanner) (*lockbox.Service, error) {
	var s lockbox.Service
	var ops string
	var updated time.Time
	if err := sc.Scan(&s.Name, &s.DisplayName, &ops, &updated); err != nil {
		return nil, err
	}
	var err error
	if s.Operations, err = sqlrows.ParseList[string](ops); err != nil {
		return nil, err
	}
	s.UpdatedAt = updated.UTC()
	return &s, nil
}
