package auditlog_test

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/auditlog"
	"github.com/lockboxhq/lockbox/sqlite"
	"github.com/lockboxhq/lockbox/sqlite/sqlitetest"
)

// env is a real SQLite store holding contoso's log, the database file
// opened a second time for tampering, and a signing key.
type env struct {
	t      *testing.T
	store  *sqlite.Store
	db     *sql.DB
	signer note.Signer
	vkey   string
}

func newEnv(t *testing.T) *env {
	path := sqlitetest.Path(t)
	store, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	signer, vkey := newKey(t)
	return &env{t: t, store: store, db: sqlitetest.Raw(t, path), signer: signer, vkey: vkey}
}

func newKey(t *testing.T) (note.Signer, string) {
	skey, vkey, err := note.GenerateKey(nil, "lockbox-log")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return signer, vkey
}

// service is a fresh audit service (as after a server restart), acting as
// contoso's auditor.
func (e *env) service() *auditlog.Service {
	return auditlog.New(e.store, e.signer, e.vkey, "lockbox.test")
}

var auditor = &lockbox.User{ID: "u-aud", Email: "auditor@contoso.test", Tenant: "contoso", Roles: []lockbox.Role{lockbox.RoleAuditReader}}

func (e *env) ctx() context.Context { return lockbox.NewContextWithUser(e.t.Context(), auditor) }

func record(n int, tag string) *lockbox.AuditRecord {
	return &lockbox.AuditRecord{ID: fmt.Sprintf("%s-%03d", tag, n), Time: time.Date(2030, 1, 1, 0, n, 0, 0, time.UTC),
		Tenant: "contoso", RecordType: lockbox.RecordLockboxDecision, Operation: lockbox.OpRequestApproved,
		UserID: "approver@contoso.test", ActorType: lockbox.ActorTenantUser, Result: lockbox.ResultSucceeded,
		AuditData: map[string]any{"comment": fmt.Sprint("ok ", n)}}
}

func (e *env) append(from, to int, tag string) {
	for i := from; i < to; i++ {
		err := e.store.Update(e.t.Context(), func(tx lockbox.Tx) error { return tx.AppendAudit(e.t.Context(), record(i, tag)) })
		if err != nil {
			e.t.Fatal(err)
		}
	}
}

func (e *env) verify(src auditlog.Source, prev *auditlog.State, opts auditlog.Options) *auditlog.Report {
	e.t.Helper()
	r, err := auditlog.Verify(e.ctx(), src, "contoso", prev, opts)
	if err != nil {
		e.t.Fatalf("Verify: %v", err)
	}
	return r
}

// run is `lockbox audit verify` with its state kept in dir: load the kept
// state, verify against it keeping this run's records there, save the new
// state when the log verified.
func (e *env) run(dir string, src auditlog.Source, opts auditlog.Options) *auditlog.Report {
	e.t.Helper()
	prev, err := auditlog.LoadState(dir)
	if err != nil {
		e.t.Fatal(err)
	}
	opts.StateDir = dir
	r := e.verify(src, prev, opts)
	if r.OK() {
		if err := auditlog.SaveState(dir, r.State); err != nil {
			e.t.Fatal(err)
		}
	}
	return r
}

// exec runs tampering SQL on the database file.
func (e *env) exec(query string, args ...any) {
	e.t.Helper()
	if _, err := e.db.Exec(query, args...); err != nil {
		e.t.Fatalf("%s: %v", query, err)
	}
}

// rows reads contoso's canonical records in index order.
func (e *env) rows() [][]byte {
	rs, err := e.db.Query(`SELECT canonical FROM audit_records WHERE log = 'contoso' ORDER BY idx`)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rs.Close()
	var out [][]byte
	for rs.Next() {
		var b []byte
		if err := rs.Scan(&b); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// rewrite replaces contoso's whole log with recs, as a careful attacker
// would: indexes renumbered, canonical bytes re-encoded, every Merkle hash
// recomputed, so the server signs the rewritten tree without complaint.
func (e *env) rewrite(recs []*lockbox.AuditRecord) {
	e.exec(`DELETE FROM audit_records WHERE log = 'contoso'`)
	var hashes []tlog.Hash
	reader := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = hashes[x]
		}
		return out, nil
	})
	for i, r := range recs {
		r.Index = int64(i)
		b, err := r.Canonical()
		if err != nil {
			e.t.Fatal(err)
		}
		hs, err := tlog.StoredHashes(int64(i), b, reader)
		if err != nil {
			e.t.Fatal(err)
		}
		hashes = append(hashes, hs...)
		var blob []byte
		for _, h := range hs {
			blob = append(blob, h[:]...)
		}
		e.exec(`INSERT INTO audit_records (log, idx, id, time, record_type, operation, user_id, actor_type, request_id, canonical, hashes)
			VALUES ('contoso', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, i, r.ID, r.Time.UnixMicro(), r.RecordType, r.Operation, r.UserID, r.ActorType, r.RequestID, b, blob)
	}
	e.exec(`UPDATE audit_logs SET size = ? WHERE log = 'contoso'`, len(recs))
}

// current reads contoso's records back, decoded.
func (e *env) current() []*lockbox.AuditRecord {
	var out []*lockbox.AuditRecord
	for _, b := range e.rows() {
		r, err := lockbox.ParseAuditRecord(b)
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// forge is a Source whose checkpoint is replaced.
type forge struct {
	auditlog.Source
	note func([]byte) []byte
}

func (f forge) Checkpoint(ctx context.Context, log string) (*lockbox.Checkpoint, error) {
	cp, err := f.Source.Checkpoint(ctx, log)
	if err != nil {
		return nil, err
	}
	return &lockbox.Checkpoint{Note: f.note(cp.Note)}, nil
}

func kinds(r *auditlog.Report) []string {
	var out []string
	for _, p := range r.Problems {
		if !slices.Contains(out, p.Kind) {
			out = append(out, p.Kind)
		}
	}
	return out
}

// TestVerifyDetectsTampering verifies a 20-record log once, tampers with the
// database file directly, and requires the next verification to fail with
// the problems that say what happened, at the right index: an incremental
// run (from the kept right edge) and a full one alike. Two tamperings leave
// the signed tree as it was and only change what is served for old
// records: an incremental run, which by design does not read old records
// again, passes them (the signed history is intact); --full catches them.
// Twenty records are one partial entry bundle, which is built from the rows
// on every read, so changing a row here changes what is served; a full
// bundle is served as stored, and TestVerifyCatchesTamperedBundle changes
// that.
func TestVerifyDetectsTampering(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		tamper func(e *env) auditlog.Source // returns the source to verify with (nil: a fresh service)
		want   []string                     // problem kinds that must all be reported
		index  int64                        // the index the first problem names
		full   bool                         // only a full run reads what changed
	}{
		{"ChangedRecordBytesOnly", func(e *env) auditlog.Source {
			e.exec(`UPDATE audit_records SET canonical = CAST(replace(canonical, '"ok 7"', '"ok 70"') AS BLOB) WHERE log = 'contoso' AND idx = 7`)
			return nil
		}, []string{auditlog.ProblemRootMismatch, auditlog.ProblemChanged}, 7, true},
		{"ChangedRecordAndHashes", func(e *env) auditlog.Source {
			recs := e.current()
			recs[7].UserID = "someone-else@contoso.test"
			e.rewrite(recs)
			return nil
		}, []string{auditlog.ProblemFork, auditlog.ProblemChanged}, 7, false},
		{"DeletedRecordRowOnly", func(e *env) auditlog.Source {
			e.exec(`DELETE FROM audit_records WHERE log = 'contoso' AND idx = 4`)
			return nil
		}, []string{auditlog.ProblemBadEntry}, 4, true},
		{"DeletedRecordRenumbered", func(e *env) auditlog.Source {
			recs := e.current()
			e.rewrite(slices.Delete(recs, 4, 5))
			return nil
		}, []string{auditlog.ProblemDeleted, auditlog.ProblemTruncated}, 4, false},
		{"TwoRecordsSwapped", func(e *env) auditlog.Source {
			recs := e.current()
			recs[3], recs[11] = recs[11], recs[3]
			e.rewrite(recs)
			return nil
		}, []string{auditlog.ProblemFork, auditlog.ProblemMoved}, 3, false},
		{"InsertedInTheMiddle", func(e *env) auditlog.Source {
			recs := e.current()
			e.rewrite(slices.Insert(recs, 9, record(99, "forged")))
			return nil
		}, []string{auditlog.ProblemFork, auditlog.ProblemInserted}, 9, false},
		{"TailTruncated", func(e *env) auditlog.Source {
			e.exec(`DELETE FROM audit_records WHERE log = 'contoso' AND idx >= 15`)
			e.exec(`UPDATE audit_logs SET size = 15 WHERE log = 'contoso'`)
			return nil
		}, []string{auditlog.ProblemTruncated, auditlog.ProblemRolledBack}, 15, false},
		{"RolledBackAndRegrown", func(e *env) auditlog.Source {
			e.exec(`DELETE FROM audit_records WHERE log = 'contoso' AND idx >= 12`)
			e.exec(`UPDATE audit_logs SET size = 12 WHERE log = 'contoso'`)
			e.append(12, 26, "regrown") // through the store: a valid, larger, signed log
			return nil
		}, []string{auditlog.ProblemFork, auditlog.ProblemRolledBack}, -1, false},
		{"SignedByAnotherKey", func(e *env) auditlog.Source {
			other, okey := newKey(e.t)
			return auditlog.New(e.store, other, okey, "lockbox.test")
		}, []string{auditlog.ProblemUnknownKey}, -1, false},
		{"ForgedCheckpointSameSize", func(e *env) auditlog.Source {
			return forge{Source: e.service(), note: func(b []byte) []byte {
				lines := strings.SplitN(string(b), "\n", 4)
				lines[2] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" // another root, same size, signature kept
				return []byte(strings.Join(lines, "\n"))
			}}
		}, []string{auditlog.ProblemBadSignature}, -1, false},
		{"CheckpointOfAnotherLog", func(e *env) auditlog.Source {
			other := auditlog.New(e.store, e.signer, e.vkey, "elsewhere")
			return other
		}, []string{auditlog.ProblemWrongOrigin}, -1, false},
	}
	for _, tt := range tests {
		for _, full := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/full=%t", tt.name, full), func(t *testing.T) {
				t.Parallel()
				tamperingTest(t, tt.tamper, tt.want, tt.index, full, tt.full && !full)
			})
		}
	}
}

func tamperingTest(t *testing.T, tamper func(e *env) auditlog.Source, want []string, index int64, full, passes bool) {
	e := newEnv(t)
	dir := t.TempDir()
	e.append(0, 20, "rec")
	first := e.run(dir, e.service(), auditlog.Options{})
	if !first.OK() || first.Size != 20 || !first.KeyTrustedOnFirstUse {
		t.Fatalf("baseline: ok=%v size=%d problems=%v", first.OK(), first.Size, first.Problems)
	}
	src := tamper(e)
	if src == nil {
		src = e.service()
	}
	r := e.run(dir, src, auditlog.Options{Full: full})
	if passes {
		if !r.OK() || r.Checked != 0 {
			t.Fatalf("an incremental run over an unchanged signed tree: ok=%t, checked %d:\n%s", r.OK(), r.Checked, messages(r))
		}
		return
	}
	if r.OK() || r.State != nil {
		t.Fatalf("tampering not detected (state to save: %v)", r.State != nil)
	}
	for _, k := range want {
		if !slices.Contains(kinds(r), k) {
			t.Errorf("problems %v lack %q:\n%s", kinds(r), k, messages(r))
		}
	}
	if index >= 0 && !slices.ContainsFunc(r.Problems, func(p auditlog.Problem) bool { return p.Index == index }) {
		t.Errorf("no problem names index %d:\n%s", index, messages(r))
	}
}

func messages(r *auditlog.Report) string {
	var b strings.Builder
	for _, p := range r.Problems {
		fmt.Fprintf(&b, "  [%s @%d] %s\n", p.Kind, p.Index, p.Message)
	}
	return b.String()
}

// TestVerifyGrowth: a log that only grew verifies against the kept state,
// reading only the records added since (the kept right edge stays a few
// hashes however long the log), and the state moves forward; the same
// holds with a pinned key, after a reload, and with --full.
func TestVerifyGrowth(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dir := t.TempDir()
	first := e.run(dir, e.service(), auditlog.Options{}) // an empty log
	if !first.OK() || first.Size != 0 {
		t.Fatalf("empty log: %v", first.Problems)
	}
	size := 0
	for _, n := range []int{1, 2, 7, 8, 1200} { // 1200 crosses a page of entries
		e.append(size, n, "g")
		r := e.run(dir, e.service(), auditlog.Options{TrustedKey: e.vkey})
		if !r.OK() || r.Size != int64(n) || r.KeyTrustedOnFirstUse || !r.Incremental || r.Checked != int64(n-size) {
			t.Fatalf("grown to %d: ok=%v size=%d incremental=%t checked=%d:\n%s", n, r.OK(), r.Size, r.Incremental, r.Checked, messages(r))
		}
		// One hash per level (auditlog.Head): what the next run extends.
		if levels := len(strconv.FormatInt(int64(n), 2)); len(r.State.Edge) != levels {
			t.Errorf("size %d: right edge of %d hashes, want %d", n, len(r.State.Edge), levels)
		}
		size = n
	}
	loaded, err := auditlog.LoadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if loaded.Size() != 1200 || loaded.Records != 1200 || loaded.Key != e.vkey {
		t.Errorf("state did not survive a save: size %d, %d records", loaded.Size(), loaded.Records)
	}
	if r := e.run(dir, e.service(), auditlog.Options{Full: true}); !r.OK() || r.Incremental || r.Checked != 1200 {
		t.Errorf("--full: ok=%t incremental=%t checked=%d:\n%s", r.OK(), r.Incremental, r.Checked, messages(r))
	}
	if r := e.run(dir, e.service(), auditlog.Options{}); !r.OK() || !r.Incremental || r.Checked != 0 {
		t.Errorf("nothing new: ok=%t incremental=%t checked=%d:\n%s", r.OK(), r.Incremental, r.Checked, messages(r))
	}
}

// TestVerifyDamagedEdge: a kept right edge that does not hash to the kept
// checkpoint is not trusted: the run reads everything again and still
// holds the log to the kept checkpoint.
func TestVerifyDamagedEdge(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dir := t.TempDir()
	e.append(0, 10, "d")
	e.run(dir, e.service(), auditlog.Options{})
	state, err := auditlog.LoadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	state.Edge[len(state.Edge)-1][0] ^= 1 // the top level: always part of the root
	if err := auditlog.SaveState(dir, state); err != nil {
		t.Fatal(err)
	}
	e.append(10, 13, "d")
	if r := e.run(dir, e.service(), auditlog.Options{}); !r.OK() || r.Incremental || r.Checked != 13 {
		t.Errorf("damaged edge: ok=%t incremental=%t checked=%d:\n%s", r.OK(), r.Incremental, r.Checked, messages(r))
	}
}

// TestVerifyPinnedKeyMismatch: a pinned key other than the server's is
// refused on the very first run.
func TestVerifyPinnedKeyMismatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.append(0, 3, "r")
	_, other := newKey(t)
	r := e.verify(e.service(), nil, auditlog.Options{TrustedKey: other})
	if diff := kinds(r); !slices.Equal(diff, []string{auditlog.ProblemUnknownKey}) {
		t.Errorf("problems %v, want unknown_key", diff)
	}
}
