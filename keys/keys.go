// Package keys manages Lockbox's private signing keys (SPEC §9): the Ed25519
// keys that sign grant tokens (JWTs) and the Ed25519 keys that sign audit log
// checkpoints (golang.org/x/mod/sumdb/note signed notes).
//
// Private keys live only in a key directory on disk, never in the database;
// the database holds the public keys that were published (see Publish). The
// directory is the unit operators copy between replicas:
//
//	DIR/                  mode 0700
//	  grant-<kid>.pem     Ed25519 private key, PKCS#8 PEM (mode 0600)
//	  log-<kid>.key       a sumdb/note signer key string (mode 0600)
//
// The grant keys also seal the secrets the database must keep, tenants'
// IdP client secrets and webhook signing secrets (SecretBox), so neither
// is readable from the database alone.
//
// A kid is a UUIDv7 string, so kids sort in creation order: the key with the
// greatest kid of each kind is the active (signing) key, and older keys stay
// in the directory and in the published set so that grants and checkpoints
// signed with them still verify after a rotation.
//
// This package may import the root lockbox package (for the store port),
// the standard library, golang.org/x/mod/sumdb/note and google/uuid.
package keys

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/google/uuid"
	"golang.org/x/mod/sumdb/note"
)

// Kind is what a key signs.
type Kind string

const (
	// KindGrant keys sign grant tokens (JWT, EdDSA).
	KindGrant Kind = "grant"
	// KindLog keys sign audit log checkpoints (signed notes).
	KindLog Kind = "log"
)

// LogKeyName is the key name in the note signer and verifier keys
// ("lockbox-log+<hash>+<key>"). Checkpoint signature lines carry it, so it
// never changes: every log key of every rotation has this name and is told
// apart by its key hash.
const LogKeyName = "lockbox-log"

// Key is one key pair of the ring.
type Key struct {
	Kind    Kind
	KID     string
	Private ed25519.PrivateKey
}

// Public returns the key's Ed25519 public key.
func (k *Key) Public() ed25519.PublicKey { return k.Private.Public().(ed25519.PublicKey) }

// Ring is the set of keys loaded from one key directory. It is immutable
// once loaded and safe for concurrent use.
type Ring struct {
	dir   string
	grant []*Key // ascending kid: the last one is active
	log   []*Key
	// logSigner is the active log key as a note.Signer, built once.
	logSigner note.Signer
}

// Generate creates dir (0700) when absent and one grant key and one log key
// when the directory holds none of that kind, then loads every key.
func Generate(dir string) (*Ring, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create key directory: %w", err)
	}
	r, err := load(dir)
	if err != nil {
		return nil, err
	}
	for _, kind := range []Kind{KindGrant, KindLog} {
		if len(r.keys(kind)) == 0 {
			if _, err := create(dir, kind, ""); err != nil {
				return nil, err
			}
		}
	}
	return Load(dir)
}

// Load reads every key in dir. The newest key of each kind is active. It
// fails when dir lacks a grant key or a log key, when a key file is
// malformed, or when a private key file is readable by others.
func Load(dir string) (*Ring, error) {
	r, err := load(dir)
	if err != nil {
		return nil, err
	}
	for _, kind := range []Kind{KindGrant, KindLog} {
		if len(r.keys(kind)) == 0 {
			return nil, fmt.Errorf("key directory %s has no %s key: create keys with `lockbox keys generate --key-dir %s`", dir, kind, dir)
		}
	}
	active := r.log[len(r.log)-1]
	s, err := note.NewSigner(logSignerKey(active.Private))
	if err != nil {
		return nil, fmt.Errorf("log key %s: %w", active.KID, err)
	}
	r.logSigner = s
	return r, nil
}

// Rotate adds a new key of kind to dir, which becomes the active key of
// that kind. Older keys stay so that what they signed still verifies.
func Rotate(dir string, kind Kind) (*Ring, error) {
	if kind != KindGrant && kind != KindLog {
		return nil, fmt.Errorf("unknown key kind %q (want %q or %q)", kind, KindGrant, KindLog)
	}
	r, err := Load(dir)
	if err != nil {
		return nil, err
	}
	ks := r.keys(kind)
	if _, err := create(dir, kind, ks[len(ks)-1].KID); err != nil {
		return nil, err
	}
	return Load(dir)
}

// Dir returns the directory the ring was loaded from.
func (r *Ring) Dir() string { return r.dir }

// GrantSigner returns the active grant key and its kid.
func (r *Ring) GrantSigner() (kid string, key ed25519.PrivateKey) {
	k := r.grant[len(r.grant)-1]
	return k.KID, k.Private
}

// GrantPublicKeys returns every grant public key of the directory, old
// ones too, by kid (the JWKS).
func (r *Ring) GrantPublicKeys() map[string]ed25519.PublicKey {
	m := make(map[string]ed25519.PublicKey, len(r.grant))
	for _, k := range r.grant {
		m[k.KID] = k.Public()
	}
	return m
}

// LogSigner returns the active log key as a note signer.
func (r *Ring) LogSigner() note.Signer { return r.logSigner }

// LogVerifierKey returns the active log key in note verifier key format
// ("lockbox-log+<hash>+<base64>"), as served by GET /v1/log/key.
func (r *Ring) LogVerifierKey() string {
	return LogVerifierKey(r.log[len(r.log)-1].Public())
}

// LogVerifiers returns a verifier for every log key of the directory, old
// ones too, so checkpoints signed before a rotation still open.
func (r *Ring) LogVerifiers() note.Verifiers {
	vs := make([]note.Verifier, 0, len(r.log))
	for _, k := range r.log {
		v, err := note.NewVerifier(LogVerifierKey(k.Public()))
		if err != nil {
			panic(err) // unreachable: a 32-byte key always encodes
		}
		vs = append(vs, v)
	}
	return note.VerifierList(vs...)
}

// Keys returns every key of kind, oldest first (the last is active).
func (r *Ring) Keys(kind Kind) []*Key {
	return append([]*Key(nil), r.keys(kind)...)
}

func (r *Ring) keys(kind Kind) []*Key {
	if kind == KindGrant {
		return r.grant
	}
	return r.log
}

// LogVerifierKey encodes an Ed25519 public key as a note verifier key with
// the name LogKeyName.
func LogVerifierKey(pub ed25519.PublicKey) string {
	v, err := note.NewEd25519VerifierKey(LogKeyName, pub)
	if err != nil {
		panic(err) // only a wrong key size fails, and callers pass Ed25519 keys
	}
	return v
}

// logSignerKey encodes priv as a note signer key: the format of
// note.GenerateKey, "PRIVATE+KEY+<name>+<hash>+base64(alg || seed)", where
// the hash is the verifier key's.
func logSignerKey(priv ed25519.PrivateKey) string {
	vkey := LogVerifierKey(priv.Public().(ed25519.PublicKey))
	hash := strings.Split(vkey, "+")[1]
	const algEd25519 = 1
	seed := append([]byte{algEd25519}, priv.Seed()...)
	return fmt.Sprintf("PRIVATE+KEY+%s+%s+%s", LogKeyName, hash, base64.StdEncoding.EncodeToString(seed))
}

// parseLogSignerKey decodes a note signer key written by logSignerKey and
// checks it against its own key hash (note.NewSigner does).
func parseLogSignerKey(s string) (ed25519.PrivateKey, error) {
	s = strings.TrimSpace(s)
	if _, err := note.NewSigner(s); err != nil {
		return nil, err
	}
	parts := strings.SplitN(s, "+", 5)
	if len(parts) != 5 || parts[2] != LogKeyName {
		return nil, fmt.Errorf("not a %s signer key", LogKeyName)
	}
	raw, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(raw) != 1+ed25519.SeedSize {
		return nil, errors.New("malformed signer key")
	}
	return ed25519.NewKeyFromSeed(raw[1:]), nil
}

func load(dir string) (*Ring, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read key directory: %w", err)
	}
	r := &Ring{dir: dir}
	for _, e := range entries {
		kind, kid, ok := parseName(e.Name())
		if !ok || e.IsDir() {
			continue
		}
		k, err := readKey(filepath.Join(dir, e.Name()), kind, kid)
		if err != nil {
			return nil, err
		}
		if kind == KindGrant {
			r.grant = append(r.grant, k)
		} else {
			r.log = append(r.log, k)
		}
	}
	for _, ks := range [][]*Key{r.grant, r.log} {
		sort.Slice(ks, func(i, j int) bool { return ks[i].KID < ks[j].KID })
	}
	return r, nil
}

// parseName recognises grant-<kid>.pem and log-<kid>.key.
func parseName(name string) (Kind, string, bool) {
	if kid, ok := strings.CutPrefix(name, "grant-"); ok {
		if kid, ok := strings.CutSuffix(kid, ".pem"); ok && validKID(kid) {
			return KindGrant, kid, true
		}
	}
	if kid, ok := strings.CutPrefix(name, "log-"); ok {
		if kid, ok := strings.CutSuffix(kid, ".key"); ok && validKID(kid) {
			return KindLog, kid, true
		}
	}
	return "", "", false
}

func validKID(kid string) bool {
	u, err := uuid.Parse(kid)
	return err == nil && u.Version() == 7 && u.String() == kid
}

func readKey(path string, kind Kind, kid string) (*Key, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("key file %s is readable by other users (mode %s): chmod 600 it", path, fi.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	var priv ed25519.PrivateKey
	if kind == KindGrant {
		priv, err = parseGrantPEM(data)
	} else {
		priv, err = parseLogSignerKey(string(data))
	}
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return &Key{Kind: kind, KID: kid, Private: priv}, nil
}

func parseGrantPEM(data []byte) (ed25519.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, errors.New("not a PEM \"PRIVATE KEY\" block")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse PKCS#8: %w", err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("key is %T, want Ed25519", k)
	}
	return priv, nil
}

// create writes a new key of kind whose kid sorts after newerThan, so it
// becomes the active key. The file is created exclusively: an existing key
// is never overwritten.
func create(dir string, kind Kind, newerThan string) (*Key, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("new kid: %w", err)
	}
	kid := id.String()
	if kid <= newerThan {
		return nil, fmt.Errorf("the system clock is earlier than the newest %s key %s was created: fix the clock before rotating", kind, newerThan)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	name, data, err := encode(kind, kid, priv)
	if err != nil {
		return nil, err
	}
	if err := writeExclusive(filepath.Join(dir, name), data); err != nil {
		return nil, err
	}
	return &Key{Kind: kind, KID: kid, Private: priv}, nil
}

func encode(kind Kind, kid string, priv ed25519.PrivateKey) (name string, data []byte, err error) {
	if kind == KindLog {
		return "log-" + kid + ".key", []byte(logSignerKey(priv) + "\n"), nil
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", nil, fmt.Errorf("encode key: %w", err)
	}
	return "grant-" + kid + ".pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// writeExclusive writes data to a temporary file and links it into place,
// so a crash never leaves a half-written key under a key's name and an
// existing key is never replaced.
func writeExclusive(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-key-*")
	if err != nil {
		return fmt.Errorf("write key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write key: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write key: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write key: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("key file %s already exists", path)
		}
		return fmt.Errorf("write key: %w", err)
	}
	return nil
}
