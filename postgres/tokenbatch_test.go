package postgres_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/storetest"
)

// TestFindTokenSharesStatements: lookups that wait while the runners are
// busy are answered together, by one statement per runner at most, not
// one each; and each still gets its own answer. Another session holds the
// tokens table so that the runners' first statements wait, and the
// lookups after them queue.
func TestFindTokenSharesStatements(t *testing.T) {
	t.Parallel()
	dsn := pgtestSchema(t)
	s := openWriters(t, dsn, 1)
	storetest.MustInsertUser(t, s, storetest.NewUser("u1", "operator@provider.test", "", lockbox.RoleOperator), "h")
	storetest.MustUpdate(t, s, func(tx lockbox.Tx) error {
		return tx.InsertToken(t.Context(), []byte("tok"), "u1", storetest.T0, time.Time{})
	})

	unlock := lockTable(t, dsn, "tokens", "ACCESS EXCLUSIVE")

	const held, queued = 2, 20 // held: one per runner, waiting for the lock
	type answer struct {
		token string
		found bool
		err   error
	}
	answers := make(chan answer, held+queued)
	var wg sync.WaitGroup
	lookup := func(token string) {
		wg.Go(func() {
			k, _, err := s.FindToken(context.Background(), []byte(token), storetest.T0)
			answers <- answer{token: token, found: k != nil, err: err}
		})
	}
	before := s.TokenStatements()
	for i := range int64(held) {
		// One at a time, or one runner could take two.
		lookup("tok")
		waitFor(t, "a runner to take a first lookup", func() bool { return s.TokenStatements()-before == i+1 })
	}
	for i := range queued {
		if i%2 == 0 {
			lookup("tok")
		} else {
			lookup("unknown")
		}
	}
	waitFor(t, "the lookups to queue", func() bool { return s.LookupsWaiting() == queued })
	unlock()
	wg.Wait()
	close(answers)

	if n := s.TokenStatements() - before - held; n > 2 {
		t.Errorf("%d queued lookups took %d statements; want at most one per runner", queued, n)
	}
	found, missing := 0, 0
	for a := range answers { // each its own answer, not a neighbour's in the batch
		switch {
		case a.token == "tok" && a.err == nil && a.found:
			found++
		case a.token == "unknown" && lockbox.ErrorCode(a.err) == lockbox.ENOTFOUND:
			missing++
		default:
			t.Errorf("lookup of %q: found %v, %v", a.token, a.found, a.err)
		}
	}
	if found != held+queued/2 || missing != queued/2 {
		t.Errorf("%d found and %d not found; want %d and %d", found, missing, held+queued/2, queued/2)
	}
}

// waitFor polls cond until it holds, failing the test after a long while.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
