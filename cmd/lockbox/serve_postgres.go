package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/postgres"
	"github.com/lockboxhq/lockbox/sqlite"
)

// The database half of `lockbox serve`: which store --database selects,
// the PostgreSQL pool flags, and the address file.

// defaultServePool is the PostgreSQL pool of a replica unless told
// otherwise. 20 connections serve 32 busy clients on two cores: most
// requests hold a connection only for a few milliseconds. MaxIdleConns 0
// keeps all of them open when idle (postgres.Options says why).
func defaultServePool() postgres.Options {
	return postgres.Options{MaxOpenConns: 20, ConnMaxLifetime: 30 * time.Minute,
		StatementTimeout: 30 * time.Second}
}

// maxWriters bounds --db-writers: each writer holds a connection while its
// group runs, and past a few they only queue for the same rows.
const maxWriters = 16

func addServeDatabaseFlags(cmd *cobra.Command, cfg *serverConfig) {
	f := cmd.Flags()
	def := defaultServePool()
	f.IntVar(&cfg.DB.MaxOpenConns, "db-max-open-conns", def.MaxOpenConns, "PostgreSQL: most connections this replica opens (all replicas together must stay under the server's max_connections)")
	f.IntVar(&cfg.DB.MaxIdleConns, "db-max-idle-conns", def.MaxIdleConns, "PostgreSQL: idle connections kept open between bursts (0: as many as --db-max-open-conns; fewer makes a busy replica reopen connections)")
	f.DurationVar(&cfg.DB.ConnMaxLifetime, "db-conn-max-lifetime", def.ConnMaxLifetime, "PostgreSQL: recycle connections after this long")
	f.DurationVar(&cfg.DB.StatementTimeout, "db-statement-timeout", def.StatementTimeout, "PostgreSQL: longest a statement may run before it fails with 503")
	f.Var(writersValue{&cfg.DB.Writers}, "db-writers", "PostgreSQL: write groups this replica runs at once: auto (3 alone, 1 while other replicas share the database and schema; docs/operations.md) or 1 to 16")
	f.StringVar(&cfg.AddrFile, "addr-file", "", "write the server's URL to this file once it listens (useful with --listen 127.0.0.1:0)")
}

// checkPool checks the pool settings, once flags and environment are read.
func checkPool(db *postgres.Options) error {
	// 0 idle connections, or more than open, is resolved by the store
	// (postgres.Options.withDefaults): the pool keeps all of them.
	switch {
	case db.MaxOpenConns < 2: // startup holds one (a lock) while seeding with another
		return usageErrorf("--db-max-open-conns must be at least 2, not %d", db.MaxOpenConns)
	case db.MaxIdleConns < 0:
		return usageErrorf("--db-max-idle-conns must be at least 1 (or 0: as many as --db-max-open-conns), not %d", db.MaxIdleConns)
	case db.ConnMaxLifetime < time.Second:
		return usageErrorf("--db-conn-max-lifetime must be at least 1s, not %s", db.ConnMaxLifetime)
	case db.StatementTimeout < time.Millisecond:
		return usageErrorf("--db-statement-timeout must be at least 1ms, not %s", db.StatementTimeout)
	}
	if db.Writers != 0 { // 0 is auto
		if err := checkWriters(db.Writers); err != nil {
			return usageErrorf("--db-writers %d: %v", db.Writers, err)
		}
	}
	return nil
}

// checkWriters is the range of a fixed --db-writers, for the flag and for
// a configuration built in code alike.
func checkWriters(n int) error {
	if n < 1 || n > maxWriters {
		return fmt.Errorf("want auto or a number from 1 to %d", maxWriters)
	}
	return nil
}

// writersValue is --db-writers: auto, stored as 0 (postgres.Options.Writers),
// or a number of writers from 1 to maxWriters.
type writersValue struct{ n *int }

func (v writersValue) String() string {
	if v.n == nil || *v.n == 0 {
		return "auto"
	}
	return strconv.Itoa(*v.n)
}

func (v writersValue) Set(s string) error {
	if s == "auto" {
		*v.n = 0
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		n = 0 // not a number: refused with the range
	}
	if err := checkWriters(n); err != nil {
		return err
	}
	*v.n = n
	return nil
}

func (v writersValue) Type() string { return "count" }

// isPostgres reports whether --database names a PostgreSQL database.
func isPostgres(database string) bool {
	return strings.HasPrefix(database, "postgres://") || strings.HasPrefix(database, "postgresql://")
}

// openStore opens the store --database selects: PostgreSQL for a
// postgres:// URL, else the SQLite file at that path.
func openStore(ctx context.Context, database string, opts postgres.Options) (lockbox.Store, error) {
	if isPostgres(database) {
		return postgres.OpenWith(ctx, database, opts)
	}
	return sqlite.Open(ctx, database)
}

// displayDatabase is --database as it may be logged or printed: a URL
// without its password.
func displayDatabase(database string) string {
	if !isPostgres(database) {
		return database
	}
	u, err := url.Parse(database)
	if err != nil {
		return "postgres://(unparseable URL)"
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// writeAddrFile writes the server's URL to path (if set) atomically, so a
// reader polling for the file never sees half of it.
func writeAddrFile(path, serverURL string) error {
	if path == "" {
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".addr-*")
	if err != nil {
		return fmt.Errorf("write --addr-file: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing to remove
	if _, err := tmp.WriteString(serverURL + "\n"); err != nil {
		tmp.Close()
		return fmt.Errorf("write --addr-file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write --addr-file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write --addr-file: %w", err)
	}
	return nil
}
