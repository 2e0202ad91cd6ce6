// Package sqlitetest gives tests a SQLite database file of their own that
// is already at the newest schema.
//
// Migrating a new file runs every migration, each in its own transaction
// with its own fsync: about 200 ms per test under the race detector, in a
// suite where hundreds of tests open a store. So a test binary migrates
// one file with sqlite.Open (the store's own migrations, whatever they are
// when it runs), keeps its bytes, and writes a copy for each test (about
// 1 ms). A store opened on the copy still checks its schema version as on
// any existing file. Tests of migrating itself open a new, empty file
// instead.
//
// It may import only the sqlite store and the standard library: it is
// test support and is never linked into the lockbox binary.
package sqlitetest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/lockboxhq/lockbox/sqlite"
)

// Path returns the path of a new database file, at the newest schema, in
// a temporary directory of tb.
func Path(tb testing.TB) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "lockbox.db")
	if err := Write(path); err != nil {
		tb.Fatal(err)
	}
	return path
}

// Write creates a database file at the newest schema at path, which must
// not exist yet; its directory must.
func Write(path string) error {
	b, err := migrated()
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("sqlitetest: %w", err)
	}
	_, err = f.Write(b)
	return errors.Join(err, f.Close())
}

// migrated returns the bytes of a database file that sqlite.Open
// migrated, made once per test binary.
var migrated = sync.OnceValues(func() ([]byte, error) {
	dir, err := os.MkdirTemp("", "lockbox-sqlitetest-")
	if err != nil {
		return nil, fmt.Errorf("sqlitetest: %w", err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "lockbox.db")
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		return nil, fmt.Errorf("sqlitetest: migrate a template: %w", err)
	}
	if err := st.Close(); err != nil {
		return nil, fmt.Errorf("sqlitetest: close the template: %w", err)
	}
	// Closing the last connection checkpoints the write-ahead log into the
	// file and removes it; a log left behind would hold part of the schema.
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > 0 {
		return nil, fmt.Errorf("sqlitetest: the template's write-ahead log was not checkpointed on close (%d bytes)", fi.Size())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sqlitetest: %w", err)
	}
	return b, nil
})

// Raw opens the file at path directly, beside any store on it, for a test
// to do what someone with the database file could (tamper, count rows). It
// is closed when the test ends.
func Raw(tb testing.TB, path string) *sql.DB {
	tb.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}
