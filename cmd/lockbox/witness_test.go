package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"

	"github.com/lockboxhq/lockbox/auditlog"
	"github.com/lockboxhq/lockbox/internal/witnesstest"
)

// startWitnessed is a dev server on db whose checkpoints go to ws; it
// listens on listen (to restart on the same address) and stops at cleanup
// or when stop is called. Its witness loop's fallback poll is a minute,
// longer than any wait here (30 s):
// every cosignature the tests wait for comes from an append waking the
// loop, or from a refused witness's retry.
func startWitnessed(t *testing.T, db, keyDir, listen string, ws ...*witnesstest.Witness) (rs *runningServer, stop func()) {
	t.Helper()
	var flags []string
	for _, w := range ws {
		flags = append(flags, w.Flag())
	}
	rs, err := startServer(context.Background(), serverConfig{Listen: listen, Dev: true, WorkerPoll: 50 * time.Millisecond,
		Database: db, KeyDir: keyDir, PasswordMemoryKiB: 64, LogOrigin: "lockbox.test",
		Witness: witnessConfig{Witnesses: flags, Poll: time.Minute}}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := rs.Close(ctx); err != nil {
			t.Errorf("graceful shutdown: %v", err)
		}
	}
	t.Cleanup(stop)
	return rs, stop
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// waitCosigned polls the served checkpoint (as auditor) until witness w
// has cosigned one of at least size; the witness is a real process
// answering in the background, so this waits for it, asserting no time.
func waitCosigned(t *testing.T, auditor *e2e, w *witnesstest.Witness, size int64) *auditCheckpoint {
	t.Helper()
	v, err := auditlog.NewCosignatureVerifier(w.VKey)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		cp := fetchCheckpoint(t, auditor)
		if cp.size >= size && auditlog.CountCosignatures([]byte(cp.note), []note.Verifier{v}) == 1 {
			return cp
		}
		if time.Now().After(deadline) {
			t.Fatalf("no cosignature by %s of a checkpoint of size >= %d; served:\n%s\nwitness logs: %s", w.Name, size, cp.note, w.ListLogs(t))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type auditCheckpoint struct {
	note string
	size int64
}

func fetchCheckpoint(t *testing.T, auditor *e2e) *auditCheckpoint {
	t.Helper()
	env := map[string]string{"LOCKBOX_CONFIG_DIR": auditor.config}
	a := &app{stdout: io.Discard, stderr: io.Discard, getenv: func(k string) string { return env[k] }, dial: newClient}
	c, err := a.auditClient()
	if err != nil {
		t.Fatal(err)
	}
	cp, err := c.Checkpoint(context.Background(), "contoso")
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := auditlog.ParseCheckpointUnverified(cp.Note)
	if err != nil {
		t.Fatal(err)
	}
	return &auditCheckpoint{note: string(cp.Note), size: parsed.Size}
}

// TestWitnessCosigning runs a real litewitness next to the server: the
// served checkpoint gets its cosignature, `audit verify --witness` holds
// the log to it, and a split view — the database forked behind the
// witness's back and the server restarted — is refused by the witness and
// so by every reader requiring a quorum.
func TestWitnessCosigning(t *testing.T) {
	t.Parallel()
	w := witnesstest.Start(t, "witness.test/w1")
	dir := t.TempDir()
	dbPath, keyDir := filepath.Join(dir, "lockbox.db"), filepath.Join(dir, "keys")
	rs, stop := startWitnessed(t, dbPath, keyDir, "127.0.0.1:0", w)
	addr := strings.TrimPrefix(rs.URL(), "http://")
	srv := &e2e{t: t, url: rs.URL()}
	op, mgr := srv.as("operator@provider.test"), srv.as("manager@provider.test")
	approver, auditor := srv.as("approver@contoso.test"), srv.as("auditor@contoso.test")
	logs, err := rs.auditLogs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range logs {
		w.AddLog(t, "lockbox.test/"+l, strings.TrimSpace(httpGet(t, rs.URL()+"/v1/log/key")))
	}

	activity(srv, op, mgr, approver)
	first := waitCosigned(t, auditor, w, 1)
	if !strings.Contains(first.note, "\n— witness.test/w1 ") {
		t.Fatalf("served checkpoint without the witness's line:\n%s", first.note)
	}
	// Every log (those refused before the witness knew them too, after a
	// backoff) is cosigned in the end.
	for deadline := time.Now().Add(30 * time.Second); metric(t, rs.URL(), "lockbox_audit_missing_cosignatures") != 0; {
		if time.Now().After(deadline) {
			t.Fatalf("cosignatures still missing:\n%s", grepLines(httpGet(t, rs.URL()+"/metrics"), "lockbox_audit"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The log grows: the append wakes the witness loop (nothing else is
	// due now: no retry, and the fallback poll is a minute away), and the witness
	// gets a consistency proof from the size it cosigned.
	activity(srv, op, mgr, approver)
	first = waitCosigned(t, auditor, w, first.size+1)
	out := auditor.mustRun("audit", "verify", "--tenant", "contoso", "--witness", w.VKey)
	if !strings.Contains(out, "1 witness cosignature(s)") {
		t.Errorf("verify with a witness:\n%s", out)
	}
	// The monitor holds the log to the same witness.
	monState := filepath.Join(t.TempDir(), "monitor")
	code, out, errOut := auditor.runCLI("audit", "monitor", "--tenant", "contoso", "--once", "-o", "json", "--state-dir", monState,
		"--witness", w.VKey, "--witness-quorum", "1")
	if code != 0 || !strings.Contains(out, `"type":"checkpoint"`) {
		t.Errorf("monitor with a witness: exit %d\n%s\n%s", code, out, errOut)
	}
	wrong := "witness.test/other+" + strings.SplitN(w.VKey, "+", 2)[1]
	auditor.wantFail(2, "key hash", "audit", "verify", "--tenant", "contoso", "--witness", wrong)

	// A split view: someone with the database replaces the last record and
	// restarts the server; a reader who never saw the first history gets a
	// checkpoint that is signed and consistent on its own.
	stop()
	rollBackContoso(t, dbPath)
	rs2, _ := startWitnessed(t, dbPath, keyDir, addr, w)
	activity(srv, op, mgr, approver) // the forked log grows past the witnessed size
	newcomer := &e2e{t: t, url: srv.url, config: t.TempDir()}
	newcomer.mustRun("login", "--server", srv.url, "--email", "auditor@contoso.test")
	// The witness refuses: its failure counter moves and it keeps the size
	// it cosigned.
	for deadline := time.Now().Add(30 * time.Second); metric(t, rs2.URL(), "lockbox_audit_witness_failures_total") == 0; {
		if time.Now().After(deadline) {
			t.Fatalf("the witness never refused the forked checkpoint:\n%s", grepLines(httpGet(t, rs2.URL()+"/metrics"), "lockbox_audit"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if logs := w.ListLogs(t); !strings.Contains(logs, `"size":`+strconv.FormatInt(first.size, 10)) {
		t.Errorf("witness state after the fork: %s, want size %d", logs, first.size)
	}
	forked := fetchCheckpoint(t, newcomer)
	if strings.Contains(forked.note, "— witness.test/w1 ") {
		t.Fatalf("forked checkpoint carries a cosignature:\n%s", forked.note)
	}
	// Without witnesses the newcomer cannot tell; with a quorum it refuses.
	newcomer.mustRun("audit", "verify", "--tenant", "contoso", "--state-dir", filepath.Join(t.TempDir(), "s1"))
	code, out, errOut = newcomer.runCLI("audit", "verify", "--tenant", "contoso", "--state-dir", filepath.Join(t.TempDir(), "s2"),
		"--witness", w.VKey, "--witness-quorum", "1")
	if code != 1 || !strings.Contains(out, "[witness_quorum]") {
		t.Errorf("verify of the fork with a witness quorum: exit %d\n%s\n%s", code, out, errOut)
	}
	// So does the monitor: the fork is not accepted, nothing of it shown
	// or kept, and the monitor that followed the witnessed log refuses it too.
	newState := filepath.Join(t.TempDir(), "m2")
	for _, m := range []struct {
		who   *e2e
		state string
	}{{newcomer, newState}, {auditor, monState}} {
		code, out, errOut = m.who.runCLI("audit", "monitor", "--tenant", "contoso", "--once", "-o", "json", "--state-dir", m.state,
			"--witness", w.VKey, "--witness-quorum", "1")
		if code != 1 || !strings.Contains(out, `"type":"unwitnessed"`) || !strings.Contains(out, `"cosignatures":0`) ||
			strings.Contains(out, `"type":"record"`) || !strings.Contains(errOut, "not cosigned by the witness quorum") {
			t.Errorf("monitor of the fork with a witness quorum: exit %d\n%s\n%s", code, out, errOut)
		}
	}
	if _, err := os.Stat(filepath.Join(newState, "checkpoint")); err == nil {
		t.Error("the monitor kept an unwitnessed checkpoint")
	}
	if m, q := metric(t, rs2.URL(), "lockbox_audit_missing_cosignatures"), metric(t, rs2.URL(), "lockbox_audit_checkpoints_below_witness_quorum"); m < 1 || q < 1 {
		t.Errorf("metrics after the fork: %v missing, %v below quorum", m, q)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// metric reads one unlabelled value from /metrics.
func metric(t *testing.T, url, name string) float64 {
	t.Helper()
	for _, l := range strings.Split(httpGet(t, url+"/metrics"), "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// TestWitnessOutageNeverBlocks: a witness that is down costs the appends
// nothing; the checkpoint is served without its cosignature and /metrics
// says what is missing. (No litewitness needed: nothing listens.)
func TestWitnessOutageNeverBlocks(t *testing.T) {
	t.Parallel()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, err := torchwood.NewCosignatureSigner("witness.test/down", priv)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	dir := t.TempDir()
	rs, err := startServer(context.Background(), serverConfig{Listen: "127.0.0.1:0", Dev: true, WorkerPoll: 50 * time.Millisecond,
		Database: filepath.Join(dir, "lockbox.db"), KeyDir: filepath.Join(dir, "keys"), PasswordMemoryKiB: 64, LogOrigin: "lockbox.test",
		Witness: witnessConfig{Witnesses: []string{"witness.test/down " + dead + " " + signer.Verifier().String()}, Poll: 10 * time.Millisecond}}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rs.Close(context.Background()) })
	srv := &e2e{t: t, url: rs.URL()}
	op, mgr := srv.as("operator@provider.test"), srv.as("manager@provider.test")
	approver, auditor := srv.as("approver@contoso.test"), srv.as("auditor@contoso.test")
	activity(srv, op, mgr, approver)
	if cp := fetchCheckpoint(t, auditor); cp.size == 0 || strings.Contains(cp.note, "witness.test/down") {
		t.Fatalf("checkpoint with a witness down:\n%s", cp.note)
	}
	for deadline := time.Now().Add(30 * time.Second); metric(t, rs.URL(), "lockbox_audit_witness_failures_total") == 0; {
		if time.Now().After(deadline) {
			t.Fatal("no failed add-checkpoint counted")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if m := metric(t, rs.URL(), "lockbox_audit_missing_cosignatures"); m < 1 {
		t.Errorf("missing cosignatures with the witness down: %v", m)
	}
	auditor.wantFail(1, "did NOT verify", "audit", "verify", "--tenant", "contoso", "--witness", signer.Verifier().String())
	auditor.mustRun("audit", "verify", "--tenant", "contoso", "--state-dir", filepath.Join(t.TempDir(), "s"))
}
