package grant

import (
	"context"
	"crypto/ed25519"
	"fmt"

	"github.com/lockboxhq/lockbox"
)

// PublishedKeys returns a KeySet fetch function that reads the grant keys
// published in st (lockbox.KeysTx): the server verifies against every key
// any replica has published, so a token signed after another replica's
// rotation verifies here too.
func PublishedKeys(st lockbox.Store) func(context.Context) (map[string]ed25519.PublicKey, error) {
	return func(ctx context.Context) (map[string]ed25519.PublicKey, error) {
		var ks []*lockbox.PublishedKey
		err := st.View(ctx, func(tx lockbox.Tx) (err error) {
			ks, err = tx.PublishedKeys(ctx, lockbox.KeyKindGrant)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("read published grant keys: %w", err)
		}
		out := make(map[string]ed25519.PublicKey, len(ks))
		for _, k := range ks {
			if len(k.PublicKey) != ed25519.PublicKeySize {
				return nil, fmt.Errorf("published grant key %s is %d bytes, want %d", k.KID, len(k.PublicKey), ed25519.PublicKeySize)
			}
			out[k.KID] = ed25519.PublicKey(k.PublicKey)
		}
		return out, nil
	}
}

// JWKSFunc returns the JWKS document of the keys fetch returns, read anew
// on every call (the JWKS route is cached by clients, not by us, so it is
// never staler than the database).
func JWKSFunc(fetch func(context.Context) (map[string]ed25519.PublicKey, error)) func(context.Context) ([]byte, error) {
	return func(ctx context.Context) ([]byte, error) {
		keys, err := fetch(ctx)
		if err != nil {
			return nil, err
		}
		return JWKS(keys)
	}
}
