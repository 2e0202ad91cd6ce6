// Package postgres is the PostgreSQL implementation of lockbox.Store, the
// backend for running several `lockbox serve` replicas on one database.
// It behaves exactly like the sqlite store (the storetest suite runs against
// both); what differs is how the guarantees are kept when many processes
// write at once:
//
//   - Transactions run at READ COMMITTED. Every read-modify-write the
//     workflow does goes through a row lock (Tx.GetRequest inside Update is
//     SELECT … FOR UPDATE, an audit append locks its log's head row) or a
//     version-conditional UPDATE, so a stronger level would only add
//     serialization failures without adding safety.
//   - Unique violations become ECONFLICT without aborting the transaction
//     (INSERT … ON CONFLICT DO NOTHING), as in SQLite, so a caller may retry
//     inside the same transaction (the workflow does, for reference codes).
//   - A lost, refused or restarting database becomes EUNAVAILABLE (HTTP 503);
//     the pool drops dead connections and reconnects by itself.
//
// It may import only the root lockbox package, auditlog (the Merkle
// arithmetic of an append), internal/sqlrows (the row plumbing it shares
// with the sqlite store), pgx (through database/sql), goose and the
// standard library. It holds no business rules.
//
// Durability: a nil return from Update means PostgreSQL committed the
// transaction and flushed it to the write-ahead log: Open refuses a server
// whose fsync or synchronous_commit would let it acknowledge a commit
// before that (ErrNotDurable, durable.go).
package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/internal/broadcast"
	"github.com/lockboxhq/lockbox/internal/groupcommit"
)

var _ lockbox.Store = (*Store)(nil)

// Options tune the connection pool. Zero values take the defaults.
type Options struct {
	// MaxOpenConns bounds the connections this process holds (default 20,
	// at least 2).
	// Several replicas together must stay under the server's
	// max_connections.
	MaxOpenConns int
	// MaxIdleConns is how many connections stay open between bursts
	// (default MaxOpenConns). Fewer than MaxOpenConns makes a busy pool
	// close connections it just used and open new ones moments later: a
	// server process started for each (issue 16 measured 400 in a 40 s run of
	// three replicas, doubling PostgreSQL's CPU per workflow step).
	MaxIdleConns int
	// ConnMaxLifetime recycles connections (default 30 minutes), so a
	// failover or a load balancer change is picked up without a restart.
	ConnMaxLifetime time.Duration
	// StatementTimeout bounds every statement on the server (default 30
	// seconds; negative: none). A statement that runs longer fails with
	// EUNAVAILABLE instead of holding locks and connections indefinitely.
	StatementTimeout time.Duration
	// Writers is how many group-commit writers run Updates at once
	// (groupcommit.go): each holds one connection while its group runs.
	// 0 (or less): three while this is the only replica of its database
	// and schema, one while others share them (replicas.go).
	Writers int
	// Tool marks a Store opened by a command-line tool, not a replica:
	// its connections are named plain "lockbox", replicas do not count it
	// and it counts none (Writers 0 is three).
	Tool bool
	// Logger receives the Store's log lines (nil: slog.Default()).
	Logger *slog.Logger
	// Now is this process's wall clock, which Ping compares with the
	// database server's (clock.go; nil: time.Now).
	Now func() time.Time
	// MaxClockSkew is how far Now may be from the database server's clock
	// before Ping fails (0: a second, maxClockSkew; negative: the clocks
	// are not compared, for tests whose clock is fake).
	MaxClockSkew time.Duration
}

// writersAtMost is how many writers a Store starts: Writers, or when it
// is left to choose (0 or less) the most it runs alone (replicas.go).
func (o Options) writersAtMost() int {
	if o.Writers > 0 {
		return o.Writers
	}
	return writersAlone
}

func (o Options) withDefaults() Options {
	if o.MaxOpenConns <= 0 {
		o.MaxOpenConns = 20
	}
	// A connection for each writer, and two more: WithLock holds one while
	// the work it guards uses others.
	o.MaxOpenConns = max(o.MaxOpenConns, o.writersAtMost()+2)
	if o.MaxIdleConns <= 0 || o.MaxIdleConns > o.MaxOpenConns {
		o.MaxIdleConns = o.MaxOpenConns
	}
	if o.ConnMaxLifetime <= 0 {
		o.ConnMaxLifetime = 30 * time.Minute
	}
	if o.StatementTimeout == 0 {
		o.StatementTimeout = 30 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxClockSkew == 0 {
		o.MaxClockSkew = maxClockSkew
	}
	return o
}

// Store is a lockbox.Store on a PostgreSQL database. It is safe for
// concurrent use, and any number of Stores (in any number of processes) may
// share one database.
type Store struct {
	db      *sql.DB
	log     *slog.Logger
	now     func() time.Time // Options.Now
	maxSkew time.Duration    // Options.MaxClockSkew
	// outOfStep is the error of the last clock comparison (Ping), while it
	// fails: every transaction is refused with it (clock.go).
	outOfStep atomic.Pointer[error]
	// clockOffset is ClockOffset, in nanoseconds (clock.go).
	clockOffset atomic.Int64
	// appended fires after each transaction that appended audit records
	// commits.
	appended broadcast.Signal
	// hooks and users remember tenants' webhook and account lists across
	// transactions (listcache.go).
	hooks listCache[lockbox.Webhook]
	users listCache[lockbox.User]

	// The group-commit writers (groupcommit.go).
	queue   *groupcommit.Queue
	writers sync.WaitGroup
	// gate bounds the writers running groups; with Options.Writers 0,
	// the replicas seen move it (replicas.go).
	gate     *gate
	connName string // application_name of the connections, "" if the DSN set one
	// replicaPattern matches the connName of every replica of this
	// database and schema.
	replicaPattern  string
	autoWriters     bool         // the gate follows the replicas seen
	replicasCounted atomic.Int64 // when the last count started (unix ns)
	counting        atomic.Bool
	counters        sync.WaitGroup

	roundTrips atomic.Int64 // RoundTrips (roundtrips.go)
	groups     atomic.Int64 // write groups run, for tests

	// The token lookups' runners (tokenbatch.go).
	lookups         chan *tokenLookup
	lookupsClosed   chan struct{}
	closeLookups    sync.Once
	runners         sync.WaitGroup
	lookupsWaiting  atomic.Int64 // lookups no runner has taken yet, for tests
	tokenStatements atomic.Int64 // statements run for FindToken, for tests
}

// AuditAppended returns a channel closed when a transaction of this Store
// that appended audit records next commits (auditlog.AppendNotifier): the
// witness loop sends the moved checkpoint at once. Other replicas' appends
// are not seen: the loop's fallback timer finds those.
func (s *Store) AuditAppended() <-chan struct{} { return s.appended.Wait() }

// Open connects to the database named by dsn (a postgres:// URL or a
// key=value connection string) with default pool options and applies
// pending migrations; see OpenWith.
func Open(ctx context.Context, dsn string) (*Store, error) {
	return OpenWith(ctx, dsn, Options{})
}

// OpenWith connects with the given pool options and brings the schema up to
// date under an advisory lock, so replicas starting together migrate once.
// It refuses a database whose schema is newer than this binary knows, and
// a server that acknowledges commits before they are on disk
// (ErrNotDurable). Unknown DSN parameters are session settings (e.g.
// search_path=lockbox).
func OpenWith(ctx context.Context, dsn string, opts Options) (*Store, error) {
	opts = opts.withDefaults()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// The parse error may quote the DSN, password included: say less.
		return nil, errors.New("postgres: the database URL is not valid; expected postgres://user:password@host:port/database")
	}
	s := &Store{log: opts.Logger, now: opts.Now, maxSkew: opts.MaxClockSkew}
	if s.log == nil {
		s.log = slog.Default()
	}
	switch {
	case cfg.RuntimeParams["application_name"] != "":
	case opts.Tool:
		cfg.RuntimeParams["application_name"] = "lockbox" // for operators
	default:
		// Names the connections in pg_stat_activity for operators, and
		// for the other replicas (replicas.go).
		s.connName, s.replicaPattern = connName(cfg.RuntimeParams["search_path"])
		cfg.RuntimeParams["application_name"] = s.connName
	}
	if opts.StatementTimeout > 0 {
		ms := strconv.FormatInt(opts.StatementTimeout.Milliseconds(), 10)
		cfg.RuntimeParams["statement_timeout"] = ms
		// A process that stalls inside a transaction must not hold its row
		// locks for longer than a statement may run.
		cfg.RuntimeParams["idle_in_transaction_session_timeout"] = ms
	}
	cfg.DialFunc = countRoundTrips(cfg.DialFunc, &s.roundTrips)
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(opts.MaxOpenConns)
	db.SetMaxIdleConns(opts.MaxIdleConns)
	db.SetConnMaxLifetime(opts.ConnMaxLifetime)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: connect: %w", unavailable(err))
	}
	if err := checkDurable(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	if err := migrate(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	s.db = db
	s.startWriters(opts)
	s.startTokenRunners()
	return s, nil
}

// commit sends the members' waiting writes (later.go), the insert of the
// outbox messages, the audit appends of pending and COMMIT in one
// pipeline (one round trip), after BEGIN when begin says the transaction
// is not started yet (no member made a statement), reads their answers
// and sets each record's Index. If the insert or an append fails the server
// skips the COMMIT and the transaction is rolled back. liftLockWait first lifts a group's short lock waits
// (groupcommit.go): the appends wait for their logs' head rows as long as
// they must.
func commit(ctx context.Context, conn *sql.Conn, begin bool, writes []laterWrite, pending []*lockbox.AuditRecord, outbox []*lockbox.OutboxMessage, liftLockWait bool) error {
	if begin && len(writes) == 0 && len(pending) == 0 && len(outbox) == 0 {
		return nil // no transaction was started, and there is nothing to write
	}
	return conn.Raw(func(dc any) (err error) {
		pc := dc.(*stdlib.Conn).Conn()
		// Whatever happens below, the connection goes back to the pool only
		// outside a transaction.
		defer func() {
			if badErr := rollbackRaw(pc); badErr != nil {
				// Returned in the chain whatever err is, so database/sql
				// discards the connection.
				if err == nil {
					err = wrap("commit", badErr)
				} else {
					err = fmt.Errorf("%w (and the connection could not be rolled back: %w)", err, badErr)
				}
			}
		}()
		b := &pgx.Batch{}
		if begin {
			b.Queue(beginSQL)
		}
		if liftLockWait {
			b.Queue(`SET LOCAL lock_timeout = 0`)
		}
		queueLater(b, writes, false) // the bound is lifted above, if any
		notifies := queueOutbox(b, outbox)
		appends, err := queueAudit(b, pending)
		if err != nil {
			return err
		}
		b.Queue(`COMMIT`)
		br := pc.SendBatch(ctx, b)
		defer br.Close()
		if begin {
			if _, err := br.Exec(); err != nil {
				return wrap("begin", err)
			}
		}
		if liftLockWait {
			if _, err := br.Exec(); err != nil {
				return wrap("commit", err)
			}
		}
		if err := readLater(br, writes, false); err != nil {
			return wrap("commit", err)
		}
		if notifies {
			if _, err := br.Exec(); err != nil {
				return outboxError(err)
			}
		}
		firsts := make([]int64, len(appends))
		for i, a := range appends {
			if err := br.QueryRow().Scan(&firsts[i]); err != nil {
				return appendError(err, a)
			}
		}
		tag, err := br.Exec()
		if err != nil {
			return wrap("commit", err)
		}
		if tag.String() != "COMMIT" { // PostgreSQL ended the transaction with ROLLBACK
			return wrap("commit", errors.New("the transaction was rolled back"))
		}
		if err := br.Close(); err != nil {
			return wrap("commit", err)
		}
		for i, a := range appends {
			for j, rec := range a.recs {
				rec.Index = firsts[i] + int64(j)
			}
		}
		return nil
	})
}

// endTx rolls back whatever transaction conn is in; a connection that
// cannot be rolled back is discarded rather than pooled (closing it ends the
// transaction on the server).
func endTx(conn *sql.Conn) {
	_ = conn.Raw(func(dc any) error {
		return rollbackRaw(dc.(*stdlib.Conn).Conn())
	})
}

// rollbackRaw rolls back pc's transaction if it is in one, and returns
// driver.ErrBadConn (which makes database/sql discard the connection) if
// it cannot: even when the caller's context has ended. (pgx's stdlib would
// also discard a connection found in a transaction when it is next taken
// from the pool; rolling back here keeps the connection.)
func rollbackRaw(pc *pgx.Conn) error {
	if pc.IsClosed() {
		return driver.ErrBadConn
	}
	if pc.PgConn().TxStatus() == 'I' {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := pc.Exec(ctx, `ROLLBACK`); err != nil || pc.PgConn().TxStatus() != 'I' {
		return driver.ErrBadConn
	}
	return nil
}

// View runs fn in a read-only transaction that sees one snapshot of the
// database (REPEATABLE READ, which in PostgreSQL is a snapshot and never
// fails a read-only transaction), as SQLite's WAL readers do.
func (s *Store) View(ctx context.Context, fn func(lockbox.Tx) error) error {
	if err := s.inStep(); err != nil {
		return err
	}
	sqlTx, err := s.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return wrap("begin read", err)
	}
	defer sqlTx.Rollback() // nothing to commit
	return fn(&tx{tx: sqlTx, hooks: &s.hooks, users: &s.users})
}

// ViewOne runs fn's one read as a statement of its own on a pooled
// connection, outside any transaction (lockbox.OneReader): the statement
// sees one snapshot, as a View would, in one round trip instead of three.
// fn making a second statement is an error (each would have seen a
// snapshot of its own), and so is a write (it would commit at once).
func (s *Store) ViewOne(ctx context.Context, fn func(lockbox.Tx) error) error {
	if err := s.inStep(); err != nil {
		return err
	}
	q := &oneStatement{db: s.db}
	err := fn(&tx{tx: q, hooks: &s.hooks, users: &s.users})
	if q.n > 1 {
		return fmt.Errorf("postgres: ViewOne ran %d statements, not one; use View", q.n)
	}
	return err
}

// oneStatement is a querier that runs reads on the pool and counts them.
type oneStatement struct {
	db *sql.DB
	n  int
}

func (q *oneStatement) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return nil, errors.New("postgres: ViewOne may not write; use Update")
}

func (q *oneStatement) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	q.n++
	return q.db.QueryContext(ctx, query, args...)
}

func (q *oneStatement) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	q.n++
	return q.db.QueryRowContext(ctx, query, args...)
}

// Ping reports whether the database answers a query (not only whether a
// pooled connection exists), and whether this process's clock agrees with
// the database server's (checkClock): EUNAVAILABLE when either does not.
// Until a Ping finds the clocks in step again, every transaction is
// refused (inStep).
func (s *Store) Ping(ctx context.Context) error {
	before := s.now()
	var db time.Time
	if err := s.db.QueryRowContext(ctx, `SELECT clock_timestamp()`).Scan(&db); err != nil {
		return wrap("ping", err)
	}
	off := clockOffset(before, db, s.now())
	s.clockOffset.Store(int64(off))
	if s.maxSkew < 0 {
		return nil
	}
	err := checkClock(off, s.maxSkew)
	if err != nil {
		s.outOfStep.Store(&err)
	} else {
		s.outOfStep.Store(nil)
	}
	return err
}

// Close stops the writers, failing queued Updates, and closes the pool.
func (s *Store) Close() error {
	s.stopWriters()
	s.stopTokenRunners()
	return s.db.Close()
}
