package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// ErrNotDurable is returned by Open when the server's settings for this
// store's connections let PostgreSQL acknowledge a commit before it is on
// disk.
//
// Everything Lockbox promises rests on an answered change being durable:
// a decision answered is not lost, and an audit record is never served in
// a signed checkpoint, a tile or a witness's cosignature and then lost in
// a crash, after which its index would hold another record: the log would
// fork, and every verifier would rightly report it. So a server that would
// lose such commits is refused at start, not discovered after a crash.
var ErrNotDurable = errors.New("postgres: the server can lose commits it has acknowledged")

// checkDurable reads the settings that decide whether a commit is on disk
// when PostgreSQL acknowledges it, as this store's connections see them
// (the server's, its database's and role's, and the URL's own), and
// refuses them when it is not.
func checkDurable(ctx context.Context, db *sql.DB) error {
	var fsync, syncCommit string
	err := db.QueryRowContext(ctx, `SELECT current_setting('fsync'), current_setting('synchronous_commit')`).
		Scan(&fsync, &syncCommit)
	if err != nil {
		return fmt.Errorf("postgres: reading the server's durability settings: %w", unavailable(err))
	}
	if problems := durabilityProblems(fsync, syncCommit); len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrNotDurable, strings.Join(problems, "; "))
	}
	return nil
}

// durabilityProblems says, for people, what is wrong with the values of
// fsync and synchronous_commit, and how to fix it; nothing when a commit
// is flushed before it is acknowledged. Of synchronous_commit's values
// only off acknowledges before the local flush: local, on, remote_write
// and remote_apply all wait for it (the last three also for standbys).
func durabilityProblems(fsync, syncCommit string) []string {
	var problems []string
	if fsync == "off" {
		problems = append(problems, "fsync is off on the server, so a crash of its machine can lose or corrupt "+
			"committed data, the audit log's included; set fsync = on in postgresql.conf and reload")
	}
	if syncCommit == "off" {
		problems = append(problems, "synchronous_commit is off for Lockbox's connections, so a crash of PostgreSQL "+
			"loses the last commits it acknowledged: decisions already answered, and audit records a signed "+
			"checkpoint already covers (the log would fork); set it to on for Lockbox's role "+
			"(ALTER ROLE … SET synchronous_commit = on) or database, or add synchronous_commit=on to the database URL")
	}
	return problems
}
