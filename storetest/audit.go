package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lockboxhq/lockbox"
)

var auditTests = []test{
	{"IndexesPerLog", testAuditIndexesPerLog},
	{"RoundTrip", testAuditRoundTrip},
	{"Ranges", testAuditRanges},
	{"RollbackReturnsIndex", testAuditRollbackReturnsIndex},
	{"DuplicateID", testAuditDuplicateID},
	{"ConcurrentAppends", testAuditConcurrentAppends},
}

// testAuditIndexesPerLog: each log counts from 0 on its own, and the index
// is set on the record passed in.
func testAuditIndexesPerLog(t *testing.T, s lockbox.Store) {
	logs := []string{"contoso", lockbox.ProviderLog, "contoso", "fabrikam", "contoso", lockbox.ProviderLog}
	want := []int64{0, 0, 1, 0, 2, 1}
	for i, log := range logs {
		if got := MustAppendAudit(t, s, NewAuditRecord(log, fmt.Sprint("rec-", i))); got != want[i] {
			t.Errorf("append %d to %s: index %d, want %d", i, log, got, want[i])
		}
	}
	for log, size := range map[string]int64{"contoso": 3, lockbox.ProviderLog: 2, "fabrikam": 1, "northwind": 0} {
		if got := MustAuditSize(t, s, log); got != size {
			t.Errorf("AuditSize(%s) = %d, want %d", log, got, size)
		}
	}
}

// testAuditRoundTrip: the stored bytes are exactly the canonical encoding
// of the record with its assigned index, and decode back to the record.
func testAuditRoundTrip(t *testing.T, s lockbox.Store) {
	MustAppendAudit(t, s, NewAuditRecord("contoso", "rec-0"))
	want := NewAuditRecord("contoso", "rec-1")
	want.AuditData = map[string]any{"duration_minutes": 120, "note": "<b>&\"quoted\"</b>", "nested": map[string]any{"z": 1, "a": []any{"x"}}}
	want.ClientIP, want.RequestID = "", ""
	MustAppendAudit(t, s, want)
	wantBytes, err := want.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	got := MustAuditRecords(t, s, "contoso", 1, 2)
	if len(got) != 1 {
		t.Fatalf("AuditRecords = %d records, want 1", len(got))
	}
	gotBytes, err := got[0].Canonical()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(wantBytes, gotBytes) {
		t.Errorf("canonical bytes changed:\n got %s\nwant %s", gotBytes, wantBytes)
	}
	plain := NewAuditRecord("contoso", "rec-0")
	if diff := cmp.Diff(plain, MustAuditRecords(t, s, "contoso", 0, 1)[0]); diff != "" {
		t.Errorf("AuditRecords (-want +got):\n%s", diff)
	}
}

func testAuditRanges(t *testing.T, s lockbox.Store) {
	for i := range 5 {
		MustAppendAudit(t, s, NewAuditRecord("contoso", fmt.Sprint("c", i)))
		MustAppendAudit(t, s, NewAuditRecord("fabrikam", fmt.Sprint("f", i)))
	}
	tests := []struct {
		log        string
		start, end int64
		want       []string
	}{
		{"contoso", 0, 5, []string{"c0", "c1", "c2", "c3", "c4"}},
		{"contoso", 1, 3, []string{"c1", "c2"}},
		{"fabrikam", 4, 5, []string{"f4"}},
		{"contoso", 3, 100, []string{"c3", "c4"}},
		{"contoso", 2, 2, []string{}},
		{"contoso", 5, 10, []string{}},
		{"northwind", 0, 10, []string{}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s[%d,%d)", tt.log, tt.start, tt.end), func(t *testing.T) {
			got := []string{}
			for i, rec := range MustAuditRecords(t, s, tt.log, tt.start, tt.end) {
				got = append(got, rec.ID)
				if rec.Index != tt.start+int64(i) || rec.Tenant != tt.log {
					t.Errorf("record %s has index %d of log %s, want %d of %s", rec.ID, rec.Index, rec.Tenant, tt.start+int64(i), tt.log)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
		})
	}
}

// testAuditRollbackReturnsIndex: an append in a rolled-back transaction
// leaves no record and no gap.
func testAuditRollbackReturnsIndex(t *testing.T, s lockbox.Store) {
	MustAppendAudit(t, s, NewAuditRecord("contoso", "kept-0"))
	errAbort := errors.New("abort")
	err := s.Update(t.Context(), func(tx lockbox.Tx) error {
		if err := tx.AppendAudit(t.Context(), NewAuditRecord("contoso", "lost-1")); err != nil {
			return err
		}
		return errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Fatalf("Update = %v, want the abort error", err)
	}
	if got := MustAppendAudit(t, s, NewAuditRecord("contoso", "kept-1")); got != 1 {
		t.Errorf("index after a rolled-back append = %d, want 1", got)
	}
	if got := MustAuditSize(t, s, "contoso"); got != 2 {
		t.Errorf("AuditSize = %d, want 2", got)
	}
}

func testAuditDuplicateID(t *testing.T, s lockbox.Store) {
	MustAppendAudit(t, s, NewAuditRecord("contoso", "rec-0"))
	err := s.Update(t.Context(), func(tx lockbox.Tx) error {
		return tx.AppendAudit(t.Context(), NewAuditRecord("fabrikam", "rec-0"))
	})
	wantCode(t, err, lockbox.ECONFLICT)
	if got := MustAuditSize(t, s, "fabrikam"); got != 0 {
		t.Errorf("AuditSize after a refused append = %d, want 0", got)
	}
}

// testAuditConcurrentAppends: appends from many goroutines, each in its own
// transaction, to two logs: every index of each log is used exactly once,
// and each stored record carries the index it is stored under.
func testAuditConcurrentAppends(t *testing.T, s lockbox.Store) {
	const workers, each = 16, 25
	logs := []string{"contoso", "fabrikam"}
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				rec := NewAuditRecord(logs[(w+i)%2], fmt.Sprintf("w%02d-%02d", w, i))
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
		n := MustAuditSize(t, s, log)
		if n != workers*each/2 {
			t.Errorf("AuditSize(%s) = %d, want %d", log, n, workers*each/2)
		}
		for i, rec := range MustAuditRecords(t, s, log, 0, n) {
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
