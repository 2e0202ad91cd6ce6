package lockbox

import (
	"bytes"
	"strconv"
	"testing"
)

// canonicalByDefinition is what CheckCanonical must agree with: the bytes
// parse, and the record they parse to encodes back to the same bytes.
func canonicalByDefinition(b []byte) (*AuditRecord, bool) {
	r, err := ParseAuditRecord(b)
	if err != nil {
		return nil, false
	}
	c, err := r.Canonical()
	return r, err == nil && bytes.Equal(c, b)
}

func checkAgainstDefinition(t *testing.T, b []byte) {
	t.Helper()
	h, err := CheckCanonical(b)
	r, want := canonicalByDefinition(b)
	if (err == nil) != want {
		t.Fatalf("CheckCanonical(%q): err %v, definition says canonical=%t", b, err, want)
	}
	if want && (string(h.ID) != r.ID || h.Index != r.Index || string(h.Tenant) != r.Tenant || string(h.Time) != r.Time.Format(AuditTimeFormat) ||
		string(h.RecordType) != r.RecordType || string(h.Operation) != r.Operation || string(h.User) != r.UserID) {
		t.Fatalf("CheckCanonical(%q) = %+v, record has id %q index %d tenant %q", b, h, r.ID, r.Index, r.Tenant)
	}
	if want && string(b[h.IndexStart:h.IndexEnd]) != strconv.FormatInt(r.Index, 10) {
		t.Fatalf("index located at %q", b[h.IndexStart:h.IndexEnd])
	}
}

func canonicalSeeds(t testing.TB) [][]byte {
	var out [][]byte
	for _, edit := range []func(*AuditRecord){
		func(*AuditRecord) {},
		func(r *AuditRecord) { r.AuditData = nil },
		func(r *AuditRecord) {
			r.AuditData = map[string]any{"b": []any{1, "x<y>&z", nil, 1.5e300, -0.25}, "a": map[string]any{"z": true, "y": false, "": []any{}}}
		},
		func(r *AuditRecord) { r.UserID = "Ann \"the admin\" \\ O'Neil\b\f\n\r\t\x00\x1f\x7f" },
		func(r *AuditRecord) { r.ID = "zoë ✓ \u2028\u2029 a\xffb" },
		func(r *AuditRecord) { r.Index = -12 },
		func(r *AuditRecord) { r.Index = 0 },
		func(r *AuditRecord) { r.AuditData = map[string]any{"é": "\u2028", "e\n": 1, "e": "<&>"} },
	} {
		r := sampleRecord()
		edit(r)
		b, err := r.Canonical()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func TestCheckCanonical(t *testing.T) {
	t.Parallel()
	for _, b := range canonicalSeeds(t) {
		checkAgainstDefinition(t, b) // one seed holds invalid UTF-8: not a fixed point
	}
	base := canonicalSeeds(t)[0]
	for name, b := range map[string]string{
		"trailing space":    string(base) + " ",
		"space after colon": string(bytes.Replace(base, []byte(`"id":"`), []byte(`"id": "`), 1)),
		"index leading 0":   string(bytes.Replace(base, []byte(`"index":41`), []byte(`"index":041`), 1)),
		"index -0":          string(bytes.Replace(base, []byte(`"index":41`), []byte(`"index":-0`), 1)),
		"index float":       string(bytes.Replace(base, []byte(`"index":41`), []byte(`"index":41.0`), 1)),
		"needless escape":   string(bytes.Replace(base, []byte(`contoso`), []byte(`c\u006fntoso`), 1)),
		"unsorted data":     `{"id":"a","index":1,"time":"2026-11-21T07:01:02.345Z","tenant":"c","record_type":"","operation":"","user_id":"","actor_type":"","client_ip":"","request_id":"","result":"","audit_data":{"b":1,"a":2}}`,
		"repeated key":      `{"id":"a","index":1,"time":"2026-11-21T07:01:02.345Z","tenant":"c","record_type":"","operation":"","user_id":"","actor_type":"","client_ip":"","request_id":"","result":"","audit_data":{"a":1,"a":2}}`,
		"null data":         `{"id":"a","index":1,"time":"2026-11-21T07:01:02.345Z","tenant":"c","record_type":"","operation":"","user_id":"","actor_type":"","client_ip":"","request_id":"","result":"","audit_data":null}`,
		"bad month":         `{"id":"a","index":1,"time":"2026-13-21T07:01:02.345Z","tenant":"c","record_type":"","operation":"","user_id":"","actor_type":"","client_ip":"","request_id":"","result":"","audit_data":{}}`,
		"upper hex escape":  `{"id":"\u001F","index":1,"time":"2026-11-21T07:01:02.345Z","tenant":"c","record_type":"","operation":"","user_id":"","actor_type":"","client_ip":"","request_id":"","result":"","audit_data":{}}`,
		"long newline":      `{"id":"\u000a","index":1,"time":"2026-11-21T07:01:02.345Z","tenant":"c","record_type":"","operation":"","user_id":"","actor_type":"","client_ip":"","request_id":"","result":"","audit_data":{}}`,
	} {
		if _, err := CheckCanonical([]byte(b)); err == nil {
			t.Errorf("%s: accepted %s", name, b)
		}
		checkAgainstDefinition(t, []byte(b))
	}
}

// FuzzCheckCanonical mutates canonical records and holds CheckCanonical to
// the definition, both ways.
func FuzzCheckCanonical(f *testing.F) {
	for _, b := range canonicalSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkAgainstDefinition(t, b) })
}

func BenchmarkCheckCanonical(b *testing.B) {
	leaf, _ := sampleRecord().Canonical()
	b.SetBytes(int64(len(leaf)))
	for b.Loop() {
		if _, err := CheckCanonical(leaf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLeafHash(b *testing.B) {
	leaf, _ := sampleRecord().Canonical()
	b.SetBytes(int64(len(leaf)))
	for b.Loop() {
		LeafHash(leaf)
	}
}
