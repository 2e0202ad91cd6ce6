package keys_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/keys"
	"github.com/lockboxhq/lockbox/postgres"
	"github.com/lockboxhq/lockbox/postgres/pgtest"
	"github.com/lockboxhq/lockbox/sqlite"
	"github.com/lockboxhq/lockbox/sqlite/sqlitetest"
)

var t0 = time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)

func openStore(t *testing.T) lockbox.Store {
	t.Helper()
	st, err := sqlite.Open(t.Context(), sqlitetest.Path(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func kids(ks []*lockbox.PublishedKey) map[string]string {
	m := map[string]string{}
	for _, k := range ks {
		m[k.KID] = k.Kind
	}
	return m
}

func TestOpenCreatesAndPublishes(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	dir := filepath.Join(t.TempDir(), "keys")
	r, published, err := keys.Open(t.Context(), dir, st, t0)
	if err != nil {
		t.Fatal(err)
	}
	grantKID, _ := r.GrantSigner()
	if len(published) != 2 || kids(published)[grantKID] != lockbox.KeyKindGrant {
		t.Fatalf("published = %v, want the new grant and log keys", kids(published))
	}
	// A restart with the same directory publishes nothing new and starts.
	_, again, err := keys.Open(t.Context(), dir, st, t0.Add(time.Hour))
	if err != nil {
		t.Fatalf("restart refused: %v", err)
	}
	if len(again) != 2 || !again[0].PublishedAt.Equal(t0) {
		t.Errorf("restart republished: %v", again)
	}
}

func TestRotationPublishesNewAndKeepsOld(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	dir := t.TempDir()
	r1, _, err := keys.Open(t.Context(), dir, st, t0)
	if err != nil {
		t.Fatal(err)
	}
	oldKID, _ := r1.GrantSigner()
	r2, err := keys.Rotate(dir, keys.KindGrant)
	if err != nil {
		t.Fatal(err)
	}
	newKID, _ := r2.GrantSigner()
	_, published, err := keys.Open(t.Context(), dir, st, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	got := kids(published)
	if len(got) != 3 || got[oldKID] != "grant" || got[newKID] != "grant" {
		t.Errorf("published after rotation = %v, want old and new grant keys and the log key", got)
	}
}

func TestOpenRefusesOtherReplicasKeys(t *testing.T) {
	t.Parallel()
	tests := map[string]func(t *testing.T, st lockbox.Store, sharedDir, otherDir string){
		// A second replica started with an empty key directory.
		"EmptyDirectory": func(t *testing.T, st lockbox.Store, sharedDir, otherDir string) {},
		// A second replica that generated its own keys elsewhere.
		"DifferentKeys": func(t *testing.T, st lockbox.Store, sharedDir, otherDir string) {
			if _, err := keys.Generate(otherDir); err != nil {
				t.Fatal(err)
			}
		},
		// The first replica rotated and restarted; this one still has the
		// directory from before the rotation.
		"StaleDirectory": func(t *testing.T, st lockbox.Store, sharedDir, otherDir string) {
			copyDir(t, sharedDir, otherDir)
			if _, err := keys.Rotate(sharedDir, keys.KindLog); err != nil {
				t.Fatal(err)
			}
			if _, _, err := keys.Open(t.Context(), sharedDir, st, t0); err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, setup := range tests {
		t.Run(name, func(t *testing.T) {
			st := openStore(t)
			sharedDir, otherDir := t.TempDir(), filepath.Join(t.TempDir(), "other")
			if _, _, err := keys.Open(t.Context(), sharedDir, st, t0); err != nil {
				t.Fatal(err)
			}
			setup(t, st, sharedDir, otherDir)
			_, _, err := keys.Open(t.Context(), otherDir, st, t0)
			if !errors.Is(err, keys.ErrMismatch) {
				t.Fatalf("Open = %v, want ErrMismatch", err)
			}
			t.Log(err) // the operator's message
		})
	}
}

func TestOpenRefusesTamperedKey(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	dir := t.TempDir()
	if _, _, err := keys.Open(t.Context(), dir, st, t0); err != nil {
		t.Fatal(err)
	}
	// Replace a key file's contents, keeping its name (kid).
	other := t.TempDir()
	if _, err := keys.Generate(other); err != nil {
		t.Fatal(err)
	}
	replaceKind(t, other, dir, "grant-")
	_, _, err := keys.Open(t.Context(), dir, st, t0)
	if !errors.Is(err, keys.ErrMismatch) {
		t.Fatalf("Open = %v, want ErrMismatch", err)
	}
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o700); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// replaceKind writes the contents of from's key file with prefix over the
// key file with prefix in to, under to's file name.
func replaceKind(t *testing.T, from, to, prefix string) {
	t.Helper()
	find := func(dir string) string {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if len(e.Name()) > len(prefix) && e.Name()[:len(prefix)] == prefix {
				return filepath.Join(dir, e.Name())
			}
		}
		t.Fatalf("no %s key in %s", prefix, dir)
		return ""
	}
	data, err := os.ReadFile(find(from))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(find(to), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// Servers with different key directories starting at once on one
// database: at most one of them starts. On PostgreSQL each server has its
// own connection pool, as replicas do.
func TestConcurrentStartsWithDifferentKeys(t *testing.T) {
	t.Parallel()
	t.Run("SQLite", func(t *testing.T) {
		st := openStore(t)
		concurrentStarts(t, func() lockbox.Store { return st })
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		dsn := pgtest.Schema(t, pgtest.DSN(t))
		concurrentStarts(t, func() lockbox.Store {
			st, err := postgres.Open(t.Context(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		})
	})
}

func concurrentStarts(t *testing.T, open func() lockbox.Store) {
	const n = 4
	errs := make(chan error, n)
	start := make(chan struct{})
	for i := range n {
		ring, err := keys.Generate(filepath.Join(t.TempDir(), "keys", string(rune('a'+i))))
		if err != nil {
			t.Fatal(err)
		}
		st := open()
		go func() {
			<-start // all publish at the same moment
			_, err := keys.Publish(t.Context(), st, ring, t0)
			errs <- err
		}()
	}
	close(start)
	started := 0
	for range n {
		if err := <-errs; err == nil {
			started++
		} else if !errors.Is(err, keys.ErrMismatch) {
			t.Errorf("Publish: %v", err)
		}
	}
	if started > 1 {
		t.Fatalf("%d servers with different keys started on one database", started)
	}
}
