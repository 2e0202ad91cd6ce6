// Package benchdb is what the audit benchmark programs (auditlog/internal/
// bench and verifybench) share: a SQLite database with the dev seed and a
// large log loaded by plain batched INSERTs of the rows auditlog.Head
// makes, as the store would write them, a log signer, and small helpers.
package benchdb

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"os"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
	"github.com/lockboxhq/lockbox/auditlog"
	"github.com/lockboxhq/lockbox/sqlite"
)

// Must ends the program on an error: a benchmark has nothing to recover.
func Must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

// NewSigner is a fresh log signing key and its verifier key.
func NewSigner() (note.Signer, string) {
	skey, vkey, err := note.GenerateKey(nil, "lockbox-log")
	Must(err)
	s, err := note.NewSigner(skey)
	Must(err)
	return s, vkey
}

// Year is when the loaded records start; each log's span a year from it.
var Year = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Record is the n-th operator action of log at t (some 560 bytes of
// canonical JSON).
func Record(log string, n int64, t time.Time) *lockbox.AuditRecord {
	return &lockbox.AuditRecord{ID: fmt.Sprintf("%s-%09d", log, n), Index: n, Time: t, Tenant: log,
		RecordType: lockbox.RecordOperatorAction, Operation: lockbox.OpOperatorAction, UserID: "Provider Operator",
		ActorType: lockbox.ActorProviderOperator, ClientIP: "203.0.113.7", RequestID: "0193f4c2-8a1e-7c3b-9d2f-5b7a1c9e4d10",
		Result: lockbox.ResultSucceeded, AuditData: map[string]any{"operation": "Get-MailboxStatistics",
			"resource": "mailbox:user@contoso.test", "reference": "LB-7K3Q9MXA", "approver": "approver@contoso.test",
			"duration_minutes": 120, "staff_id": "operator@provider.test"}}
}

// DB is a benchmark database: the store, the workflow service on it (for
// sign-ins), the audit service with a fresh key, and whether it was just
// created (then seeded, with no records loaded yet).
type DB struct {
	Path     string
	Store    *sqlite.Store
	Accounts *approval.Service
	Audit    *auditlog.Service
	Fresh    bool
}

// Open opens the database at path, creating and seeding it when missing.
func Open(ctx context.Context, path string) *DB {
	_, statErr := os.Stat(path)
	store, err := sqlite.Open(ctx, path)
	Must(err)
	accounts := approval.New(store, lockbox.SystemClock{}, approval.Options{PasswordMemoryKiB: 64, PasswordTime: 1})
	signer, vkey := NewSigner()
	d := &DB{Path: path, Store: store, Accounts: accounts, Audit: auditlog.New(store, signer, vkey, "bench"), Fresh: statErr != nil}
	if d.Fresh {
		Must(accounts.SeedDev(ctx))
	}
	return d
}

// Loader writes rows straight into the database file (synchronous=OFF,
// one connection): only for loading a benchmark database.
type Loader struct{ db *sql.DB }

// NewLoader opens path for loading; Close it when done.
func NewLoader(path string) *Loader {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=synchronous(OFF)&_txlock=immediate")
	Must(err)
	db.SetMaxOpenConns(1)
	return &Loader{db: db}
}

func (l *Loader) Close() { l.db.Close() }

// InsertSQL is the INSERT of one prepared audit row (SQLite).
const InsertSQL = `INSERT INTO audit_records (log, idx, id, time, record_type, operation, user_id, actor_type, request_id, canonical, hashes)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// InsertRows runs query, prepared, for each row; timeArg is how the
// database takes a record's time.
func InsertRows(tx *sql.Tx, rows []auditlog.Entry, query string, timeArg func(time.Time) any) {
	st, err := tx.Prepare(query)
	Must(err)
	for _, w := range rows {
		r := w.Record
		_, err := st.Exec(r.Tenant, r.Index, r.ID, timeArg(r.Time), r.RecordType, r.Operation, r.UserID, r.ActorType, r.RequestID, w.Canonical, w.Hashes)
		Must(err)
	}
}

// MicrosArg is SQLite's form of a record's time.
func MicrosArg(t time.Time) any { return t.UnixMicro() }

// Load appends n records to log after those it has, spread evenly over a
// Year, in transactions of 10,000 that also set the log's size.
func (l *Loader) Load(log string, n int) {
	if n == 0 {
		return
	}
	var h auditlog.Head
	rs, err := l.db.Query(`SELECT canonical FROM audit_records WHERE log = ? ORDER BY idx`, log)
	Must(err)
	for rs.Next() { // continue the records there (the seed's): rebuild the head from them
		var b []byte
		Must(rs.Scan(&b))
		_, err := h.AppendLeaf(b)
		Must(err)
	}
	Must(rs.Err())
	rs.Close()
	step := 365 * 24 * time.Hour / time.Duration(n)
	batch := make([]auditlog.Entry, 0, 10000)
	for i := range n {
		e, err := h.Append(Record(log, h.Size, Year.Add(time.Duration(i)*step).Truncate(time.Millisecond)))
		Must(err)
		batch = append(batch, e)
		if len(batch) == cap(batch) || i == n-1 {
			tx, err := l.db.Begin()
			Must(err)
			InsertRows(tx, batch, InsertSQL, MicrosArg)
			_, err = tx.Exec(`INSERT INTO audit_logs (log, size) VALUES (?, ?) ON CONFLICT (log) DO UPDATE SET size = excluded.size`, log, h.Size)
			Must(err)
			Must(tx.Commit())
			batch = batch[:0]
		}
	}
}

// CountWriter counts what is written to it and keeps nothing.
type CountWriter struct{ N int64 }

func (c *CountWriter) Write(p []byte) (int, error) { c.N += int64(len(p)); return len(p), nil }
