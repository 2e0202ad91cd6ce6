package auditlog_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/auditlog"
)

func TestDefuseCSVCell(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain", "plain"},
		{"=SUM(A1:A2)", "'=SUM(A1:A2)"},
		{"+1", "'+1"},
		{"-1", "'-1"},
		{"@cmd", "'@cmd"},
		{"\tx", "'\tx"},
		{"\rx", "'\rx"},
		{"a=b", "a=b"},
		{" =x", " =x"},
		{"'already", "'already"},
	}
	for _, tt := range tests {
		if got := auditlog.DefuseCSVCell(tt.in); got != tt.want {
			t.Errorf("DefuseCSVCell(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// exporter yields recs, failing with err before record failAt (never when
// failAt < 0).
type exporter struct {
	recs   []*lockbox.AuditRecord
	failAt int
	err    error
}

func (x exporter) ExportAudit(_ context.Context, _ string, _ lockbox.AuditFilter, fn func(*lockbox.AuditRecord) error) error {
	for i, r := range x.recs {
		if i == x.failAt {
			return x.err
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

// csvRecord has every kind of content the CSV layer must keep exactly: a
// formula, quotes, a comma, a newline, HTML and non-ASCII text.
var csvRecord = &lockbox.AuditRecord{ID: "rec-1", Index: 7, Time: time.Date(2030, 1, 2, 3, 4, 5, 678_901_000, time.UTC),
	Tenant: "contoso", RecordType: lockbox.RecordLockboxDecision, Operation: lockbox.OpRequestApproved,
	UserID: "=HYPERLINK(\"x\")", ActorType: lockbox.ActorTenantUser, Result: lockbox.ResultSucceeded,
	AuditData: map[string]any{"comment": "a, \"b\"\n<i>&é"}}

const csvRecordRow = `rec-1,2030-01-02T03:04:05.678Z,LockboxDecision,request.approved,"'=HYPERLINK(""x"")","{""id"":""rec-1"",""index"":7,""time"":""2030-01-02T03:04:05.678Z"",""tenant"":""contoso"",""record_type"":""LockboxDecision"",""operation"":""request.approved"",""user_id"":""=HYPERLINK(\""x\"")"",""actor_type"":""tenant_user"",""client_ip"":"""",""request_id"":"""",""result"":""Succeeded"",""audit_data"":{""comment"":""a, \""b\""\n<i>&é""}}"` + "\n"

const csvHeaderLine = "RecordId,CreationDate,RecordType,Operation,UserId,AuditData\n"

// TestExportCSV: the header, one defused row per record with the record's
// canonical bytes as AuditData, nothing written before the first record is
// read, and a failure after that marked as a cut-short export.
func TestExportCSV(t *testing.T) {
	storeDown := errors.New("store down")
	tests := []struct {
		name      string
		src       exporter
		want      string // the bytes written
		started   bool
		cutShort  bool
		wantError error
	}{
		{"records", exporter{recs: []*lockbox.AuditRecord{csvRecord, csvRecord}, failAt: -1},
			csvHeaderLine + csvRecordRow + csvRecordRow, true, false, nil},
		{"no records", exporter{failAt: -1}, csvHeaderLine, true, false, nil},
		{"fails before the first record", exporter{recs: []*lockbox.AuditRecord{csvRecord}, failAt: 0, err: storeDown},
			"", false, false, storeDown},
		{"fails after a record", exporter{recs: []*lockbox.AuditRecord{csvRecord, csvRecord}, failAt: 1, err: storeDown},
			csvHeaderLine + csvRecordRow, true, true, storeDown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			var starts []string
			err := auditlog.ExportCSV(t.Context(), tt.src, "contoso", lockbox.AuditFilter{}, func(contentType, filename string) io.Writer {
				starts = append(starts, contentType+" "+filename)
				return &buf
			})
			if !errors.Is(err, tt.wantError) || errors.Is(err, auditlog.ErrExportCutShort) != tt.cutShort {
				t.Errorf("error %v, want %v (cut short: %t)", err, tt.wantError, tt.cutShort)
			}
			var wantStarts []string
			if tt.started {
				wantStarts = []string{"text/csv; charset=utf-8 audit-contoso.csv"}
			}
			if diff := cmp.Diff(wantStarts, starts); diff != "" {
				t.Errorf("start calls (-want +got):\n%s", diff)
			}
			// A cut-short export holds at most the rows read before the
			// failure (the CSV writer buffers, so perhaps fewer).
			if got := buf.String(); got != tt.want && !(tt.cutShort && strings.HasPrefix(tt.want, got)) {
				t.Errorf("written (-want +got):\n%s", cmp.Diff(tt.want, got))
			}
		})
	}
}

// recordsOnly hides the Service's leaf export: ExportCSV then encodes each
// decoded record.
type recordsOnly struct{ auditlog.Exporter }

// TestExportCSVFromStoredBytes: the export a Service streams from stored
// bytes is byte for byte the one made from decoded records, for records
// with every kind of content the CSV layer must keep, filtered or not.
func TestExportCSVFromStoredBytes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for i, user := range []string{"=HYPERLINK(\"x\")", " lead", "a,b", "line\nbreak", "\\.", "zoë ✓", "-1", "\tx", "plain"} {
		r := record(i, "csv")
		r.UserID, r.AuditData = user, map[string]any{"comment": "a, \"b\"\n<i>&é", "n": i}
		if err := e.store.Update(t.Context(), func(tx lockbox.Tx) error { return tx.AppendAudit(t.Context(), r) }); err != nil {
			t.Fatal(err)
		}
	}
	e.append(100, 2600, "many") // several pages of the export
	export := func(src auditlog.Exporter, f lockbox.AuditFilter) string {
		var buf bytes.Buffer
		err := auditlog.ExportCSV(e.ctx(), src, "contoso", f, func(string, string) io.Writer { return &buf })
		if err != nil {
			t.Fatal(err)
		}
		return buf.String()
	}
	for _, f := range []lockbox.AuditFilter{{}, {Users: []string{"a,b", "zoë ✓"}}} {
		fast, slow := export(e.service(), f), export(recordsOnly{e.service()}, f)
		if fast != slow {
			t.Errorf("filter %+v: the export from stored bytes differs from the one from records:\n%s", f, cmp.Diff(slow, fast))
		}
		if f.Users == nil && strings.Count(fast, "\n") < 2509 {
			t.Errorf("export of %d lines", strings.Count(fast, "\n"))
		}
	}
}
