package pgtest

import "testing"

func TestSetParam(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ dsn, want string }{
		{"postgres://u@h:5432/db", "postgres://u@h:5432/db?search_path=s1"},
		{"postgres://u@h/db?sslmode=disable", "postgres://u@h/db?search_path=s1&sslmode=disable"},
		{"postgresql://u@h/db?search_path=old", "postgresql://u@h/db?search_path=s1"},
		{"host=h dbname=db", "host=h dbname=db search_path=s1"},
	} {
		got, err := SetParam(tt.dsn, "search_path", "s1")
		if err != nil || got != tt.want {
			t.Errorf("SetParam(%q) = %q, %v; want %q", tt.dsn, got, err, tt.want)
		}
	}
	if _, err := SetParam("postgres://u@h:bad/db", "search_path", "s1"); err == nil {
		t.Error("a DSN that is not a URL was taken")
	}
}
