package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/lockboxhq/lockbox"
)

// secretInfo separates the sealing keys from every other use of a grant
// key's seed (HKDF's info): the signing key itself is never used to
// encrypt.
const secretInfo = "lockbox sealed secret v1"

// SecretBox seals secrets with AES-256-GCM under a key derived (HKDF-
// SHA256) from the active grant key, so no new file has to be created,
// copied to every replica or backed up: the key directory already is all
// of that. A sealed value names the kid of its grant key, so after a
// rotation older values still open while the grant key stays in the
// directory (it does, for the grants it signed), and Open says they are
// stale so the server seals them again under the new key.
//
//	lbsealed1.<kid>.<base64url(nonce || ciphertext || tag)>
func (r *Ring) SecretBox() lockbox.SecretBox { return secretBox{r} }

type secretBox struct{ r *Ring }

func (b secretBox) Seal(secret string, aad []byte) (string, error) {
	active := b.r.grant[len(b.r.grant)-1]
	aead, err := sealingAEAD(active)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(secret)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("seal: %w", err)
	}
	out := aead.Seal(nonce, nonce, []byte(secret), aad)
	return lockbox.SealedPrefix + active.KID + "." + base64.RawURLEncoding.EncodeToString(out), nil
}

func (b secretBox) Open(sealed string, aad []byte) (string, bool, error) {
	rest, ok := strings.CutPrefix(sealed, lockbox.SealedPrefix)
	if !ok {
		return sealed, true, nil // stored before sealing existed
	}
	kid, data, ok := strings.Cut(rest, ".")
	raw, err := base64.RawURLEncoding.DecodeString(data)
	if !ok || err != nil {
		return "", false, fmt.Errorf("sealed secret is malformed")
	}
	key := b.r.grantKey(kid)
	if key == nil {
		// A rolling rotation: another replica, restarted with the rotated
		// directory, sealed it under the new key, which was copied here
		// but is not loaded yet.
		if fresh, err := Load(b.r.dir); err == nil {
			key = fresh.grantKey(kid)
		}
	}
	if key == nil {
		return "", false, fmt.Errorf("the secret was sealed with grant key %s, which is not in the key directory %s: copy that key back from a replica or a backup, or set the secret again", kid, b.r.dir)
	}
	aead, err := sealingAEAD(key)
	if err != nil {
		return "", false, err
	}
	if len(raw) < aead.NonceSize() {
		return "", false, fmt.Errorf("sealed secret is malformed")
	}
	plain, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], aad)
	if err != nil {
		return "", false, fmt.Errorf("the sealed secret does not open with grant key %s: it was changed, or moved from another record", kid)
	}
	// Stale only when older than the active key (kids sort by creation):
	// a replica not yet restarted after a rotation must not seal a newer
	// value back under its old key.
	return string(plain), key.KID < b.r.grant[len(b.r.grant)-1].KID, nil
}

// Current is how every value Seal makes now starts.
func (b secretBox) Current() string {
	return lockbox.SealedPrefix + b.r.grant[len(b.r.grant)-1].KID + "."
}

// grantKey is the grant key kid of r, nil when r has none.
func (r *Ring) grantKey(kid string) *Key {
	for _, k := range r.grant {
		if k.KID == kid {
			return k
		}
	}
	return nil
}

// sealingAEAD is the AES-256-GCM of a grant key's sealing key.
func sealingAEAD(k *Key) (cipher.AEAD, error) {
	key, err := hkdf.Key(sha256.New, k.Private.Seed(), nil, secretInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("derive sealing key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("sealing key: %w", err)
	}
	return cipher.NewGCM(block)
}
