package lockboxtest

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/lockboxhq/lockbox"
)

// AuditRecords are n operator-action records of log, one second apart.
// More than 1000 take an export past its first store page, so it has sent
// bytes before its second read.
func AuditRecords(log string, n int) []*lockbox.AuditRecord {
	recs := make([]*lockbox.AuditRecord, n)
	for i := range recs {
		recs[i] = &lockbox.AuditRecord{ID: fmt.Sprintf("many-%05d", i), Time: time.Date(2031, 1, 1, 0, 0, i, 0, time.UTC),
			Tenant: log, RecordType: lockbox.RecordOperatorAction, Operation: lockbox.OpOperatorAction,
			UserID: "Provider Operator", AuditData: map[string]any{"resource": "mailbox/alice"}}
	}
	return recs
}

// AppendAudit appends recs straight through the store, in one transaction.
func AppendAudit(tb testing.TB, st lockbox.Store, recs ...*lockbox.AuditRecord) {
	tb.Helper()
	err := st.Update(context.Background(), func(tx lockbox.Tx) error {
		for _, r := range recs {
			if err := tx.AppendAudit(context.Background(), r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// CheckExportFailures downloads an audit CSV export with get (a real HTTP
// round trip) of a log holding at least 1500 records whose store is flaky:
// with the store up the file is complete; with it down from the start the
// answer is an error; with it going down after the first page the
// response, already begun with 200, is broken off, so reading it fails: a
// client never reads a complete-looking file.
func CheckExportFailures(t *testing.T, flaky *FlakyStore, get func(t *testing.T) *http.Response) {
	for _, tc := range []struct {
		name        string
		viewsBefore int // store reads that succeed; -1: all
		status      int
		complete    bool
	}{
		{"store up", -1, http.StatusOK, true},
		{"store down from the start", 0, http.StatusInternalServerError, true},
		{"store down after the first page", 1, http.StatusOK, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.viewsBefore >= 0 {
				flaky.FailViewsAfter(tc.viewsBefore)
			}
			res := get(t)
			defer res.Body.Close()
			body, err := io.ReadAll(res.Body)
			if res.StatusCode != tc.status || (err == nil) != tc.complete {
				t.Fatalf("status %d, reading the body: %v; want %d, complete %t", res.StatusCode, err, tc.status, tc.complete)
			}
			if lines := strings.Count(string(body), "\n"); tc.status == http.StatusOK && tc.complete && lines < 1501 {
				t.Errorf("a complete export of %d lines, want the header and at least 1500 records", lines)
			}
			if !tc.complete && len(body) == 0 {
				t.Errorf("nothing was sent before the failure: the test does not exercise a broken-off stream")
			}
		})
	}
}

// LogSigner is a fresh checkpoint signing key named lockbox-log and its
// verifier key.
func LogSigner(tb testing.TB) (note.Signer, string) {
	tb.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, "lockbox-log")
	if err != nil {
		tb.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		tb.Fatal(err)
	}
	return signer, vkey
}
