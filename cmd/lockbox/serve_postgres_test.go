package main

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lockboxhq/lockbox/postgres"
)

func TestDisplayDatabase(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"lockbox-data/lockbox.db", "lockbox-data/lockbox.db"},
		{"postgres://lockbox:s3cret@db:5432/lockbox?sslmode=require", "postgres://lockbox:xxxxx@db:5432/lockbox?sslmode=require"},
		{"postgresql://db/lockbox?user=lb&password=s3cret", "postgresql://db/lockbox?password=xxxxx&user=lb"},
		{"postgres://db/lockbox", "postgres://db/lockbox"},
	}
	for _, tt := range tests {
		if got := displayDatabase(tt.in); got != tt.want || strings.Contains(got, "s3cret") {
			t.Errorf("displayDatabase(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestServeDatabaseFlags: flags win over the environment, the environment
// over the defaults, and a bad value is a usage error naming its source.
func TestServeDatabaseFlags(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		want    postgres.Options
		wantErr string
	}{
		{name: "Defaults", want: defaultServePool()},
		{name: "Env", env: map[string]string{"LOCKBOX_DB_MAX_OPEN_CONNS": "40", "LOCKBOX_DB_STATEMENT_TIMEOUT": "5s"},
			want: postgres.Options{MaxOpenConns: 40, ConnMaxLifetime: 30 * time.Minute, StatementTimeout: 5 * time.Second}},
		{name: "FlagWins", env: map[string]string{"LOCKBOX_DB_MAX_OPEN_CONNS": "40"}, args: []string{"--db-max-open-conns", "12"},
			want: postgres.Options{MaxOpenConns: 12, ConnMaxLifetime: 30 * time.Minute, StatementTimeout: 30 * time.Second}},
		{name: "BadEnv", env: map[string]string{"LOCKBOX_DB_STATEMENT_TIMEOUT": "soon"}, wantErr: "LOCKBOX_DB_STATEMENT_TIMEOUT"},
		{name: "ZeroConns", args: []string{"--db-max-open-conns", "0"}, wantErr: "--db-max-open-conns must be at least 2"},
		{name: "SmallPool", args: []string{"--db-max-open-conns", "4"},
			want: postgres.Options{MaxOpenConns: 4, ConnMaxLifetime: 30 * time.Minute, StatementTimeout: 30 * time.Second}},
		{name: "FewerIdle", args: []string{"--db-max-open-conns", "12", "--db-max-idle-conns", "3"},
			want: postgres.Options{MaxOpenConns: 12, MaxIdleConns: 3, ConnMaxLifetime: 30 * time.Minute, StatementTimeout: 30 * time.Second}},
		{name: "NegativeIdle", args: []string{"--db-max-idle-conns", "-1"}, wantErr: "--db-max-idle-conns must be at least 1"},
		// Several replicas on one busy tenant: one writer each.
		{name: "OneWriter", env: map[string]string{"LOCKBOX_DB_WRITERS": "1"},
			want: postgres.Options{MaxOpenConns: 20, ConnMaxLifetime: 30 * time.Minute, StatementTimeout: 30 * time.Second, Writers: 1}},
		{name: "AutoWriters", env: map[string]string{"LOCKBOX_DB_WRITERS": "3"}, args: []string{"--db-writers", "auto"},
			want: postgres.Options{MaxOpenConns: 20, ConnMaxLifetime: 30 * time.Minute, StatementTimeout: 30 * time.Second}},
		{name: "NoWriters", args: []string{"--db-writers", "0"}, wantErr: `invalid argument "0" for "--db-writers" flag: want auto or a number from 1 to 16`},
		{name: "TooManyWriters", args: []string{"--db-writers", "17"}, wantErr: "want auto or a number from 1 to 16"},
		{name: "BadWritersEnv", env: map[string]string{"LOCKBOX_DB_WRITERS": "many"}, wantErr: `LOCKBOX_DB_WRITERS="many" is not a valid count for --db-writers: invalid argument "many" for "--db-writers" flag: want auto or a number from 1 to 16`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseServe(tt.env, tt.args...)
			if err == nil {
				err = checkPool(&cfg.DB)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, cfg.DB); diff != "" {
				t.Errorf("pool options (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCheckPoolWriters: a configuration built in code (the benchmarks')
// meets the flag's range: 0 is auto, 1 to 16 fixed, anything else refused.
func TestCheckPoolWriters(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		writers int
		ok      bool
	}{{0, true}, {1, true}, {16, true}, {17, false}, {-1, false}} {
		o := defaultServePool()
		o.Writers = tc.writers
		if err := checkPool(&o); (err == nil) != tc.ok {
			t.Errorf("Writers %d: %v, want ok %v", tc.writers, err, tc.ok)
		}
	}
}
