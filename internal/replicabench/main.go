// Command replicabench asks whether Lockbox's design scales out: do three
// `lockbox serve` replicas on one PostgreSQL database commit more workflow
// steps per second than one replica, with the same clients (issue 16)?
//
// On a small machine the replicas, their clients and PostgreSQL share the
// same cores, so adding replicas adds no CPU and the in-process benchmark
// (BenchmarkWorkflow/postgres/replicas=3) cannot answer. This program
// emulates replicas on machines of their own instead: each replica is a
// separate process in a cgroup of its own with the same CPU quota
// (-cpu-per-replica), while PostgreSQL and this driver stay uncapped. It
// then alternates one and three replicas (-replicas 1,3) for -rounds
// rounds, each measurement on a fresh schema, and reports steps/s, each
// process's CPU per step, how often each replica was throttled, and the
// ratio of three to one replica in each round.
//
//	go run ./internal/replicabench -postgres 'postgres://postgres@127.0.0.1:5433/test?sslmode=disable' \
//	    -replicas 1,3 -rounds 3 -cpu-per-replica 0.35 -postmaster "$(head -1 $PGDATA/postmaster.pid)"
//
// A workflow is the one of BenchmarkWorkflow (cmd/lockbox/bench_test.go):
// create → review_approve → approve → complete, step k of workflow i on
// replica (i+k) mod n, from -clients goroutines in a closed loop. The
// quota needs Linux and root (cgroup v1 cpu controller, or cgroup v2).
//
// Every step appends to the audit log of the request's tenant, and the
// appends of one tenant serialize on its log's head row however many
// replicas there are. With -tenants 1 (the default) every workflow goes to
// the dev tenant contoso; with -tenants N > 1 the program first creates
// tenants rb-000 … rb-(N-1) through the API, each with an approver, and
// workflow i goes to tenant i mod N, as a provider's load spreads over its
// many tenants. The operator and support manager are the dev ones.
//
// -several-writers N runs each replica with --db-writers N whenever more
// than one replica runs (docs/operations.md: several replicas on one busy
// tenant want fewer writers each); one replica keeps the default.
//
// The figures are only as good as the machine is quiet: each line also
// says how busy the whole machine was and how much of that was none of
// the measured processes.
package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
	"github.com/lockboxhq/lockbox/client"
	"github.com/lockboxhq/lockbox/internal/benchcpu"
	"github.com/lockboxhq/lockbox/internal/benchflow"
	"github.com/lockboxhq/lockbox/internal/replicas"
)

type config struct {
	postgres       string
	replicas       []int
	rounds         int
	clients        int
	tenants        int
	workflows      int
	warmup         int
	cpuPerReplica  float64
	severalWriters int
	bin            string
	postmaster     string
	timeout        time.Duration
}

func main() {
	var c config
	fs := flagSet(&c, flag.ExitOnError)
	_ = fs.Parse(os.Args[1:]) // ExitOnError: Parse exits on a bad flag
	// Ctrl-C cancels the run; run's deferred clean-up stops the replicas,
	// removes their cgroups and drops the schemas.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := run(ctx, c, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "replicabench:", err)
		stop()
		os.Exit(1)
	}
}

// flagSet declares the command's flags, writing into c.
func flagSet(c *config, onError flag.ErrorHandling) *flag.FlagSet {
	fs := flag.NewFlagSet("replicabench", onError)
	c.replicas = []int{1, 3}
	fs.StringVar(&c.postgres, "postgres", "", "PostgreSQL DSN; every measurement gets a fresh schema on it (required)")
	fs.Var((*replicaList)(&c.replicas), "replicas", "comma-separated replica counts, measured in this order in every round")
	fs.IntVar(&c.rounds, "rounds", 3, "rounds; each measures every replica count once")
	fs.IntVar(&c.clients, "clients", 32, "concurrent clients (the same total for every replica count)")
	fs.IntVar(&c.tenants, "tenants", 1, "tenants the workflows are spread over (1: the dev tenant contoso; N > 1: rb-000 … created by the run)")
	fs.IntVar(&c.workflows, "workflows", 2000, "workflows measured per measurement (4 steps each)")
	fs.IntVar(&c.warmup, "warmup", 50, "workflows run before each measurement and not counted")
	fs.Float64Var(&c.cpuPerReplica, "cpu-per-replica", 0, "CPU quota of each replica process in cores (0: no cap; needs Linux and root)")
	fs.IntVar(&c.severalWriters, "several-writers", 0, "--db-writers of each replica when more than one runs (0: the default)")
	fs.StringVar(&c.bin, "bin", "", "a prebuilt lockbox binary (default: build cmd/lockbox; run inside the module)")
	fs.StringVar(&c.postmaster, "postmaster", os.Getenv("LOCKBOX_BENCH_POSTMASTER"),
		"pid of the PostgreSQL postmaster, to report its CPU per step (default $LOCKBOX_BENCH_POSTMASTER)")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Minute, "bound on the whole run")
	return fs
}

// replicaList is the -replicas flag.
type replicaList []int

func (l *replicaList) String() string {
	if l == nil {
		return ""
	}
	var s []string
	for _, n := range *l {
		s = append(s, strconv.Itoa(n))
	}
	return strings.Join(s, ",")
}

func (l *replicaList) Set(v string) error {
	ns, err := parseReplicas(v)
	if err != nil {
		return err
	}
	*l = ns
	return nil
}

// parseReplicas reads "1,3": one or more positive replica counts.
func parseReplicas(s string) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("no replica counts (want e.g. 1,3)")
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("replica count %q is not a number", f)
		}
		if n < 1 {
			return nil, fmt.Errorf("replica count %d: want at least 1", n)
		}
		out = append(out, n)
	}
	return out, nil
}

// check refuses a configuration the run could not honour.
func (c config) check() error {
	switch {
	case c.postgres == "":
		return errors.New("-postgres DSN is required")
	case len(c.replicas) == 0:
		return errors.New("-replicas: no replica counts")
	case c.rounds < 1, c.clients < 1, c.workflows < 1, c.tenants < 1, c.warmup < 0:
		return errors.New("-rounds, -clients, -workflows and -tenants must be at least 1, -warmup at least 0")
	case c.timeout <= 0:
		return errors.New("-timeout must be positive")
	case c.severalWriters < 0:
		return fmt.Errorf("-several-writers %d: want 0 (the default) or a number of writers", c.severalWriters)
	case c.cpuPerReplica < 0 || math.IsNaN(c.cpuPerReplica):
		return fmt.Errorf("-cpu-per-replica %v: want 0 (no cap) or a positive number of cores", c.cpuPerReplica)
	}
	if c.cpuPerReplica > 0 {
		if runtime.GOOS != "linux" || os.Geteuid() != 0 {
			return errors.New("-cpu-per-replica needs Linux and root (it creates cgroups)")
		}
		if _, err := cpuQuota(c.cpuPerReplica); err != nil {
			return err
		}
	}
	return nil
}

// result is one measurement.
type result struct {
	round, replicas int
	elapsed         time.Duration
	stepsPerSec     float64
	steps           int // 4 × the measured workflows
	// backlog is the notifications still undelivered when the last step
	// returned; delivered is the time from the first step until none was
	// (the CPU figures cover it), and sustained is steps per second over
	// it: the rate the replicas keep up with, notifications included.
	backlog   int
	delivered time.Duration
	sustained float64
	// completed and filed count the driver's requests in the schema after
	// the run (warm-up included): every filed request must be completed.
	// perTenant counts them by tenant.
	completed, filed int
	perTenant        map[string]tally
	replicaCPU       []time.Duration
	throttle         []throttle // per replica; zero without a cap
	pgCPU            time.Duration
	pgOK             bool
	driverCPU        time.Duration
	machineBusy      time.Duration // all CPUs, everything on the machine
	err              error
}

// run measures every replica count of c.replicas in each of c.rounds
// rounds, prints a line per measurement and a summary, and returns the
// measurements; it fails if any measurement failed.
func run(ctx context.Context, c config, out io.Writer) ([]result, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var cg *cgroupCPU
	if c.cpuPerReplica > 0 {
		found, err := findCPUController()
		if err != nil {
			return nil, err
		}
		cg = &found
	}
	if c.postmaster != "" {
		// benchcpu.Postgres reads the postmaster from the environment.
		os.Setenv("LOCKBOX_BENCH_POSTMASTER", c.postmaster)
		if _, ok := benchcpu.Postgres(); !ok {
			return nil, fmt.Errorf("-postmaster %s: no such process in /proc", c.postmaster)
		}
	}
	bin := c.bin
	if bin == "" {
		dir, err := os.MkdirTemp("", "replicabench-bin")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		if bin, err = replicas.Build(ctx, dir); err != nil {
			return nil, err
		}
	}
	fmt.Fprintf(out, "%d clients, %d workflows per measurement (+%d warm-up) over %d tenant(s), CPU per replica: %s, %d CPUs on this machine\n",
		c.clients, c.workflows, c.warmup, c.tenants, capText(c.cpuPerReplica), runtime.NumCPU())
	if c.severalWriters > 0 {
		fmt.Fprintf(out, "with more than one replica, each runs --db-writers %d\n", c.severalWriters)
	}
	fmt.Fprintln(out, "µs/step: a process's CPU ÷ all the measurement's steps (the replicas' figures add up: Σr); "+
		"c: cores it used; thr: periods throttled/periods with work, time throttled; other: machine busy minus all of these")
	var results []result
	var errs []error
	for round := 1; round <= c.rounds; round++ {
		for _, n := range c.replicas {
			r := measure(ctx, c, cg, bin, n)
			r.round = round
			results = append(results, r)
			printResult(out, r)
			if r.err != nil {
				errs = append(errs, fmt.Errorf("round %d, %d replicas: %w", round, n, r.err))
			}
			if ctx.Err() != nil {
				return results, errors.Join(append(errs, ctx.Err())...)
			}
		}
	}
	printSummary(out, c, results)
	return results, errors.Join(errs...)
}

func capText(cores float64) string {
	if cores == 0 {
		return "no cap"
	}
	return fmt.Sprintf("%.2f cores (cgroup quota)", cores)
}

// measure runs one measurement of n replicas on a fresh schema and
// cleans up after it whatever happens; a failure is in the result's err.
func measure(ctx context.Context, c config, cg *cgroupCPU, bin string, n int) (res result) {
	res.replicas = n
	fail := func(err error) result { res.err = err; return res }
	dsn, _, drop, err := replicas.FreshSchema(ctx, c.postgres, "replicabench_")
	if err != nil {
		return fail(err)
	}
	defer func() { res.err = errors.Join(res.err, drop()) }()
	dir, err := os.MkdirTemp("", "replicabench")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(dir)
	var args []string
	if n > 1 && c.severalWriters > 0 {
		args = []string{"--db-writers", strconv.Itoa(c.severalWriters)}
	}
	reps, err := startReplicas(ctx, bin, dsn, dir, n, args...)
	defer func() {
		for _, r := range reps {
			res.err = errors.Join(res.err, r.stop())
		}
	}()
	if err != nil {
		return fail(err)
	}
	// Set up and sign in before the cap: password hashing under a small
	// quota would only make the run longer.
	approvers := []account{{approverOf("contoso"), approval.DevPassword}}
	if c.tenants > 1 {
		if approvers, err = createTenants(ctx, reps[0].URL, c.tenants); err != nil {
			return fail(err)
		}
	}
	servers, err := signInAll(ctx, reps, append(slices.Clone(devStaff), approvers...))
	if err != nil {
		return fail(err)
	}
	if cg != nil {
		for i, r := range reps {
			if r.cg, err = cg.create(fmt.Sprintf("lockbox-replicabench-%d-%d", os.Getpid(), i), c.cpuPerReplica); err != nil {
				return fail(err)
			}
			if err := r.cg.add(r.Cmd.Process.Pid); err != nil {
				return fail(err)
			}
		}
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return fail(err)
	}
	defer db.Close()
	if err := runWorkflows(ctx, servers, c.tenants, c.clients, 1, c.warmup); err != nil {
		return fail(fmt.Errorf("warm-up: %w", err))
	}
	// The measurement starts with every notification delivered, and ends
	// when every notification of its steps is: a replica that answered
	// the steps but left their emails queued has not done their work, and
	// a backlog that grows with every step is no rate it can keep up.
	if _, err := waitDelivered(ctx, db); err != nil {
		return fail(fmt.Errorf("warm-up: %w", err))
	}
	before, err := sample(reps)
	if err != nil {
		return fail(err)
	}
	start := time.Now()
	err = runWorkflows(ctx, servers, c.tenants, c.clients, c.warmup+1, c.workflows)
	res.elapsed = time.Since(start)
	if err != nil {
		return fail(err)
	}
	if res.backlog, err = waitDelivered(ctx, db); err != nil {
		return fail(err)
	}
	res.delivered = time.Since(start)
	after, err := sample(reps)
	if err != nil {
		return fail(err)
	}
	res.steps = 4 * c.workflows
	res.stepsPerSec = float64(res.steps) / res.elapsed.Seconds()
	res.sustained = float64(res.steps) / res.delivered.Seconds()
	after.into(&res, before)
	// Count in the database, not in the driver: a driver that skipped
	// work must not pass for a fast one. Each tenant must have its share
	// of the workflows (warm-up included), all completed, and no other
	// tenant any.
	if res.perTenant, err = countRequests(ctx, db); err != nil {
		return fail(err)
	}
	want := map[string]tally{}
	for i := 1; i <= c.warmup+c.workflows; i++ {
		t := tenantName(i%c.tenants, c.tenants)
		want[t] = tally{want[t].filed + 1, want[t].completed + 1}
	}
	for t, got := range res.perTenant {
		res.filed += got.filed
		res.completed += got.completed
		if _, ok := want[t]; !ok {
			want[t] = tally{} // a tenant that should have none
		}
	}
	for _, t := range slices.Sorted(maps.Keys(want)) {
		if got := res.perTenant[t]; got != want[t] {
			return fail(fmt.Errorf("tenant %s has %d driver requests, %d completed; want %d and %d",
				t, got.filed, got.completed, want[t].filed, want[t].completed))
		}
	}
	return res
}

// usage is the CPU counters read at one moment.
type usage struct {
	replicaCPU []time.Duration
	throttle   []throttle
	pg         time.Duration
	pgOK       bool
	driver     time.Duration
	machine    time.Duration
}

func sample(reps []*replica) (usage, error) {
	var u usage
	for _, r := range reps {
		cpu, err := procCPU(r.Cmd.Process.Pid)
		if err != nil {
			return u, err
		}
		u.replicaCPU = append(u.replicaCPU, cpu)
		var t throttle
		if r.cg != nil {
			if t, err = r.cg.stat(); err != nil {
				return u, err
			}
		}
		u.throttle = append(u.throttle, t)
	}
	u.pg, u.pgOK = benchcpu.Postgres()
	u.driver = benchcpu.Self()
	var err error
	u.machine, err = machineBusy()
	return u, err
}

// into stores in r what was used between before and u.
func (u usage) into(r *result, before usage) {
	for i := range u.replicaCPU {
		r.replicaCPU = append(r.replicaCPU, u.replicaCPU[i]-before.replicaCPU[i])
		r.throttle = append(r.throttle, u.throttle[i].minus(before.throttle[i]))
	}
	r.pgCPU, r.pgOK = u.pg-before.pg, u.pgOK && before.pgOK
	r.driverCPU = u.driver - before.driver
	r.machineBusy = u.machine - before.machine
}

func printResult(w io.Writer, r result) {
	if r.err != nil {
		fmt.Fprintf(w, "round %d  replicas=%d  FAILED: %v\n", r.round, r.replicas, r.err)
		return
	}
	per := func(d time.Duration) string {
		return fmt.Sprintf("%.0f µs/step %.2fc", float64(d.Microseconds())/float64(r.steps), d.Seconds()/r.delivered.Seconds())
	}
	var b strings.Builder
	fmt.Fprintf(&b, "round %d  replicas=%d  %.1f steps/s sustained  (%d steps in %.2fs, %.1f steps/s; %d notifications queued then, all delivered at %.2fs; %d/%d requests completed)",
		r.round, r.replicas, r.sustained, r.steps, r.elapsed.Seconds(), r.stepsPerSec, r.backlog, r.delivered.Seconds(), r.completed, r.filed)
	accounted := r.driverCPU
	for i, cpu := range r.replicaCPU {
		fmt.Fprintf(&b, " | r%d %s", i, per(cpu))
		if t := r.throttle[i]; t.periods > 0 {
			fmt.Fprintf(&b, " thr %d/%d %.2fs", t.throttled, t.periods, t.time.Seconds())
		}
		accounted += cpu
	}
	if len(r.replicaCPU) > 1 {
		fmt.Fprintf(&b, " | Σr %s", per(accounted-r.driverCPU))
	}
	if r.pgOK {
		fmt.Fprintf(&b, " | pg %s", per(r.pgCPU))
		accounted += r.pgCPU
	} else {
		b.WriteString(" | pg n/a (-postmaster)")
	}
	fmt.Fprintf(&b, " | driver %s | machine %.2fc busy, %.2fc other",
		per(r.driverCPU), r.machineBusy.Seconds()/r.delivered.Seconds(), (r.machineBusy-accounted).Seconds()/r.delivered.Seconds())
	fmt.Fprintln(w, b.String())
}

// printSummary puts each replica count's rate in proportion to the first
// count's in the same round (measured just before it, so under the same
// background load), and gives the median over rounds: the sustained rate
// (all notifications delivered), which is the one to judge by, and the
// rate at which the steps alone were answered.
func printSummary(w io.Writer, c config, results []result) {
	if len(c.replicas) < 2 {
		return
	}
	base := c.replicas[0]
	fmt.Fprintln(w, "\nsummary (sustained steps/s ÷ sustained steps/s of", base, "replica(s) in the same round; steps answered alone in brackets):")
	for _, n := range c.replicas[1:] {
		var ratios, answered []float64
		for round := 1; round <= c.rounds; round++ {
			b, okB := find(results, round, base)
			m, okM := find(results, round, n)
			if !okB || !okM {
				fmt.Fprintf(w, "  round %d: %d vs %d replicas: n/a (a measurement failed)\n", round, n, base)
				continue
			}
			ratio, alone := m.sustained/b.sustained, m.stepsPerSec/b.stepsPerSec
			ratios, answered = append(ratios, ratio), append(answered, alone)
			fmt.Fprintf(w, "  round %d: %d vs %d replicas: %.2f× (%.1f / %.1f steps/s) [%.2f×]\n",
				round, n, base, ratio, m.sustained, b.sustained, alone)
		}
		if len(ratios) > 0 {
			fmt.Fprintf(w, "  median over %d round(s): %d vs %d replicas: %.2f× [%.2f×]\n", len(ratios), n, base, median(ratios), median(answered))
		}
	}
}

// find is the successful measurement of n replicas in round.
func find(results []result, round, n int) (result, bool) {
	for _, r := range results {
		if r.round == round && r.replicas == n && r.err == nil {
			return r, true
		}
	}
	return result{}, false
}

func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// --- the workflow -----------------------------------------------------------

// server is one replica's signed-in clients, by email.
type server map[string]*client.Client

// account is one the workflows act as.
type account struct{ email, password string }

// devStaff are the dev seed's operator and support manager
// (approval/seed.go), who file and review to any tenant.
var devStaff = []account{
	{benchflow.Operator, approval.DevPassword},
	{benchflow.Manager, approval.DevPassword},
}

// tenantName is tenant t of n: the dev tenant contoso when n is 1.
func tenantName(t, n int) string {
	if n == 1 {
		return "contoso"
	}
	return fmt.Sprintf("rb-%03d", t)
}

// approverOf is the email of tenant's approver (contoso's is the dev one).
func approverOf(tenant string) string { return "approver@" + tenant + ".test" }

// createTenants creates tenants rb-000 … rb-(n-1) on the replica at url
// as the dev provider admin, as internal/daydriver's setUp does. Each
// tenant's first admin signs in with its one-time password, which can do
// nothing but be replaced (SPEC §10.1), replaces it, and adds the tenant's
// lockbox_approver with a password of its choosing. Catalog services, as
// exchange, are provider-wide: a new tenant can be filed to at once.
func createTenants(ctx context.Context, url string, n int) ([]account, error) {
	hc := &http.Client{Timeout: time.Minute}
	signIn := func(email, password string) (*client.Client, error) {
		c := client.New(url, "").WithHTTPClient(hc)
		s, err := c.Login(ctx, email, password)
		if err != nil {
			return nil, fmt.Errorf("sign in %s: %w", email, err)
		}
		c.Token = s.Token
		return c, nil
	}
	admin, err := signIn("admin@provider.test", approval.DevPassword)
	if err != nil {
		return nil, err
	}
	var approvers []account
	for t := range n {
		name := tenantName(t, n)
		created, err := admin.CreateTenant(ctx, lockbox.NewTenant{Name: name,
			Admin: lockbox.NewUser{Email: "admin@" + name + ".test", Roles: []lockbox.Role{lockbox.RoleGlobalAdmin}}})
		if err != nil {
			return nil, fmt.Errorf("create tenant %s: %w", name, err)
		}
		oneTime := created.Admin.InitialPassword
		tenantAdmin, err := signIn(created.Admin.Email, oneTime)
		if err != nil {
			return nil, err
		}
		if err := tenantAdmin.ChangePassword(ctx, lockbox.PasswordChange{Current: oneTime, New: "rb-" + rand.Text()}); err != nil {
			return nil, fmt.Errorf("choose a password for %s: %w", created.Admin.Email, err)
		}
		a := account{approverOf(name), "rb-" + rand.Text()}
		if _, err := tenantAdmin.AddTenantUser(ctx, name, lockbox.NewUser{Email: a.email,
			Roles: []lockbox.Role{lockbox.RoleLockboxApprover}, Password: a.password}); err != nil {
			return nil, fmt.Errorf("add %s: %w", a.email, err)
		}
		approvers = append(approvers, a)
	}
	return approvers, nil
}

// signInAll signs accounts in on every replica, with one HTTP client (and
// connection pool) per replica, as BenchmarkWorkflow does.
func signInAll(ctx context.Context, reps []*replica, accounts []account) ([]server, error) {
	var out []server
	for _, r := range reps {
		hc := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
		s := server{}
		for _, a := range accounts {
			sess, err := client.New(r.URL, "").WithHTTPClient(hc).Login(ctx, a.email, a.password)
			if err != nil {
				return nil, fmt.Errorf("sign in %s at %s: %w", a.email, r.URL, err)
			}
			s[a.email] = client.New(r.URL, sess.Token).WithHTTPClient(hc)
		}
		out = append(out, s)
	}
	return out, nil
}

// runWorkflows runs workflows first … first+n-1, spread over tenants, on
// clients goroutines in a closed loop; the first error stops every client
// and is returned.
func runWorkflows(ctx context.Context, servers []server, tenants, clients, first, n int) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	next.Store(int64(first))
	last := int64(first + n - 1)
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for i := next.Add(1) - 1; i <= last && ctx.Err() == nil; i = next.Add(1) - 1 {
				if err := workflow(ctx, servers, tenantName(int(i)%tenants, tenants), i); err != nil {
					cancel(fmt.Errorf("workflow %d: %w", i, err))
					return
				}
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}

// workflow runs workflow i (benchflow.Workflow) on tenant, step k on
// replica (i+k) mod len(servers); the tenant's approver approves.
func workflow(ctx context.Context, servers []server, tenant string, i int64) error {
	as := func(k int, email string) *client.Client { return servers[(int(i)+k)%len(servers)][email] }
	return benchflow.Workflow(ctx, as, tenant, approverOf(tenant), fmt.Sprintf("SR-RB-%d", i))
}

// --- the database -------------------------------------------------------------

// tally is a count of the driver's requests filed and completed.
type tally struct{ filed, completed int }

// countRequests counts the driver's requests in the schema of db, and
// those completed, by tenant.
func countRequests(ctx context.Context, db *sql.DB) (map[string]tally, error) {
	rows, err := db.QueryContext(ctx, `SELECT tenant, count(*), count(*) FILTER (WHERE status = 'completed')
		FROM requests WHERE service_request LIKE 'SR-RB-%' GROUP BY tenant`)
	if err != nil {
		return nil, fmt.Errorf("count requests: %w", err)
	}
	defer rows.Close()
	out := map[string]tally{}
	for rows.Next() {
		var t string
		var n tally
		if err := rows.Scan(&t, &n.filed, &n.completed); err != nil {
			return nil, fmt.Errorf("count requests: %w", err)
		}
		out[t] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count requests: %w", err)
	}
	return out, nil
}

// waitDelivered waits until no notification is pending in db, and returns
// how many were pending when it was called. A pending message is one the
// outbox has not yet delivered (or given up on): in a dev server, email
// to the dev mailbox, which does not fail. Counted once; then polled with
// EXISTS, which stops at the first pending row, so that polling costs
// PostgreSQL next to nothing.
func waitDelivered(ctx context.Context, db *sql.DB) (int, error) {
	var first int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM outbox WHERE status = 'pending'`).Scan(&first); err != nil {
		return 0, fmt.Errorf("count pending notifications: %w", err)
	}
	for {
		var pending bool
		if err := db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM outbox WHERE status = 'pending')`).Scan(&pending); err != nil {
			return first, fmt.Errorf("wait for notifications: %w", err)
		}
		if !pending {
			return first, nil
		}
		select {
		case <-ctx.Done():
			return first, fmt.Errorf("waiting for notifications to be delivered: %w", context.Cause(ctx))
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// --- the replicas -------------------------------------------------------------

// replica is one `lockbox serve --dev` process, in its cgroup when capped.
type replica struct {
	*replicas.Replica
	cg *cgroup // nil without a cap
}

// startReplicas starts n dev servers on dsn (replicas.Start). The caller
// stops the replicas returned, also on error.
func startReplicas(ctx context.Context, bin, dsn, dir string, n int, args ...string) ([]*replica, error) {
	rs, err := replicas.Start(ctx, bin, dsn, dir, n, args...)
	var reps []*replica
	for _, r := range rs {
		reps = append(reps, &replica{Replica: r})
	}
	return reps, err
}

// stop shuts the replica down and then removes its cgroup, which must be
// empty to go.
func (r *replica) stop() error {
	r.Stop()
	if r.cg == nil {
		return nil
	}
	return r.cg.remove()
}

// --- CPU accounting -------------------------------------------------------------

// userHZ is the unit of the CPU times in /proc (USER_HZ, 100 on Linux).
const userHZ = 100

func ticks(s string) (time.Duration, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	return time.Duration(n) * time.Second / userHZ, err
}

// procCPU is the user and system CPU time of process pid, all threads.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("replica CPU: %w", err)
	}
	// After the command, which is in parentheses and may hold spaces:
	// state(0) ppid(1) … utime(11) stime(12).
	fs := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(fs) < 13 {
		return 0, fmt.Errorf("replica CPU: short /proc/%d/stat", pid)
	}
	u, err1 := ticks(fs[11])
	s, err2 := ticks(fs[12])
	return u + s, errors.Join(err1, err2)
}

// machineBusy is the CPU time all CPUs of the machine have spent busy
// (not idle, not waiting for I/O), from the first line of /proc/stat.
func machineBusy() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	fs := strings.Fields(line)
	if len(fs) < 9 || fs[0] != "cpu" {
		return 0, errors.New("/proc/stat: no cpu line")
	}
	var busy time.Duration
	// user nice system idle iowait irq softirq steal (guest is in user).
	for i, f := range fs[1:9] {
		if i == 3 || i == 4 {
			continue
		}
		t, err := ticks(f)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: %w", err)
		}
		busy += t
	}
	return busy, nil
}

// --- cgroups -------------------------------------------------------------------

// cfsPeriodUS is the CFS period of the quota, the kernel's default
// (100 ms): a replica may run quota/period of a core in each period.
const cfsPeriodUS = 100_000

// cpuQuota is the CFS quota, in µs per cfsPeriodUS, of cores.
func cpuQuota(cores float64) (int64, error) {
	if !(cores > 0) || math.IsInf(cores, 0) {
		return 0, fmt.Errorf("CPU quota of %v cores: want a positive number", cores)
	}
	q := int64(math.Round(cores * cfsPeriodUS))
	if q < 1000 { // the kernel refuses quotas under 1 ms
		return 0, fmt.Errorf("CPU quota of %v cores is under the kernel's minimum of 0.01", cores)
	}
	return q, nil
}

// cpuMax is the cgroup v2 cpu.max value of cores: "quota period".
func cpuMax(cores float64) (string, error) {
	q, err := cpuQuota(cores)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d %d", q, cfsPeriodUS), nil
}

// cgroupCPU is the hierarchy that holds the CPU controller.
type cgroupCPU struct {
	dir string // its root, e.g. /sys/fs/cgroup/cpu (v1) or /sys/fs/cgroup (v2)
	v2  bool
}

// findCPUController finds the cpu controller: cgroup v1's, or v2's when
// it is enabled on the unified hierarchy (alone, or in a hybrid setup).
func findCPUController() (cgroupCPU, error) {
	if _, err := os.Stat("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"); err == nil {
		return cgroupCPU{dir: "/sys/fs/cgroup/cpu"}, nil
	}
	for _, dir := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
		b, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
		if err == nil && slices.Contains(strings.Fields(string(b)), "cpu") {
			return cgroupCPU{dir: dir, v2: true}, nil
		}
	}
	return cgroupCPU{}, errors.New("no cgroup cpu controller (neither /sys/fs/cgroup/cpu nor cgroup v2 with cpu)")
}

// cgroup is one replica's cgroup.
type cgroup struct {
	ctl  cgroupCPU
	path string
}

// create makes the cgroup name at the hierarchy's root with a quota of
// cores.
func (c cgroupCPU) create(name string, cores float64) (*cgroup, error) {
	g := &cgroup{ctl: c, path: filepath.Join(c.dir, name)}
	if c.v2 {
		// Children of the root get the cpu files only once the root
		// passes the controller down.
		if err := write(filepath.Join(c.dir, "cgroup.subtree_control"), "+cpu"); err != nil {
			return nil, err
		}
	}
	if err := os.Mkdir(g.path, 0o755); err != nil {
		return nil, fmt.Errorf("create cgroup: %w", err)
	}
	var err error
	if c.v2 {
		var v string
		if v, err = cpuMax(cores); err == nil {
			err = write(filepath.Join(g.path, "cpu.max"), v)
		}
	} else {
		var q int64
		if q, err = cpuQuota(cores); err == nil {
			err = errors.Join(write(filepath.Join(g.path, "cpu.cfs_period_us"), strconv.Itoa(cfsPeriodUS)),
				write(filepath.Join(g.path, "cpu.cfs_quota_us"), strconv.FormatInt(q, 10)))
		}
	}
	if err != nil {
		return nil, errors.Join(err, g.remove())
	}
	return g, nil
}

// add moves process pid, every thread of it and every thread it starts
// later, into the cgroup (cgroup.procs; tasks would move one thread).
// The Go runtime (1.25+) then sets GOMAXPROCS from the quota, but never
// under 2: on a 2-core machine a capped replica keeps GOMAXPROCS 2.
func (g *cgroup) add(pid int) error {
	return write(filepath.Join(g.path, "cgroup.procs"), strconv.Itoa(pid))
}

// remove moves whatever is still in the cgroup back to the root and
// removes it.
func (g *cgroup) remove() error {
	if b, err := os.ReadFile(filepath.Join(g.path, "cgroup.procs")); err == nil {
		for _, pid := range strings.Fields(string(b)) {
			_ = write(filepath.Join(g.ctl.dir, "cgroup.procs"), pid)
		}
	}
	// A process that has just exited may keep the cgroup busy a moment.
	var err error
	for range 50 {
		if err = os.Remove(g.path); err == nil || errors.Is(err, os.ErrNotExist) {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("remove cgroup: %w", err)
}

// throttle is a cgroup's CFS throttling counters.
type throttle struct {
	periods, throttled int64         // periods with runnable threads; of those, throttled
	time               time.Duration // total time throttled
}

func (t throttle) minus(u throttle) throttle {
	return throttle{t.periods - u.periods, t.throttled - u.throttled, t.time - u.time}
}

// stat reads the cgroup's throttling counters (v1: throttled_time in ns;
// v2: throttled_usec).
func (g *cgroup) stat() (throttle, error) {
	b, err := os.ReadFile(filepath.Join(g.path, "cpu.stat"))
	if err != nil {
		return throttle{}, fmt.Errorf("cgroup stat: %w", err)
	}
	var t throttle
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, " ")
		n, _ := strconv.ParseInt(v, 10, 64)
		switch k {
		case "nr_periods":
			t.periods = n
		case "nr_throttled":
			t.throttled = n
		case "throttled_time":
			t.time = time.Duration(n)
		case "throttled_usec":
			t.time = time.Duration(n) * time.Microsecond
		}
	}
	return t, nil
}

func write(path, value string) error {
	if err := os.WriteFile(path, []byte(value), 0o644); err != nil {
		return fmt.Errorf("write %s to %s: %w", value, path, err)
	}
	return nil
}
