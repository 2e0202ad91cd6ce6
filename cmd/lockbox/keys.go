package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/grant"
	"github.com/lockboxhq/lockbox/keys"
)

// defaultKeyDir is where `lockbox serve` keeps its private signing keys
// (SPEC §9) unless --key-dir or LOCKBOX_KEY_DIR says otherwise.
var defaultKeyDir = filepath.Join("lockbox-data", "keys")

func (a *app) keysCmd() *cobra.Command {
	return group("keys", "Create and rotate the server's signing keys (local files; no server needed)",
		a.keysGenerateCmd(), a.keysRotateCmd())
}

func keyDirFlag(cmd *cobra.Command, dir *string) {
	cmd.Flags().StringVar(dir, "key-dir", defaultKeyDir, "the key directory")
	bindEnv(cmd.Flags(), envVar{"key-dir", "LOCKBOX_KEY_DIR"})
}

func (a *app) keysGenerateCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "generate [--key-dir DIR]",
		Short: "Create a key directory with a grant key and a log key (keeps existing keys)",
		Long: `Create the key directory (mode 0700) with one grant-token key and one
audit-log checkpoint key (files mode 0600), unless it already has them.

Replicas of one database must all use the same key directory: create it once
with this command, copy DIR to every machine, and start each replica with
--key-dir DIR. A replica whose keys differ from the published ones refuses to
start.`,
		Args: exactArgs(),
		RunE: func(*cobra.Command, []string) error {
			r, err := keys.Generate(dir)
			if err != nil {
				return err
			}
			return a.printRing(r)
		},
	}
	keyDirFlag(cmd, &dir)
	return cmd
}

func (a *app) keysRotateCmd() *cobra.Command {
	var dir, kind string
	cmd := &cobra.Command{
		Use:   "rotate [--key-dir DIR] [--kind grant|log]",
		Short: "Add a new active signing key; old keys stay so what they signed still verifies",
		Long: `Add a new key of the given kind to the key directory; it becomes the
active signing key. Older keys stay in the directory and stay published, so
grants and checkpoints they signed still verify.

The servers pick the new key up when restarted: copy DIR to every replica,
then restart them all (a replica still holding the old directory refuses to
start once another has published the new key).`,
		Args: exactArgs(),
		RunE: func(*cobra.Command, []string) error {
			if kind != string(keys.KindGrant) && kind != string(keys.KindLog) {
				return usageErrorf("--kind must be grant or log; got %q", kind)
			}
			r, err := keys.Rotate(dir, keys.Kind(kind))
			if err != nil {
				return err
			}
			if err := a.printRing(r); err != nil {
				return err
			}
			_, err = fmt.Fprintf(a.stderr, "Copy %s to every replica and restart them to start signing with the new key.\n", dir)
			return err
		},
	}
	keyDirFlag(cmd, &dir)
	cmd.Flags().StringVar(&kind, "kind", string(keys.KindGrant), "which key to rotate: grant (grant tokens) or log (audit log checkpoints)")
	return cmd
}

// printRing lists the keys of a ring, active ones marked. Only kids and
// public keys are printed, never private key material.
func (a *app) printRing(r *keys.Ring) error {
	rows := [][2]string{{"key directory", r.Dir()}}
	for _, kind := range []keys.Kind{keys.KindGrant, keys.KindLog} {
		ks := r.Keys(kind)
		for i, k := range ks {
			state := "old"
			if i == len(ks)-1 {
				state = "active"
			}
			rows = append(rows, [2]string{string(kind) + " key", k.KID + " (" + state + ")"})
		}
	}
	rows = append(rows, [2]string{"log verifier key", r.LogVerifierKey()})
	return writeKV(a.stdout, rows)
}

// serverKeyDir is the key directory of a server: the flag, else in --dev a
// directory beside a given database (so a kept dev database keeps its
// keys) or a throwaway one, else the default. The cleanup removes a
// throwaway directory.
func serverKeyDir(cfg serverConfig) (string, func(), error) {
	switch {
	case cfg.KeyDir != "":
		return cfg.KeyDir, func() {}, nil
	case cfg.Dev && cfg.Database != "" && !isPostgres(cfg.Database):
		return filepath.Join(filepath.Dir(cfg.Database), "keys"), func() {}, nil
	case cfg.Dev:
		dir, err := os.MkdirTemp("", "lockbox-dev-keys-*")
		if err != nil {
			return "", nil, err
		}
		return filepath.Join(dir, "keys"), func() { os.RemoveAll(dir) }, nil
	}
	return defaultKeyDir, func() {}, nil
}

// openServerKeys loads (creating on first start) and publishes the server's
// signing keys, refusing to start on a mismatch with the published ones.
func openServerKeys(ctx context.Context, cfg serverConfig, st lockbox.Store) (*keys.Ring, func(), error) {
	dir, cleanup, err := serverKeyDir(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("key directory: %w", err)
	}
	ring, _, err := keys.Open(ctx, dir, st, time.Now().UTC().Truncate(time.Microsecond))
	if err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("signing keys: %w", err)
	}
	return ring, cleanup, nil
}

func addServeKeyFlags(cmd *cobra.Command, cfg *serverConfig) {
	f := cmd.Flags()
	f.StringVar(&cfg.KeyDir, "key-dir", "",
		"private signing keys (default ./lockbox-data/keys; in --dev a throwaway one, or keys/ beside a given --database); replicas of one database share it (lockbox keys generate --key-dir DIR)")
	f.StringVar(&cfg.GrantIssuer, "grant-issuer", lockbox.DefaultGrantIssuer, `the "iss" claim of grant tokens`)
}

// serverKeys is what a running server signs and verifies with.
type serverKeys struct {
	ring   *keys.Ring
	grants lockbox.GrantAuthority
	jwks   func(context.Context) ([]byte, error)
}

// openKeys prepares the signing keys before anything is served: a server
// whose keys do not match the published ones must not start at all.
func (rs *runningServer) openKeys(ctx context.Context, cfg serverConfig) error {
	ring, cleanup, err := openServerKeys(ctx, cfg, rs.store)
	if err != nil {
		return err
	}
	prev := rs.cleanup
	rs.cleanup = func() { cleanup(); prev() }
	fetch := grant.PublishedKeys(rs.store)
	rs.keys = &serverKeys{
		ring:   ring,
		grants: grant.NewAuthority(ring.GrantSigner, &grant.KeySet{Fetch: fetch}, cfg.GrantIssuer),
		jwks:   grant.JWKSFunc(fetch),
	}
	kid, _ := ring.GrantSigner()
	rs.logger.Info("signing keys ready", "key_dir", ring.Dir(), "grant_kid", kid, "log_key", ring.LogVerifierKey())
	return nil
}

// accessCacheTTL turns on the access-check cache for SQLite, where this
// process is the only writer and every change invalidates the cache at
// once. Replicas on PostgreSQL write behind each other's backs, so there
// every check reads the database (SPEC §6: a revocation through any
// replica is refused immediately).
func accessCacheTTL(cfg serverConfig) time.Duration {
	if isPostgres(cfg.Database) {
		return 0
	}
	return 10 * time.Second
}
