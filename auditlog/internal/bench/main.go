// Command bench measures the audit log (docs/benchmarks.md): durable append
// throughput with 64 concurrent appenders against raw batched INSERTs into
// the same SQLite database, search latency over a large database, CSV
// export rate and peak memory, and full client-side verification.
//
//	go run ./auditlog/internal/bench -dir /tmp/lockbox-bench -records 10000000 -big 1000000
//
// Every loop is bounded by a count; all traffic is on loopback.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
	"github.com/lockboxhq/lockbox/auditlog"
	"github.com/lockboxhq/lockbox/auditlog/internal/benchdb"
	"github.com/lockboxhq/lockbox/client"
	"github.com/lockboxhq/lockbox/postgres"
	"github.com/lockboxhq/lockbox/server"
	"github.com/lockboxhq/lockbox/sqlite"
)

var (
	dir        = flag.String("dir", filepath.Join(os.TempDir(), "lockbox-bench"), "working directory (databases are kept for reruns)")
	records    = flag.Int("records", 10_000_000, "records in the search database")
	big        = flag.Int("big", 1_000_000, "records of the exported and verified tenant (part of -records)")
	appenders  = flag.Int("appenders", 64, "concurrent appenders")
	appends    = flag.Int("appends", 400, "appends per appender and round")
	queries    = flag.Int("queries", 2000, "search queries")
	rounds     = flag.Int("rounds", 5, "append rounds, each between two raw INSERT runs")
	onlyAppend = flag.Bool("only-append", false, "run the append benchmark only")
	sqliteToo  = flag.Bool("sqlite", true, "measure appends on SQLite (false: on -postgres alone)")
	pgDSN      = flag.String("postgres", "", "also measure appends on this PostgreSQL server (database lockbox_append_bench is recreated)")
)

var (
	must = benchdb.Must
	year = benchdb.Year
)

func main() {
	flag.Parse()
	log.SetFlags(0)
	if *big < 1 || *records < *big || *queries < 1 {
		log.Fatalf("want -records >= -big >= 1 and -queries >= 1, not -records %d -big %d -queries %d", *records, *big, *queries)
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	if *sqliteToo || *pgDSN == "" {
		benchAppend(ctx, sqliteTarget(ctx))
	}
	if *pgDSN != "" {
		benchAppend(ctx, postgresTarget(ctx, *pgDSN))
	}
	if *onlyAppend {
		return
	}
	store, svc, accounts := openSearchDB(ctx)
	defer store.Close()
	benchSearch(ctx, svc, searchLogs())
	benchExportAndVerify(ctx, store, svc, accounts)
}

// row is one audit_records row ready to insert, as auditlog makes it.
type row = auditlog.Entry

// makeRow appends r to the log whose head is h.
func makeRow(h *auditlog.Head, r *lockbox.AuditRecord) row {
	e, err := h.Append(r)
	must(err)
	return e
}

// appendTarget is a store and a plain connection pool to the same database,
// with that database's INSERT of a prepared audit row.
type appendTarget struct {
	name      string
	store     lockbox.Store
	db        *sql.DB
	insertSQL string
	timeArg   func(time.Time) any
	// stmts, when the server has pg_stat_statements, starts counting the
	// database's statements afresh and returns a function that prints
	// them; nil otherwise.
	stmts func() (report func())
}

func sqliteTarget(ctx context.Context) *appendTarget {
	path := filepath.Join(*dir, "append.db")
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(path + suffix)
	}
	store, err := sqlite.Open(ctx, path)
	must(err)
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_txlock=immediate")
	must(err)
	db.SetMaxOpenConns(1)
	return &appendTarget{name: "SQLite (WAL, synchronous=FULL)", store: store, db: db, insertSQL: benchdb.InsertSQL, timeArg: benchdb.MicrosArg}
}

// postgresTarget recreates the database lockbox_append_bench on the server
// of dsn and opens the store (its default pool) and a pool on it.
func postgresTarget(ctx context.Context, dsn string) *appendTarget {
	admin, err := sql.Open("pgx", dsn)
	must(err)
	defer admin.Close()
	for _, q := range []string{`DROP DATABASE IF EXISTS lockbox_append_bench`, `CREATE DATABASE lockbox_append_bench`} {
		_, err := admin.ExecContext(ctx, q)
		must(err)
	}
	u, err := url.Parse(dsn)
	must(err)
	u.Path = "/lockbox_append_bench"
	store, err := postgres.Open(ctx, u.String())
	must(err)
	db, err := sql.Open("pgx", u.String())
	must(err)
	return &appendTarget{name: "PostgreSQL (synchronous_commit on)", store: store, db: db,
		insertSQL: `INSERT INTO audit_records (log, idx, id, time, record_type, operation, user_id, actor_type, request_id, canonical, hashes)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		timeArg: func(t time.Time) any { return t.Truncate(time.Microsecond) },
		stmts:   statementStats(ctx, db)}
}

// statementStats returns appendTarget.stmts for db when its server loads
// pg_stat_statements (set pg_stat_statements.track = all to see the
// statements lockbox_audit_append runs, too), or nil. Only this
// database's statistics are reset.
func statementStats(ctx context.Context, db *sql.DB) func() func() {
	var loaded bool
	must(db.QueryRowContext(ctx, `SELECT current_setting('shared_preload_libraries') LIKE '%pg_stat_statements%'`).Scan(&loaded))
	if !loaded {
		return nil
	}
	_, err := db.ExecContext(ctx, `CREATE EXTENSION IF NOT EXISTS pg_stat_statements`)
	must(err)
	return func() func() {
		_, err := db.ExecContext(ctx, `SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = current_database()), 0)`)
		must(err)
		return func() { printStatements(ctx, db) }
	}
}

// printStatements prints the 6 statements of db that took the most time
// since statementStats reset them: calls, mean time, whether the client
// sent it (top) or a function ran it (nested).
func printStatements(ctx context.Context, db *sql.DB) {
	rows, err := db.QueryContext(ctx, `SELECT calls, mean_exec_time, toplevel, left(regexp_replace(query, '\s+', ' ', 'g'), 70)
		FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
		ORDER BY total_exec_time DESC LIMIT 6`)
	must(err)
	defer rows.Close()
	for rows.Next() {
		var calls int64
		var mean float64
		var top bool
		var query string
		must(rows.Scan(&calls, &mean, &top, &query))
		where := "nested"
		if top {
			where = "top"
		}
		fmt.Printf("  pg_stat_statements: %7d calls %8.3f ms mean  %-6s %s\n", calls, mean, where, query)
	}
	must(rows.Err())
}

// appendRec is the record appender w appends: one of 8 tenants, with a
// UUIDv7 ID made at append time as the workflow makes them.
func appendRec(log string) *lockbox.AuditRecord {
	r := benchdb.Record(log, 0, year)
	r.ID = uuid.Must(uuid.NewV7()).String()
	return r
}

// benchAppend measures durable appends from -appenders goroutines, each
// append its own Store.Update (one durable transaction per record, as the
// workflow does), against the raw rate of the same database: the same kind
// of rows, already encoded and hashed, inserted in plain transactions of
// -appenders rows and nothing else. Rounds alternate raw, appends, raw, …
// on the one file, and each round's ratio takes the faster of the raw runs
// either side of it, so a drift in the machine's speed cannot flatter the
// appends.
func benchAppend(ctx context.Context, t *appendTarget) {
	defer t.store.Close()
	defer t.db.Close()
	store, db := t.store, t.db
	total := *appenders * *appends
	// raw inserts total rows spread round-robin over logs logs named
	// prefix00, prefix01, …, batch rows to a transaction. A prefix's logs
	// keep growing from one call to the next, as the appenders' do.
	rawLogs := map[string]*auditlog.Head{}
	raw := func(prefix string, logs, batch int) float64 {
		rows := make([]row, total)
		for i := range rows {
			name := fmt.Sprintf("%s%02d", prefix, i%logs)
			h := rawLogs[name]
			if h == nil {
				h = &auditlog.Head{}
				rawLogs[name] = h
			}
			rows[i] = makeRow(h, appendRec(name))
		}
		start := time.Now()
		for i := 0; i < total; i += batch {
			tx, err := db.Begin()
			must(err)
			benchdb.InsertRows(tx, rows[i:min(i+batch, total)], t.insertSQL, t.timeArg)
			must(tx.Commit())
		}
		return float64(total) / time.Since(start).Seconds()
	}
	appendRound := func() float64 {
		if t.stmts != nil {
			defer t.stmts()()
		}
		defer cpuPer("durable append")(total)
		start := time.Now()
		var wg sync.WaitGroup
		for w := range *appenders {
			wg.Go(func() {
				for range *appends {
					r := appendRec(fmt.Sprintf("t%02d", w%8)) // after the raw logs, as a new tenant would be
					must(store.Update(ctx, func(tx lockbox.Tx) error { return tx.AppendAudit(ctx, r) }))
				}
			})
		}
		wg.Wait()
		return float64(total) / time.Since(start).Seconds()
	}

	fmt.Printf("%s: append: %d appenders x %d appends a round, 8 tenants; raw: the same number of rows, %d to a transaction, 8 tenants; same database\n",
		t.name, *appenders, *appends, *appenders)
	var ratios []float64
	before := raw("r", 8, *appenders)
	for round := range *rounds {
		app := appendRound()
		after := raw("r", 8, *appenders)
		ratio := app / max(before, after)
		ratios = append(ratios, ratio)
		fmt.Printf("round %d: raw %.0f rows/s, durable appends %.0f/s, raw %.0f rows/s: ratio %.2f\n", round+1, before, app, after, ratio)
		before = after
	}
	slices.Sort(ratios)
	fmt.Printf("RATIO durable appends / raw batched INSERT: median %.2f, lowest %.2f over %d rounds\n", ratios[len(ratios)/2], ratios[0], len(ratios))

	// For reference: the same appends -appenders to one Update (group
	// commit with no goroutine hand-offs), and two other raw shapes.
	start := time.Now()
	for i := 0; i < total; i += *appenders {
		must(store.Update(ctx, func(tx lockbox.Tx) error {
			for j := i; j < min(i+*appenders, total); j++ {
				if err := tx.AppendAudit(ctx, appendRec(fmt.Sprintf("g%02d", j%8))); err != nil {
					return err
				}
			}
			return nil
		}))
	}
	groupRate := float64(total) / time.Since(start).Seconds()
	fmt.Printf("also: %d appends to one Update: %.0f/s; raw into a single tenant, %d to a transaction: %.0f rows/s; raw, 1000 to a transaction: %.0f rows/s\n",
		*appenders, groupRate, *appenders, raw("s", 1, *appenders), raw("k", 8, 1000))
}

// searchLog is a log of the search database and how many records
// openSearchDB loads into it, spread evenly over a year.
type searchLog struct {
	name string
	n    int
}

// searchLogs are the logs besides contoso's: -records minus -big spread
// over 90 tenants (fewer when there are fewer records than that), the
// first ones taking one more when it does not divide evenly, so the
// database holds exactly -records.
func searchLogs() []searchLog {
	rest := *records - *big
	tenants := min(90, rest)
	out := make([]searchLog, tenants)
	for t := range out {
		out[t] = searchLog{fmt.Sprintf("t%02d", t), rest / tenants}
		if t < rest%tenants {
			out[t].n++
		}
	}
	return out
}

// openSearchDB opens (building on first use) a database with the dev seed,
// -big records for contoso and the rest spread over searchLogs, a year of
// traffic each, in index order.
func openSearchDB(ctx context.Context) (*sqlite.Store, *auditlog.Service, *approval.Service) {
	d := benchdb.Open(ctx, filepath.Join(*dir, fmt.Sprintf("search-%d.db", *records)))
	if !d.Fresh {
		return d.Store, d.Audit, d.Accounts
	}
	l := benchdb.NewLoader(d.Path)
	defer l.Close()
	start := time.Now()
	l.Load("contoso", *big) // after the seed's records
	for _, sl := range searchLogs() {
		l.Load(sl.name, sl.n)
	}
	fmt.Printf("loaded %d records in %s (%.0f records/s, Merkle hashes included)\n", *records, time.Since(start).Round(time.Second),
		float64(*records)/time.Since(start).Seconds())
	return d.Store, d.Audit, d.Accounts
}

// benchSearch: the latest 100 records of a random tenant in a random 7-day
// window, through the audit service (authorization, validation, store).
// Each window ends just after a random record of the tenant, so it holds
// one at least however sparse the tenant's year is (contoso's, with its
// dev seed, when -records equals -big and there is no other tenant).
func benchSearch(ctx context.Context, svc *auditlog.Service, logs []searchLog) {
	ctx = lockbox.NewContextWithUser(ctx, lockbox.System)
	rnd := rand.New(rand.NewPCG(1, 2))
	if len(logs) == 0 {
		logs = []searchLog{{"contoso", *big}}
	}
	lat := make([]time.Duration, 0, *queries)
	for i := range *queries + 100 {
		l := logs[rnd.IntN(len(logs))]
		step := 365 * 24 * time.Hour / time.Duration(l.n)
		end := year.Add(time.Duration(rnd.IntN(l.n)) * step).Truncate(time.Millisecond).Add(time.Millisecond)
		start := end.Add(-7 * 24 * time.Hour)
		t0 := time.Now()
		page, err := svc.SearchAudit(ctx, l.name, lockbox.AuditFilter{Start: &start, End: &end, Limit: 100})
		d := time.Since(t0)
		must(err)
		if len(page.Records) == 0 {
			log.Fatalf("search returned %d records", len(page.Records))
		}
		if i >= 100 { // the first 100 warm the page cache
			lat = append(lat, d)
		}
	}
	slices.Sort(lat)
	fmt.Printf("search over %d records (latest 100 of a tenant in a 7-day window, %d queries): p50 %s, p99 %s, max %s\n",
		*records, len(lat), lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1])
}

// peakHeap samples the live heap every 5 ms until stop is called.
func peakHeap() (stop func() uint64) {
	runtime.GC()
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	return func() uint64 { close(done); wg.Wait(); return peak.Load() }
}

func benchExportAndVerify(ctx context.Context, store *sqlite.Store, svc *auditlog.Service, accounts *approval.Service) {
	ts := httptest.NewServer((&server.Server{Requests: accounts, Accounts: accounts, Tenants: accounts, Catalog: accounts, Audit: svc,
		Logger: slog.New(slog.DiscardHandler)}).Handler())
	defer ts.Close()
	sess, err := accounts.Login(ctx, "auditor@contoso.test", approval.DevPassword)
	must(err)
	c := client.New(ts.URL, sess.Token).WithHTTPClient(&http.Client{Timeout: time.Hour})

	stop := peakHeap()
	start := time.Now()
	w := &benchdb.CountWriter{}
	_, err = c.ExportAuditCSV(ctx, "contoso", lockbox.AuditFilter{}, w)
	must(err)
	d, peak := time.Since(start), stop()
	fmt.Printf("CSV export of %d records (%.0f MiB): %s, %.0f records/s, peak live heap %.1f MiB (server and client in one process)\n",
		*big, float64(w.N)/(1<<20), d.Round(time.Millisecond), float64(*big)/d.Seconds(), float64(peak)/(1<<20))

	stop = peakHeap()
	start = time.Now()
	r, err := auditlog.Verify(ctx, c, "contoso", nil, auditlog.Options{})
	must(err)
	d, peak = time.Since(start), stop()
	if !r.OK() {
		log.Fatalf("verification failed: %v", r.Problems)
	}
	fmt.Printf("full verification of %d records over loopback HTTP: %s, %.0f records/s, peak live heap %.0f MiB\n",
		r.Size, d.Round(time.Millisecond), float64(r.Size)/d.Seconds(), float64(peak)/(1<<20))
}
