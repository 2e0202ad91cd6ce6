package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// parseServe reads the serve flags from args and then env, as a run of
// `lockbox serve` does before it starts, and returns the configuration.
func parseServe(env map[string]string, args ...string) (serverConfig, error) {
	var cfg serverConfig
	cmd := &cobra.Command{Use: "serve"}
	addServeFlags(cmd, &cfg)
	if err := cmd.ParseFlags(args); err != nil {
		return cfg, err
	}
	return cfg, applyEnv(cmd, func(k string) string { return env[k] })
}

// TestServeEnv: every variable sets its flag, parsed as the flag parses
// it; the command line wins; an empty variable is unset.
func TestServeEnv(t *testing.T) {
	defaults, err := parseServe(nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want func(*serverConfig)
	}{
		{"Defaults", nil, nil, func(*serverConfig) {}},
		{"Strings", map[string]string{"LOCKBOX_LISTEN": "0.0.0.0:9090", "LOCKBOX_DATABASE": "/var/lib/lb.db",
			"LOCKBOX_KEY_DIR": "/etc/lb/keys", "LOCKBOX_SMTP_URL": "smtp://u:p@mail:587", "LOCKBOX_EXTERNAL_URL": "https://lb.example"},
			nil, func(c *serverConfig) {
				c.Listen, c.Database, c.KeyDir = "0.0.0.0:9090", "/var/lib/lb.db", "/etc/lb/keys"
				c.Notify.SMTPURL, c.Web.ExternalURL = "smtp://u:p@mail:587", "https://lb.example"
			}},
		{"Durations", map[string]string{"LOCKBOX_WORKER_POLL": "250ms", "LOCKBOX_SESSION_IDLE": "15m", "LOCKBOX_SESSION_MAX": "8h"},
			nil, func(c *serverConfig) {
				c.WorkerPoll, c.Web.IdleTimeout, c.Web.MaxSession = 250*time.Millisecond, 15*time.Minute, 8*time.Hour
			}},
		{"BoolTrue", map[string]string{"LOCKBOX_DEV": "1", "LOCKBOX_ALLOW_PRIVATE_WEBHOOKS": "TRUE"}, nil,
			func(c *serverConfig) { c.Dev, c.Notify.AllowPrivateWebhooks = true, true }},
		{"BoolFalse", map[string]string{"LOCKBOX_DEV": "f", "LOCKBOX_ALLOW_PRIVATE_WEBHOOKS": "False"}, nil, func(*serverConfig) {}},
		{"FlagWins", map[string]string{"LOCKBOX_LISTEN": "0.0.0.0:9090", "LOCKBOX_DEV": "true"},
			[]string{"--listen", "127.0.0.1:0", "--dev=false"}, func(c *serverConfig) { c.Listen = "127.0.0.1:0" }},
		{"EmptyIsUnset", map[string]string{"LOCKBOX_LISTEN": "", "LOCKBOX_SESSION_IDLE": ""}, nil, func(*serverConfig) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseServe(tt.env, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			want := defaults
			tt.want(&want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

// TestServeEnvErrors: a variable its flag cannot parse is a usage error
// that names the variable — never ignored, never half-read.
func TestServeEnvErrors(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"BoolYes", map[string]string{"LOCKBOX_DEV": "yes"}, []string{`LOCKBOX_DEV="yes" is not a boolean`, "1, t, T, TRUE"}},
		{"BoolOn", map[string]string{"LOCKBOX_ALLOW_PRIVATE_WEBHOOKS": "on"}, []string{"LOCKBOX_ALLOW_PRIVATE_WEBHOOKS"}},
		{"Duration", map[string]string{"LOCKBOX_SESSION_IDLE": "30"}, []string{`LOCKBOX_SESSION_IDLE="30"`, "--session-idle"}},
		{"WorkerPoll", map[string]string{"LOCKBOX_WORKER_POLL": "often"}, []string{"LOCKBOX_WORKER_POLL"}},
		{"Int", map[string]string{"LOCKBOX_DB_MAX_OPEN_CONNS": "many"}, []string{"LOCKBOX_DB_MAX_OPEN_CONNS", "--db-max-open-conns"}},
		{"Several", map[string]string{"LOCKBOX_DEV": "yes", "LOCKBOX_SESSION_MAX": "a day"}, []string{"LOCKBOX_DEV", "LOCKBOX_SESSION_MAX"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseServe(tt.env)
			var ue *usageError
			if !errors.As(err, &ue) {
				t.Fatalf("error %v (%T), want a usage error", err, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

// TestEveryServeFlagHasItsVariable: `lockbox serve --help` names the
// variable of every flag, and each variable belongs to one flag.
func TestEveryServeFlagHasItsVariable(t *testing.T) {
	cmd := newServeCmd()
	seen := map[string]string{}
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Name == "help" {
			return
		}
		env := f.Annotations[envAnnotation]
		if len(env) != 1 || !strings.HasPrefix(env[0], "LOCKBOX_") {
			t.Errorf("--%s has no LOCKBOX_ variable", f.Name)
			return
		}
		if other, dup := seen[env[0]]; dup {
			t.Errorf("%s sets both --%s and --%s", env[0], other, f.Name)
		}
		seen[env[0]] = f.Name
		if !strings.Contains(cmd.Flags().FlagUsages(), "[$"+env[0]+"]") {
			t.Errorf("help does not name %s", env[0])
		}
	})
}

// TestEnvExitStatus: through the whole CLI, a bad variable exits 2 with a
// message, before the command does anything.
func TestEnvExitStatus(t *testing.T) {
	// The bad pool flag stops serve before it starts should the variable
	// ever be ignored.
	r := runFake(t, &fakeAPI{}, map[string]string{"LOCKBOX_DEV": "yes"}, "serve", "--db-max-open-conns", "0")
	if r.code != 2 || !strings.Contains(r.stderr, `LOCKBOX_DEV="yes" is not a boolean`) {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
	r = runFake(t, &fakeAPI{}, map[string]string{"LOCKBOX_SERVER": "lockbox.example", "LOCKBOX_TOKEN": "tok"}, "whoami")
	if r.code != 2 || !strings.Contains(r.stderr, "LOCKBOX_SERVER") {
		t.Errorf("bad LOCKBOX_SERVER: exit %d, stderr %q", r.code, r.stderr)
	}
	dir := filepath.Join(t.TempDir(), "keys")
	r = runFake(t, &fakeAPI{}, map[string]string{"LOCKBOX_KEY_DIR": dir}, "keys", "generate")
	if entries, err := os.ReadDir(dir); r.code != 0 || err != nil || len(entries) == 0 {
		t.Errorf("keys generate with LOCKBOX_KEY_DIR: exit %d, stderr %q; %s holds %d files (%v)", r.code, r.stderr, dir, len(entries), err)
	}
}
