package lockbox

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// canonicalReference is the definition Canonical must match: encoding/json
// over canonicalRecord, without HTML escaping or the trailing newline.
func canonicalReference(r *AuditRecord) ([]byte, error) {
	data := r.AuditData
	if data == nil {
		data = map[string]any{}
	}
	c := canonicalRecord{
		ID: r.ID, Index: r.Index, Time: r.Time.UTC().Format(AuditTimeFormat), Tenant: r.Tenant,
		RecordType: r.RecordType, Operation: r.Operation, UserID: r.UserID, ActorType: r.ActorType,
		ClientIP: r.ClientIP, RequestID: r.RequestID, Result: r.Result, AuditData: data,
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(c); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func sampleRecord() *AuditRecord {
	return &AuditRecord{ID: "0193f4c2-8a1e-7c3b-9d2f-5b7a1c9e4d10", Index: 41, Time: time.Date(2026, 11, 21, 7, 1, 2, 345678901, time.UTC),
		Tenant: "contoso", RecordType: RecordOperatorAction, Operation: OpOperatorAction, UserID: "operator@provider.test",
		ActorType: ActorProviderOperator, ClientIP: "203.0.113.7", RequestID: "0193f4c2-8a1e-7c3b-9d2f-5b7a1c9e4d11",
		Result: ResultSucceeded, AuditData: map[string]any{"resource": "mailbox:alice", "reference": "LB-7K3Q9MXA", "n": 3}}
}

func TestCanonicalMatchesReference(t *testing.T) {
	t.Parallel()
	for name, edit := range map[string]func(*AuditRecord){
		"plain":    func(*AuditRecord) {},
		"nil data": func(r *AuditRecord) { r.AuditData = nil },
		"nested data": func(r *AuditRecord) {
			r.AuditData = map[string]any{"b": []any{1, "x<y>&z", nil}, "a": map[string]any{"z": true}}
		},
		"quote":         func(r *AuditRecord) { r.UserID = `Ann "the admin" O'Neil` },
		"backslash":     func(r *AuditRecord) { r.Tenant = `c:\tenant` },
		"controls":      func(r *AuditRecord) { r.ID = "a\nb\tc\x00\x1f" },
		"html":          func(r *AuditRecord) { r.Operation = "<script>&amp;</script>" },
		"del":           func(r *AuditRecord) { r.Result = "x\x7fy" },
		"unicode":       func(r *AuditRecord) { r.UserID = "zoë@exämple.test ✓" },
		"line sep":      func(r *AuditRecord) { r.ClientIP = "a\u2028b\u2029c" },
		"invalid utf-8": func(r *AuditRecord) { r.RequestID = "a\xffb\xc3" },
		"negative":      func(r *AuditRecord) { r.Index = -1 },
		"zone":          func(r *AuditRecord) { r.Time = r.Time.In(time.FixedZone("x", 5*3600+1800)) },
		"empty strings": func(r *AuditRecord) { *r = AuditRecord{} },
	} {
		t.Run(name, func(t *testing.T) {
			r := sampleRecord()
			edit(r)
			checkCanonical(t, r)
		})
	}
}

func checkCanonical(t *testing.T, r *AuditRecord) {
	t.Helper()
	got, err := r.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	want, err := canonicalReference(r)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Canonical:\n got %s\nwant %s", got, want)
	}
}

func FuzzCanonical(f *testing.F) {
	f.Add("id", "contoso", "user@x", "203.0.113.7", "k", "v", int64(7))
	f.Add("\"\\\n", "\u2028", "\xff", "<&>", "\x7f", "é", int64(-3))
	f.Fuzz(func(t *testing.T, id, tenant, user, ip, key, value string, index int64) {
		r := sampleRecord()
		r.ID, r.Tenant, r.UserID, r.ClientIP, r.Index = id, tenant, user, ip, index
		r.AuditData = map[string]any{key: value}
		checkCanonical(t, r)
	})
}

func BenchmarkCanonical(b *testing.B) {
	r := sampleRecord()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Canonical(); err != nil {
			b.Fatal(err)
		}
	}
}
