package storetest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/lockboxhq/lockbox"
)

// Conformance of the stored entry bundles (lockbox.AuditLogTx.AuditBundle):
// each full bundle is stored by the append that fills it, byte for byte
// the c2sp.org/tlog-tiles encoding of its stored leaves, which is encoded
// here from the format, so a store cannot pass by agreeing with itself.
var bundleTests = []test{
	{"StoredWhenFilled", testBundlesStoredWhenFilled},
	{"NoneAfterRollback", testBundlesAfterRollback},
	{"UnderConcurrentAppends", testBundlesConcurrent},
	{"Fill", testBundlesFill},
	{"AppendRuns", testBundlesAppendRuns},
}

// bundleSize is the leaves of a full bundle (auditlog.BundleSize).
const bundleSize = 256

// refBundle is bundle n of log encoded from its stored leaves.
func refBundle(t *testing.T, s lockbox.Store, log string, n int64) []byte {
	t.Helper()
	var out []byte
	leaves := MustAuditLeaves(t, s, log, n*bundleSize, (n+1)*bundleSize)
	if len(leaves) != bundleSize {
		t.Fatalf("bundle %d of %s: %d leaves stored", n, log, len(leaves))
	}
	for _, e := range leaves {
		out = binary.BigEndian.AppendUint16(out, uint16(len(e.Data)))
		out = append(out, e.Data...)
	}
	return out
}

func mustBundle(t *testing.T, s lockbox.Store, log string, n int64) []byte {
	t.Helper()
	var data []byte
	err := s.View(t.Context(), func(tx lockbox.Tx) (err error) {
		data, err = tx.AuditBundle(t.Context(), log, n)
		return err
	})
	if err != nil {
		t.Fatalf("AuditBundle(%s, %d): %v", log, n, err)
	}
	return data
}

// checkBundles requires log's full bundles stored as their leaves say, and
// no other.
func checkBundles(t *testing.T, s lockbox.Store, log string) {
	t.Helper()
	size := MustAuditSize(t, s, log)
	for n := range size/bundleSize + 2 {
		got := mustBundle(t, s, log, n)
		if (n+1)*bundleSize > size {
			if got != nil {
				t.Errorf("bundle %d of %s (size %d) stored: %d bytes", n, log, size, len(got))
			}
			continue
		}
		if want := refBundle(t, s, log, n); !bytes.Equal(got, want) {
			t.Errorf("bundle %d of %s: %d bytes stored, want the %d of its leaves", n, log, len(got), len(want))
		}
	}
}

// appendInOne appends n records to each of logs in one Update.
func appendInOne(t *testing.T, s lockbox.Store, prefix string, n int, logs ...string) {
	t.Helper()
	err := s.Update(t.Context(), func(tx lockbox.Tx) error {
		for i := range n {
			for _, log := range logs {
				if err := tx.AppendAudit(t.Context(), NewAuditRecord(log, fmt.Sprintf("%s-%s-%d", prefix, log, i))); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// testBundlesStoredWhenFilled: bundles filled mid-Update, two in one Update,
// and in two logs at once are stored; partial ones are not.
func testBundlesStoredWhenFilled(t *testing.T, s lockbox.Store) {
	appendInOne(t, s, "a", 100, "contoso")
	appendInOne(t, s, "b", 200, "contoso")             // fills bundle 0 at its 156th
	appendInOne(t, s, "c", 500, "contoso", "fabrikam") // fills 1 and 2 of contoso, 0 of fabrikam
	checkBundles(t, s, "contoso")
	checkBundles(t, s, "fabrikam")
	if got := mustBundle(t, s, "northwind", 0); got != nil {
		t.Errorf("bundle of a log never written: %d bytes", len(got))
	}
	if mustBundle(t, s, "contoso", 2) == nil || mustBundle(t, s, "contoso", 3) != nil {
		t.Errorf("contoso (800 records): bundle 2 stored %t, 3 stored %t", mustBundle(t, s, "contoso", 2) != nil, mustBundle(t, s, "contoso", 3) != nil)
	}
}

// testBundlesAfterRollback: an Update that would have filled a bundle and
// fails stores none; the append that does fill it stores its own records.
func testBundlesAfterRollback(t *testing.T, s lockbox.Store) {
	appendInOne(t, s, "kept", 200, "contoso")
	errAbort := errors.New("abort")
	err := s.Update(t.Context(), func(tx lockbox.Tx) error {
		for i := range 100 {
			if err := tx.AppendAudit(t.Context(), NewAuditRecord("contoso", fmt.Sprint("lost-", i))); err != nil {
				return err
			}
		}
		return errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Fatalf("Update = %v, want the abort error", err)
	}
	if got := mustBundle(t, s, "contoso", 0); got != nil {
		t.Fatalf("bundle 0 stored by a rolled-back Update: %d bytes", len(got))
	}
	appendInOne(t, s, "after", 60, "contoso")
	checkBundles(t, s, "contoso")
	if b := mustBundle(t, s, "contoso", 0); !bytes.Contains(b, []byte(`"after-contoso-55"`)) || bytes.Contains(b, []byte(`"lost-`)) {
		t.Error("bundle 0 does not end with the record that filled it, or holds a rolled-back one")
	}
}

// testBundlesConcurrent: appends racing from many goroutines, one record an
// Update, still store each bundle as its leaves are.
func testBundlesConcurrent(t *testing.T, s lockbox.Store) {
	const workers, each = 8, 70
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				rec := NewAuditRecord("contoso", fmt.Sprintf("w%d-%d", w, i))
				errs <- s.Update(t.Context(), func(tx lockbox.Tx) error { return tx.AppendAudit(t.Context(), rec) })
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	checkBundles(t, s, "contoso")
}

// testBundlesFill: FillAuditBundle leaves a stored bundle as it is, stores
// nothing for a bundle the log has not filled, and runs only in Update.
func testBundlesFill(t *testing.T, s lockbox.Store) {
	appendInOne(t, s, "a", 300, "contoso")
	err := s.Update(t.Context(), func(tx lockbox.Tx) error {
		for _, k := range []struct {
			log string
			n   int64
		}{{"contoso", 0}, {"contoso", 1}, {"contoso", 7}, {"northwind", 0}} {
			if err := tx.FillAuditBundle(t.Context(), k.log, k.n); err != nil {
				return fmt.Errorf("FillAuditBundle(%s, %d): %w", k.log, k.n, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	checkBundles(t, s, "contoso")
	if got := mustBundle(t, s, "northwind", 0); got != nil {
		t.Errorf("bundle of a log never written: %d bytes", len(got))
	}
	err = s.View(t.Context(), func(tx lockbox.Tx) error { return tx.FillAuditBundle(t.Context(), "contoso", 0) })
	wantCode(t, err, lockbox.EINTERNAL)
}

// testBundlesAppendRuns: AppendAuditBundles appends the stored bundles of
// a range in order, after what dst holds, says each one's length, and
// stops where the log's full bundles end; another log's bundles are not
// read.
func testBundlesAppendRuns(t *testing.T, s lockbox.Store) {
	appendInOne(t, s, "a", 800, "contoso") // bundles 0, 1, 2 full
	appendInOne(t, s, "b", 300, "fabrikam")
	tests := []struct {
		log      string
		from, to int64
		want     []int64 // the bundles appended
	}{
		{"contoso", 0, 3, []int64{0, 1, 2}},
		{"contoso", 1, 2, []int64{1}},
		{"contoso", 1, 100, []int64{1, 2}},
		{"contoso", 3, 100, nil},
		{"contoso", 2, 2, nil},
		{"fabrikam", 0, 3, []int64{0}},
		{"northwind", 0, 3, nil},
	}
	for _, tt := range tests {
		want, wantLens := []byte("prefix"), []int(nil)
		for _, n := range tt.want {
			b := refBundle(t, s, tt.log, n)
			want, wantLens = append(want, b...), append(wantLens, len(b))
		}
		var got []byte
		var lens []int
		err := s.View(t.Context(), func(tx lockbox.Tx) (err error) {
			got, lens, err = tx.AppendAuditBundles(t.Context(), []byte("prefix"), tt.log, tt.from, tt.to)
			return err
		})
		if err != nil {
			t.Fatalf("AppendAuditBundles(%s, %d, %d): %v", tt.log, tt.from, tt.to, err)
		}
		if !bytes.Equal(got, want) || fmt.Sprint(lens) != fmt.Sprint(wantLens) {
			t.Errorf("AppendAuditBundles(%s, %d, %d) = %d bytes, lengths %v; want %d bytes, lengths %v",
				tt.log, tt.from, tt.to, len(got), lens, len(want), wantLens)
		}
	}
}
