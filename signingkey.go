package lockbox

import (
	"context"
	"time"
)

// Signing key kinds (SPEC §9). The private keys live in the server's key
// directory, never in the database; the database holds only the public
// halves it has published, so every replica and every verifier sees the
// same set, old keys included.
const (
	KeyKindGrant = "grant" // signs grant tokens (JWT, EdDSA)
	KeyKindLog   = "log"   // signs audit log checkpoints (signed notes)
)

// PublishedKey is the public half of a signing key, as published.
type PublishedKey struct {
	// KID identifies the key. Kids are UUIDv7 strings, so a greater kid is
	// a newer key: the greatest kid of a kind is that kind's active key.
	KID  string
	Kind string // KeyKindGrant or KeyKindLog
	// PublicKey is the raw 32-byte Ed25519 public key.
	PublicKey   []byte
	PublishedAt time.Time
}

// KeysTx is the persistence of published signing keys, part of every
// store's Tx. Published keys are never changed or deleted: a verifier may
// meet something signed by any of them for as long as the record lives.
type KeysTx interface {
	// PublishKey stores k. Publishing a key that is already stored with the
	// same kind and public key is a no-op (nil, PublishedAt unchanged), so
	// replicas starting at once may all publish the same key. ECONFLICT
	// when k.KID is stored with a different kind or public key.
	PublishKey(ctx context.Context, k *PublishedKey) error
	// PublishedKeys returns every published key of kind ("" for all kinds),
	// ordered by kid ascending (oldest first).
	PublishedKeys(ctx context.Context, kind string) ([]*PublishedKey, error)
}
