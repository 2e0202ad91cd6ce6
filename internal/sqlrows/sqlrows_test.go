package sqlrows

import (
	"database/sql"
	"errors"
	"testing"
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
