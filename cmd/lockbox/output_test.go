package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/lockboxhq/lockbox"
)

func TestTableCSVDefusesEveryCell(t *testing.T) {
	t.Parallel()
	tbl := newTable("=HEADER", "B")
	tbl.add("=1+1", "ok")
	tbl.add("@SUM(1)", "-2\nsecond line")
	var buf bytes.Buffer
	if err := tbl.writeCSV(&buf); err != nil {
		t.Fatal(err)
	}
	got, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"'=HEADER", "B"}, {"'=1+1", "ok"}, {"'@SUM(1)", "'-2\nsecond line"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("CSV (-want +got):\n%s", diff)
	}
}

func TestTableText(t *testing.T) {
	t.Parallel()
	tbl := newTable("NAME", "VALUE")
	tbl.add("a", "")
	tbl.add("longer", "x\ty")
	var buf bytes.Buffer
	if err := tbl.writeText(&buf); err != nil {
		t.Fatal(err)
	}
	want := "NAME    VALUE\na       -\nlonger  x\\ty\n"
	if diff := cmp.Diff(want, buf.String()); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
}

func TestSanitize(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{"Plain", "hello, wörld", "hello, wörld"},
		{"Newline", "a\nb", `a\nb`},
		{"ANSIEscape", "\x1b[31mred", `\x1b[31mred`},
		{"BidiOverride", "abc\u202Edef", `abc\u202edef`},
		{"InvalidUTF8", "a\xffb", "a\uFFFDb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sanitize(tt.in); got != tt.want {
				t.Errorf("sanitize(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestFormatMinutes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   int
		want string
	}{{0, "0m"}, {1, "1m"}, {45, "45m"}, {60, "1h"}, {90, "1h30m"}, {240, "4h"}, {720, "12h"}, {10080, "168h"}}
	for _, tt := range tests {
		if got := formatMinutes(tt.in); got != tt.want {
			t.Errorf("formatMinutes(%d) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRequestSummary(t *testing.T) {
	t.Parallel()
	starts, ends := t0.Add(time.Hour), t0.Add(3*time.Hour)
	tests := []struct {
		name string
		mod  func(r *lockbox.AccessRequest)
		want string
	}{
		{"PendingReview", func(*lockbox.AccessRequest) {}, "LB-7K3Q9MXA pending_review (expires 2026-11-21T21:00:00Z)"},
		{"Approved", func(r *lockbox.AccessRequest) {
			r.Status, r.AccessStartsAt, r.AccessEndsAt = lockbox.StatusApproved, &starts, &ends
		}, "LB-7K3Q9MXA approved (access from 2026-11-21T10:00:00Z until 2026-11-21T12:00:00Z)"},
		{"Active", func(r *lockbox.AccessRequest) {
			r.Status, r.AccessStartsAt, r.AccessEndsAt = lockbox.StatusActive, &starts, &ends
		}, "LB-7K3Q9MXA active (access until 2026-11-21T12:00:00Z)"},
		{"Terminal", func(r *lockbox.AccessRequest) { r.Status = lockbox.StatusRevoked }, "LB-7K3Q9MXA revoked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := sampleRequest()
			tt.mod(r)
			if got := requestSummary(r); got != tt.want {
				t.Errorf("requestSummary = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestRequestFieldsComplete checks that show and CSV carry every field of
// the API object, so a field added to AccessRequest is not silently dropped.
func TestRequestFieldsComplete(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(sampleRequest())
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if err := json.Unmarshal(b, &obj); err != nil {
		t.Fatal(err)
	}
	var want, got []string
	for k := range obj {
		want = append(want, k)
	}
	for _, f := range requestFields {
		got = append(got, f.name)
	}
	slices.Sort(want)
	slices.Sort(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("requestFields vs the API object's fields (-api +requestFields):\n%s", diff)
	}
}

func TestRequestsCSV(t *testing.T) {
	t.Parallel()
	r := sampleRequest()
	r.Reason = "=HYPERLINK(\"http://evil\")"
	comment := "+ok"
	r.DecisionComment = &comment
	var buf bytes.Buffer
	if err := requestsCSV([]*lockbox.AccessRequest{r}).writeCSV(&buf); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("got %d rows, want header + 1", len(rows))
	}
	row := map[string]string{}
	for i, h := range rows[0] {
		row[h] = rows[1][i]
	}
	want := map[string]string{
		"reference": "LB-7K3Q9MXA", "reason": "'=HYPERLINK(\"http://evil\")", "decision_comment": "'+ok",
		"duration_minutes": "120", "start_time": "", "created_at": "2026-11-21T09:00:00Z",
		"operations": "Get-MailboxStatistics, Repair-Mailbox",
	}
	for k, v := range want {
		if row[k] != v {
			t.Errorf("column %s = %q, want %q", k, row[k], v)
		}
	}
}
