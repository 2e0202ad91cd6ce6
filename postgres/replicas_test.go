package postgres_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/storetest"
)

// replicas opens n stores (n connection pools, as n server processes have)
// on one fresh schema.
func replicas(t *testing.T, n int) []lockbox.Store {
	t.Helper()
	dsn := pgtestSchema(t)
	out := make([]lockbox.Store, n)
	for i := range out {
		out[i] = mustOpen(t, dsn)
	}
	return out
}

// TestReplicasSerializeOnRequest: read-modify-write cycles on one request
// from several stores never lose an update: GetRequest inside Update locks
// the row across processes, not only within one pool.
func TestReplicasSerializeOnRequest(t *testing.T) {
	t.Parallel()
	stores := replicas(t, 3)
	storetest.MustInsertRequest(t, stores[0], storetest.NewRequest(1))
	const workers, rounds = 12, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds)
	for w := range workers {
		s := stores[w%len(stores)]
		wg.Go(func() {
			for range rounds {
				errs <- s.Update(t.Context(), func(tx lockbox.Tx) error {
					r, err := tx.GetRequest(t.Context(), "lb-00000001") // by reference, any case
					if err != nil {
						return err
					}
					prev := r.Version
					r.Version++
					return tx.UpdateRequest(t.Context(), r, prev)
				})
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("read-modify-write: %v", err)
		}
	}
	if got := storetest.MustGetRequest(t, stores[1], "req-000001").Version; got != 1+workers*rounds {
		t.Errorf("version = %d, want %d", got, 1+workers*rounds)
	}
}

// TestReplicasAppendGapFree: appends to the same logs from several stores
// at once, including the very first append of each log, give every index
// exactly once.
func TestReplicasAppendGapFree(t *testing.T) {
	t.Parallel()
	stores := replicas(t, 3)
	const workers, each = 12, 20
	logs := []string{"contoso", "fabrikam", lockbox.ProviderLog}
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		s := stores[w%len(stores)]
		wg.Go(func() {
			for i := range each {
				rec := storetest.NewAuditRecord(logs[(w+i)%len(logs)], fmt.Sprintf("w%02d-%02d", w, i))
				errs <- s.Update(t.Context(), func(tx lockbox.Tx) error { return tx.AppendAudit(t.Context(), rec) })
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("AppendAudit: %v", err)
		}
	}
	seen := map[string]bool{}
	for _, log := range logs {
		n := storetest.MustAuditSize(t, stores[2], log)
		for i, rec := range storetest.MustAuditRecords(t, stores[2], log, 0, n) {
			if rec.Index != int64(i) || seen[rec.ID] {
				t.Errorf("%s[%d] = record %s with index %d (seen before: %v)", log, i, rec.ID, rec.Index, seen[rec.ID])
			}
			seen[rec.ID] = true
		}
	}
	if len(seen) != workers*each {
		t.Errorf("%d distinct records stored, want %d", len(seen), workers*each)
	}
}
