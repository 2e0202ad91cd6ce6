package auditlog_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/auditlog"
)

// tileSpy is a Service whose tiles can be altered and whose JSON entries
// reads are counted.
type tileSpy struct {
	*auditlog.Service
	entries atomic.Int64
	tile    func(path string, data []byte) ([]byte, error) // nil: as served
}

func (s *tileSpy) LogEntries(ctx context.Context, log string, start, end int64) ([]lockbox.LogEntry, error) {
	s.entries.Add(1)
	return s.Service.LogEntries(ctx, log, start, end)
}

func (s *tileSpy) ReadTile(ctx context.Context, log, path string) ([]byte, error) {
	data, err := s.Service.ReadTile(ctx, log, path)
	if err != nil || s.tile == nil {
		return data, err
	}
	return s.tile(path, append([]byte(nil), data...))
}

// appendMany appends records from..to-1 in one transaction.
func (e *env) appendMany(from, to int, tag string) {
	e.t.Helper()
	err := e.store.Update(e.t.Context(), func(tx lockbox.Tx) error {
		for i := from; i < to; i++ {
			if err := tx.AppendAudit(e.t.Context(), record(i, tag)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

// TestVerifyReadsTiles: a source that serves tiles is read through its
// entry bundles (a full one and a partial one, and from the middle of a
// bundle on an incremental run), not its JSON entries; a server without
// tiles is read through its entries; and a bundle that is not what it must
// be is a problem, never a pass.
func TestVerifyReadsTiles(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.appendMany(0, 300, "rec") // bundle 0 full, bundle 1 partial (44)
	flip := func(in string) func(string, []byte) ([]byte, error) {
		return func(path string, b []byte) ([]byte, error) {
			if path == in {
				b[len(b)-3] ^= 1 // inside the bundle's last record
			}
			return b, nil
		}
	}
	for _, tc := range []struct {
		name    string
		tile    func(string, []byte) ([]byte, error)
		entries bool     // the JSON entries are read
		want    []string // problem kinds; none: verifies
	}{
		{"Tiles", nil, false, nil},
		{"ServerWithoutTiles", func(string, []byte) ([]byte, error) {
			return nil, lockbox.Errorf(lockbox.ENOTFOUND, "This server does not serve tiles.")
		}, true, nil},
		{"TileUnavailable", func(string, []byte) ([]byte, error) {
			return nil, lockbox.Errorf(lockbox.EINTERNAL, "a record row is gone")
		}, true, nil},
		{"TrailingBytes", func(path string, b []byte) ([]byte, error) { return append(b, 0), nil }, false, []string{auditlog.ProblemBadEntry}},
		{"TruncatedBundle", func(path string, b []byte) ([]byte, error) { return b[:len(b)-1], nil }, false, []string{auditlog.ProblemBadEntry}},
		{"EntryMissing", func(path string, b []byte) ([]byte, error) {
			n := int(b[0])<<8 | int(b[1])
			return b[2+n:], nil
		}, false, []string{auditlog.ProblemBadEntry}},
		{"AlteredFullBundle", flip("tile/entries/000"), false, []string{auditlog.ProblemBadEntry, auditlog.ProblemRootMismatch}},
		{"AlteredPartialBundle", flip("tile/entries/001.p/44"), false, []string{auditlog.ProblemBadEntry, auditlog.ProblemRootMismatch}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := &tileSpy{Service: e.service(), tile: tc.tile}
			r, err := auditlog.Verify(lockbox.NewContextWithUser(t.Context(), auditor), src, "contoso", nil, auditlog.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := src.entries.Load() > 0; got != tc.entries {
				t.Errorf("JSON entries read: %t, want %t", got, tc.entries)
			}
			if tc.want == nil {
				if !r.OK() || r.Checked != 300 {
					t.Fatalf("ok=%t checked=%d:\n%s", r.OK(), r.Checked, messages(r))
				}
				return
			}
			if r.OK() || r.State != nil {
				t.Fatalf("an altered bundle verified")
			}
			for _, k := range kinds(r) {
				if !slices.Contains(tc.want, k) {
					t.Errorf("problem %q, want one of %v:\n%s", k, tc.want, messages(r))
				}
			}
		})
	}

	t.Run("IncrementalFromTheMiddleOfABundle", func(t *testing.T) {
		e := newEnv(t)
		dir := t.TempDir()
		e.appendMany(0, 300, "rec")
		if r := e.run(dir, e.service(), auditlog.Options{}); !r.OK() {
			t.Fatalf("first run:\n%s", messages(r))
		}
		e.appendMany(300, 530, "more") // from the middle of bundle 1 into bundle 2
		var mu sync.Mutex              // bundles are fetched ahead, concurrently
		var paths []string
		src := &tileSpy{Service: e.service(), tile: func(path string, b []byte) ([]byte, error) {
			mu.Lock()
			defer mu.Unlock()
			paths = append(paths, path)
			return b, nil
		}}
		r := e.run(dir, src, auditlog.Options{})
		if !r.OK() || !r.Incremental || r.Checked != 230 || src.entries.Load() != 0 {
			t.Fatalf("ok=%t incremental=%t checked=%d entries read %d:\n%s", r.OK(), r.Incremental, r.Checked, src.entries.Load(), messages(r))
		}
		slices.Sort(paths)
		if got := strings.Join(paths, " "); got != "tile/entries/001 tile/entries/002.p/18" {
			t.Errorf("read %s, want bundles 1 and 2 only", got)
		}
	})
}
