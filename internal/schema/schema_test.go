package schema

import (
	"database/sql"
	"testing"
	"testing/fstest"

	"github.com/pressly/goose/v3"

	_ "modernc.org/sqlite" // a database for goose.NewProvider; never written
)

func TestRefuseNewer(t *testing.T) {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	fsys := fstest.MapFS{
		"00001_a.sql": {Data: []byte("-- +goose Up\nSELECT 1;\n")},
		"00003_c.sql": {Data: []byte("-- +goose Up\nSELECT 1;\n")},
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, fsys, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if got := Newest(p); got != 3 {
		t.Errorf("Newest = %d, want 3", got)
	}
	tests := []struct {
		name    string
		current int64
		want    string // "" for no error
	}{
		{"Empty", 0, ""},
		{"Older", 1, ""},
		{"Gap", 2, ""},
		{"Same", 3, ""},
		{"Newer", 4, "database schema version 4 is newer than this lockbox binary supports (3); upgrade lockbox"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := RefuseNewer(p, tt.current)
			if got := errString(err); got != tt.want {
				t.Errorf("RefuseNewer(%d) = %q, want %q", tt.current, got, tt.want)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
