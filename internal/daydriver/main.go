// Command daydriver replays a large provider's day of Lockbox traffic,
// compressed into minutes, against replicas of `lockbox serve --dev` that
// it starts on one PostgreSQL database (or against servers already
// running), and reports what a provider needs to know to size a
// deployment: each endpoint's latency (p50, p99, max) and errors, the
// workers' backlog while the load runs (due deadlines not yet settled,
// notifications not yet delivered), how long the backlog takes to drain
// when a whole day's undecided requests expire at once, and how much the
// database grew per request.
//
// The day: many tenants (a few busy, most quiet), requests arriving at a
// steady rate (open loop: a slow server does not slow the arrivals), and
// every ending a request can have — completed, access ended by itself,
// revoked by the tenant, denied by the tenant, refused in review, canceled
// by the operator, expired undecided — with operator actions (an online
// access check and a recorded action each, a few of them blocked)
// dominating the traffic, as they do in a real deployment.
//
//	go run ./internal/daydriver -postgres 'postgres://postgres@127.0.0.1:5432/test?sslmode=disable' \
//	    -replicas 3 -duration 10m -rate 4
//
// With -webhooks N the busiest tenants register webhook endpoints on a
// receiver of the driver's, and -slow-webhook D makes the busiest one's
// receiver slow (webhooks.go).
//
// Loopback only; the load is bounded by -duration, and every call by a
// timeout. Results: docs/benchmarks.md ("A provider's day").
package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
	"github.com/lockboxhq/lockbox/client"
	"github.com/lockboxhq/lockbox/internal/replicas"
)

type config struct {
	postgres  string
	servers   string
	replicas  int
	duration  time.Duration
	rate      float64
	tenants   int
	operators int
	actions   int
	seed      uint64
	keep      bool
	// webhooks is how many tenants register a webhook endpoint, and
	// slowWebhook how long the busiest one's receiver takes (webhooks.go).
	webhooks    int
	slowWebhook time.Duration
	// bin is a lockbox binary to start instead of building one (to put two
	// versions side by side).
	bin string
	// noWaits turns the fate "access ended", which waits a real minute for
	// the access to end, into "completed" (TestShortDay).
	noWaits bool
}

func main() {
	var c config
	flag.StringVar(&c.postgres, "postgres", "", "PostgreSQL server to start -replicas dev servers on, in a fresh schema")
	flag.StringVar(&c.servers, "servers", "", "comma-separated URLs of dev servers already running on one fresh database (instead of -postgres)")
	flag.IntVar(&c.replicas, "replicas", 3, "replicas to start with -postgres")
	flag.DurationVar(&c.duration, "duration", 10*time.Minute, "how long requests keep arriving")
	flag.Float64Var(&c.rate, "rate", 4, "new access requests per second")
	flag.IntVar(&c.tenants, "tenants", 40, "customer tenants")
	flag.IntVar(&c.operators, "operators", 8, "support engineers filing requests")
	flag.IntVar(&c.actions, "actions", 20, "mean operator actions per request that becomes active")
	flag.Uint64Var(&c.seed, "seed", 1, "seed of the day's random choices")
	flag.BoolVar(&c.keep, "keep", false, "keep the schema and the replicas' logs (with -postgres) for inspection")
	flag.IntVar(&c.webhooks, "webhooks", 0, "tenants (the busiest first) that register a webhook endpoint on the driver's receiver")
	flag.DurationVar(&c.slowWebhook, "slow-webhook", 0, "how long the busiest tenant's webhook receiver takes to answer (0: at once)")
	flag.StringVar(&c.bin, "bin", "", "lockbox binary to start with -postgres (default: build this checkout's)")
	flag.Parse()
	log.SetFlags(log.Ltime)
	if err := run(context.Background(), c, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, c config, out io.Writer) error {
	var urls []string
	var db *sql.DB
	switch {
	case c.postgres != "":
		dsn, drop, err := freshSchema(ctx, c.postgres, c.keep)
		if err != nil {
			return err
		}
		defer drop()
		if db, err = sql.Open("pgx", dsn); err != nil {
			return err
		}
		defer db.Close()
		var args []string
		if c.webhooks > 0 {
			args = append(args, "--allow-private-webhooks") // the receiver is on loopback
		}
		stop, started, err := startReplicas(ctx, dsn, c.bin, c.replicas, c.keep, args...)
		defer stop()
		if err != nil {
			return err
		}
		urls = started
	case c.servers != "":
		urls = strings.Split(c.servers, ",")
	default:
		return errors.New("give -postgres DSN (start replicas) or -servers URL,… (use running ones)")
	}
	d, err := setUp(ctx, c, urls)
	if err != nil {
		return fmt.Errorf("set up tenants and staff: %w", err)
	}
	var hooks *receiver
	if c.webhooks > 0 {
		slow := ""
		if c.slowWebhook > 0 {
			slow = d.tenants[0]
		}
		if hooks, err = startReceiver(slow, c.slowWebhook); err != nil {
			return err
		}
		defer hooks.stop()
		if err := d.registerWebhooks(ctx, hooks, c.webhooks); err != nil {
			return err
		}
	}
	before := dbSize(ctx, db)
	log.Printf("%d tenants, %d operators on %d servers; requests arrive at %.1f/s for %s", c.tenants, c.operators, len(urls), c.rate, c.duration)

	samples := d.sampleBacklog(ctx, db)
	d.replay(ctx)
	afterLoad := dbSize(ctx, db)
	if hooks != nil {
		hooks.stopCounting()
	}
	drain := d.expireTheRest(ctx, db)
	close(samples.stop)
	<-samples.done
	d.report(out, samples, before, afterLoad, dbSize(ctx, db), drain)
	if hooks != nil {
		hooks.report(out, min(c.webhooks, len(d.tenants)))
	}
	if n := d.failedCalls(); n > 0 {
		return fmt.Errorf("%d calls failed (the first of each kind is above)", n)
	}
	return nil
}

// failedCalls counts the calls that failed: a day with any is not a
// figure to quote, so the driver exits non-zero.
func (d *day) failedCalls() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, e := range d.errs {
		n += e
	}
	return n
}

// day is the replay's cast and its measurements.
type day struct {
	cfg       config
	urls      []string
	manager   []*client.Client   // one per server
	operators [][]*client.Client // [operator][server]
	approvers [][]*client.Client // [tenant][server]
	service   []*client.Client   // the dev service account, one per server
	tenants   []string
	ops       []string // the exchange service's operations
	rng       *mrand.Rand
	rngMu     sync.Mutex

	mu       sync.Mutex
	lat      map[string][]time.Duration
	errs     map[string]int
	firstErr map[string]string
	endings  map[string]int
}

// setUp creates the tenants (each with its first admin as approver) and
// the operators through the provider admin, and signs everyone in on
// every server.
func setUp(ctx context.Context, c config, urls []string) (*day, error) {
	d := &day{cfg: c, urls: urls, rng: mrand.New(mrand.NewPCG(c.seed, c.seed^0x9e3779b97f4a7c15)),
		lat: map[string][]time.Duration{}, errs: map[string]int{}, firstErr: map[string]string{}, endings: map[string]int{}}
	admin, err := signIn(ctx, urls[0], "admin@provider.test", approval.DevPassword)
	if err != nil {
		return nil, err
	}
	svc, err := admin.GetService(ctx, "exchange")
	if err != nil {
		return nil, err
	}
	d.ops = svc.Operations
	if d.manager, err = signInAll(ctx, urls, "manager@provider.test", approval.DevPassword); err != nil {
		return nil, err
	}
	for _, u := range urls {
		d.service = append(d.service, client.New(u, approval.DevServiceToken))
	}
	for i := range c.operators {
		email := fmt.Sprintf("op-%02d@provider.test", i)
		u, err := admin.AddStaff(ctx, lockbox.NewUser{Email: email, Roles: []lockbox.Role{lockbox.RoleOperator}})
		if err != nil {
			return nil, fmt.Errorf("add %s: %w", email, err)
		}
		cs, err := signInFirst(ctx, urls, email, u.InitialPassword)
		if err != nil {
			return nil, err
		}
		d.operators = append(d.operators, cs)
	}
	for i := range c.tenants {
		name := fmt.Sprintf("load-%03d", i)
		created, err := admin.CreateTenant(ctx, lockbox.NewTenant{Name: name,
			Admin: lockbox.NewUser{Email: "admin@" + name + ".test", Roles: []lockbox.Role{lockbox.RoleGlobalAdmin}}})
		if err != nil {
			return nil, fmt.Errorf("create tenant %s: %w", name, err)
		}
		cs, err := signInFirst(ctx, urls, created.Admin.Email, created.Admin.InitialPassword)
		if err != nil {
			return nil, err
		}
		d.tenants = append(d.tenants, name)
		d.approvers = append(d.approvers, cs)
	}
	return d, nil
}

// signInFirst is a new account's first sign-in: its one-time password can
// do nothing but be changed (SPEC §10.1), so it chooses a password of its
// own, then signs in with it on every server.
func signInFirst(ctx context.Context, urls []string, email, oneTime string) ([]*client.Client, error) {
	c, err := signIn(ctx, urls[0], email, oneTime)
	if err != nil {
		return nil, err
	}
	password := "day-" + rand.Text()
	if err := c.ChangePassword(ctx, lockbox.PasswordChange{Current: oneTime, New: password}); err != nil {
		return nil, fmt.Errorf("choose a password for %s: %w", email, err)
	}
	return signInAll(ctx, urls, email, password)
}

// signInAll signs email in on every server (a session per server, as a
// load balancer in front of replicas would spread one person's calls).
func signInAll(ctx context.Context, urls []string, email, password string) ([]*client.Client, error) {
	var out []*client.Client
	for _, u := range urls {
		c, err := signIn(ctx, u, email, password)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func signIn(ctx context.Context, url, email, password string) (*client.Client, error) {
	c := client.New(url, "").WithHTTPClient(httpClient)
	s, err := c.Login(ctx, email, password)
	if err != nil {
		return nil, fmt.Errorf("sign in %s at %s: %w", email, url, err)
	}
	c.Token = s.Token
	return c, nil
}

// httpClient keeps enough idle connections for the whole day's
// concurrency, and bounds every call.
var httpClient = &http.Client{Timeout: 30 * time.Second,
	Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxIdleConns: 1024}}

// fates are the endings of a provider's day and how often each happens.
var fates = []struct {
	name   string
	weight int
}{
	{"completed", 45},        // approved, used, completed by the operator
	{"access ended", 12},     // approved, used, ended by itself
	{"revoked", 5},           // approved, used, revoked by the tenant
	{"denied", 8},            // denied by the tenant
	{"review denied", 5},     // refused by the support manager
	{"canceled", 5},          // canceled by the operator
	{"expired pending", 12},  // the tenant never answered
	{"expired in review", 8}, // nobody reviewed it
}

func (d *day) pick(weights func(i int) int, n int) int {
	total := 0
	for i := range n {
		total += weights(i)
	}
	d.rngMu.Lock()
	x := d.rng.IntN(total)
	d.rngMu.Unlock()
	for i := range n {
		if x -= weights(i); x < 0 {
			return i
		}
	}
	return n - 1
}

func (d *day) intN(n int) int {
	d.rngMu.Lock()
	defer d.rngMu.Unlock()
	return d.rng.IntN(n)
}

func (d *day) float() float64 {
	d.rngMu.Lock()
	defer d.rngMu.Unlock()
	return d.rng.Float64()
}

// replay files requests at the configured rate until the duration has
// passed, each living its own life in a goroutine, and waits for them.
func (d *day) replay(ctx context.Context) {
	var wg sync.WaitGroup
	end := time.Now().Add(d.cfg.duration)
	next := time.Now()
	for i := 0; time.Now().Before(end); i++ {
		time.Sleep(time.Until(next))
		// Exponential gaps: arrivals are a Poisson process at the rate.
		next = next.Add(time.Duration(-math.Log(1-d.float()) / d.cfg.rate * float64(time.Second)))
		wg.Go(func() { d.live(ctx, i) })
	}
	wg.Wait()
}

// live takes one request from filing to its fate.
func (d *day) live(ctx context.Context, i int) {
	// A few tenants are busy, most are quiet: the tenant index skews low.
	t := int(float64(len(d.tenants)) * math.Pow(d.float(), 2.5))
	op := d.intN(len(d.operators))
	fate := fates[d.pick(func(i int) int { return fates[i].weight }, len(fates))].name
	if fate == "access ended" && d.cfg.noWaits {
		fate = "completed"
	}
	asked := d.operationsToAsk()
	minutes := 60
	if fate == "access ended" {
		minutes = 1
	}
	var r *lockbox.AccessRequest
	if !d.call("create", func(s int) (err error) {
		r, err = d.operators[op][s].CreateRequest(ctx, lockbox.NewRequest{Tenant: d.tenants[t], Service: "exchange",
			ServiceRequest: fmt.Sprintf("SR-%07d", i), Reason: "Mailbox fails to load for a user; need diagnostics.",
			Operations: asked, DurationMinutes: minutes})
		return err
	}) {
		return
	}
	d.count("filed")
	d.think()
	switch fate {
	case "expired in review":
		d.count(fate)
		return
	case "review denied":
		d.act("review_deny", d.manager, r, lockbox.EventReviewDeny, fate)
		return
	case "canceled":
		d.act("cancel", d.operators[op], r, lockbox.EventCancel, fate)
		return
	}
	if !d.act("review_approve", d.manager, r, lockbox.EventReviewApprove, "") {
		return
	}
	d.think()
	switch fate {
	case "expired pending":
		d.count(fate)
		return
	case "denied":
		d.act("deny", d.approvers[t], r, lockbox.EventDeny, fate)
		return
	}
	var active *lockbox.AccessRequest
	if !d.call("approve", func(s int) (err error) {
		active, err = d.approvers[t][s].Act(ctx, r.ID, lockbox.EventApprove, lockbox.Decision{Comment: "Load replay."})
		return err
	}) {
		return
	}
	g := d.operate(ctx, r, op, asked)
	switch fate {
	case "completed":
		d.act("complete", d.operators[op], r, lockbox.EventComplete, fate)
	case "revoked":
		d.act("revoke", d.approvers[t], r, lockbox.EventRevoke, fate)
	case "access ended":
		// The operator keeps trying past access_ends_at with the grant
		// they hold: each attempt is refused online and recorded as
		// blocked, whether or not a worker has written the end yet.
		time.Sleep(time.Until(active.AccessEndsAt.Add(time.Second)))
		if g != nil {
			d.actions(ctx, g, asked[:1], 3)
		}
		d.count(fate)
	}
}

// operationsToAsk is a non-empty subset of the service's operations.
func (d *day) operationsToAsk() []string {
	n := 1 + d.intN(min(3, len(d.ops)))
	start := d.intN(len(d.ops))
	var out []string
	for k := range n {
		out = append(out, d.ops[(start+k)%len(d.ops)])
	}
	return out
}

// operate is the operator's work under an active request: a grant, then
// about -actions actions (exponentially distributed), each checked online
// and recorded by the data plane.
func (d *day) operate(ctx context.Context, r *lockbox.AccessRequest, op int, approved []string) *lockbox.Grant {
	var g *lockbox.Grant
	if !d.call("grant", func(s int) (err error) { g, err = d.operators[op][s].IssueGrant(ctx, r.ID); return err }) {
		return nil
	}
	n := 1 + int(-math.Log(1-d.float())*float64(d.cfg.actions))
	d.actions(ctx, g, approved, min(n, 10*d.cfg.actions))
	return g
}

// actions performs n operator actions under grant g; one in twenty tries
// an operation that was not approved (blocked and recorded).
func (d *day) actions(ctx context.Context, g *lockbox.Grant, approved []string, n int) {
	for range n {
		operation := approved[d.intN(len(approved))]
		if d.intN(20) == 0 {
			operation = "Remove-Mailbox" // never approvable: blocked
		}
		check := lockbox.AccessCheck{Token: g.Token, Operation: operation, Resource: "mailbox:user" + fmt.Sprint(d.intN(500))}
		d.call("access_check", func(s int) error { _, err := d.service[s].CheckAccess(ctx, check); return err })
		d.call("operator_action", func(s int) error { _, err := d.service[s].RecordOperatorAction(ctx, check); return err })
		time.Sleep(time.Duration(50+d.intN(250)) * time.Millisecond)
	}
}

// think is the pause of a person between two steps.
func (d *day) think() { time.Sleep(time.Duration(200+d.intN(1800)) * time.Millisecond) }

// act sends one decision and counts fate when it went through. A conflict
// (the deadline or another decision came first) is counted, not an error.
func (d *day) act(name string, as []*client.Client, r *lockbox.AccessRequest, ev lockbox.Event, fate string) bool {
	ok := d.call(name, func(s int) error {
		_, err := as[s].Act(context.Background(), r.ID, ev, lockbox.Decision{Comment: "Load replay."})
		return err
	})
	if ok && fate != "" {
		d.count(fate)
	}
	return ok
}

// call times fn on a server picked at random and records its latency and
// error under name.
func (d *day) call(name string, fn func(server int) error) bool {
	s := d.intN(len(d.urls))
	start := time.Now()
	err := fn(s)
	took := time.Since(start)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.lat[name] = append(d.lat[name], took)
	if err != nil {
		d.errs[name]++
		if _, seen := d.firstErr[name]; !seen {
			d.firstErr[name] = err.Error()
		}
		return false
	}
	return true
}

func (d *day) count(what string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.endings[what]++
}

// backlog is what the workers still owe at one moment: deadlines passed
// but not yet written, and notifications due but not yet delivered.
type backlog struct {
	at         time.Duration
	dueUnwrit  int
	mailQueued int
}

type sampler struct {
	start   time.Time
	samples []backlog
	stop    chan struct{}
	done    chan struct{}
}

// sampleBacklog reads the backlog every 5 s until stopped (PostgreSQL
// only: with -servers there is no database to read).
func (d *day) sampleBacklog(ctx context.Context, db *sql.DB) *sampler {
	s := &sampler{start: time.Now(), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		if db == nil {
			<-s.stop
			return
		}
		tick := time.NewTicker(5 * time.Second)
		defer tick.Stop()
		for {
			if b, err := readBacklog(ctx, db); err == nil {
				b.at = time.Since(s.start)
				s.samples = append(s.samples, b)
			}
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

func readBacklog(ctx context.Context, db *sql.DB) (backlog, error) {
	var b backlog
	now := time.Now()
	err := db.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM requests WHERE next_deadline <= $1),
		(SELECT count(*) FROM outbox WHERE status = 'pending' AND next_attempt_at <= $1)`, now).
		Scan(&b.dueUnwrit, &b.mailQueued)
	return b, err
}

// expireTheRest moves every server's dev clock past the decision deadline
// of the day's undecided requests, so they all expire at once, and
// measures how long the replicas' workers take to write every expiry and
// deliver every notice that follows.
func (d *day) expireTheRest(ctx context.Context, db *sql.DB) time.Duration {
	admin := make([]*client.Client, len(d.urls))
	for i, u := range d.urls {
		c, err := signIn(ctx, u, "admin@provider.test", approval.DevPassword)
		if err != nil {
			log.Printf("expire: %v", err)
			return 0
		}
		admin[i] = c
	}
	for _, c := range admin {
		if _, err := c.AdvanceClock(ctx, lockbox.ReviewTTL+time.Hour); err != nil {
			log.Printf("advance clock: %v", err)
			return 0
		}
	}
	if db == nil {
		return 0
	}
	start := time.Now()
	deadline := start.Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		var due, queued int
		// The servers' clocks are 13 h ahead now: compare with theirs.
		now := time.Now().Add(lockbox.ReviewTTL + time.Hour)
		if err := db.QueryRowContext(ctx, `SELECT
			(SELECT count(*) FROM requests WHERE next_deadline <= $1),
			(SELECT count(*) FROM outbox WHERE status = 'pending' AND next_attempt_at <= $1)`, now).Scan(&due, &queued); err != nil {
			log.Printf("drain: %v", err)
			return 0
		}
		if due == 0 && queued == 0 {
			return time.Since(start)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return -1
}

// dbSize is the database's size in bytes (0 without a database).
func dbSize(ctx context.Context, db *sql.DB) int64 {
	if db == nil {
		return 0
	}
	var n int64
	if err := db.QueryRowContext(ctx, `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = current_schema() AND c.relkind = 'r'`).Scan(&n); err != nil {
		log.Printf("database size: %v", err)
	}
	return n
}

func (d *day) report(w io.Writer, s *sampler, before, afterLoad, afterDrain int64, drain time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	fmt.Fprintf(w, "\n%d servers, %d tenants, %d operators, %.1f requests/s for %s (seed %d)\n\n",
		len(d.urls), len(d.tenants), len(d.operators), d.cfg.rate, d.cfg.duration, d.cfg.seed)
	fmt.Fprintln(w, "| endpoint | calls | errors | p50 | p99 | max |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	names := make([]string, 0, len(d.lat))
	for n := range d.lat {
		names = append(names, n)
	}
	slices.Sort(names)
	total := 0
	for _, n := range names {
		l := d.lat[n]
		slices.Sort(l)
		total += len(l)
		fmt.Fprintf(w, "| %s | %d | %d | %s | %s | %s |\n", n, len(l), d.errs[n],
			ms(quantile(l, 0.5)), ms(quantile(l, 0.99)), ms(l[len(l)-1]))
	}
	fmt.Fprintf(w, "\n%d calls, %.0f calls/s over the load\n", total, float64(total)/d.cfg.duration.Seconds())
	for _, n := range names {
		if e, ok := d.firstErr[n]; ok {
			fmt.Fprintf(w, "first %s error: %s\n", n, e)
		}
	}
	fmt.Fprintln(w, "\nendings:")
	for _, f := range append([]string{"filed"}, fateNames()...) {
		fmt.Fprintf(w, "  %-18s %d\n", f, d.endings[f])
	}
	if len(s.samples) > 0 {
		var maxDue, maxMail int
		for _, b := range s.samples {
			maxDue, maxMail = max(maxDue, b.dueUnwrit), max(maxMail, b.mailQueued)
		}
		fmt.Fprintf(w, "\nbacklog during the load (every 5 s): deadlines passed but not written max %d, notifications due but not delivered max %d\n", maxDue, maxMail)
	}
	if drain > 0 {
		fmt.Fprintf(w, "after moving the clocks 13 h: every expiry written and notified in %s\n", drain.Round(10*time.Millisecond))
	} else if drain < 0 {
		fmt.Fprintln(w, "after moving the clocks 13 h: the backlog did NOT drain within 5 minutes")
	}
	if before > 0 {
		filed := max(d.endings["filed"], 1)
		fmt.Fprintf(w, "database: %s before, %s after the load (%s per request filed), %s after the expiries\n",
			mib(before), mib(afterLoad), kib((afterLoad-before)/int64(filed)), mib(afterDrain))
	}
}

func fateNames() []string {
	var out []string
	for _, f := range fates {
		out = append(out, f.name)
	}
	return out
}

func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }
func mib(n int64) string        { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
func kib(n int64) string        { return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10)) }

// freshSchema creates an empty schema on the server of dsn and returns
// dsn with search_path set to it, and a function that drops it.
func freshSchema(ctx context.Context, dsn string, keep bool) (string, func(), error) {
	withPath, name, drop, err := replicas.FreshSchema(ctx, dsn, "daydriver_")
	if err != nil {
		return "", nil, err
	}
	return withPath, func() {
		if keep {
			log.Printf("kept schema %s", name)
			return
		}
		if err := drop(); err != nil {
			log.Print(err)
		}
	}, nil
}

// startReplicas builds lockbox (unless bin names a binary) and starts n
// dev servers on dsn sharing one key directory (replicas.Start), with args
// more flags of each, and returns their URLs once each answers /readyz.
// With keep, stop leaves their logs.
func startReplicas(ctx context.Context, dsn, bin string, n int, keep bool, args ...string) (stop func(), urls []string, err error) {
	dir, err := os.MkdirTemp("", "daydriver")
	if err != nil {
		return func() {}, nil, err
	}
	var reps []*replicas.Replica
	stop = func() {
		for _, r := range reps {
			r.Stop()
		}
		if keep {
			log.Printf("kept the replicas' logs in %s", dir)
			return
		}
		os.RemoveAll(dir)
	}
	if bin == "" {
		if bin, err = replicas.Build(ctx, dir); err != nil {
			return stop, nil, err
		}
	}
	reps, err = replicas.Start(ctx, bin, dsn, dir, n, args...)
	for _, r := range reps {
		urls = append(urls, r.URL)
	}
	return stop, urls, err
}
