package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	sqlitedriver "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Backup writes a consistent snapshot of the database at path to out with
// VACUUM INTO, while servers keep reading and writing it: the copy is one
// read transaction, so it holds every transaction committed before it
// began and none after. out must not exist. The copy is checked before
// Backup returns.
func Backup(ctx context.Context, path, out string) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("sqlite: backup: %w", err)
	}
	if _, err := os.Stat(out); err == nil {
		return fmt.Errorf("sqlite: backup: %s already exists; choose a new file", out)
	}
	db, err := openPool(ctx, path, "_pragma=busy_timeout(5000)", 1)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, out); err != nil {
		return fmt.Errorf("sqlite: backup into %s: %w", out, err)
	}
	if err := checkFile(ctx, out); err != nil {
		os.Remove(out)
		return err
	}
	return nil
}

// checkFile runs SQLite's integrity check on a database file and checks
// that it is a Lockbox database (it has audit logs).
func checkFile(ctx context.Context, path string) error {
	db, err := openPool(ctx, path, "_pragma=query_only(1)", 1)
	if err != nil {
		return err
	}
	defer db.Close()
	var result string
	if err := db.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&result); err != nil || result != "ok" {
		return fmt.Errorf("sqlite: %s fails its integrity check: %v %s", path, err, result)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM audit_logs`).Scan(&n); err != nil {
		return fmt.Errorf("sqlite: %s is not a Lockbox database: %w", path, err)
	}
	return nil
}

// LogLoss is what restoring a snapshot would take away from one audit log.
type LogLoss struct {
	Log            string
	Current, Saved int64 // sizes in the database and in the snapshot
	// Diverged is set when the snapshot's log is not a prefix of the
	// current one (the last record they should share differs): not an
	// older state of this log but another history.
	Diverged bool
}

// CompareLogs lists the audit logs of the database at current that the
// snapshot at saved would roll back or replace with another history,
// sorted by log. A log the snapshot does not have at all loses every
// record. A missing current database loses nothing.
func CompareLogs(ctx context.Context, current, saved string) ([]LogLoss, error) {
	if err := checkFile(ctx, saved); err != nil {
		return nil, err
	}
	if _, err := os.Stat(current); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	cur, err := logHeads(ctx, current)
	if err != nil {
		return nil, err
	}
	old, err := logHeads(ctx, saved)
	if err != nil {
		return nil, err
	}
	var out []LogLoss
	for log, c := range cur {
		o := old[log]
		loss := LogLoss{Log: log, Current: c, Saved: o}
		shared := min(c, o)
		if shared > 0 {
			a, err := recordID(ctx, current, log, shared-1)
			if err != nil {
				return nil, err
			}
			b, err := recordID(ctx, saved, log, shared-1)
			if err != nil {
				return nil, err
			}
			loss.Diverged = a != b
		}
		if loss.Current > loss.Saved || loss.Diverged {
			out = append(out, loss)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Log < out[j].Log })
	return out, nil
}

func logHeads(ctx context.Context, path string) (map[string]int64, error) {
	db, err := openPool(ctx, path, "_pragma=busy_timeout(5000)&_pragma=query_only(1)", 1)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT log, size FROM audit_logs`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: reading audit log sizes of %s: %w", path, err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var log string
		var size int64
		if err := rows.Scan(&log, &size); err != nil {
			return nil, err
		}
		out[log] = size
	}
	return out, rows.Err()
}

func recordID(ctx context.Context, path, log string, idx int64) (string, error) {
	db, err := openPool(ctx, path, "_pragma=busy_timeout(5000)&_pragma=query_only(1)", 1)
	if err != nil {
		return "", err
	}
	defer db.Close()
	var id string
	err = db.QueryRowContext(ctx, `SELECT id FROM audit_records WHERE log = ? AND idx = ?`, log, idx).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return id, err
}

// ErrInUse is Restore's refusal when a server (or any other program) has
// the database open.
var ErrInUse = errors.New("the database is in use: stop every lockbox serve using it first")

// CheckIdle returns an error wrapping ErrInUse when another connection, in
// this process or another, has the database at path open, and otherwise
// folds its write-ahead log into the file, so that the file alone holds
// every committed transaction. A missing database is idle.
//
// It asks SQLite itself: a connection in exclusive locking mode cannot
// start while any other holds the file (an idle server's connections
// hold its shared-memory lock), and SQLite's locks see other processes
// and, through its own bookkeeping, other connections of this one.
func CheckIdle(ctx context.Context, path string) error {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	db, err := openPool(ctx, path, "_pragma=busy_timeout(0)&_pragma=locking_mode(EXCLUSIVE)", 1)
	if err == nil {
		_, err = db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
		err = errors.Join(err, db.Close()) // the last connection's close removes the WAL
	}
	var e *sqlitedriver.Error
	if errors.As(err, &e) && e.Code()&0xff == sqlite3.SQLITE_BUSY {
		return fmt.Errorf("sqlite: %s: %w", path, ErrInUse)
	}
	if err != nil {
		return fmt.Errorf("sqlite: checking that %s is not in use: %w", path, err)
	}
	if info, err := os.Stat(path + "-wal"); err == nil && info.Size() > 0 {
		return fmt.Errorf("sqlite: %s-wal still holds transactions after a checkpoint; %w", path, ErrInUse)
	}
	return nil
}

// Restore replaces the database at path with the snapshot at from. It
// refuses (ErrInUse) while anything has the database open (CheckIdle). A
// crash at any point leaves the old database or the new one: the old
// write-ahead log is first folded into the old file (CheckIdle), the
// snapshot is copied beside path and synced, and only then are the
// (now empty) old -wal and -shm removed and the copy renamed over path.
// The -wal must be gone before the rename: SQLite would replay a
// leftover one onto the snapshot and corrupt it.
func Restore(ctx context.Context, path, from string) error {
	if err := checkFile(ctx, from); err != nil {
		return err
	}
	if err := CheckIdle(ctx, path); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".restoring"
	if err := copyFile(from, tmp); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("sqlite: restore: %w", err)
	}
	// A server started since CheckIdle would have written to the old file:
	// look again, as late as possible.
	if err := CheckIdle(ctx, path); err != nil {
		os.Remove(tmp)
		return err
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := os.Remove(path + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			os.Remove(tmp)
			return fmt.Errorf("sqlite: restore: %w", err)
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("sqlite: restore: %w", err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("sqlite: restore: %w", err)
	}
	return checkFile(ctx, path)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func copyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	f, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, src); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
