package main

import (
	"database/sql"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox/internal/replicas"
	"github.com/lockboxhq/lockbox/postgres/pgtest"
)

// skippedPostgres is set when TestRun skipped for want of PostgreSQL;
// TestMain then says so in one line that shows also without -v.
var skippedPostgres atomic.Bool

func TestMain(m *testing.M) {
	code := m.Run()
	if skippedPostgres.Load() {
		fmt.Fprintf(os.Stderr, "replicabench: TestRun skipped: no PostgreSQL (set %s)\n", pgtest.EnvDSN)
	}
	os.Exit(code)
}

// postgresDSN is the test server's DSN; without one the test skips, or
// fails when LOCKBOX_REQUIRE_POSTGRES=1 (pgtest.DSN says why).
func postgresDSN(t *testing.T) string {
	t.Helper()
	if os.Getenv(pgtest.EnvDSN) == "" && os.Getenv(pgtest.EnvRequire) != "1" {
		skippedPostgres.Store(true)
		t.Skip("replicabench: no PostgreSQL (LOCKBOX_TEST_POSTGRES unset)")
	}
	return pgtest.DSN(t)
}

// TestRun runs small benches (one and two replicas, no CPU cap), on the
// dev tenant contoso and spread over three tenants the run creates, and
// checks that each measured something real: two measurements with positive
// steps/s, and every request of each in the database, completed, each
// tenant with its share. It builds lockbox and starts six servers in all.
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds lockbox and starts replicas")
	}
	dsn := postgresDSN(t)
	bin, err := replicas.Build(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		tenants, workflows int
		want               []string // the tenants that must have requests
	}{
		{1, 20, []string{"contoso"}},
		{3, 12, []string{"rb-000", "rb-001", "rb-002"}},
	} {
		t.Run(fmt.Sprintf("tenants=%d", tc.tenants), func(t *testing.T) {
			c := config{postgres: dsn, bin: bin, replicas: []int{1, 2}, rounds: 1, clients: 4,
				tenants: tc.tenants, workflows: tc.workflows, warmup: 5, timeout: defaultTimeout(t)}
			var out strings.Builder
			results, err := run(t.Context(), c, &out)
			t.Log("\n" + out.String())
			if err != nil {
				t.Fatal(err)
			}
			if len(results) != 2 {
				t.Fatalf("%d measurements, want 2", len(results))
			}
			for i, r := range results {
				// Notifications are delivered after the steps return, or
				// with them: never before the first step.
				if r.delivered < r.elapsed || r.sustained <= 0 || r.sustained > r.stepsPerSec {
					t.Errorf("measurement %d: steps in %v at %.1f/s, delivered at %v, %.1f/s sustained; want delivery no earlier than the steps",
						i, r.elapsed, r.stepsPerSec, r.delivered, r.sustained)
				}
				if r.replicas != c.replicas[i] || r.stepsPerSec <= 0 || len(r.replicaCPU) != r.replicas {
					t.Errorf("measurement %d: %d replicas (%d CPU figures), %.1f steps/s; want %d replicas and steps/s > 0",
						i, r.replicas, len(r.replicaCPU), r.stepsPerSec, c.replicas[i])
				}
				// Counted in the schema before it was dropped.
				if want := c.warmup + c.workflows; r.filed != want || r.completed != want {
					t.Errorf("measurement %d: %d requests filed, %d completed; want %d and %d", i, r.filed, r.completed, want, want)
				}
				if len(r.perTenant) != len(tc.want) {
					t.Errorf("measurement %d: requests in tenants %v, want in %v", i, r.perTenant, tc.want)
				}
				for _, tenant := range tc.want {
					// Each tenant at least its share rounded down (17
					// workflows over 3 tenants: 5 or 6 each).
					if got, least := r.perTenant[tenant], (c.warmup+c.workflows)/tc.tenants; got.completed < least || got.completed != got.filed {
						t.Errorf("measurement %d: tenant %s has %d requests filed, %d completed; want at least %d, all completed",
							i, tenant, got.filed, got.completed, least)
					}
				}
			}
			if !strings.Contains(out.String(), "2 vs 1 replicas:") {
				t.Errorf("no summary ratio in the output")
			}
			if want := fmt.Sprintf("over %d tenant(s)", tc.tenants); !strings.Contains(out.String(), want) {
				t.Errorf("the header does not say %q", want)
			}
		})
	}
}

// TestWaitDelivered checks that a measurement waits for its notifications:
// waitDelivered returns only once no outbox message is pending, with the
// number pending when it was called.
func TestWaitDelivered(t *testing.T) {
	dsn, _, drop, err := replicas.FreshSchema(t.Context(), postgresDSN(t), "replicabench_test_")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := drop(); err != nil {
			t.Error(err)
		}
	})
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(t.Context(), `CREATE TABLE outbox (id text PRIMARY KEY, status text NOT NULL);
		INSERT INTO outbox VALUES ('a', 'pending'), ('b', 'pending'), ('c', 'delivered')`); err != nil {
		t.Fatal(err)
	}
	type answer struct {
		n   int
		err error
	}
	done := make(chan answer, 1)
	go func() {
		n, err := waitDelivered(t.Context(), db)
		done <- answer{n, err}
	}()
	for _, id := range []string{"a", "b"} {
		select {
		case a := <-done:
			t.Fatalf("waitDelivered returned (%d, %v) with message %s still pending", a.n, a.err, id)
		case <-time.After(100 * time.Millisecond):
		}
		if _, err := db.ExecContext(t.Context(), `UPDATE outbox SET status = 'dead' WHERE id = $1`, id); err != nil {
			t.Fatal(err)
		}
	}
	if a := <-done; a.n != 2 || a.err != nil {
		t.Errorf("waitDelivered = (%d, %v), want (2, nil)", a.n, a.err)
	}
}

// defaultTimeout leaves the test a minute to clean up before go test's
// own deadline.
func defaultTimeout(t *testing.T) time.Duration {
	if dl, ok := t.Deadline(); ok {
		return max(time.Until(dl)-time.Minute, time.Minute)
	}
	return 5 * time.Minute
}

func TestReplicasFlag(t *testing.T) {
	for _, tc := range []struct {
		arg     string
		want    []int
		wantErr bool
	}{
		{"1,3", []int{1, 3}, false},
		{"3", []int{3}, false},
		{" 1, 2 ,4", []int{1, 2, 4}, false},
		{"0", nil, true},
		{"-1", nil, true},
		{"a", nil, true},
		{"", nil, true},
		{"1,,3", nil, true},
		{"1,3,", nil, true},
		{"1.5", nil, true},
	} {
		var c config
		fs := flagSet(&c, flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		err := fs.Parse([]string{"-replicas", tc.arg})
		if (err != nil) != tc.wantErr {
			t.Errorf("-replicas %q: error %v, want error %v", tc.arg, err, tc.wantErr)
			continue
		}
		if !tc.wantErr && fmt.Sprint(c.replicas) != fmt.Sprint(tc.want) {
			t.Errorf("-replicas %q: %v, want %v", tc.arg, c.replicas, tc.want)
		}
	}
	var c config
	if err := flagSet(&c, flag.ContinueOnError).Parse(nil); err != nil || fmt.Sprint(c.replicas) != "[1 3]" {
		t.Errorf("default -replicas: %v (%v), want [1 3]", c.replicas, err)
	}
}

func TestTenantsFlag(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		want    int
		wantErr bool
	}{
		{nil, 1, false},
		{[]string{"-tenants", "1"}, 1, false},
		{[]string{"-tenants", "8"}, 8, false},
		{[]string{"-tenants", "0"}, 0, true},
		{[]string{"-tenants", "-2"}, 0, true},
	} {
		c, err := parseChecked(tc.args)
		if (err != nil) != tc.wantErr || !tc.wantErr && c.tenants != tc.want {
			t.Errorf("%q: %d tenants, error %v; want %d, error %v", tc.args, c.tenants, err, tc.want, tc.wantErr)
		}
	}
}

func TestCPUQuota(t *testing.T) {
	for _, tc := range []struct {
		cores   float64
		quota   int64
		cpuMax  string
		wantErr bool
	}{
		{0.35, 35000, "35000 100000", false},
		{1, 100000, "100000 100000", false},
		{2.5, 250000, "250000 100000", false},
		{0.01, 1000, "1000 100000", false},
		{0.004, 0, "", true}, // under the kernel's 1 ms
		{0, 0, "", true},
		{-1, 0, "", true},
		{math.NaN(), 0, "", true},
		{math.Inf(1), 0, "", true},
	} {
		q, err := cpuQuota(tc.cores)
		m, errMax := cpuMax(tc.cores)
		if (err != nil) != tc.wantErr || (errMax != nil) != tc.wantErr {
			t.Errorf("%v cores: errors %v, %v; want error %v", tc.cores, err, errMax, tc.wantErr)
			continue
		}
		if q != tc.quota || m != tc.cpuMax {
			t.Errorf("%v cores: quota %d, cpu.max %q; want %d, %q", tc.cores, q, m, tc.quota, tc.cpuMax)
		}
	}
}

// TestSeveralWritersFlag: -several-writers reaches the config, and a
// negative count is refused.
func TestSeveralWritersFlag(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		want    int
		wantErr bool
	}{
		{nil, 0, false},
		{[]string{"-several-writers", "1"}, 1, false},
		{[]string{"-several-writers", "-1"}, 0, true},
	} {
		c, err := parseChecked(tc.args)
		if (err != nil) != tc.wantErr || !tc.wantErr && c.severalWriters != tc.want {
			t.Errorf("%q: %d writers, error %v; want %d, error %v", tc.args, c.severalWriters, err, tc.want, tc.wantErr)
		}
	}
}

// parseChecked parses args as the command line would and checks the
// result; check needs a DSN, which nothing connects to.
func parseChecked(args []string) (config, error) {
	var c config
	fs := flagSet(&c, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	err := fs.Parse(append([]string{"-postgres", "postgres://x"}, args...))
	if err == nil {
		err = c.check()
	}
	return c, err
}
