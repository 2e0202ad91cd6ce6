package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
)

// TestViewsPrepareTheirStatements: a statement a View runs is prepared on
// the reader pool in the background, and later Views run it prepared and
// still read what was committed since.
func TestViewsPrepareTheirStatements(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "lockbox.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const q = `SELECT count(*) FROM tenants`
	count := func() int {
		var n int
		err := s.View(ctx, func(ltx lockbox.Tx) error {
			return ltx.(*tx).tx.QueryRowContext(ctx, q).Scan(&n)
		})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := count()
	deadline := time.Now().Add(10 * time.Second)
	for !s.reads.prepared(q) {
		if time.Now().After(deadline) {
			t.Fatal("the View's statement was not prepared")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := s.Update(ctx, func(ltx lockbox.Tx) error {
		return ltx.InsertTenant(ctx, &lockbox.Tenant{Name: "fabrikam", DisplayName: "Fabrikam", CreatedAt: time.Now()}, lockbox.DefaultSettings())
	}); err != nil {
		t.Fatal(err)
	}
	if got := count(); got != before+1 {
		t.Errorf("prepared read: %d tenants, want %d", got, before+1)
	}
}
