package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/internal/groupcommit"
	"github.com/lockboxhq/lockbox/storetest"
)

// TestGroupLogHeads runs whole commit groups of appends to a few logs, some
// Updates failing after appending (their savepoints roll back), and checks
// that every log stays gap-free, counts exactly the committed records, and
// stores, for every record, the hashes tlog computes from the leaves alone.
func TestGroupLogHeads(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := openWithoutWriter(t)
	logs := []string{"contoso", "fabrikam", "northwind"}
	errBoom := errors.New("boom")
	want := map[string][]string{} // log -> committed record IDs in index order
	seq := 0
	for round := range 5 {
		var group []*groupcommit.Request
		for i := range 40 {
			log := logs[(i+round)%len(logs)]
			var batch []string
			for range 1 + i%3 {
				batch = append(batch, fmt.Sprintf("r%04d", seq))
				seq++
			}
			fail := i%4 == 1
			group = append(group, groupcommit.NewRequest(ctx, func(tx lockbox.Tx) error {
				before, err := tx.AuditSize(ctx, log)
				if err != nil {
					return err
				}
				for j, id := range batch {
					rec := storetest.NewAuditRecord(log, id)
					if err := tx.AppendAudit(ctx, rec); err != nil {
						return err
					}
					if rec.Index != before+int64(j) {
						return fmt.Errorf("%s got index %d, want %d", id, rec.Index, before+int64(j))
					}
				}
				if after, err := tx.AuditSize(ctx, log); err != nil || after != before+int64(len(batch)) {
					return fmt.Errorf("size after %d appends: %d, %v; want %d", len(batch), after, err, before+int64(len(batch)))
				}
				if fail {
					return errBoom
				}
				return nil
			}))
			if !fail {
				want[log] = append(want[log], batch...)
			}
		}
		s.runGroupForTest(group)
		for i, req := range group {
			res := req.Wait()
			if wantErr := i%4 == 1; wantErr != errors.Is(res.Err, errBoom) || (!wantErr && res.Err != nil) {
				t.Fatalf("round %d, update %d: %v (fails: %v)", round, i, res.Err, wantErr)
			}
		}
	}
	for _, log := range logs {
		checkLog(t, s, log, want[log])
	}
}

// checkLog compares log's records, size and stored hashes with wantIDs.
func checkLog(t *testing.T, s *Store, log string, wantIDs []string) {
	t.Helper()
	storetest.MustView(t, s, func(tx lockbox.Tx) error {
		n := int64(len(wantIDs))
		if size, err := tx.AuditSize(t.Context(), log); err != nil || size != n {
			return fmt.Errorf("%s: size %d, %v; want %d", log, size, err, n)
		}
		leaves, err := tx.AuditLeaves(t.Context(), log, 0, n+1)
		if err != nil {
			return err
		}
		if int64(len(leaves)) != n {
			return fmt.Errorf("%s: %d records, want %d", log, len(leaves), n)
		}
		for i, e := range leaves {
			rec, err := lockbox.ParseAuditRecord(e.Data)
			if err != nil {
				return err
			}
			if e.Index != int64(i) || rec.ID != wantIDs[i] {
				return fmt.Errorf("%s[%d]: index %d, id %s; want %s", log, i, e.Index, rec.ID, wantIDs[i])
			}
		}
		return nil
	})
	storetest.CheckAuditHashes(t, s, log)
}

// TestAppendOutsideWriteTx: a View cannot append.
func TestAppendOutsideWriteTx(t *testing.T) {
	t.Parallel()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "lb.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.View(t.Context(), func(tx lockbox.Tx) error {
		return tx.AppendAudit(t.Context(), storetest.NewAuditRecord("contoso", "x"))
	})
	if err == nil {
		t.Fatal("AppendAudit in a View succeeded")
	}
}

// TestLogCacheSeesOtherConnections: the writer keeps log heads between
// commit groups, so another connection rolling a log back (as a restore
// from backup, or the tamper tests, would) must make it read them again:
// the next append takes the index after the surviving records, with hashes
// computed from them.
func TestLogCacheSeesOtherConnections(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "lb.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var ids []string
	for i := range 5 {
		ids = append(ids, fmt.Sprintf("before-%d", i))
		storetest.MustAppendAudit(t, s, storetest.NewAuditRecord("contoso", ids[i]))
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		`DELETE FROM audit_records WHERE log = 'contoso' AND idx >= 3`,
		`UPDATE audit_logs SET size = 3 WHERE log = 'contoso'`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	ids = ids[:3]
	for i := range 4 {
		ids = append(ids, fmt.Sprintf("after-%d", i))
		if got := storetest.MustAppendAudit(t, s, storetest.NewAuditRecord("contoso", ids[len(ids)-1])); got != int64(len(ids)-1) {
			t.Fatalf("append after the rollback got index %d, want %d", got, len(ids)-1)
		}
	}
	checkLog(t, s, "contoso", ids)
}

// TestAuditDuplicateIDBelowBound: an ID below the group's bound (not a
// fresh UUIDv7) is still checked against the stored records.
func TestAuditDuplicateIDBelowBound(t *testing.T) {
	t.Parallel()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "lb.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.MustAppendAudit(t, s, storetest.NewAuditRecord("contoso", "b"))
	storetest.MustAppendAudit(t, s, storetest.NewAuditRecord("contoso", "z"))
	for _, tc := range []struct {
		id   string
		code string
	}{{"b", lockbox.ECONFLICT}, {"a", ""}, {"z", lockbox.ECONFLICT}, {"zz", ""}} {
		// AppendAudit itself must refuse, so the caller can handle it and
		// still commit the rest of its transaction.
		var appendErr error
		err := s.Update(t.Context(), func(tx lockbox.Tx) error {
			appendErr = tx.AppendAudit(t.Context(), storetest.NewAuditRecord("fabrikam", tc.id))
			return nil
		})
		if err != nil {
			t.Fatalf("append %q: Update: %v", tc.id, err)
		}
		if got := lockbox.ErrorCode(appendErr); (tc.code == "" && appendErr != nil) || (tc.code != "" && got != tc.code) {
			t.Errorf("append %q: %v, want code %q", tc.id, appendErr, tc.code)
		}
	}
}

// openWithoutWriter opens a store whose writer goroutine starts only at
// cleanup, so the test can run commit groups itself (runGroupForTest).
func openWithoutWriter(t *testing.T) *Store {
	s, err := open(t.Context(), filepath.Join(t.TempDir(), "lb.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		go s.writeLoop()
		s.Close()
	})
	return s
}

// runGroupForTest runs group through commit groups, as the writer would
// had they all been queued together: the first starts a group and the rest
// arrive while it runs (usually all in that one group; a slow machine may
// split them). No writer goroutine may be running.
func (s *Store) runGroupForTest(group []*groupcommit.Request) {
	go func() {
		for _, req := range group[1:] {
			s.queue.Enqueue(req)
		}
	}()
	s.lastGroup = len(group) // wait for all of them
	s.runGroup(group[0])
	for left := len(group) - s.lastGroup; left > 0; left -= s.lastGroup {
		s.runGroup(s.queue.Next())
	}
	s.stmts.prepareMissed(context.Background())
}
