package postgres_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/postgres"
	"github.com/lockboxhq/lockbox/postgres/pgtest"
	"github.com/lockboxhq/lockbox/storetest"
)

// holdHead locks log's head row in a transaction of its own, as a write
// group of another replica would from its append to its commit, and
// returns the function that releases it.
func holdHead(t *testing.T, db *sql.DB, log string) (release func()) {
	t.Helper()
	tx, err := db.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(t.Context(), `SELECT 1 FROM audit_logs WHERE log = $1 FOR UPDATE`, log); err != nil {
		t.Fatal(err)
	}
	return func() { _ = tx.Rollback() }
}

// parkedCount is how many records are parked, committed, for log.
func parkedCount(t *testing.T, db *sql.DB, log string) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(t.Context(), `SELECT count(*) FROM audit_pending WHERE log = $1`, log).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestParkedRecordsFoldBeforeUpdateReturns: an Update whose log's head is
// held by another transaction does not wait for it inside its own
// transaction: it commits with its records parked, and returns only once
// they are folded into the log, so its caller reads them back at the
// indexes it was given, gap-free and with their hashes.
func TestParkedRecordsFoldBeforeUpdateReturns(t *testing.T) {
	t.Parallel()
	dsn := pgtestSchema(t)
	s := mustOpen(t, dsn)
	db := pgtest.Open(t, dsn)
	defer db.Close()
	storetest.MustAppendAudit(t, s, storetest.NewAuditRecord("contoso", "first"))

	release := holdHead(t, db, "contoso")
	recs := []*lockbox.AuditRecord{storetest.NewAuditRecord("contoso", "parked-0"), storetest.NewAuditRecord("contoso", "parked-1")}
	done := make(chan error, 1)
	go func() {
		done <- s.Update(context.Background(), func(tx lockbox.Tx) error {
			for _, rec := range recs {
				if err := tx.AppendAudit(t.Context(), rec); err != nil {
					return err
				}
			}
			return nil
		})
	}()
	// The records are committed, parked, while the head is still held.
	for deadline := time.Now().Add(10 * time.Second); parkedCount(t, db, "contoso") != 2; {
		if time.Now().After(deadline) {
			t.Fatal("the Update's records were not parked while the head was held")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("Update returned (%v) before its parked records were folded", err)
	case <-time.After(100 * time.Millisecond):
	}
	release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for i, rec := range recs {
		if rec.Index != int64(1+i) {
			t.Errorf("%s: Index = %d after Update, want %d", rec.ID, rec.Index, 1+i)
		}
	}
	got := storetest.MustAuditRecords(t, s, "contoso", 0, 10)
	if len(got) != 3 || got[1].ID != "parked-0" || got[2].ID != "parked-1" {
		t.Errorf("log after the fold = %d records, want first, parked-0, parked-1", len(got))
	}
	if n := parkedCount(t, db, "contoso"); n != 0 {
		t.Errorf("%d records still parked after the fold", n)
	}
	storetest.CheckAuditHashes(t, s, "contoso")
}

// TestParkedRecordsAfterACrash: a replica that stops after its commit and
// before its fold leaves its records parked: durable, in no read of the
// log. The next append of the log, by any replica, folds them first, in
// the order they were parked; a record id reused while parked is refused
// either way; and a replica's sweep folds what a crash left in a log
// nobody appends to any more, within a second.
func TestParkedRecordsAfterACrash(t *testing.T) {
	t.Parallel()
	dsn := pgtestSchema(t)
	crashed := mustOpen(t, dsn)
	postgres.SkipFolds(crashed)
	other := mustOpen(t, dsn)
	db := pgtest.Open(t, dsn)
	defer db.Close()

	storetest.MustAppendAudit(t, other, storetest.NewAuditRecord("contoso", "before"))
	release := holdHead(t, db, "contoso")
	for i := range 3 {
		rec := storetest.NewAuditRecord("contoso", fmt.Sprint("crashed-", i))
		storetest.MustUpdate(t, crashed, func(tx lockbox.Tx) error { return tx.AppendAudit(t.Context(), rec) })
		if rec.Index != -1 {
			t.Errorf("%s: Index = %d of a record never folded, want -1", rec.ID, rec.Index)
		}
	}
	// A parked id cannot be parked again, nor appended.
	err := crashed.Update(t.Context(), func(tx lockbox.Tx) error {
		return tx.AppendAudit(t.Context(), storetest.NewAuditRecord("contoso", "crashed-1"))
	})
	if lockbox.ErrorCode(err) != lockbox.ECONFLICT {
		t.Errorf("parking an id that is parked = %v, want ECONFLICT", err)
	}
	release()
	err = other.Update(t.Context(), func(tx lockbox.Tx) error {
		return tx.AppendAudit(t.Context(), storetest.NewAuditRecord("contoso", "crashed-2"))
	})
	if lockbox.ErrorCode(err) != lockbox.ECONFLICT {
		t.Errorf("appending an id that is parked = %v, want ECONFLICT", err)
	}
	if got := storetest.MustAuditSize(t, other, "contoso"); got != 1 {
		t.Fatalf("AuditSize with 3 records parked = %d, want 1: parked records are not in the log", got)
	}
	if got := len(storetest.MustAuditRecords(t, other, "contoso", 0, 10)); got != 1 {
		t.Errorf("AuditRecords with records parked = %d records, want 1", got)
	}
	var found []*lockbox.AuditRecord
	storetest.MustView(t, other, func(tx lockbox.Tx) error {
		var err error
		found, err = tx.SearchAudit(t.Context(), lockbox.AuditQuery{Log: "contoso", Limit: 10})
		return err
	})
	if len(found) != 1 {
		t.Errorf("SearchAudit with records parked = %d records, want 1", len(found))
	}

	after := storetest.NewAuditRecord("contoso", "after")
	if got := storetest.MustAppendAudit(t, other, after); got != 4 {
		t.Errorf("the next append got index %d, want 4: after the 3 parked records", got)
	}
	want := []string{"before", "crashed-0", "crashed-1", "crashed-2", "after"}
	got := storetest.MustAuditRecords(t, other, "contoso", 0, 10)
	if len(got) != len(want) {
		t.Errorf("log = %d records, want %d", len(got), len(want))
	}
	for i, rec := range got {
		if i >= len(want) || rec.ID != want[i] || rec.Index != int64(i) {
			t.Errorf("record %d = %s at index %d, want %s", i, rec.ID, rec.Index, want[min(i, len(want)-1)])
		}
	}
	storetest.CheckAuditHashes(t, other, "contoso")

	// The sweep, on a log nobody appends to any more.
	storetest.MustAppendAudit(t, other, storetest.NewAuditRecord("fabrikam", "quiet-0"))
	release = holdHead(t, db, "fabrikam")
	rec := storetest.NewAuditRecord("fabrikam", "crashed-quiet")
	storetest.MustUpdate(t, crashed, func(tx lockbox.Tx) error { return tx.AppendAudit(t.Context(), rec) })
	release()
	synctest.Test(t, func(t *testing.T) {
		sweeper, err := postgres.Open(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer sweeper.Close()
		if got := storetest.MustAuditSize(t, sweeper, "fabrikam"); got != 1 {
			t.Fatalf("AuditSize before the sweep = %d, want 1", got)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if got := storetest.MustAuditSize(t, sweeper, "fabrikam"); got != 2 {
			t.Errorf("AuditSize a second after a crash = %d, want 2: the sweep folds what a crash left", got)
		}
	})
	storetest.CheckAuditHashes(t, other, "fabrikam")
}
