// Package sqlite is the embedded-database implementation of lockbox.Store,
// the default backend of a single `lockbox serve`: one file, no server.
//
// It may import only the root lockbox package, auditlog (the Merkle
// arithmetic of an append: which index and hashes a record gets, how a
// log's head moves), internal/sqlrows (the row plumbing it shares with the
// postgres store), the pure-Go SQLite driver (modernc.org/sqlite), the goose
// migration library and the standard library. It holds no business rules:
// the workflow decides, the store keeps.
//
// Durability: a nil return from Update means the transaction is committed to
// the write-ahead log with SQLite's default synchronous=FULL, so it survives
// a crash or power loss of the machine.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/internal/broadcast"
	"github.com/lockboxhq/lockbox/internal/groupcommit"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

var _ lockbox.Store = (*Store)(nil)

// readerConns bounds concurrent View transactions. WAL readers never block
// the writer or each other, so a few are enough for a handful of cores.
const readerConns = 4

// Store is a lockbox.Store on one SQLite file. It is safe for concurrent use.
//
// It keeps two connection pools on the file. The writer pool has a single
// connection whose transactions begin IMMEDIATE: Update calls queue for it
// instead of starting as readers and failing with SQLITE_BUSY when they try
// to write, and the whole database is locked while one runs, which is the
// row lock Tx.GetRequest promises. The reader pool serves View from WAL
// snapshots and never waits for the writer.
type Store struct {
	writer *sql.DB
	reader *sql.DB

	// The group-commit writer (groupcommit.go).
	queue      *groupcommit.Queue
	writerDone chan struct{}
	stmts      *stmtCache // the writer's prepared statements (stmtcache.go)
	reads      *readStmts // the readers' (stmtcache.go)
	logs       *logCache  // the writer's audit log heads (loghead.go)
	lastGroup  int        // the size of the last commit group (Gather)
	// appended fires after each group that appended audit records commits.
	appended broadcast.Signal
}

// AuditAppended returns a channel closed when a transaction that appended
// audit records next commits (auditlog.AppendNotifier): the witness loop
// sends the moved checkpoint at once. Other processes' appends are not seen.
func (s *Store) AuditAppended() <-chan struct{} { return s.appended.Wait() }

// Open opens (creating if needed, with its parent directory) the database at
// path and applies pending migrations. It refuses a database whose schema is
// newer than this binary knows, so an old binary cannot corrupt data that a
// newer one wrote.
func Open(ctx context.Context, path string) (*Store, error) {
	s, err := open(ctx, path)
	if err != nil {
		return nil, err
	}
	go s.writeLoop()
	return s, nil
}

// open is Open without starting the writer goroutine.
func open(ctx context.Context, path string) (*Store, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: database path %q: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("sqlite: create database directory: %w", err)
	}
	writer, err := openPool(ctx, abs, writerParams, 1)
	if err != nil {
		return nil, err
	}
	if err := migrate(ctx, writer); err != nil {
		writer.Close()
		return nil, err
	}
	if err := backfillAuditHashes(ctx, writer); err != nil {
		writer.Close()
		return nil, err
	}
	// The reader pool opens after migrating, so the file is already in WAL
	// mode and at the current schema when the first reader connects.
	reader, err := openPool(ctx, abs, readerParams, readerConns)
	if err != nil {
		writer.Close()
		return nil, err
	}
	s := &Store{writer: writer, reader: reader, queue: groupcommit.NewQueue(errClosed),
		writerDone: make(chan struct{}), stmts: newStmtCache(writer), reads: newReadStmts(reader), logs: newLogCache()}
	return s, nil
}

// Connection parameters of the two pools. busy_timeout covers the moments a
// connection must wait for another process on the same file (a second
// binary, a backup); foreign_keys is off by default in SQLite. Readers are
// query_only so a View can never write, even by mistake.
var (
	writerParams = "_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_txlock=immediate"
	readerParams = "_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_pragma=query_only(1)&_txlock=deferred"
)

// openPool opens a pool of at most conns connections and checks that the
// file can be opened with params.
func openPool(ctx context.Context, path, params string, conns int) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn(path, params))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	return db, nil
}

// dsn builds a file: URI so that any character in the path ('?', '#', '%')
// is escaped rather than read as the start of the parameters.
func dsn(path, params string) string {
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path), RawQuery: params}
	return u.String()
}

// View runs fn in a read-only transaction, which sees one consistent
// snapshot of the database from its first read to its end.
func (s *Store) View(ctx context.Context, fn func(lockbox.Tx) error) error {
	sqlTx, err := s.reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("sqlite: begin read: %w", err)
	}
	defer sqlTx.Rollback() // nothing to commit
	return fn(&tx{tx: readerTx{tx: sqlTx, cache: s.reads}})
}

// Ping reports whether both pools can reach the database file.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.writer.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	if err := s.reader.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	return nil
}

// Close stops the writer, failing queued Updates, and closes both pools.
func (s *Store) Close() error {
	s.queue.Close()
	<-s.writerDone
	s.reads.close()
	return errors.Join(s.reader.Close(), s.writer.Close())
}
