package storetest

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/lockboxhq/lockbox"
)

// Conformance of lockbox.AuditLogTx and of the Merkle hashes AppendAudit
// stores. Reference values come from tlog over an in-memory copy of the
// leaves and from a plain recursive RFC 6962 tree hash written here, so a
// store cannot pass by agreeing with itself.
var auditLogTests = []test{
	{"StoredHashesMatchReference", testAuditStoredHashes},
	{"TreeHashEveryPrefix", testAuditTreeHashEveryPrefix},
	{"HashesAfterRollback", testAuditHashesAfterRollback},
	{"HashesUnderConcurrentAppends", testAuditHashesConcurrent},
	{"HashesOfManyAppendsInOneUpdate", testAuditHashesOneUpdate},
	{"ReadHashesBeyondSize", testAuditReadHashesBeyondSize},
	{"LeavesAreExactBytes", testAuditLeavesExact},
	{"SearchFilters", testAuditSearchFilters},
	{"SearchPagesWithCursor", testAuditSearchPages},
}

// RefTree is an in-memory log, tlog's reference for what a store keeps:
// every stored hash, computed from the leaves alone. It is a
// tlog.HashReader.
type RefTree struct{ Hashes []tlog.Hash }

func (r *RefTree) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(r.Hashes)) {
			return nil, fmt.Errorf("reference: no hash %d", x)
		}
		out[i] = r.Hashes[x]
	}
	return out, nil
}

// Add appends leaf n, whose canonical bytes are data; n must be the
// number of leaves added before.
func (r *RefTree) Add(n int64, data []byte) {
	hs, err := tlog.StoredHashes(n, data, r)
	if err != nil {
		panic(err)
	}
	r.Hashes = append(r.Hashes, hs...)
}

// Stored is the hashes record n stores, concatenated as its column holds
// them.
func (r *RefTree) Stored(n int64) []byte {
	var out []byte
	for _, h := range r.Hashes[tlog.StoredHashCount(n):tlog.StoredHashCount(n+1)] {
		out = append(out, h[:]...)
	}
	return out
}

// mth is RFC 6962 §2.1 MTH, written out: the reference root.
func mth(leaves [][]byte) [32]byte {
	switch len(leaves) {
	case 0:
		return sha256.Sum256(nil)
	case 1:
		return lockbox.LeafHash(leaves[0])
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	l, r := mth(leaves[:k]), mth(leaves[k:])
	return sha256.Sum256(append(append([]byte{1}, l[:]...), r[:]...))
}

// storeHashes is tlog.HashReader over a log of s, one View per call.
type storeHashes struct {
	tb  testing.TB
	s   lockbox.Store
	log string
}

func (h storeHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	var out []tlog.Hash
	err := h.s.View(h.tb.Context(), func(tx lockbox.Tx) error {
		hs, err := tx.ReadAuditHashes(h.tb.Context(), h.log, indexes)
		for _, x := range hs {
			out = append(out, x)
		}
		return err
	})
	return out, err
}

// MustAuditLeaves reads a log's exact leaves with start <= index < end.
func MustAuditLeaves(tb testing.TB, s lockbox.Store, log string, start, end int64) []lockbox.LogEntry {
	tb.Helper()
	var out []lockbox.LogEntry
	MustView(tb, s, func(tx lockbox.Tx) (err error) {
		out, err = tx.AuditLeaves(tb.Context(), log, start, end)
		return err
	})
	return out
}

// appendN appends n records to log, with ids prefix-0, prefix-1, …
func appendN(tb testing.TB, s lockbox.Store, log, prefix string, n int) {
	for i := range n {
		MustAppendAudit(tb, s, NewAuditRecord(log, fmt.Sprintf("%s-%d", prefix, i)))
	}
}

// CheckAuditHashes compares every stored hash of log against tlog's
// reference computed from the stored leaves.
func CheckAuditHashes(t *testing.T, s lockbox.Store, log string) {
	t.Helper()
	checkHashes(t, s, log)
}

// checkHashes compares every stored hash of log against tlog's reference
// computed from the stored leaves.
func checkHashes(t *testing.T, s lockbox.Store, log string) {
	t.Helper()
	n := MustAuditSize(t, s, log)
	ref := &RefTree{}
	for i, e := range MustAuditLeaves(t, s, log, 0, n) {
		ref.Add(int64(i), e.Data)
	}
	indexes := make([]int64, len(ref.Hashes))
	for i := range indexes {
		indexes[i] = int64(i)
	}
	got, err := storeHashes{t, s, log}.ReadHashes(indexes)
	if err != nil {
		t.Fatalf("ReadAuditHashes(%s, all %d): %v", log, len(indexes), err)
	}
	for i := range ref.Hashes {
		if got[i] != ref.Hashes[i] {
			t.Fatalf("%s: stored hash %d = %x, want %x", log, i, got[i][:4], ref.Hashes[i][:4])
		}
	}
}

// testAuditStoredHashes: after 37 appends to two interleaved logs, every
// stored hash of each log is tlog's, in any order asked, repeats included.
func testAuditStoredHashes(t *testing.T, s lockbox.Store) {
	for i := range 37 {
		MustAppendAudit(t, s, NewAuditRecord("contoso", fmt.Sprint("c-", i)))
		if i%3 == 0 {
			MustAppendAudit(t, s, NewAuditRecord("fabrikam", fmt.Sprint("f-", i)))
		}
	}
	checkHashes(t, s, "contoso")
	checkHashes(t, s, "fabrikam")
	idx := []int64{tlog.StoredHashIndex(5, 0), 0, tlog.StoredHashIndex(0, 36), 0, tlog.StoredHashIndex(2, 3)}
	ref := &RefTree{}
	for i, e := range MustAuditLeaves(t, s, "contoso", 0, 37) {
		ref.Add(int64(i), e.Data)
	}
	want, _ := ref.ReadHashes(idx)
	got, err := storeHashes{t, s, "contoso"}.ReadHashes(idx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ReadAuditHashes(out of order, repeated) (-want +got):\n%s", diff)
	}
}

// testAuditTreeHashEveryPrefix: tlog.TreeHash over the stored hashes equals
// the written-out RFC 6962 root for every size, so a checkpoint of any size
// can be served from O(log n) reads.
func testAuditTreeHashEveryPrefix(t *testing.T, s lockbox.Store) {
	const n = 20
	appendN(t, s, "contoso", "r", n)
	var leaves [][]byte
	for _, e := range MustAuditLeaves(t, s, "contoso", 0, n) {
		leaves = append(leaves, e.Data)
	}
	for size := 1; size <= n; size++ {
		got, err := tlog.TreeHash(int64(size), storeHashes{t, s, "contoso"})
		if err != nil {
			t.Fatalf("TreeHash(%d): %v", size, err)
		}
		if want := mth(leaves[:size]); got != tlog.Hash(want) {
			t.Errorf("TreeHash(%d) = %x, want %x", size, got[:4], want[:4])
		}
	}
}

// testAuditHashesAfterRollback: a rolled-back append leaves no hashes
// behind, and the next append's hashes build on the kept records only.
func testAuditHashesAfterRollback(t *testing.T, s lockbox.Store) {
	appendN(t, s, "contoso", "kept", 3)
	errAbort := errors.New("abort")
	err := s.Update(t.Context(), func(tx lockbox.Tx) error {
		if err := tx.AppendAudit(t.Context(), NewAuditRecord("contoso", "lost")); err != nil {
			return err
		}
		return errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Fatalf("Update = %v, want the abort error", err)
	}
	appendN(t, s, "contoso", "after", 2)
	checkHashes(t, s, "contoso")
}

// testAuditHashesConcurrent: appends racing from many goroutines still
// leave each log a correct tree (each append's hashes read its
// predecessors' in its own transaction).
func testAuditHashesConcurrent(t *testing.T, s lockbox.Store) {
	const workers, each = 12, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				rec := NewAuditRecord([]string{"contoso", "fabrikam"}[(w+i)%2], fmt.Sprintf("w%d-%d", w, i))
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
	checkHashes(t, s, "contoso")
	checkHashes(t, s, "fabrikam")
}

// testAuditHashesOneUpdate: many appends to two logs in one transaction,
// interleaved, on top of records already stored, get consecutive indexes
// in append order (known once Update returns) and a correct tree each:
// every append builds on the head the previous one left.
func testAuditHashesOneUpdate(t *testing.T, s lockbox.Store) {
	appendN(t, s, "contoso", "before", 5)
	var recs []*lockbox.AuditRecord
	MustUpdate(t, s, func(tx lockbox.Tx) error {
		for i := range 19 {
			rec := NewAuditRecord([]string{"contoso", "contoso", "fabrikam"}[i%3], fmt.Sprint("one-", i))
			if err := tx.AppendAudit(t.Context(), rec); err != nil {
				return err
			}
			recs = append(recs, rec)
		}
		return nil
	})
	next := map[string]int64{"contoso": 5, "fabrikam": 0}
	for _, rec := range recs {
		if rec.Index != next[rec.Tenant] {
			t.Errorf("%s: index %d, want %d", rec.ID, rec.Index, next[rec.Tenant])
		}
		next[rec.Tenant]++
	}
	checkHashes(t, s, "contoso")
	checkHashes(t, s, "fabrikam")
}

// testAuditReadHashesBeyondSize: a hash no record has stored yet is an
// error, never a zero hash a proof would silently use.
func testAuditReadHashesBeyondSize(t *testing.T, s lockbox.Store) {
	appendN(t, s, "contoso", "r", 3) // stores hashes 0..3 (leaf 2 completes nothing)
	for _, idx := range []int64{tlog.StoredHashIndex(0, 3), tlog.StoredHashIndex(2, 0), tlog.StoredHashIndex(0, 100)} {
		if _, err := (storeHashes{t, s, "contoso"}).ReadHashes([]int64{idx}); err == nil {
			t.Errorf("ReadAuditHashes(%d) of a 3-record log succeeded", idx)
		}
		if _, err := (storeHashes{t, s, "fabrikam"}).ReadHashes([]int64{0}); err == nil {
			t.Errorf("ReadAuditHashes(0) of an empty log succeeded")
		}
	}
}

// testAuditLeavesExact: leaves are the canonical bytes with their index,
// and ranges behave like AuditRecords'.
func testAuditLeavesExact(t *testing.T, s lockbox.Store) {
	var want []lockbox.LogEntry
	for i := range 4 {
		rec := NewAuditRecord("contoso", fmt.Sprint("r-", i))
		rec.AuditData = map[string]any{"html": "<b>&</b>", "n": i}
		MustAppendAudit(t, s, rec)
		b, err := rec.Canonical()
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, lockbox.LogEntry{Index: int64(i), Data: b})
	}
	if diff := cmp.Diff(want, MustAuditLeaves(t, s, "contoso", 0, 4)); diff != "" {
		t.Errorf("AuditLeaves(0,4) (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want[1:3], MustAuditLeaves(t, s, "contoso", 1, 3)); diff != "" {
		t.Errorf("AuditLeaves(1,3) (-want +got):\n%s", diff)
	}
	if got := MustAuditLeaves(t, s, "contoso", 4, 10); len(got) != 0 {
		t.Errorf("AuditLeaves(4,10) = %d entries, want 0", len(got))
	}
	if !bytes.Contains(want[0].Data, []byte("<b>&</b>")) {
		t.Errorf("canonical bytes escape HTML: %s", want[0].Data)
	}
}

// searchFixture appends to contoso: at T0+i minutes, record "s-i" with an
// operation, user, request and type varying with i; fabrikam gets the same
// so that isolation is checked by every case.
func searchFixture(t *testing.T, s lockbox.Store, n int) {
	ops := []string{lockbox.OpRequestCreated, lockbox.OpRequestApproved, lockbox.OpOperatorAction}
	types := []string{lockbox.RecordLockboxRequest, lockbox.RecordLockboxDecision, lockbox.RecordOperatorAction}
	users := []string{"operator@provider.test", "approver@contoso.test"}
	for i := range n {
		for _, log := range []string{"contoso", "fabrikam"} {
			rec := NewAuditRecord(log, fmt.Sprintf("%s-s-%d", log, i))
			rec.Time = T0.Truncate(time.Millisecond).Add(time.Duration(i) * time.Minute)
			rec.Operation, rec.RecordType = ops[i%3], types[i%3]
			rec.UserID = users[i%2]
			rec.RequestID = fmt.Sprintf("req-%d", i/4)
			MustAppendAudit(t, s, rec)
		}
	}
}

func searchIDs(t *testing.T, s lockbox.Store, q lockbox.AuditQuery) []string {
	t.Helper()
	var recs []*lockbox.AuditRecord
	var leaves []lockbox.LogEntry
	MustView(t, s, func(tx lockbox.Tx) (err error) {
		if recs, err = tx.SearchAudit(t.Context(), q); err != nil {
			return err
		}
		leaves, err = tx.SearchAuditLeaves(t.Context(), q)
		return err
	})
	// SearchAuditLeaves is the same search, undecoded.
	if len(leaves) != len(recs) {
		t.Fatalf("SearchAuditLeaves: %d leaves, SearchAudit %d records", len(leaves), len(recs))
	}
	for i, r := range recs {
		if b, _ := r.Canonical(); leaves[i].Index != r.Index || string(leaves[i].Data) != string(b) {
			t.Errorf("SearchAuditLeaves[%d] = %d %s, want %d %s", i, leaves[i].Index, leaves[i].Data, r.Index, b)
		}
	}
	ids := []string{}
	for _, r := range recs {
		if r.Tenant != q.Log {
			t.Errorf("SearchAudit(%s) returned record %s of log %s", q.Log, r.ID, r.Tenant)
		}
		ids = append(ids, r.ID)
	}
	return ids
}

func sids(log string, nums ...int) []string {
	out := []string{}
	for _, n := range nums {
		out = append(out, fmt.Sprintf("%s-s-%d", log, n))
	}
	return out
}

func testAuditSearchFilters(t *testing.T, s lockbox.Store) {
	searchFixture(t, s, 12)
	at := func(min int) *time.Time {
		return ptr(T0.Truncate(time.Millisecond).Add(time.Duration(min) * time.Minute))
	}
	tests := []struct {
		name string
		q    lockbox.AuditQuery
		want []string
	}{
		{"All", lockbox.AuditQuery{}, sids("contoso", 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0)},
		{"Limit", lockbox.AuditQuery{Limit: 3}, sids("contoso", 11, 10, 9)},
		{"StartInclusive", lockbox.AuditQuery{Start: at(9)}, sids("contoso", 11, 10, 9)},
		{"EndExclusive", lockbox.AuditQuery{End: at(2)}, sids("contoso", 1, 0)},
		{"Window", lockbox.AuditQuery{Start: at(3), End: at(6)}, sids("contoso", 5, 4, 3)},
		{"Operation", lockbox.AuditQuery{Operations: []string{lockbox.OpOperatorAction}}, sids("contoso", 11, 8, 5, 2)},
		{"Operations", lockbox.AuditQuery{Operations: []string{lockbox.OpOperatorAction, lockbox.OpRequestCreated}, Start: at(6)}, sids("contoso", 11, 9, 8, 6)},
		{"User", lockbox.AuditQuery{Users: []string{"approver@contoso.test"}, End: at(6)}, sids("contoso", 5, 3, 1)},
		{"Users", lockbox.AuditQuery{Users: []string{"approver@contoso.test", "operator@provider.test"}, Limit: 2}, sids("contoso", 11, 10)},
		{"RequestID", lockbox.AuditQuery{RequestID: "req-1"}, sids("contoso", 7, 6, 5, 4)},
		{"RecordType", lockbox.AuditQuery{RecordType: lockbox.RecordLockboxDecision}, sids("contoso", 10, 7, 4, 1)},
		{"Combined", lockbox.AuditQuery{RecordType: lockbox.RecordLockboxDecision, Users: []string{"approver@contoso.test"}, RequestID: "req-1"}, sids("contoso", 7)},
		{"NothingMatches", lockbox.AuditQuery{Operations: []string{lockbox.OpWebhookCreated}}, sids("contoso")},
		{"OtherLogEmpty", lockbox.AuditQuery{Log: "northwind"}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.q.Log == "" {
				tt.q.Log = "contoso"
			}
			if tt.q.Limit == 0 {
				tt.q.Limit = 100
			}
			if diff := cmp.Diff(tt.want, searchIDs(t, s, tt.q)); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
		})
	}
}

// testAuditSearchPages: equal times are ordered by index, and the keyset
// cursor (time, index) walks every record exactly once, newest first.
func testAuditSearchPages(t *testing.T, s lockbox.Store) {
	for i := range 7 {
		rec := NewAuditRecord("contoso", fmt.Sprint("p-", i))
		rec.Time = T0.Truncate(time.Millisecond).Add(time.Duration(i/3) * time.Second) // three share each time
		MustAppendAudit(t, s, rec)
	}
	var got []string
	q := lockbox.AuditQuery{Log: "contoso", Limit: 2}
	for page := 0; page < 10; page++ {
		var recs []*lockbox.AuditRecord
		MustView(t, s, func(tx lockbox.Tx) (err error) {
			recs, err = tx.SearchAudit(t.Context(), q)
			return err
		})
		for _, r := range recs {
			got = append(got, r.ID)
		}
		if len(recs) < q.Limit {
			break
		}
		last := recs[len(recs)-1]
		q.BeforeTime, q.BeforeIndex = &last.Time, last.Index
	}
	want := []string{"p-6", "p-5", "p-4", "p-3", "p-2", "p-1", "p-0"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("paged ids (-want +got):\n%s", diff)
	}
}
