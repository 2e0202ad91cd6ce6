package auditlog_test

import (
	"bytes"
	"database/sql"
	"encoding/binary"
	"errors"
	"slices"
	"testing"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/auditlog"
)

// storedBundle is contoso's stored entry bundle n as the file holds it (nil:
// none).
func (e *env) storedBundle(n int) []byte {
	e.t.Helper()
	var b []byte
	err := e.db.QueryRow(`SELECT data FROM audit_bundles WHERE log = 'contoso' AND n = ?`, n).Scan(&b)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		e.t.Fatal(err)
	}
	return b
}

// bundleOf is the entry bundle of rows, encoded here from the format
// (c2sp.org/tlog-tiles), not with auditlog's encoder.
func bundleOf(rows [][]byte) []byte {
	var out []byte
	for _, r := range rows {
		out = binary.BigEndian.AppendUint16(out, uint16(len(r)))
		out = append(out, r...)
	}
	return out
}

// TestEntryBundlesStoredAndServed: the append that fills a bundle stores it
// (bytes equal to the rows'), LogTile serves it; a log whose bundles are
// not stored (filled before migration 00018) is served from the rows and
// its bundles are stored afterwards in the background; a partial bundle is
// never stored.
func TestEntryBundlesStoredAndServed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.appendMany(0, 200, "rec")
	e.appendMany(200, 300, "rec") // bundle 0 filled by the second Update, mid-way
	rows := e.rows()
	want := bundleOf(rows[:256])
	if got := e.storedBundle(0); !bytes.Equal(got, want) {
		t.Fatalf("stored bundle 0: %d bytes, want the %d of its rows", len(got), len(want))
	}
	if got := e.storedBundle(1); got != nil {
		t.Errorf("partial bundle 1 stored (%d bytes)", len(got))
	}
	svc := e.service()
	serve := func(path string, wantData []byte, wantFull bool) {
		t.Helper()
		data, full, err := svc.LogTile(e.ctx(), "contoso", path)
		if err != nil || !bytes.Equal(data, wantData) || full != wantFull {
			t.Fatalf("LogTile(%s) = %d bytes, full %t, %v; want %d bytes, full %t", path, len(data), full, err, len(wantData), wantFull)
		}
	}
	serve("tile/entries/000", want, true)
	serve("tile/entries/001.p/44", bundleOf(rows[256:]), false)

	// A log filled before bundles were stored.
	e.exec(`DELETE FROM audit_bundles`)
	serve("tile/entries/000", want, true)
	svc.WaitBundleFills()
	if got := e.storedBundle(0); !bytes.Equal(got, want) {
		t.Fatalf("bundle 0 after the fill: %d bytes, want %d", len(got), len(want))
	}
	serve("tile/entries/000", want, true)
	if got := e.storedBundle(1); got != nil {
		t.Errorf("partial bundle 1 stored by the fill (%d bytes)", len(got))
	}

	// The append that fills bundle 1 stores it; one rolled back stores
	// nothing.
	err := e.store.Update(e.t.Context(), func(tx lockbox.Tx) error {
		for i := 300; i < 600; i++ {
			if err := tx.AppendAudit(e.t.Context(), record(i, "gone")); err != nil {
				return err
			}
		}
		return lockbox.Errorf(lockbox.ECONFLICT, "rolled back")
	})
	if lockbox.ErrorCode(err) != lockbox.ECONFLICT || e.storedBundle(1) != nil {
		t.Fatalf("rolled-back append: %v, bundle 1 stored %t", err, e.storedBundle(1) != nil)
	}
	e.appendMany(300, 520, "rec")
	rows = e.rows()
	if got := e.storedBundle(1); !bytes.Equal(got, bundleOf(rows[256:512])) {
		t.Fatalf("stored bundle 1: %d bytes, want the %d of its rows", len(got), len(bundleOf(rows[256:512])))
	}
}

// TestVerifyCatchesTamperedBundle: a full verify reads full bundles as
// stored, so a record changed there — in the stored bundle alone, or in the
// bundle and its row, as someone who knows the schema would — fails it at
// that record, and a bundle that no longer parses is a bad entry. (A row
// changed alone is not what verify reads for a full bundle: a search or an
// export shows it, and verify-export's inclusion proofs catch it.)
func TestVerifyCatchesTamperedBundle(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		tamper []string
		want   []string
		index  int64
	}{
		{"BundleOnly", []string{
			`UPDATE audit_bundles SET data = CAST(replace(data, '"ok 7"', '"OK 7"') AS BLOB) WHERE log = 'contoso' AND n = 0`,
		}, []string{auditlog.ProblemRootMismatch, auditlog.ProblemChanged}, 7},
		{"RowAndBundle", []string{
			`UPDATE audit_records SET canonical = CAST(replace(canonical, '"ok 7"', '"OK 7"') AS BLOB) WHERE log = 'contoso' AND idx = 7`,
			`UPDATE audit_bundles SET data = CAST(replace(data, '"ok 7"', '"OK 7"') AS BLOB) WHERE log = 'contoso' AND n = 0`,
		}, []string{auditlog.ProblemRootMismatch, auditlog.ProblemChanged}, 7},
		{"BundleCut", []string{
			`UPDATE audit_bundles SET data = substr(data, 1, 1000) WHERE log = 'contoso' AND n = 0`,
		}, []string{auditlog.ProblemBadEntry}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.appendMany(0, 300, "rec")
			dir := t.TempDir()
			if r := e.run(dir, e.service(), auditlog.Options{}); !r.OK() || r.Size != 300 {
				t.Fatalf("baseline: ok=%t size=%d\n%s", r.OK(), r.Size, messages(r))
			}
			for _, q := range tt.tamper {
				e.exec(q)
			}
			r := e.run(dir, e.service(), auditlog.Options{Full: true})
			got := kinds(r)
			for _, k := range tt.want {
				if !slices.Contains(got, k) {
					t.Errorf("problems %v, want %s among them:\n%s", got, k, messages(r))
				}
			}
			if len(r.Problems) > 0 && r.Problems[0].Index != tt.index {
				t.Errorf("first problem at %d, want %d:\n%s", r.Problems[0].Index, tt.index, messages(r))
			}
		})
	}
}
