// Command verifybench measures `lockbox audit verify` (docs/benchmarks.md):
// a full verification of a large tenant log against hashing the same
// leaves, its peak memory, and an incremental run after new records, each
// measured in a child process of its own so its peak RSS is its own.
//
//	go run ./auditlog/internal/verifybench -dir /tmp/lockbox-verifybench -records 1000000 -new 1000
//
// The database is built once (kept in -dir for reruns; an incremental run
// appends -new records to it, so a rerun starts larger). All traffic is on
// loopback and every loop is bounded by a count.
package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
	"github.com/lockboxhq/lockbox/auditlog"
	"github.com/lockboxhq/lockbox/auditlog/internal/benchdb"
	"github.com/lockboxhq/lockbox/client"
	"github.com/lockboxhq/lockbox/internal/benchcpu"
	"github.com/lockboxhq/lockbox/internal/servegc"
	"github.com/lockboxhq/lockbox/server"
	"github.com/lockboxhq/lockbox/sqlite"
)

var (
	dir       = flag.String("dir", filepath.Join(os.TempDir(), "lockbox-verifybench"), "working directory (the database is kept for reruns)")
	records   = flag.Int("records", 1_000_000, "records in contoso's log")
	newRecs   = flag.Int("new", 1000, "records appended before the incremental run")
	child     = flag.String("child", "", "internal: run one measurement (hash, file, http)")
	url       = flag.String("url", "", "internal: server URL (child http)")
	token     = flag.String("token", "", "internal: bearer token (child http)")
	state     = flag.String("state", "", "internal: state directory (child http)")
	full      = flag.Bool("full", false, "internal: --full (child http)")
	trace     = flag.Bool("trace", false, "internal: log each read and its time (child http)")
	entries   = flag.Bool("entries", false, "also measure a full verify through the JSON entries endpoint, as before tiles (child http: read that way)")
	idleConns = flag.Int("idle-conns", 0, "the client's idle connections kept per host (0: net/http's default, 2, as the CLI)")
	cpuProf   = flag.String("cpuprofile", "", "write a CPU profile of the serving process during the first full verify over HTTP to this file, and of the client to this file.client")
	only      = flag.String("only", "", "run only this part: csv; incremental (three incremental runs after -new records each, from the kept state); build (the database, nothing measured); e2e (one full verify over HTTP, with the CPU of client and server)")
)

const tenant = "contoso"

func main() {
	flag.Parse()
	log.SetFlags(0)
	ctx := context.Background()
	switch *child {
	case "hash":
		report(hashLeaves())
		return
	case "file":
		report(verifyFile(ctx))
		return
	case "http":
		report(verifyHTTP(ctx))
		return
	}
	must(os.MkdirAll(*dir, 0o700))
	servegc.Set() // this process serves the verifier, as `lockbox serve` would
	store, svc, accounts := openDB(ctx)
	defer store.Close()
	if *only == "build" {
		return
	}
	if *only == "csv" {
		stop := profile()
		benchCSV(ctx, svc, filepath.Join(*dir, fmt.Sprintf("verify-%d.db", *records)))
		stop()
		return
	}
	var handler http.Handler = (&server.Server{Requests: accounts, Accounts: accounts, Tenants: accounts, Catalog: accounts, Audit: svc,
		Logger: slog.New(slog.DiscardHandler)}).Handler()
	if *only == "incremental" {
		inner := handler
		handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer logSince(time.Now(), "  server "+r.URL.Path)
			inner.ServeHTTP(w, r)
		})
	}
	ts := httptest.NewServer(handler)
	defer ts.Close()
	sess, err := accounts.Login(ctx, "auditor@contoso.test", approval.DevPassword)
	must(err)
	stateDir := filepath.Join(*dir, "state")
	if *only == "incremental" {
		benchIncremental(ctx, store, ts.URL, sess.Token, stateDir)
		return
	}
	if *only == "latency" {
		latency(ctx, ts.URL, sess.Token)
		return
	}
	if *only == "bundles" {
		stop := profile()
		serveBundles(ctx, svc)
		stop()
		return
	}
	if *only == "e2e" {
		must(os.RemoveAll(stateDir))
		stop := profile()
		serverCPU := cpuSelf()
		r := run("http", "-url", ts.URL, "-token", sess.Token, "-state", stateDir, "-idle-conns", fmt.Sprint(*idleConns), "-cpuprofile", *cpuProf+".client")
		stop()
		fmt.Printf("full verify over loopback HTTP (idle connections %d): %.2f s for %d records, CPU client %.2f s, server %.2f s, peak RSS %.1f MiB\n",
			*idleConns, r.Seconds, r.Checked, r.CPU, cpuSelf()-serverCPU, r.RSSMiB)
		return
	}
	flat, cpPath, vkey := dumpLeaves(ctx, store, svc)
	serveBundles(ctx, svc)
	must(os.RemoveAll(stateDir))
	must(os.RemoveAll(filepath.Join(*dir, "state-entries")))

	fmt.Printf("go run ./auditlog/internal/verifybench -records %d -new %d (2 shared cores; each figure a child process)\n", *records, *newRecs)
	load := func() string {
		b, _ := os.ReadFile("/proc/loadavg")
		return strings.Join(strings.Fields(string(b))[:3], " ")
	}
	hashes := []result{run("hash", "-flat-file", flat)}
	// hashAround is the mean hashing time of the baselines either side of
	// a measurement, each run in turn just before and after it.
	hashAround := func() float64 {
		hashes = append(hashes, run("hash", "-flat-file", flat))
		return (hashes[len(hashes)-2].Seconds + hashes[len(hashes)-1].Seconds) / 2
	}
	core := run("file", "-flat-file", flat, "-checkpoint-file", cpPath, "-vkey", vkey)
	h := hashAround()
	fmt.Printf("verify core (same leaves, same file, every record checked canonical): %.2f s, peak RSS %.1f MiB: RATIO verify rate / hash rate %.2f (hashing %.2f s, load %s)\n",
		core.Seconds, core.RSSMiB, h/core.Seconds, h, load())
	if *entries {
		old := run("http", "-url", ts.URL, "-token", sess.Token, "-state", filepath.Join(*dir, "state-entries"), "-entries")
		h := hashAround()
		fmt.Printf("full verify over loopback HTTP through the JSON entries endpoint (as before tiles): %.2f s for %d records, peak RSS %.1f MiB: RATIO %.2f (hashing %.2f s, load %s)\n",
			old.Seconds, old.Checked, old.RSSMiB, h/old.Seconds, h, load())
	}
	stop := profile()
	serverCPU := cpuSelf()
	e2e := run("http", "-url", ts.URL, "-token", sess.Token, "-state", stateDir, "-cpuprofile", *cpuProf+".client")
	serverCPU = cpuSelf() - serverCPU
	stop()
	h = hashAround()
	fmt.Printf("full verify over loopback HTTP (the full bundles in one stream, the partial one a tile), from SQLite (first run, records kept): %.2f s for %d records, peak RSS %.1f MiB (client process): RATIO verify rate / hash rate %.2f (hashing %.2f s, load %s)\n",
		e2e.Seconds, e2e.Checked, e2e.RSSMiB, h/e2e.Seconds, h, load())
	fmt.Printf("  CPU of that run: client %.2f s, server %.2f s; of the verify core %.2f s, of hashing %.2f s\n",
		e2e.CPU, serverCPU, core.CPU, hashes[len(hashes)-1].CPU)
	appendRecords(ctx, store, *newRecs)
	inc := run("http", "-url", ts.URL, "-token", sess.Token, "-state", stateDir)
	fmt.Printf("incremental verify after %d new records: %.3f s (load state %.3f, verify %.3f, save state %.3f), checked %d, peak RSS %.1f MiB: %.2f%% of the full run (load %s)\n",
		*newRecs, inc.Seconds, inc.Load, inc.Verify, inc.Save, inc.Checked, inc.RSSMiB, 100*inc.Seconds/e2e.Seconds, load())
	again := run("http", "-url", ts.URL, "-token", sess.Token, "-state", stateDir, "-full")
	h = hashAround()
	fmt.Printf("--full verify over loopback HTTP (held to the kept state): %.2f s for %d records, peak RSS %.1f MiB: RATIO %.2f (hashing %.2f s, load %s)\n",
		again.Seconds, again.Checked, again.RSSMiB, h/again.Seconds, h, load())
	fmt.Printf("hashing runs, in order: ")
	for _, r := range hashes {
		fmt.Printf("%.2f s ", r.Seconds)
	}
	fmt.Println()
}

// profile starts -cpuprofile, if set, and returns what stops it.
func profile() func() {
	if *cpuProf == "" {
		return func() {}
	}
	f, err := os.Create(*cpuProf)
	must(err)
	must(pprof.StartCPUProfile(f))
	return func() {
		pprof.StopCPUProfile()
		must(f.Close())
	}
}

var (
	flatFile = flag.String("flat-file", "", "internal: leaves file")
	cpFile   = flag.String("checkpoint-file", "", "internal: checkpoint file")
	vkeyFlag = flag.String("vkey", "", "internal: verifier key")
)

type result struct {
	Seconds float64 `json:"seconds"`
	// The phases of an http run: load the kept state, verify, save it.
	Load, Verify, Save float64 `json:",omitempty"`
	Checked            int64   `json:"checked"`
	RSSMiB             float64 `json:"rss_mib"`
	CPU                float64 `json:"-"` // the child's user and system CPU time (set by run)
}

// run runs one measurement in a child process and reads its result.
func run(kind string, args ...string) result {
	exe, err := os.Executable()
	must(err)
	cmd := exec.Command(exe, append([]string{"-child", kind}, args...)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	must(err)
	var r result
	must(json.Unmarshal(out, &r))
	r.CPU = (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
	return r
}

func report(r result) {
	b, err := os.ReadFile("/proc/self/status")
	must(err)
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb float64
			fmt.Sscanf(strings.TrimSpace(v), "%f", &kb)
			r.RSSMiB = kb / 1024
		}
	}
	must(json.NewEncoder(os.Stdout).Encode(r))
}

// leafReader reads the flat leaves file: per leaf a uvarint length and the
// bytes.
type leafReader struct {
	r    *bufio.Reader
	next int64
}

func openLeaves(path string) (*leafReader, io.Closer) {
	f, err := os.Open(path)
	must(err)
	return &leafReader{r: bufio.NewReaderSize(f, 1<<20)}, f
}

func (l *leafReader) read() ([]byte, error) {
	n, err := binary.ReadUvarint(l.r)
	if err != nil {
		return nil, err
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(l.r, b); err != nil {
		return nil, err
	}
	l.next++
	return b, nil
}

// hashLeaves is the baseline: read every leaf, hash it and fold it into
// the tree's right edge, then take the root — the least any verifier does.
func hashLeaves() result {
	start := time.Now()
	lr, c := openLeaves(*flatFile)
	defer c.Close()
	var edge []tlog.Hash
	var n int64
	for ; ; n++ {
		b, err := lr.read()
		if errors.Is(err, io.EOF) {
			break
		}
		must(err)
		edge = append(edge, tlog.RecordHash(b))
		for m := n; m&1 == 1; m >>= 1 {
			k := len(edge)
			edge[k-2] = tlog.NodeHash(edge[k-2], edge[k-1])
			edge = edge[:k-1]
		}
	}
	r := edge[len(edge)-1]
	for i := len(edge) - 2; i >= 0; i-- {
		r = tlog.NodeHash(edge[i], r)
	}
	_ = r
	return result{Seconds: time.Since(start).Seconds(), Checked: n}
}

// fileSource serves the leaves file as a log: the verifier's own work,
// without a network or a database in the way.
type fileSource struct {
	lr   *leafReader
	cp   []byte
	vkey string
}

func (f *fileSource) LogKey(context.Context) (string, error) { return f.vkey, nil }
func (f *fileSource) Checkpoint(context.Context, string) (*lockbox.Checkpoint, error) {
	return &lockbox.Checkpoint{Note: f.cp}, nil
}
func (f *fileSource) LogEntries(_ context.Context, _ string, start, end int64) ([]lockbox.LogEntry, error) {
	if start != f.lr.next {
		return nil, fmt.Errorf("entries from %d, the file is at %d", start, f.lr.next)
	}
	out := make([]lockbox.LogEntry, 0, lockbox.MaxLogEntriesPage)
	for i := start; i < end && len(out) < lockbox.MaxLogEntriesPage; i++ {
		b, err := f.lr.read()
		if err != nil {
			return nil, err
		}
		out = append(out, lockbox.LogEntry{Index: i, Data: b})
	}
	return out, nil
}
func (f *fileSource) ConsistencyProof(context.Context, string, int64, int64) ([][32]byte, error) {
	return nil, errors.New("not served")
}

func verifyFile(ctx context.Context) result {
	cp, err := os.ReadFile(*cpFile)
	must(err)
	start := time.Now()
	lr, c := openLeaves(*flatFile)
	defer c.Close()
	r, err := auditlog.Verify(ctx, &fileSource{lr: lr, cp: cp, vkey: *vkeyFlag}, tenant, nil, auditlog.Options{})
	must(err)
	if !r.OK() {
		log.Fatalf("verification failed: %v", r.Problems)
	}
	return result{Seconds: time.Since(start).Seconds(), Checked: r.Checked}
}

func verifyHTTP(ctx context.Context) result {
	hc := &http.Client{Timeout: time.Hour}
	if *idleConns > 0 {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = *idleConns
		hc.Transport = tr
	}
	c := client.New(*url, *token).WithHTTPClient(hc)
	var src auditlog.Source = c
	if *trace {
		src = timed{c}
	}
	if *entries {
		src = struct{ auditlog.Source }{src} // hides ReadTile: the JSON entries
	}
	if *cpuProf != ".client" {
		defer profile()()
	}
	start := time.Now()
	if *trace {
		fmt.Fprintf(os.Stderr, "  verify starts at %.1f ms\n", float64(start.Sub(processStart).Microseconds())/1000)
		defer func() { logSince(start, "verify and save") }()
	}
	prev, err := auditlog.LoadState(*state)
	must(err)
	loaded := time.Now()
	r, err := auditlog.Verify(ctx, src, tenant, prev, auditlog.Options{Full: *full, StateDir: *state})
	must(err)
	if !r.OK() {
		log.Fatalf("verification failed: %v", r.Problems)
	}
	verified := time.Now()
	must(auditlog.SaveState(*state, r.State))
	end := time.Now()
	return result{Seconds: end.Sub(start).Seconds(), Checked: r.Checked, Load: loaded.Sub(start).Seconds(),
		Verify: verified.Sub(loaded).Seconds(), Save: end.Sub(verified).Seconds()}
}

var must = benchdb.Must

// openDB opens (building on first use) a database with the dev seed and
// -records records in contoso's log (benchdb).
func openDB(ctx context.Context) (*sqlite.Store, *auditlog.Service, *approval.Service) {
	d := benchdb.Open(ctx, filepath.Join(*dir, fmt.Sprintf("verify-%d.db", *records)))
	if d.Fresh {
		start := time.Now()
		l := benchdb.NewLoader(d.Path)
		l.Load(tenant, *records)
		l.Close()
		fmt.Printf("loaded %d records in %s\n", *records, time.Since(start).Round(time.Second))
	}
	return d.Store, d.Audit, d.Accounts
}

// dumpLeaves writes contoso's leaves and signed checkpoint to files, for
// the hash baseline and the verifier core to read alike.
func dumpLeaves(ctx context.Context, store *sqlite.Store, svc *auditlog.Service) (flat, cpPath, vkey string) {
	actx := lockbox.NewContextWithUser(ctx, lockbox.System)
	cp, err := svc.Checkpoint(actx, tenant)
	must(err)
	flat, cpPath = filepath.Join(*dir, "leaves"), filepath.Join(*dir, "checkpoint")
	must(os.WriteFile(cpPath, cp.Note, 0o600))
	f, err := os.Create(flat)
	must(err)
	w := bufio.NewWriterSize(f, 1<<20)
	var buf [binary.MaxVarintLen64]byte
	for next := int64(0); next < cp.Size; {
		page, err := svc.LogEntries(actx, tenant, next, cp.Size)
		must(err)
		for _, e := range page {
			n := binary.PutUvarint(buf[:], uint64(len(e.Data)))
			w.Write(buf[:n])
			w.Write(e.Data)
		}
		next += int64(len(page))
	}
	must(w.Flush())
	must(f.Close())
	vkey, err = svc.LogKey(ctx)
	must(err)
	return flat, cpPath, vkey
}

// serveBundles reads every full entry bundle of the log through the
// service (LogTile, as the tiles route calls it: the server's own work for
// a full verify, without HTTP), twice, waiting after each pass for the
// bundles it queued to be stored. On a log loaded without stored bundles
// (benchdb's loader writes rows only, as a log filled before migration
// 00018 has) the first pass is the fallback and the one-time fill.
func serveBundles(ctx context.Context, svc *auditlog.Service) {
	actx := lockbox.NewContextWithUser(ctx, lockbox.System)
	cp, err := svc.Checkpoint(actx, tenant)
	must(err)
	for pass := 1; pass <= 2; pass++ {
		cpu0 := cpuSelf()
		start := time.Now()
		var bytes int64
		for n := range cp.Size / auditlog.BundleSize {
			data, _, err := svc.LogTile(actx, tenant, auditlog.EntryBundlePath(n, auditlog.BundleSize))
			must(err)
			bytes += int64(len(data))
		}
		read := time.Since(start)
		svc.WaitBundleFills()
		fmt.Printf("server side, pass %d: LogTile of all %d full bundles (%.0f MiB): %.2f s, then stored in %.2f s more; CPU %.2f s\n",
			pass, cp.Size/auditlog.BundleSize, float64(bytes)/(1<<20), read.Seconds(), (time.Since(start) - read).Seconds(),
			cpuSelf()-cpu0)
	}
}

// cpuSelf is this process's CPU time so far, in seconds.
func cpuSelf() float64 { return benchcpu.Self().Seconds() }

// appendRecords appends n records through the store, as the workflow does.
func appendRecords(ctx context.Context, store *sqlite.Store, n int) {
	for i := 0; i < n; i += 100 {
		must(store.Update(ctx, func(tx lockbox.Tx) error {
			for j := i; j < min(i+100, n); j++ {
				r := benchdb.Record(tenant, 0, time.Now().UTC().Truncate(time.Millisecond))
				r.ID = fmt.Sprintf("new-%d-%d", time.Now().UnixNano(), j)
				if err := tx.AppendAudit(ctx, r); err != nil {
					return err
				}
			}
			return nil
		}))
	}
}

// benchCSV: the CSV export of the whole log (the audit service, as the API
// and the admin center serve it, into a counting writer) against a plain
// scan of the same rows in export order on another connection to the same
// file, alternated three times.
func benchCSV(ctx context.Context, svc *auditlog.Service, path string) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	must(err)
	defer db.Close()
	scan := func() (int64, float64) {
		start := time.Now()
		rows, err := db.QueryContext(ctx, `SELECT idx, canonical FROM audit_records WHERE log = ? ORDER BY time DESC, idx DESC`, tenant)
		must(err)
		var n, size int64
		for rows.Next() {
			var idx int64
			var b []byte
			must(rows.Scan(&idx, &b))
			n, size = n+1, size+int64(len(b))
		}
		must(rows.Err())
		return n, time.Since(start).Seconds()
	}
	export := func() (int64, float64) {
		start := time.Now()
		w := &benchdb.CountWriter{}
		must(auditlog.ExportCSV(lockbox.NewContextWithUser(ctx, lockbox.System), svc, tenant, lockbox.AuditFilter{},
			func(string, string) io.Writer { return w }))
		return w.N, time.Since(start).Seconds()
	}
	fmt.Printf("CSV export of contoso's log vs a plain SQLite scan of the same rows (idx, canonical) in export order (time DESC, idx DESC)\n")
	for round := range 3 {
		n, s1 := scan()
		bytes, e := export()
		_, s2 := scan()
		fmt.Printf("round %d: scan %d rows %.2f s, export %.0f MiB %.2f s (%.0f rows/s, %.0f MiB/s), scan %.2f s: RATIO export / scan rate %.2f\n",
			round+1, n, s1, float64(bytes)/(1<<20), e, float64(n)/e, float64(bytes)/(1<<20)/e, s2, (s1+s2)/2/e)
	}
}

// benchIncremental: three incremental runs, each after -new records, from
// the state kept by the last run,
// with the time of each phase. (A full run first: the log key is new in
// every process.)
func benchIncremental(ctx context.Context, store *sqlite.Store, url, token, stateDir string) {
	must(os.RemoveAll(stateDir))
	full := run("http", "-url", url, "-token", token, "-state", stateDir)
	fmt.Printf("full verify first: %.2f s for %d records\n", full.Seconds, full.Checked)
	for range 3 {
		appendRecords(ctx, store, *newRecs)
		inc := run("http", "-url", url, "-token", token, "-state", stateDir, "-trace")
		fmt.Printf("incremental verify after %d new records: %.3f s (load state %.3f, verify %.3f, save state %.3f), checked %d, peak RSS %.1f MiB\n",
			*newRecs, inc.Seconds, inc.Load, inc.Verify, inc.Save, inc.Checked, inc.RSSMiB)
	}
}

// timed logs each read of the verifier and how long it took (-trace).
type timed struct{ *client.Client }

func (t timed) Checkpoint(ctx context.Context, log string) (*lockbox.Checkpoint, error) {
	defer logSince(time.Now(), "checkpoint")
	return t.Client.Checkpoint(ctx, log)
}

func (t timed) ReadTile(ctx context.Context, log, path string) ([]byte, error) {
	defer logSince(time.Now(), path)
	return t.Client.ReadTile(ctx, log, path)
}

// processStart is when this process started: -trace says when each read
// began and ended, from it.
var processStart = time.Now()

func logSince(start time.Time, what string) {
	ms := func(t time.Time) float64 { return float64(t.Sub(processStart).Microseconds()) / 1000 }
	fmt.Fprintf(os.Stderr, "  %s %.1f ms (%.1f to %.1f ms)\n", what, float64(time.Since(start).Microseconds())/1000, ms(start), ms(time.Now()))
}

// latency times requests one at a time on one kept-alive connection: the
// floor under an incremental run's few reads.
func latency(ctx context.Context, url, token string) {
	c := client.New(url, token)
	cp, err := c.Checkpoint(ctx, tenant)
	must(err)
	size, err := strconv.ParseInt(strings.Split(string(cp.Note), "\n")[1], 10, 64)
	must(err)
	newest := size / auditlog.BundleSize
	for _, what := range []string{"checkpoint", "full entry bundle", "stream of 3 bundles", "stream of the newest 3 bundles", "key"} {
		var ds []time.Duration
		for range 50 {
			start := time.Now()
			var err error
			switch what {
			case "checkpoint":
				_, err = c.Checkpoint(ctx, tenant)
			case "full entry bundle":
				_, err = c.ReadTile(ctx, tenant, auditlog.EntryBundlePath(100, auditlog.BundleSize))
			case "stream of 3 bundles", "stream of the newest 3 bundles":
				from := int64(100)
				if what == "stream of the newest 3 bundles" {
					from = newest - 3
				}
				var body io.ReadCloser
				if body, err = c.ReadBundles(ctx, tenant, from, from+3); err == nil {
					_, err = io.Copy(io.Discard, body)
					body.Close()
				}
			case "key":
				_, err = c.LogKey(ctx)
			}
			must(err)
			ds = append(ds, time.Since(start))
		}
		slices.Sort(ds)
		fmt.Printf("%s: median %v, p90 %v, min %v\n", what, ds[len(ds)/2], ds[len(ds)*9/10], ds[0])
	}
}
