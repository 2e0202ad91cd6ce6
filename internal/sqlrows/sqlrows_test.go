package sqlrows

import (
	"database/sql"
	"errors"
	"testing"

	"github.com/lockboxhq/lockbox"
)

func TestJSONList(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   []string
		want string
	}{
		{"Nil", nil, "[]"},
		{"Empty", []string{}, "[]"},
		{"Values", []string{"a", "b"}, `["a","b"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := JSONList(tt.in)
			if err != nil || got != tt.want {
				t.Errorf("JSONList(%#v) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseList(t *testing.T) {
	t.Parallel()
	got, err := ParseList[string]("[]")
	if err != nil || got == nil || len(got) != 0 {
		t.Errorf(`ParseList("[]") = %#v, %v; want a non-nil empty slice`, got, err)
	}
	got, err = ParseList[string](`["a","b"]`)
	if err != nil || len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Errorf(`ParseList(["a","b"]) = %#v, %v`, got, err)
	}
	if _, err := ParseList[string]("not json"); err == nil {
		t.Error("ParseList(not json) succeeded")
	}
}

func TestStringPtr(t *testing.T) {
	t.Parallel()
	if p := StringPtr(sql.Null[string]{}); p != nil {
		t.Errorf("StringPtr(NULL) = %q, want nil", *p)
	}
	if p := StringPtr(sql.Null[string]{V: "x", Valid: true}); p == nil || *p != "x" {
		t.Errorf("StringPtr(x) = %v, want x", p)
	}
}

type result struct {
	n   int64
	err error
}

func (r result) LastInsertId() (int64, error) { return 0, nil }
func (r result) RowsAffected() (int64, error) { return r.n, r.err }

func TestRowsAffected(t *testing.T) {
	t.Parallel()
	failed := errors.New("exec failed")
	if n, err := RowsAffected(nil, failed); n != 0 || err != failed {
		t.Errorf("RowsAffected(nil, err) = %d, %v; want 0, %v", n, err, failed)
	}
	if n, err := RowsAffected(result{n: 3}, nil); n != 3 || err != nil {
		t.Errorf("RowsAffected(3) = %d, %v; want 3, nil", n, err)
	}
}

func TestExpectRow(t *testing.T) {
	failed := errors.New("exec failed")
	wrapped := errors.New("wrapped")
	wrap := func(err error) error {
		if err != failed {
			t.Errorf("wrap(%v), want the statement's error", err)
		}
		return wrapped
	}
	tests := []struct {
		name     string
		res      sql.Result
		err      error
		wantErr  error  // exactly this error
		wantCode string // or an error with this code
	}{
		{"Changed", result{n: 1}, nil, nil, ""},
		{"NoRow", result{n: 0}, nil, nil, lockbox.ENOTFOUND},
		{"StatementFailed", nil, failed, wrapped, ""},
		{"CountFailed", result{err: failed}, nil, wrapped, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ExpectRow(tt.res, tt.err, wrap, "User %q not found.", "u1")
			switch {
			case tt.wantCode != "":
				if lockbox.ErrorCode(err) != tt.wantCode || lockbox.ErrorMessage(err) != `User "u1" not found.` {
					t.Errorf("ExpectRow = %v, want %s with the message", err, tt.wantCode)
				}
			case err != tt.wantErr:
				t.Errorf("ExpectRow = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

type fakeRow []any

func (r fakeRow) Scan(dest ...any) error {
	*dest[0].(*string) = r[0].(string)
	return nil
}

func TestValue(t *testing.T) {
	t.Parallel()
	if v, err := Value[string](fakeRow{"id"}); v != "id" || err != nil {
		t.Errorf("Value = %q, %v; want id, nil", v, err)
	}
}

type bytesRow struct {
	idx  int64
	data []byte
}

func (r bytesRow) Scan(dest ...any) error {
	if len(dest) == 2 {
		*dest[0].(*int64) = r.idx
		dest = dest[1:]
	}
	*dest[0].(*[]byte) = r.data
	return nil
}

func TestAuditRecord(t *testing.T) {
	want := &lockbox.AuditRecord{ID: "r1", Index: 4, Tenant: "contoso", AuditData: map[string]any{}}
	canonical, err := want.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	got, err := AuditRecord(bytesRow{data: canonical})
	if err != nil || got.ID != "r1" || got.Index != 4 || got.Tenant != "contoso" {
		t.Errorf("AuditRecord = %+v, %v; want the record back", got, err)
	}
	if _, err := AuditRecord(bytesRow{data: []byte("{not json")}); err == nil {
		t.Error("AuditRecord(not canonical JSON) succeeded")
	}
	e, err := LogEntry(bytesRow{idx: 4, data: canonical})
	if err != nil || e.Index != 4 || string(e.Data) != string(canonical) {
		t.Errorf("LogEntry = %d %s, %v; want 4 and the bytes untouched", e.Index, e.Data, err)
	}
}
