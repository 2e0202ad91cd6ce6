package postgres_test

import (
	"bytes"
	"database/sql"
	"fmt"
	"testing"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/auditlog"
	"github.com/lockboxhq/lockbox/postgres"
	"github.com/lockboxhq/lockbox/storetest"
)

// TestBundlesOfAnOldLog: a log filled before migration 00018 has no stored
// bundles; FillAuditBundle (what auditlog's background filler calls) stores
// each as auditlog.EntryBundle encodes its rows, and the append trigger
// stores the bundles filled after.
func TestBundlesOfAnOldLog(t *testing.T) {
	t.Parallel()
	dsn := pgtestSchema(t)
	s, err := postgres.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	appendN := func(prefix string, n int) {
		storetest.MustUpdate(t, s, func(tx lockbox.Tx) error {
			for i := range n {
				if err := tx.AppendAudit(t.Context(), storetest.NewAuditRecord("contoso", fmt.Sprintf("%s-%d", prefix, i))); err != nil {
					return err
				}
			}
			return nil
		})
	}
	appendN("a", 600)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`DELETE FROM audit_bundles`); err != nil {
		t.Fatal(err)
	}
	bundle := func(n int64) []byte {
		var data []byte
		if err := s.View(t.Context(), func(tx lockbox.Tx) (err error) { data, err = tx.AuditBundle(t.Context(), "contoso", n); return err }); err != nil {
			t.Fatal(err)
		}
		return data
	}
	want := func(n int64) []byte {
		b, err := auditlog.EntryBundle(storetest.MustAuditLeaves(t, s, "contoso", n*256, (n+1)*256))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if bundle(0) != nil {
		t.Fatal("bundle 0 still stored")
	}
	err = s.Update(t.Context(), func(tx lockbox.Tx) error {
		for n := range int64(3) {
			if err := tx.FillAuditBundle(t.Context(), "contoso", n); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for n := range int64(2) {
		if got := bundle(n); !bytes.Equal(got, want(n)) {
			t.Errorf("filled bundle %d: %d bytes, want %d", n, len(got), len(want(n)))
		}
	}
	if got := bundle(2); got != nil {
		t.Errorf("partial bundle 2 filled: %d bytes", len(got))
	}
	appendN("b", 200)
	if got := bundle(2); !bytes.Equal(got, want(2)) {
		t.Errorf("bundle 2 after the append that filled it: %d bytes, want %d", len(got), len(want(2)))
	}
	// The append stored it compressed with lz4 where the server has lz4
	// (migration 00025): pglz held the log's head for milliseconds more.
	var lz4 bool
	if err := db.QueryRow(`SELECT EXISTS (SELECT 1 FROM pg_settings
		WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals))`).Scan(&lz4); err != nil {
		t.Fatal(err)
	}
	if !lz4 {
		t.Log("this PostgreSQL has no lz4: bundles keep its default compression")
		return
	}
	var method sql.NullString
	if err := db.QueryRow(`SELECT pg_column_compression(data) FROM audit_bundles WHERE log = 'contoso' AND n = 2`).Scan(&method); err != nil {
		t.Fatal(err)
	}
	if method.String != "lz4" {
		t.Errorf("bundle 2 stored with compression %q, want lz4", method.String)
	}
}
