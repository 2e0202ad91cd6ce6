package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/postgres"
	"github.com/lockboxhq/lockbox/postgres/pgtest"
	"github.com/lockboxhq/lockbox/storetest"
)

// openWriters opens a store with n group-commit writers.
func openWriters(t *testing.T, dsn string, n int) *postgres.Store {
	t.Helper()
	s, err := postgres.OpenWith(t.Context(), dsn, postgres.Options{Writers: n})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// queued waits until n Updates are queued for s's writers, behind one
// that runs: they will then join its group. Counted is not enough: a caller
// is counted as it enters Submit, and a group gathers only callers already
// blocked on the hand-off, waiting 100 µs for later ones (Gather), so a
// caller descheduled in between (a loaded machine, CI) would make a group
// of its own. So it also waits until n goroutines that this test's
// goroutine started are blocked there.
func queued(t *testing.T, s *postgres.Store, n int) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); s.WaitingUpdates() < n || storetest.BlockedUpdates() < n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d Updates queued, %d blocked for a writer, want %d", s.WaitingUpdates(), storetest.BlockedUpdates(), n)
		}
	}
}

// wait is the result of an Update, or a test failure if it has not
// returned after a long while: a group waiting for itself.
func wait(t *testing.T, what string, c <-chan error) error {
	t.Helper()
	select {
	case err := <-c:
		return err
	case <-time.After(20 * time.Second):
		t.Fatalf("%s never returned", what)
		return nil
	}
}

// TestGroupSplitsWhenARowIsLockedElsewhere: the first member of a group
// locks request 1; the second wants request 2, which another transaction
// (another replica, say) holds. Waiting for it inside the group would keep
// request 1 locked and the first member uncommitted for as long as that
// transaction lasts, and would deadlock if it then wanted request 1. The
// group must instead commit the first member, and run the second again in
// a transaction of its own, where it waits.
func TestGroupSplitsWhenARowIsLockedElsewhere(t *testing.T) {
	t.Parallel()
	dsn := pgtestSchema(t)
	s := openWriters(t, dsn, 1)
	storetest.MustInsertRequest(t, s, storetest.NewRequest(1))
	storetest.MustInsertRequest(t, s, storetest.NewRequest(2))

	other := lockElsewhere(t, dsn, "req-000002") // another transaction holds request 2

	release := make(chan struct{})
	first := storetest.HoldWriter(t, s, release, func(tx lockbox.Tx) error {
		_, err := tx.GetRequest(t.Context(), "req-000001")
		return err
	})
	var runs atomic.Int32
	second := make(chan error, 1)
	go func() {
		second <- s.Update(t.Context(), func(tx lockbox.Tx) error {
			runs.Add(1)
			if _, err := tx.GetRequest(t.Context(), "req-000002"); err != nil {
				return err
			}
			tn := &lockbox.Tenant{Name: "second", DisplayName: "second", CreatedAt: storetest.T0}
			return tx.InsertTenant(t.Context(), tn, lockbox.DefaultSettings())
		})
	}()
	queued(t, s, 1)
	close(release)

	if err := wait(t, "the first member, while another transaction held the second's row", first); err != nil {
		t.Fatalf("first member: %v", err)
	}
	// The first member's lock is released: a transaction may take it.
	db := pgtest.Open(t, dsn)
	defer db.Close()
	if _, err := db.ExecContext(t.Context(), `SELECT 1 FROM requests WHERE id = 'req-000001' FOR UPDATE NOWAIT`); err != nil {
		t.Fatalf("request 1 is still locked after its Update returned: %v", err)
	}
	if err := other.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := wait(t, "the second member", second); err != nil {
		t.Fatalf("second member: %v", err)
	}
	storetest.MustView(t, s, func(tx lockbox.Tx) error {
		if _, err := tx.GetTenant(t.Context(), "second"); err != nil {
			t.Errorf("the second member's change was not kept: %v", err)
		}
		return nil
	})
	if runs.Load() != 2 {
		t.Errorf("the second member ran %d times, want 2 (once in the group, once on its own)", runs.Load())
	}
}

// TestGroupStoredIDFailsOnlyItsOwner: a member queueing an audit record id
// or an outbox message id already stored (both are inserted with the
// group's COMMIT) is told ECONFLICT; the members committed with it lost
// their work with the group and are told to try again (EUNAVAILABLE), and
// nothing of any of them is stored. Trying again succeeds.
func TestGroupStoredIDFailsOnlyItsOwner(t *testing.T) {
	t.Parallel()
	for _, kind := range []struct {
		name  string
		add   func(ctx context.Context, tx lockbox.Tx, id string) error
		count func(t *testing.T, s lockbox.Store) int
	}{
		{"audit record", func(ctx context.Context, tx lockbox.Tx, id string) error {
			return tx.AppendAudit(ctx, storetest.NewAuditRecord("contoso", id))
		}, func(t *testing.T, s lockbox.Store) int { return int(storetest.MustAuditSize(t, s, "contoso")) }},
		{"outbox message", func(ctx context.Context, tx lockbox.Tx, id string) error {
			m := storetest.NewOutboxMessage(1)
			m.ID = id
			return tx.EnqueueOutbox(ctx, m)
		}, func(t *testing.T, s lockbox.Store) int {
			return len(storetest.MustListOutbox(t, s, lockbox.OutboxQuery{}))
		}},
	} {
		t.Run(kind.name, func(t *testing.T) {
			t.Parallel()
			s := openWriters(t, pgtestSchema(t), 1)
			storetest.MustInsertTenant(t, s, "contoso")
			storetest.MustUpdate(t, s, func(tx lockbox.Tx) error { return kind.add(t.Context(), tx, "taken") })

			insert := func(name, id string) func(lockbox.Tx) error {
				return func(tx lockbox.Tx) error {
					tn := &lockbox.Tenant{Name: name, DisplayName: name, CreatedAt: storetest.T0}
					if err := tx.InsertTenant(t.Context(), tn, lockbox.DefaultSettings()); err != nil {
						return err
					}
					return kind.add(t.Context(), tx, id)
				}
			}
			release := make(chan struct{})
			first := storetest.HoldWriter(t, s, release, insert("t0", "fresh-0"))
			var wg sync.WaitGroup
			var dup, other error
			wg.Go(func() { dup = s.Update(t.Context(), insert("t1", "taken")) })
			wg.Go(func() { other = s.Update(t.Context(), insert("t2", "fresh-2")) })
			queued(t, s, 2)
			close(release)
			wg.Wait()
			firstErr := wait(t, "the first member", first)

			if lockbox.ErrorCode(dup) != lockbox.ECONFLICT {
				t.Errorf("the member reusing a stored id: %v, want ECONFLICT", dup)
			}
			for what, err := range map[string]error{"first": firstErr, "other": other} {
				if lockbox.ErrorCode(err) != lockbox.EUNAVAILABLE {
					t.Errorf("%s member: %v, want EUNAVAILABLE (its group was rolled back)", what, err)
				}
			}
			if n := kind.count(t, s); n != 1 {
				t.Errorf("%d stored, want 1: the group must not commit", n)
			}
			storetest.MustView(t, s, func(tx lockbox.Tx) error {
				for _, name := range []string{"t0", "t1", "t2"} {
					if _, err := tx.GetTenant(t.Context(), name); lockbox.ErrorCode(err) != lockbox.ENOTFOUND {
						t.Errorf("tenant %s: %v, want ENOTFOUND", name, err)
					}
				}
				return nil
			})
			if err := s.Update(t.Context(), insert("t2", "fresh-2")); err != nil {
				t.Errorf("trying again: %v", err)
			}
		})
	}
}

// TestGroupClosesAfterEightTalking: a group takes in at most maxTalking (8)
// members that make statements of their own, so the first of them do not
// wait for every Update that arrives while the group runs; members that
// only append audit records, which cost the group no round trip, still
// join the same group by the dozen.
func TestGroupClosesAfterEightTalking(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		talk   bool
		groups int64
	}{{"talking", true, 3}, {"quiet", false, 1}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := openWriters(t, pgtestSchema(t), 1)
			storetest.MustInsertTenant(t, s, "contoso")
			member := func(n int) func(lockbox.Tx) error {
				return func(tx lockbox.Tx) error {
					if tc.talk {
						if _, err := tx.GetTenant(t.Context(), "contoso"); err != nil {
							return err
						}
					}
					return tx.AppendAudit(t.Context(), storetest.NewAuditRecord("contoso", fmt.Sprintf("rec-%d", n)))
				}
			}
			before := s.GroupsRun()
			release := make(chan struct{})
			first := storetest.HoldWriter(t, s, release, member(0))
			var wg sync.WaitGroup
			errs := make([]error, 20)
			for i := range 20 {
				wg.Go(func() { errs[i] = s.Update(t.Context(), member(i+1)) })
			}
			queued(t, s, 20)
			close(release)
			wg.Wait()
			if err := wait(t, "the first member", first); err != nil {
				t.Fatal(err)
			}
			for i, err := range errs {
				if err != nil {
					t.Fatalf("member %d: %v", i+1, err)
				}
			}
			// 21 members: 8 + 8 + 5 when each talks, one group when none does.
			if got := s.GroupsRun() - before; got != tc.groups {
				t.Errorf("%d groups for 21 members, want %d", got, tc.groups)
			}
			if n := storetest.MustAuditSize(t, s, "contoso"); n != 21 {
				t.Errorf("%d records, want 21", n)
			}
		})
	}
}

// outlastTableLock runs a group of two members while another session
// holds table in SHARE mode (which lets the members' reads, FOR UPDATE:
// ROW SHARE, through and holds their writes, ROW EXCLUSIVE) for thirty
// times lockWait, and fails the test unless both members succeed. The
// first member reads req-000001 and is held until the second, second, has
// queued behind it, so the second runs with the group's lock waits cut
// short (lockWait). It returns the store, with req-000001 and req-000002.
func outlastTableLock(t *testing.T, table string, second func(tx lockbox.Tx) error) *postgres.Store {
	t.Helper()
	dsn := pgtestSchema(t)
	s := openWriters(t, dsn, 1)
	storetest.MustInsertRequest(t, s, storetest.NewRequest(1))
	storetest.MustInsertRequest(t, s, storetest.NewRequest(2))

	unlock := lockTable(t, dsn, table, "SHARE")
	release := make(chan struct{})
	first := storetest.HoldWriter(t, s, release, func(tx lockbox.Tx) error {
		_, err := tx.GetRequest(t.Context(), "req-000001")
		return err
	})
	done := make(chan error, 1)
	go func() { done <- s.Update(t.Context(), second) }()
	queued(t, s, 1)
	close(release)
	time.Sleep(300 * time.Millisecond) // thirty times lockWait
	unlock()
	if err := wait(t, "the first member", first); err != nil {
		t.Errorf("first member: %v", err)
	}
	if err := wait(t, "the second member", done); err != nil {
		t.Fatalf("second member: %v", err)
	}
	return s
}

// bumpRequest changes request id: a write that waits for the member's
// next round trip (later.go).
func bumpRequest(tx lockbox.Tx, id string) error {
	ctx := context.Background()
	r, err := tx.GetRequest(ctx, id)
	if err != nil {
		return err
	}
	prev := r.Version
	r.Version++
	r.Reason = "changed"
	return tx.UpdateRequest(ctx, r, prev)
}

// TestWaitingWriteOutlastsTheLockWait: a group's second member reads a
// request (its row locked), changes it — a write that waits for its next
// round trip (later.go) — and then makes another statement, which sends the
// write first. By then the transaction's lock waits are cut to lockWait, to
// break row-lock cycles between groups. The write can be in no such cycle,
// yet it may still wait for something incidental; here another session
// holds the table in SHARE mode (as a backend extending the table holds
// its extension lock, the case seen under load) for far longer than
// lockWait. The write must wait it out, not fail the whole group: neither
// when pgx first prepares its statement on the connection (prepareGroup)
// nor when it runs (queueLater). Without either, this test fails.
func TestWaitingWriteOutlastsTheLockWait(t *testing.T) {
	t.Parallel()
	s := outlastTableLock(t, "requests", func(tx lockbox.Tx) error {
		if err := bumpRequest(tx, "req-000002"); err != nil {
			return err
		}
		tn := &lockbox.Tenant{Name: "second", DisplayName: "second", CreatedAt: storetest.T0}
		return tx.InsertTenant(t.Context(), tn, lockbox.DefaultSettings())
	})
	storetest.MustView(t, s, func(tx lockbox.Tx) error {
		r, err := tx.GetRequest(t.Context(), "req-000002")
		if err != nil {
			return err
		}
		if r.Version != storetest.NewRequest(2).Version+1 {
			t.Errorf("request 2 at version %d, want the second member's change", r.Version)
		}
		if _, err := tx.GetTenant(t.Context(), "second"); err != nil {
			t.Errorf("the second member's tenant was not kept: %v", err)
		}
		return nil
	})
}

// TestOutboxInsertOutlastsTheLockWait: a group commits its members'
// notifications with its COMMIT, by then with the group's lock waits cut
// to lockWait. While another session holds the outbox table in SHARE mode
// (as a migration would, or autovacuum truncating the table), the insert
// must wait it out, not fail the whole group: neither when pgx first
// prepares its statement on the connection nor when it runs. Without the
// statement prepared before the group's BEGIN (prepareGroup), this test
// fails.
func TestOutboxInsertOutlastsTheLockWait(t *testing.T) {
	t.Parallel()
	s := outlastTableLock(t, "outbox", func(tx lockbox.Tx) error {
		if err := bumpRequest(tx, "req-000002"); err != nil {
			return err
		}
		return tx.EnqueueOutbox(t.Context(), storetest.NewOutboxMessage(1), storetest.NewOutboxMessage(2))
	})
	if got := len(storetest.MustListOutbox(t, s, lockbox.OutboxQuery{})); got != 2 {
		t.Errorf("%d outbox messages stored, want the second member's 2", got)
	}
}

// TestGroupAuditReadsSeeEarlierMembers: a member whose audit read could
// return a record an earlier member of its group appended (written only
// with the group's COMMIT) is run again after that member commits
// (storetest.CheckGroupAuditReads).
func TestGroupAuditReadsSeeEarlierMembers(t *testing.T) {
	t.Parallel()
	storetest.CheckGroupAuditReads(t, openWriters(t, pgtestSchema(t), 1))
}

// TestGroupWebhookDeleteSeesEarlierMessages: deleting an endpoint deletes
// the messages an earlier member of its group queued for it, which are
// inserted only with the group's COMMIT (storetest.CheckGroupWebhookDelete).
func TestGroupWebhookDeleteSeesEarlierMessages(t *testing.T) {
	t.Parallel()
	storetest.CheckGroupWebhookDelete(t, openWriters(t, pgtestSchema(t), 1))
}
