package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/client"
	"github.com/lockboxhq/lockbox/internal/benchcpu"
	"github.com/lockboxhq/lockbox/internal/benchflow"
	"github.com/lockboxhq/lockbox/internal/servegc"
	"github.com/lockboxhq/lockbox/postgres"
	"github.com/lockboxhq/lockbox/postgres/pgtest"
)

// BenchmarkWorkflow measures the full workflow of a request (create →
// review → approve → complete: four HTTP calls, four committed write
// transactions, each with its audit record) through the HTTP API of a real
// server, at 1 and 32 concurrent clients, on SQLite and on PostgreSQL.
//
// Each result is also put in proportion to what its database can do at
// all: the rate of raw durable single-row INSERT commits from as many
// clients, measured on the same database in the same run.
//
//	steps/s        committed workflow steps (HTTP calls) per second
//	workflows/s    steps/s / 4
//	inserts/s      raw single-row INSERT commits per second, same database
//	x-insert       steps/s ÷ inserts/s: the fraction of the database's bare
//	               commit rate that the full workflow achieves per commit
//	lockbox-cpu-µs/step  CPU of this process (clients and servers) per step
//	pg-cpu-µs/step CPU of the PostgreSQL server per step, when
//	               LOCKBOX_BENCH_POSTMASTER names its postmaster's pid (a
//	               server of the benchmark's own: it counts everything)
//	backlog-msgs   notifications still undelivered when the last step
//	               returned
//	sustained-steps/s  steps ÷ the time until every notification of the
//	               steps was delivered: the rate a server keeps up with,
//	               its outbox included. The CPU figures above cover that
//	               whole time too, so they include the delivery (figures in
//	               docs/benchmarks.md before its eighth session do not).
//
// The replicas=3 case runs three servers on one PostgreSQL database, as
// `lockbox serve` replicas behind a load balancer would, each workflow step
// sent to the next replica in turn, with the same 32 clients in all.
//
// The process runs with `lockbox serve`'s collector target (GOGC=400 unless
// GOGC is set; internal/servegc), which it has had since 04b7b6c; until the
// ninth session of docs/benchmarks.md the benchmark ran at Go's default.
//
// Run: go test ./cmd/lockbox -run '^$' -bench Workflow -benchtime 2000x
// (PostgreSQL cases need LOCKBOX_TEST_POSTGRES; results in docs/benchmarks.md).
func BenchmarkWorkflow(b *testing.B) {
	// The servers run in this process: give it the collector target that
	// `lockbox serve` sets for itself (internal/servegc; GOGC, when set,
	// still wins), so the figures are the product's. The clients share
	// the target; they are a few percent of the process's CPU.
	if servegc.Set() > 0 {
		b.Cleanup(func() { debug.SetGCPercent(100) })
	}
	type benchCase struct {
		engine            string
		replicas, clients int
	}
	cases := []benchCase{{"sqlite", 1, 1}, {"sqlite", 1, 32}, {"postgres", 1, 1}, {"postgres", 1, 32}, {"postgres", 3, 32}}
	for _, c := range cases {
		name := fmt.Sprintf("%s/clients=%d", c.engine, c.clients)
		if c.replicas > 1 {
			name = fmt.Sprintf("%s/replicas=%d/clients=%d", c.engine, c.replicas, c.clients)
		}
		b.Run(name, func(b *testing.B) {
			clients := c.clients
			database := benchDatabase(b, c.engine)
			inserts := insertRate(b, c.engine, database, clients)
			keyDir := filepath.Join(b.TempDir(), "keys")
			var srvs []*benchServer
			for range c.replicas {
				srvs = append(srvs, startBenchServer(b, database, keyDir))
			}
			b.ResetTimer()
			start, cpu0 := time.Now(), benchcpu.Self()
			pg0, pgOK := benchcpu.Postgres()
			runWorkflows(b, srvs, clients, b.N)
			elapsed := time.Since(start)
			b.StopTimer()
			backlog := waitDelivered(b, srvs[0].store)
			delivered := time.Since(start)
			b.ReportMetric(float64((benchcpu.Self()-cpu0).Microseconds())/float64(4*b.N), "lockbox-cpu-µs/step")
			if pg1, _ := benchcpu.Postgres(); pgOK && c.engine == "postgres" {
				b.ReportMetric(float64((pg1-pg0).Microseconds())/float64(4*b.N), "pg-cpu-µs/step")
			}
			steps := float64(4*b.N) / elapsed.Seconds()
			b.ReportMetric(steps, "steps/s")
			b.ReportMetric(float64(backlog), "backlog-msgs")
			b.ReportMetric(float64(4*b.N)/delivered.Seconds(), "sustained-steps/s")
			b.ReportMetric(steps/4, "workflows/s")
			b.ReportMetric(inserts, "inserts/s")
			b.ReportMetric(steps/inserts, "x-insert")
		})
	}
}

// benchDatabase is a fresh database of engine: a SQLite file, or a fresh
// schema on the test PostgreSQL server.
func benchDatabase(b *testing.B, engine string) string {
	if engine == "postgres" {
		return pgtest.Schema(b, pgtest.DSN(b))
	}
	return filepath.Join(b.TempDir(), "lockbox.db")
}

// benchServer is a dev server and a signed-in client per dev account.
type benchServer struct {
	as map[string]*client.Client
	// roundTrips is the store's round trips so far (PostgreSQL only;
	// postgres.Store.RoundTrips), 0 otherwise.
	roundTrips func() int64
	store      lockbox.Store
}

// startBenchServer starts a dev server on database; replicas of one
// database share keyDir.
func startBenchServer(b *testing.B, database, keyDir string) *benchServer {
	b.Helper()
	ctx := context.Background()
	rs, err := startServer(ctx, serverConfig{Listen: "127.0.0.1:0", Dev: true, WorkerPoll: time.Second,
		Database: database, KeyDir: keyDir, PasswordMemoryKiB: 64,
		DB: benchPool, Notify: notifyConfig{MailFrom: "Lockbox <lockbox@localhost>"}}, io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		rs.Close(ctx)
	})
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	srv := &benchServer{as: map[string]*client.Client{}, roundTrips: func() int64 { return 0 }, store: rs.store}
	if rt, ok := rs.store.(interface{ RoundTrips() int64 }); ok {
		srv.roundTrips = rt.RoundTrips
	}
	for _, email := range []string{benchflow.Operator, benchflow.Manager, "approver@contoso.test"} {
		s, err := client.New(rs.URL(), "").WithHTTPClient(hc).Login(ctx, email, "lockbox-dev")
		if err != nil {
			b.Fatal(err)
		}
		srv.as[email] = client.New(rs.URL(), s.Token).WithHTTPClient(hc)
	}
	return srv
}

// waitDelivered waits until store has no pending notification (a dev
// server's email goes to its mailbox and does not fail), at most two
// minutes, and returns how many were pending when it was called. It polls
// the store's next outbox wake-up, one index probe, so the polling itself
// costs the database next to nothing.
func waitDelivered(b *testing.B, store lockbox.Store) int {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pending := 0
	err := store.View(ctx, func(tx lockbox.Tx) error {
		counts, err := tx.OutboxCounts(ctx)
		for _, c := range counts {
			if c.Status == lockbox.OutboxPending {
				pending += c.Count
			}
		}
		return err
	})
	for err == nil {
		waiting := false
		err = store.View(ctx, func(tx lockbox.Tx) error {
			for _, ch := range []string{lockbox.ChannelEmail, lockbox.ChannelWebhook} {
				next, err := tx.NextOutboxWake(ctx, ch)
				if err != nil {
					return err
				}
				waiting = waiting || !next.IsZero()
			}
			return nil
		})
		if err == nil && !waiting {
			return pending
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.Fatalf("waiting for %d notifications to be delivered: %v", pending, err)
	return 0
}

// runWorkflows runs n workflows on clients goroutines, the steps spread
// over srvs in turn.
func runWorkflows(b *testing.B, srvs []*benchServer, clients, n int) {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for range clients {
		wg.Go(func() {
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				if err := workflow(srvs, i); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

// workflow runs workflow i (benchflow.Workflow) on contoso, step k on
// replica (i+k) mod len(srvs).
func workflow(srvs []*benchServer, i int64) error {
	as := func(k int, email string) *client.Client { return srvs[(int(i)+k)%len(srvs)].as[email] }
	return benchflow.Workflow(context.Background(), as, "contoso", "approver@contoso.test", fmt.Sprintf("SR-%d", i))
}

// benchPool is the PostgreSQL pool of each benchmark server: the serve
// defaults, or LOCKBOX_BENCH_POOL=open,idle (connections per replica, for
// pool-sizing runs; docs/benchmarks.md, "Third pass").
var benchPool = func() postgres.Options {
	o := defaultServePool()
	if v := os.Getenv("LOCKBOX_BENCH_POOL"); v != "" {
		if _, err := fmt.Sscanf(v, "%d,%d", &o.MaxOpenConns, &o.MaxIdleConns); err != nil {
			panic(fmt.Sprintf("LOCKBOX_BENCH_POOL=%q: want open,idle: %v", v, err))
		}
	}
	if v := os.Getenv("LOCKBOX_BENCH_WRITERS"); v != "" {
		if _, err := fmt.Sscanf(v, "%d", &o.Writers); err != nil {
			panic(fmt.Sprintf("LOCKBOX_BENCH_WRITERS=%q: want a number: %v", v, err))
		}
	}
	return o
}()

// insertRate measures raw durable single-row INSERT commits per second on
// the benchmark's database, from clients goroutines for a fixed time, each
// INSERT its own transaction. SQLite gets the store's own connection
// settings (WAL, synchronous=FULL, one writer); PostgreSQL one connection
// per client and the server's settings.
func insertRate(b *testing.B, engine, database string, clients int) float64 {
	b.Helper()
	db := openRaw(b, engine, database, clients)
	defer db.Close()
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `CREATE TABLE bench_insert (id INTEGER PRIMARY KEY, v TEXT NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	const window = 3 * time.Second
	var next, done atomic.Int64
	var wg sync.WaitGroup
	stop := time.Now().Add(window)
	start := time.Now()
	for range clients {
		wg.Go(func() {
			for time.Now().Before(stop) {
				if _, err := db.ExecContext(ctx, insertSQL(engine), next.Add(1), "payload"); err != nil {
					b.Error(err)
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	return float64(done.Load()) / time.Since(start).Seconds()
}

func insertSQL(engine string) string {
	if engine == "postgres" {
		return `INSERT INTO bench_insert (id, v) VALUES ($1, $2)`
	}
	return `INSERT INTO bench_insert (id, v) VALUES (?, ?)`
}

func openRaw(b *testing.B, engine, database string, clients int) *sql.DB {
	b.Helper()
	if engine == "postgres" {
		db := pgtest.Open(b, database)
		db.SetMaxOpenConns(clients)
		db.SetMaxIdleConns(clients)
		return db
	}
	db, err := sql.Open("sqlite", "file:"+database+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_txlock=immediate")
	if err != nil {
		b.Fatal(err)
	}
	db.SetMaxOpenConns(1) // SQLite has one writer; the store queues its writes the same way
	return db
}
