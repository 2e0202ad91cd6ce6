package sqlite

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/storetest"
)

// TestBackfillAuditHashes: records written before migration 00002 (no
// hashes) get tlog's hashes when the database is next opened.
func TestBackfillAuditHashes(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "lockbox.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 11 {
		storetest.MustAppendAudit(t, s, storetest.NewAuditRecord("contoso", "c"+string(rune('a'+i))))
	}
	want := readAllHashes(t, s)
	s.Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE audit_records SET hashes = x''`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s, err = Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := readAllHashes(t, s); len(got) != len(want) || strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("hashes after backfill differ from those appended")
	}
}

func readAllHashes(t *testing.T, s *Store) []string {
	var out []string
	storetest.MustView(t, s, func(tx lockbox.Tx) error {
		for i := range tlog.StoredHashCount(11) {
			hs, err := tx.ReadAuditHashes(t.Context(), "contoso", []int64{i})
			if err != nil {
				return err
			}
			out = append(out, string(hs[0][:]))
		}
		return nil
	})
	return out
}

// TestAuditSearchPlan pins the index behind "the latest page of a time
// window" and its cursor: one range of audit_records_time, no sort.
func TestAuditSearchPlan(t *testing.T) {
	t.Parallel()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "lockbox.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start, end := time.Unix(0, 0), time.Unix(100, 0)
	q := lockbox.AuditQuery{Log: "contoso", Start: &start, End: &end, BeforeTime: &end, BeforeIndex: 5, Limit: 100}
	where, args := auditWhere(q)
	rows, err := s.reader.Query("EXPLAIN QUERY PLAN "+searchQuery(where), append(args, 100)...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	got := strings.Join(plan, "; ")
	if !strings.Contains(got, "USING INDEX audit_records_time") || strings.Contains(got, "TEMP B-TREE") {
		t.Errorf("search plan %q: want audit_records_time without a sort", got)
	}
}
