package approval_test

import (
	"context"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
	"github.com/lockboxhq/lockbox/postgres"
	"github.com/lockboxhq/lockbox/postgres/pgtest"
)

// replicaServices starts n workflow services, each on its own store (its
// own connection pool, as n server processes have), on one fresh
// PostgreSQL schema.
func replicaServices(t *testing.T, n int) ([]*approval.Service, lockbox.Store) {
	t.Helper()
	dsn := pgtest.Migrated(t, pgtest.DSN(t))
	var svcs []*approval.Service
	var first lockbox.Store
	for range n {
		st, err := postgres.Open(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		if first == nil {
			first = st
		}
		svcs = append(svcs, approval.New(st, lockbox.SystemClock{}, approval.Options{PasswordMemoryKiB: 64, PasswordTime: 1}))
	}
	return svcs, first
}

// logSizes is the size of every audit log of the dev seed.
func logSizes(t *testing.T, st lockbox.Store) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	err := st.View(t.Context(), func(tx lockbox.Tx) error {
		for _, log := range []string{lockbox.ProviderLog, "contoso", "fabrikam"} {
			n, err := tx.AuditSize(t.Context(), log)
			if err != nil {
				return err
			}
			out[log] = n
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSeedDevByReplicasAtOnce: replicas starting together on one empty
// database all start (none fails on another's accounts), and the database
// ends up seeded exactly once: the same audit trail as one replica alone.
func TestSeedDevByReplicasAtOnce(t *testing.T) {
	t.Parallel()
	alone, aloneStore := replicaServices(t, 1)
	if err := alone[0].SeedDev(t.Context()); err != nil {
		t.Fatal(err)
	}
	want := logSizes(t, aloneStore)

	svcs, st := replicaServices(t, 3)
	errs := make([]error, len(svcs))
	var wg sync.WaitGroup
	for i, svc := range svcs {
		wg.Go(func() { errs[i] = svc.SeedDev(context.Background()) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: SeedDev: %v", i, err)
		}
	}
	if diff := cmp.Diff(want, logSizes(t, st)); diff != "" {
		t.Errorf("audit log sizes after a concurrent seed (-one replica +three):\n%s", diff)
	}
}

// TestBootstrapByReplicasAtOnce: exactly one replica creates the bootstrap
// admin and prints its password; the others start without one.
func TestBootstrapByReplicasAtOnce(t *testing.T) {
	t.Parallel()
	svcs, _ := replicaServices(t, 3)
	passwords := make([]string, len(svcs))
	errs := make([]error, len(svcs))
	var wg sync.WaitGroup
	for i, svc := range svcs {
		wg.Go(func() { passwords[i], errs[i] = svc.Bootstrap(context.Background()) })
	}
	wg.Wait()
	created := 0
	for i := range svcs {
		if errs[i] != nil {
			t.Errorf("replica %d: Bootstrap: %v", i, errs[i])
		}
		if passwords[i] != "" {
			created++
		}
	}
	if created != 1 {
		t.Errorf("%d replicas created the bootstrap admin, want exactly 1", created)
	}
}
