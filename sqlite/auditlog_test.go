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

// TestAuditSearchPlan pins the index behind each kind of search: "the
// latest page of a time window" and its cursor is one range of
// audit_records_time; a request's records (the access report, the request
// page) one range of audit_records_request_time, not a walk of the whole
// log in time order testing each record. Neither sorts.
func TestAuditSearchPlan(t *testing.T) {
	t.Parallel()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "lockbox.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start, end := time.Unix(0, 0), time.Unix(100, 0)
	for _, tc := range []struct {
		name  string
		q     lockbox.AuditQuery
		index string
	}{
		{"time window", lockbox.AuditQuery{Log: "contoso", Start: &start, End: &end, BeforeTime: &end, BeforeIndex: 5}, "audit_records_time"},
		{"request", lockbox.AuditQuery{Log: "contoso", RequestID: "req-1", Operations: []string{"a", "b"}}, "audit_records_request_time"},
		{"request, next page", lockbox.AuditQuery{Log: "contoso", RequestID: "req-1", BeforeTime: &end, BeforeIndex: 5}, "audit_records_request_time"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			where, args := auditWhere(tc.q)
			got := explain(t, s, searchQuery(where), append(args, 100)...)
			if !strings.Contains(got, "USING INDEX "+tc.index+" ") || strings.Contains(got, "TEMP B-TREE") {
				t.Errorf("search plan %q: want %s without a sort", got, tc.index)
			}
		})
	}
}

// explain is query's plan, its steps joined by "; ".
func explain(t *testing.T, s *Store, query string, args ...any) string {
	t.Helper()
	rows, err := s.reader.Query("EXPLAIN QUERY PLAN "+query, args...)
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
	return strings.Join(plan, "; ")
}
