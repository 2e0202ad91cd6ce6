package postgres_test

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/postgres"
	"github.com/lockboxhq/lockbox/storetest"
)

// TestSequencerCrashBetweenCommitAndSequencing: a replica that stops after
// its transaction committed and before its audit records got their indexes
// leaves them pending: durable, in no read of the log yet. Another
// replica's next append sequences them first, in the order they were
// written, gap-free; and a replica's periodic sweep sequences them
// within a second when nothing else is appended.
func TestSequencerCrashBetweenCommitAndSequencing(t *testing.T) {
	t.Parallel()
	dsn := pgtestSchema(t)
	crashed := mustOpen(t, dsn)
	postgres.SkipSequencing(crashed)
	other := mustOpen(t, dsn)

	storetest.MustAppendAudit(t, other, storetest.NewAuditRecord("contoso", "before"))
	for i := range 3 {
		rec := storetest.NewAuditRecord("contoso", fmt.Sprint("crashed-", i))
		storetest.MustUpdate(t, crashed, func(tx lockbox.Tx) error { return tx.AppendAudit(t.Context(), rec) })
	}
	if got := storetest.MustAuditSize(t, other, "contoso"); got != 1 {
		t.Fatalf("AuditSize with 3 records pending = %d, want 1: pending records are not in the log", got)
	}
	if got := len(storetest.MustAuditRecords(t, other, "contoso", -5, 10)); got != 1 {
		t.Errorf("AuditRecords(-5, 10) with records pending = %d records, want 1", got)
	}
	var found []*lockbox.AuditRecord
	storetest.MustView(t, other, func(tx lockbox.Tx) error {
		var err error
		found, err = tx.SearchAudit(t.Context(), lockbox.AuditQuery{Log: "contoso", Limit: 10})
		return err
	})
	if len(found) != 1 {
		t.Errorf("SearchAudit with records pending = %d records, want 1", len(found))
	}

	after := storetest.NewAuditRecord("contoso", "after")
	if got := storetest.MustAppendAudit(t, other, after); got != 4 {
		t.Errorf("the next append got index %d, want 4: after the 3 pending records", got)
	}
	want := []string{"before", "crashed-0", "crashed-1", "crashed-2", "after"}
	for i, rec := range storetest.MustAuditRecords(t, other, "contoso", 0, 10) {
		if i >= len(want) || rec.ID != want[i] || rec.Index != int64(i) {
			t.Errorf("record %d = %s at index %d, want %s", i, rec.ID, rec.Index, want[min(i, len(want)-1)])
		}
	}
	storetest.CheckAuditHashes(t, other, "contoso")

	// The sweep, on a log nobody appends to any more.
	rec := storetest.NewAuditRecord("fabrikam", "crashed-quiet")
	storetest.MustUpdate(t, crashed, func(tx lockbox.Tx) error { return tx.AppendAudit(t.Context(), rec) })
	synctest.Test(t, func(t *testing.T) {
		sweeper, err := postgres.OpenWith(t.Context(), dsn, postgres.Options{SequenceEvery: 500 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer sweeper.Close()
		time.Sleep(time.Second)
		synctest.Wait()
		if got := storetest.MustAuditSize(t, sweeper, "fabrikam"); got != 1 {
			t.Errorf("AuditSize a second after a crash = %d, want 1: the sweep sequences what a crash left", got)
		}
	})
	storetest.CheckAuditHashes(t, other, "fabrikam")
}
