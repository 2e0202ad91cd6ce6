package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// TestRestoreDrill is docs/operations.md's restore drill: write, back up
// while writing, keep writing, restore. restore refuses to roll the logs
// back without --force and names the tenant; after the restore, a
// checkpoint an auditor kept before the backup still verifies (the log
// only grew since), and one kept after the backup is reported as a
// truncation, which is exactly what a rollback is. The auditor then
// accepts the new history, keeping the old checkpoint as evidence.
func TestRestoreDrill(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db, keyDir, snap := filepath.Join(dir, "lockbox.db"), filepath.Join(dir, "keys"), filepath.Join(dir, "snap.db")
	cfg := serverConfig{Listen: "127.0.0.1:0", Dev: true, WorkerPoll: 50 * time.Millisecond, Database: db,
		KeyDir: keyDir, PasswordMemoryKiB: 64, LogOrigin: "lockbox.test"}
	rs, err := startServer(context.Background(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	srv := &e2e{t: t, url: rs.URL()}
	op, mgr, approver := srv.as("operator@provider.test"), srv.as("manager@provider.test"), srv.as("approver@contoso.test")
	before, after := srv.as("auditor@contoso.test"), srv.as("auditor@contoso.test")
	stateBefore, stateAfter := filepath.Join(dir, "state-before"), filepath.Join(dir, "state-after")
	activity(srv, op, mgr, approver)
	before.mustRun("audit", "verify", "--tenant", "contoso", "--state-dir", stateBefore)

	// Back up while an operator keeps filing requests: at least one
	// request before the backup starts and two after it ends, so the
	// snapshot is taken in the middle of the writes.
	sizeBefore := contosoLogSize(t, db)
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	started, backedUp := make(chan struct{}), make(chan struct{})
	wg.Go(func() {
		defer func() {
			select {
			case <-started:
			default:
				close(started) // failed before the first: let the backup go on
			}
		}()
		after := 0
		for i := 0; i < 50 && after < 2; i++ {
			if code, _, errOut := op.runCLI("requests", "create", "--tenant", "contoso", "--service", "exchange",
				"--service-request", fmt.Sprintf("SR-%d", i), "--reason", "during the backup", "--duration", "1h"); code != 0 {
				errs <- fmt.Errorf("create during backup: %s", errOut)
				return
			}
			select {
			case <-backedUp:
				after++
			default:
			}
			if i == 0 {
				close(started)
			}
		}
	})
	<-started
	srv.mustRun("backup", "--database", db, "--out", snap)
	close(backedUp)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	sizeAfter, sizeSnap := contosoLogSize(t, db), contosoLogSize(t, snap)
	if !(sizeBefore < sizeSnap && sizeSnap < sizeAfter) {
		t.Errorf("contoso's log: %d records before the writes, %d in the snapshot, %d after: the backup did not overlap the writes",
			sizeBefore, sizeSnap, sizeAfter)
	}
	srv.wantFail(1, "already exists", "backup", "--database", db, "--out", snap)

	// Written after the backup, and seen by an auditor: the restore will
	// take these records away.
	activity(srv, op, mgr, approver)
	after.mustRun("audit", "verify", "--tenant", "contoso", "--state-dir", stateAfter)
	// Not while the server runs, even with --force: nothing changes.
	sizeNow := contosoLogSize(t, db)
	srv.wantFail(1, "the database is in use: stop every lockbox serve", "restore", "--database", db, "--from", snap, "--force")
	if got := contosoLogSize(t, db); got != sizeNow {
		t.Errorf("a refused restore changed the database: contoso's log has %d records, had %d", got, sizeNow)
	}
	after.mustRun("audit", "verify", "--tenant", "contoso", "--state-dir", stateAfter)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := rs.Close(ctx); err != nil {
		t.Fatal(err)
	}

	srv.wantFail(1, "tenant contoso would lose", "restore", "--database", db, "--from", snap)
	srv.wantFail(2, "pg_dump", "restore", "--database", "postgres://x/y", "--from", snap)
	code, out, errOut := srv.runCLI("restore", "--database", db, "--from", snap, "--force")
	if code != 0 || !strings.Contains(errOut, "tenant contoso would lose") || !strings.Contains(out, "Restored") {
		t.Fatalf("restore --force: exit %d\n%s\n%s", code, out, errOut)
	}

	rs, err = startServer(context.Background(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		rs.Close(ctx)
	})
	srv = &e2e{t: t, url: rs.URL()}
	before, after = srv.as("auditor@contoso.test"), srv.as("auditor@contoso.test")
	if out := before.mustRun("audit", "verify", "--tenant", "contoso", "--state-dir", stateBefore); !strings.Contains(out, "only grew") {
		t.Errorf("a checkpoint kept before the backup, after the restore:\n%s", out)
	}
	code, out, errOut = after.runCLI("audit", "verify", "--tenant", "contoso", "--state-dir", stateAfter)
	if code != 1 || !strings.Contains(out, "truncated") || !strings.Contains(errOut, "did NOT verify") {
		t.Errorf("a checkpoint kept after the backup, after the restore: exit %d\n%s\n%s", code, out, errOut)
	}

	// The auditor, told of the restore, accepts the log as it is now: not
	// under another key, and keeping the checkpoint it replaces.
	oldCheckpoint, err := os.ReadFile(filepath.Join(stateAfter, "checkpoint"))
	if err != nil {
		t.Fatal(err)
	}
	_, otherKey, err := note.GenerateKey(rand.Reader, "lockbox-log")
	if err != nil {
		t.Fatal(err)
	}
	code, _, errOut = after.runCLI("audit", "verify", "--tenant", "contoso", "--state-dir", stateAfter, "--accept-new-history",
		"--trust-key", otherKey)
	if code != 1 || !strings.Contains(errOut, "nothing accepted") {
		t.Errorf("accepting under another key: exit %d\n%s", code, errOut)
	}
	if kept, _ := os.ReadFile(filepath.Join(stateAfter, "checkpoint")); string(kept) != string(oldCheckpoint) {
		t.Error("a refused acceptance changed the kept checkpoint")
	}
	// Nor under another key than the one kept, when none is given: a state
	// that holds the log to otherKey accepts nothing.
	stateOther := filepath.Join(dir, "state-other")
	if err := os.CopyFS(stateOther, os.DirFS(stateAfter)); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(stateOther, "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	st["key"] = otherKey
	if raw, err = json.Marshal(st); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(stateOther, "state.json"), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	after.wantFail(1, "nothing accepted", "audit", "verify", "--tenant", "contoso", "--state-dir", stateOther, "--accept-new-history")

	out = after.mustRun("audit", "verify", "--tenant", "contoso", "--state-dir", stateAfter, "--accept-new-history")
	if !strings.Contains(out, "truncated") || !strings.Contains(out, "Accepted the log as it is now") {
		t.Errorf("audit verify --accept-new-history:\n%s", out)
	}
	superseded, _ := filepath.Glob(filepath.Join(stateAfter, "superseded", "*", "checkpoint"))
	if len(superseded) != 1 {
		t.Fatalf("superseded checkpoints: %v, want one", superseded)
	}
	if kept, _ := os.ReadFile(superseded[0]); string(kept) != string(oldCheckpoint) {
		t.Errorf("the superseded checkpoint is not the one kept before:\n%s", kept)
	}
	if out := after.mustRun("audit", "verify", "--tenant", "contoso", "--state-dir", stateAfter); !strings.Contains(out, "only grew") {
		t.Errorf("after accepting, a plain run:\n%s", out)
	}
	if out := before.mustRun("audit", "verify", "--tenant", "contoso", "--state-dir", stateBefore, "--accept-new-history"); !strings.Contains(out, "Nothing to accept") {
		t.Errorf("accepting a log that still extends the kept checkpoint:\n%s", out)
	}
	before.wantFail(2, "nothing to replace", "audit", "verify", "--tenant", "contoso", "--state-dir", filepath.Join(dir, "state-none"), "--accept-new-history")
	// The restored server works: it takes new requests.
	op = srv.as("operator@provider.test")
	op.mustRun("requests", "create", "--tenant", "contoso", "--service", "exchange", "--service-request", "SR-after",
		"--reason", "after the restore", "--duration", "1h")
}

// contosoLogSize reads the size of tenant contoso's audit log from a
// SQLite database file (the server's, while it runs, or a snapshot).
func contosoLogSize(t *testing.T, path string) int64 {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=query_only(1)&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int64
	if err := db.QueryRow(`SELECT size FROM audit_logs WHERE log = 'contoso'`).Scan(&n); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return n
}
