package storetest

import (
	"testing"

	"github.com/pressly/goose/v3"
)

// CheckMigrationsReversible walks a store's migrations (p, over an empty
// database) down and up: every migration's Down runs after its Up, its Up
// runs again after its Down, and after going down to an empty database
// and up again the schema is the one Up built the first time, as
// catalog describes it. The product only migrates forward (an operator
// rolls back by restoring a backup: docs/operations.md, "Upgrades"); the
// Downs are what a developer runs with goose, and nothing else runs them.
func CheckMigrationsReversible(t *testing.T, p *goose.Provider, catalog func(t *testing.T) string) {
	t.Helper()
	ctx := t.Context()
	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("up: %v", err)
	}
	want := catalog(t)
	for {
		v, err := p.GetDBVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if v == 0 {
			break
		}
		if _, err := p.Down(ctx); err != nil {
			t.Fatalf("down from %d: %v", v, err)
		}
		if _, err := p.UpByOne(ctx); err != nil {
			t.Fatalf("up to %d again after its down: %v", v, err)
		}
		if _, err := p.Down(ctx); err != nil {
			t.Fatalf("down from %d the second time: %v", v, err)
		}
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("up from an empty database again: %v", err)
	}
	if got := catalog(t); got != want {
		t.Errorf("the schema after down to empty and up again differs from the first:\nfirst:\n%s\nagain:\n%s", want, got)
	}
}
