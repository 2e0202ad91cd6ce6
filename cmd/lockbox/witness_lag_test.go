package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/lockboxhq/lockbox/auditlog"
	"github.com/lockboxhq/lockbox/internal/witnesstest"
)

// TestCosignatureLagDriver is a measurement, not a test: with
// LOCKBOX_WITNESS_LAG=N it appends N records (one settings change each,
// through the CLI and the HTTP API) to a server with one local litewitness
// (the witness loop woken by each append), and reports how long after each append
// returned the served checkpoint carried a cosignature covering it (p50,
// p99, max), next to the append's own latency in the same run. Figures go
// to docs/benchmarks.md.
//
//	LOCKBOX_WITNESS_LAG=200 go test ./cmd/lockbox -run CosignatureLagDriver -v
func TestCosignatureLagDriver(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("LOCKBOX_WITNESS_LAG"))
	if n <= 0 {
		t.Skip("a measurement: set LOCKBOX_WITNESS_LAG=N to run it")
	}
	w := witnesstest.Start(t, "witness.test/lag")
	dir := t.TempDir()
	rs, err := startServer(context.Background(), serverConfig{Listen: "127.0.0.1:0", Dev: true, WorkerPoll: time.Second,
		Database: filepath.Join(dir, "lockbox.db"), KeyDir: filepath.Join(dir, "keys"), PasswordMemoryKiB: 64, LogOrigin: "lockbox.test",
		Witness: witnessConfig{Witnesses: []string{w.Flag()}}}, nopWriter{})
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close(context.Background())
	srv := &e2e{t: t, url: rs.URL()}
	admin, auditor := srv.as("admin@contoso.test"), srv.as("auditor@contoso.test")
	logs, _ := rs.auditLogs(context.Background())
	for _, l := range logs {
		w.AddLog(t, "lockbox.test/"+l, strings.TrimSpace(httpGet(t, rs.URL()+"/v1/log/key")))
	}
	v, err := auditlog.NewCosignatureVerifier(w.VKey)
	if err != nil {
		t.Fatal(err)
	}
	// Every log cosigned first: the witness refused them (403) until it
	// knew them, and their retry backoff is not what is measured.
	for deadline := time.Now().Add(time.Minute); metric(t, rs.URL(), "lockbox_audit_missing_cosignatures") != 0; {
		if time.Now().After(deadline) {
			t.Fatal("cosignatures still missing after a minute")
		}
		time.Sleep(10 * time.Millisecond)
	}
	var lags, appends []time.Duration
	for i := range n {
		start := time.Now()
		admin.mustRun("settings", "set", "--tenant", "contoso", "--max-duration", strconv.Itoa(2+i%2)+"h")
		appended := time.Now()
		size := fetchCheckpoint(t, auditor).size
		for {
			cp := fetchCheckpoint(t, auditor)
			if cp.size >= size && auditlog.CountCosignatures([]byte(cp.note), []note.Verifier{v}) == 1 {
				break
			}
			if time.Since(appended) > time.Minute {
				t.Fatalf("no cosignature a minute after append %d", i)
			}
			time.Sleep(2 * time.Millisecond)
		}
		lags, appends = append(lags, time.Since(appended)), append(appends, appended.Sub(start))
	}
	slices.Sort(lags)
	slices.Sort(appends)
	q := func(d []time.Duration, p float64) time.Duration { return d[min(len(d)-1, int(float64(len(d))*p))] }
	t.Logf("%d appends, the witness loop woken by each append (default --witness-poll, 5s, as the fallback), one local litewitness: cosignature lag p50 %v, p99 %v, max %v; append (CLI settings set) p50 %v, p99 %v; lag p99 / append p99 = %.1f",
		n, q(lags, .5).Round(time.Millisecond), q(lags, .99).Round(time.Millisecond), lags[len(lags)-1].Round(time.Millisecond),
		q(appends, .5).Round(time.Millisecond), q(appends, .99).Round(time.Millisecond), float64(q(lags, .99))/float64(q(appends, .99)))
}

type nopWriter struct{}

func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }
