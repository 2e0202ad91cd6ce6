package main

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/client"
	"github.com/lockboxhq/lockbox/keys"
	"github.com/lockboxhq/lockbox/postgres"
	"github.com/lockboxhq/lockbox/postgres/pgtest"
)

// TestReplicas is SPEC §9's promise, tested on real processes: three
// `lockbox serve` replicas on one PostgreSQL database, a client spreading
// racing decisions and a mass expiry over them. Whichever replica serves a
// call and whichever worker gets to a deadline first, every request is
// decided or expired once, every audit record is stored once, the audit
// trail of every request replays as one path through the state machine,
// and every log's indexes are gap-free.
func TestReplicas(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Schema(t, pgtest.DSN(t))
	decide, expire := 300, 2000 // requests raced over, requests expiring at once
	if testing.Short() {
		decide, expire = 60, 300
	}
	bin := buildLockbox(t)
	keyDir := filepath.Join(t.TempDir(), "keys")
	if _, err := keys.Generate(keyDir); err != nil {
		t.Fatal(err)
	}
	c := newCluster(t, startReplicas(t, bin, dsn, keyDir, 3))

	racing := c.fileRequests(t, decide, true)
	refused := c.raceDecisions(t, racing)

	pendingReview := c.fileRequests(t, expire/2, false)
	pending := c.fileRequests(t, expire-expire/2, true)
	for _, rc := range c.as["admin@provider.test"] {
		if _, err := rc.AdvanceClock(t.Context(), lockbox.ReviewTTL+time.Hour); err != nil {
			t.Fatalf("advance dev clock: %v", err)
		}
	}
	// Approvers who are too late, on every replica, while the workers sweep.
	refused += c.lateApprovals(t, pending[:min(len(pending), 200)])
	c.waitSettled(t, dsn)

	st, err := postgres.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	logs := readLogs(t, st)
	checkGapFree(t, dsn, logs)
	trails := requestTrails(t, logs)
	wantFinal := map[string]lockbox.Status{}
	for _, id := range append(pendingReview, pending...) {
		wantFinal[id] = lockbox.StatusExpired
	}
	for _, id := range racing {
		wantFinal[id] = "" // completed or denied: whichever decision won
	}
	checkTrails(t, st, trails, wantFinal)
	if got := countOp(logs, lockbox.OpRequestDecisionRefused); got != refused {
		t.Errorf("%d refusal records, want %d: one per refused decision the clients saw", got, refused)
	}
	if got := countOp(logs, lockbox.OpRequestExpired); got != expire {
		t.Errorf("%d expiry records, want %d", got, expire)
	}
}

// buildLockbox builds the lockbox binary into a temporary directory.
func buildLockbox(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "lockbox")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// replica is one running `lockbox serve` process.
type replica struct {
	url    string
	cmd    *exec.Cmd
	log    string        // its stderr
	exited chan struct{} // closed when the process has exited
	err    error         // its exit status, once exited
}

// startReplicas starts n dev servers on dsn sharing keyDir, all at once
// (so they migrate and seed the empty database together), and waits until
// each one answers /readyz.
func startReplicas(t *testing.T, bin, dsn, keyDir string, n int) []*replica {
	t.Helper()
	dir := t.TempDir()
	var rs []*replica
	for i := range n {
		r := &replica{log: filepath.Join(dir, fmt.Sprintf("replica%d.log", i))}
		addrFile := filepath.Join(dir, fmt.Sprintf("replica%d.addr", i))
		logf, err := os.Create(r.log)
		if err != nil {
			t.Fatal(err)
		}
		r.cmd = exec.Command(bin, "serve", "--dev", "--database", dsn, "--listen", "127.0.0.1:0",
			"--addr-file", addrFile, "--key-dir", keyDir, "--worker-poll", "200ms", "--log-format", "json",
			"--db-max-open-conns", "8", "--db-max-idle-conns", "8") // the test server is shared: stay well under max_connections
		r.cmd.Stderr, r.cmd.Stdout = logf, logf
		if err := r.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		logf.Close()
		r.exited = make(chan struct{})
		go func() { r.err = r.cmd.Wait(); close(r.exited) }()
		t.Cleanup(func() { r.stop(t) })
		rs = append(rs, r)
	}
	for i, r := range rs {
		r.url = waitReady(t, r, filepath.Join(dir, fmt.Sprintf("replica%d.addr", i)))
	}
	return rs
}

// waitReady waits (bounded) for the replica's address file and /readyz.
func waitReady(t *testing.T, r *replica, addrFile string) string {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(addrFile); err == nil {
			url := strings.TrimSpace(string(b))
			if resp, err := http.Get(url + "/readyz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return url
				}
			}
		}
		select {
		case <-r.exited:
			t.Fatalf("replica exited (%v) before it was ready; its log:\n%s", r.err, tail(r.log))
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("replica did not become ready; its log:\n%s", tail(r.log))
	return ""
}

// stop shuts the replica down gracefully (SIGTERM), killing it if it does
// not exit in time, and reports a non-clean exit.
func (r *replica) stop(t *testing.T) {
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.exited:
		if r.err != nil {
			t.Errorf("replica %s exited with %v; its log:\n%s", r.url, r.err, tail(r.log))
		}
	case <-time.After(30 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.exited
		t.Errorf("replica %s did not shut down within 30s", r.url)
	}
}

// tail is the end of a log file, for failure messages.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// cluster is a client's view of the replicas: for each dev account, one
// API client per replica (a token works on every replica).
type cluster struct {
	as map[string][]*client.Client
}

func newCluster(t *testing.T, rs []*replica) *cluster {
	t.Helper()
	hc := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	c := &cluster{as: map[string][]*client.Client{}}
	for i, email := range []string{"operator@provider.test", "manager@provider.test", "approver@contoso.test", "admin@provider.test"} {
		// Sign in on a different replica each: sessions are shared.
		s, err := client.New(rs[i%len(rs)].url, "").WithHTTPClient(hc).Login(t.Context(), email, "lockbox-dev")
		if err != nil {
			t.Fatalf("login %s: %v", email, err)
		}
		for _, r := range rs {
			c.as[email] = append(c.as[email], client.New(r.url, s.Token).WithHTTPClient(hc))
		}
	}
	return c
}

// on returns email's client on the replica for the n-th call.
func (c *cluster) on(email string, n int) *client.Client {
	cs := c.as[email]
	return cs[n%len(cs)]
}

// parallel runs fn(0..n-1) on at most workers goroutines and returns the
// first error.
func parallel(n, workers int, fn func(i int) error) error {
	var next atomic.Int64
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				if err := fn(i); err != nil {
					mu.Lock()
					first = cmpErr(first, err)
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// fileRequests files n requests for contoso, spread over the replicas, and
// when review is set has the manager approve each in review (so it is
// pending on the tenant). It returns their ids.
func (c *cluster) fileRequests(t *testing.T, n int, review bool) []string {
	t.Helper()
	ids := make([]string, n)
	err := parallel(n, 24, func(i int) error {
		r, err := c.on("operator@provider.test", i).CreateRequest(t.Context(), lockbox.NewRequest{
			Tenant: "contoso", Service: "exchange", ServiceRequest: fmt.Sprintf("SR-%06d", i),
			Reason: "Replica test.", Operations: []string{"Get-Mailbox"}, DurationMinutes: 60})
		if err != nil {
			return fmt.Errorf("create %d: %w", i, err)
		}
		ids[i] = r.ID
		if review {
			_, err = c.on("manager@provider.test", i+1).Act(t.Context(), r.ID, lockbox.EventReviewApprove, lockbox.Decision{})
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// raceDecisions has three decisions race on every request, one per
// replica (approve, deny, approve), released together. Exactly one wins;
// the others are refused with conflict. It returns how many were refused.
func (c *cluster) raceDecisions(t *testing.T, ids []string) int {
	t.Helper()
	events := []lockbox.Event{lockbox.EventApprove, lockbox.EventDeny, lockbox.EventApprove}
	var refused atomic.Int64
	err := parallel(len(ids), 16, func(i int) error {
		start := make(chan struct{})
		errs := make([]error, len(events))
		var wg sync.WaitGroup
		for k, ev := range events {
			wg.Go(func() {
				<-start
				_, errs[k] = c.on("approver@contoso.test", k).Act(t.Context(), ids[i], ev, lockbox.Decision{Comment: "race"})
			})
		}
		close(start)
		wg.Wait()
		wins := 0
		for _, err := range errs {
			switch lockbox.ErrorCode(err) {
			case "":
				wins++
			case lockbox.ECONFLICT:
				refused.Add(1)
			default:
				return fmt.Errorf("decision on %s: %w", ids[i], err)
			}
		}
		if wins != 1 {
			return fmt.Errorf("request %s: %d of %d racing decisions won, want exactly 1", ids[i], wins, len(events))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return int(refused.Load())
}

// lateApprovals tries to approve requests whose deadline has passed, on
// every replica; each must be refused. It returns how many were refused.
func (c *cluster) lateApprovals(t *testing.T, ids []string) int {
	t.Helper()
	err := parallel(len(ids), 16, func(i int) error {
		r, err := c.on("approver@contoso.test", i).Act(t.Context(), ids[i], lockbox.EventApprove, lockbox.Decision{})
		if lockbox.ErrorCode(err) != lockbox.ECONFLICT {
			return fmt.Errorf("approval of %s after its deadline = %v, %v; want conflict", ids[i], r, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return len(ids)
}

// waitSettled waits (bounded) until the replicas' workers have settled
// every deadline: no request is left undecided or running.
func (c *cluster) waitSettled(t *testing.T, dsn string) {
	t.Helper()
	db := pgtest.Open(t, dsn)
	defer db.Close()
	deadline := time.Now().Add(3 * time.Minute)
	var live int
	for time.Now().Before(deadline) {
		err := db.QueryRowContext(t.Context(), `SELECT count(*) FROM requests
			WHERE status IN ('pending_review', 'pending', 'approved', 'active')`).Scan(&live)
		if err != nil {
			t.Fatal(err)
		}
		if live == 0 {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%d requests still live after 3 minutes: the workers did not settle them", live)
}

// readLogs reads every audit log in full.
func readLogs(t *testing.T, st lockbox.Store) map[string][]*lockbox.AuditRecord {
	t.Helper()
	out := map[string][]*lockbox.AuditRecord{}
	err := st.View(t.Context(), func(tx lockbox.Tx) error {
		for _, log := range []string{lockbox.ProviderLog, "contoso", "fabrikam"} {
			n, err := tx.AuditSize(t.Context(), log)
			if err != nil {
				return err
			}
			if out[log], err = tx.AuditRecords(t.Context(), log, 0, n); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// checkGapFree: each log's records carry indexes 0..size-1, and the table
// holds no record beyond its log's size.
func checkGapFree(t *testing.T, dsn string, logs map[string][]*lockbox.AuditRecord) {
	t.Helper()
	for log, recs := range logs {
		for i, rec := range recs {
			if rec.Index != int64(i) {
				t.Fatalf("log %s: record %d has index %d", log, i, rec.Index)
			}
		}
	}
	db := pgtest.Open(t, dsn)
	defer db.Close()
	var stray int
	err := db.QueryRowContext(t.Context(), `SELECT count(*) FROM audit_records r
		LEFT JOIN audit_logs l ON l.log = r.log WHERE l.log IS NULL OR r.idx >= l.size OR r.idx < 0`).Scan(&stray)
	if err != nil || stray != 0 {
		t.Errorf("%d audit records outside their log's size (%v)", stray, err)
	}
}

// requestTrails groups the tenant log's request records by request, in
// log order, leaving out refusals (which change nothing).
func requestTrails(t *testing.T, logs map[string][]*lockbox.AuditRecord) map[string][]*lockbox.AuditRecord {
	t.Helper()
	out := map[string][]*lockbox.AuditRecord{}
	for _, rec := range logs["contoso"] {
		// A trail is the request's creation and its transitions (records
		// that move it carry "from" and "to"); refusals and the access
		// report move nothing.
		_, moves := rec.AuditData["from"]
		if rec.RequestID == "" || !moves && rec.Operation != lockbox.OpRequestCreated {
			continue
		}
		out[rec.RequestID] = append(out[rec.RequestID], rec)
	}
	return out
}

// checkTrails replays each request's audit trail: it starts with its
// creation, each transition leaves from the status the previous one
// reached, no operation repeats, and the last status is the stored one
// (and want's, when want names one).
func checkTrails(t *testing.T, st lockbox.Store, trails map[string][]*lockbox.AuditRecord, want map[string]lockbox.Status) {
	t.Helper()
	if len(trails) != len(want) {
		t.Errorf("%d requests have an audit trail, want %d", len(trails), len(want))
	}
	for id, wantStatus := range want {
		stored, err := storedRequest(t, st, id)
		if err != nil {
			t.Fatal(err)
		}
		if err := replay(trails[id], stored.Status); err != nil {
			t.Errorf("request %s: %v", id, err)
			continue
		}
		if wantStatus != "" && stored.Status != wantStatus {
			t.Errorf("request %s is %s, want %s", id, stored.Status, wantStatus)
		}
		if !stored.Status.Terminal() {
			t.Errorf("request %s is still %s", id, stored.Status)
		}
	}
}

func replay(trail []*lockbox.AuditRecord, final lockbox.Status) error {
	if len(trail) == 0 || trail[0].Operation != lockbox.OpRequestCreated {
		return errors.New("trail does not start with request.created")
	}
	at := string(lockbox.StatusPendingReview)
	seen := map[string]bool{}
	var path bytes.Buffer
	path.WriteString(at)
	for _, rec := range trail[1:] {
		if seen[rec.Operation] {
			return fmt.Errorf("operation %s recorded twice (path %s)", rec.Operation, path.String())
		}
		seen[rec.Operation] = true
		from, to := fmt.Sprint(rec.AuditData["from"]), fmt.Sprint(rec.AuditData["to"])
		if from != at {
			return fmt.Errorf("%s leaves from %s, but the request was %s (path %s)", rec.Operation, from, at, path.String())
		}
		at = to
		fmt.Fprintf(&path, " -> %s", at)
	}
	if at != string(final) {
		return fmt.Errorf("trail ends at %s, stored status is %s", path.String(), final)
	}
	return nil
}

func storedRequest(t *testing.T, st lockbox.Store, id string) (*lockbox.AccessRequest, error) {
	var r *lockbox.AccessRequest
	err := st.View(t.Context(), func(tx lockbox.Tx) (err error) {
		r, err = tx.GetRequest(t.Context(), id)
		return err
	})
	return r, err
}

func countOp(logs map[string][]*lockbox.AuditRecord, op string) int {
	n := 0
	for _, recs := range logs {
		for _, rec := range recs {
			if rec.Operation == op {
				n++
			}
		}
	}
	return n
}
