// Package replicas starts `lockbox serve --dev` replicas on one fresh
// PostgreSQL schema, for the load drivers (internal/daydriver,
// internal/replicabench): build the binary, make the schema, start the
// processes with one key directory, wait until each is ready, stop them.
package replicas

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/lockboxhq/lockbox/keys"
	"github.com/lockboxhq/lockbox/postgres/pgtest"
)

// Build compiles cmd/lockbox into dir and returns the binary's path.
func Build(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "lockbox")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/lockboxhq/lockbox/cmd/lockbox").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build (run inside the module): %w\n%s", err, out)
	}
	return bin, nil
}

// FreshSchema creates an empty schema named prefix and a random suffix on
// the server of dsn, and returns dsn with search_path set to it, the
// schema's name, and a function that drops it.
func FreshSchema(ctx context.Context, dsn, prefix string) (string, string, func() error, error) {
	name := prefix + strings.ToLower(rand.Text()[:12])
	if err := pgtest.ExecOnce(ctx, dsn, "CREATE SCHEMA "+name); err != nil {
		return "", "", nil, fmt.Errorf("create schema: %w", err)
	}
	drop := func() error {
		// Not ctx: the schema goes also when the run was interrupted.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := pgtest.ExecOnce(ctx, dsn, "DROP SCHEMA "+name+" CASCADE"); err != nil {
			return fmt.Errorf("drop schema %s: %w", name, err)
		}
		return nil
	}
	withPath, err := pgtest.SetParam(dsn, "search_path", name)
	if err != nil {
		return "", "", nil, errors.Join(err, drop())
	}
	return withPath, name, drop, nil
}

// Replica is one `lockbox serve --dev` process.
type Replica struct {
	Cmd    *exec.Cmd
	URL    string // once ready
	Log    string // its output
	exited chan struct{}
}

// Start starts n dev servers of bin on dsn, all at once (they migrate and
// seed the empty schema together) with one key directory in dir, and waits
// until each answers /readyz. args are more flags of `lockbox serve` for
// each. The caller stops the replicas returned, also on error.
func Start(ctx context.Context, bin, dsn, dir string, n int, args ...string) ([]*Replica, error) {
	keyDir := filepath.Join(dir, "keys")
	if _, err := keys.Generate(keyDir); err != nil {
		return nil, err
	}
	var reps []*Replica
	for i := range n {
		r := &Replica{Log: filepath.Join(dir, fmt.Sprintf("replica%d.log", i)), exited: make(chan struct{})}
		logf, err := os.Create(r.Log)
		if err != nil {
			return reps, err
		}
		r.Cmd = exec.Command(bin, append([]string{"serve", "--dev", "--database", dsn, "--listen", "127.0.0.1:0",
			"--addr-file", filepath.Join(dir, fmt.Sprintf("replica%d.addr", i)), "--key-dir", keyDir, "--log-format", "json"},
			args...)...)
		r.Cmd.Stdout, r.Cmd.Stderr = logf, logf
		err = r.Cmd.Start()
		logf.Close()
		if err != nil {
			return reps, fmt.Errorf("start replica %d: %w", i, err)
		}
		go func() { _ = r.Cmd.Wait(); close(r.exited) }()
		reps = append(reps, r)
	}
	for i, r := range reps {
		u, err := r.waitReady(ctx, filepath.Join(dir, fmt.Sprintf("replica%d.addr", i)))
		if err != nil {
			log, _ := os.ReadFile(r.Log)
			return reps, fmt.Errorf("replica %d: %w\n%s", i, err, log)
		}
		r.URL = u
	}
	return reps, nil
}

// waitReady waits (at most 2 minutes) for the replica's address file and
// a 200 from its /readyz.
func (r *Replica) waitReady(ctx context.Context, addrFile string) (string, error) {
	hc := &http.Client{Timeout: 5 * time.Second}
	deadline := time.After(2 * time.Minute)
	for {
		if b, err := os.ReadFile(addrFile); err == nil && len(b) > 0 {
			u := strings.TrimSpace(string(b))
			if res, err := hc.Get(u + "/readyz"); err == nil {
				res.Body.Close()
				if res.StatusCode == http.StatusOK {
					return u, nil
				}
			}
		}
		select {
		case <-r.exited:
			return "", errors.New("exited before it was ready")
		case <-deadline:
			return "", errors.New("not ready within 2 minutes")
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Stop shuts the replica down: an interrupt, then a kill after 30 s.
func (r *Replica) Stop() {
	_ = r.Cmd.Process.Signal(os.Interrupt)
	select {
	case <-r.exited:
	case <-time.After(30 * time.Second):
		_ = r.Cmd.Process.Kill()
		<-r.exited
	}
}
