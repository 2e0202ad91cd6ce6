package grant

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/go-jose/go-jose/v4"
)

// JWKS returns the JSON Web Key Set of the public keys, by kid, in kid
// order (RFC 7517; OKP/Ed25519 keys per RFC 8037, "use":"sig",
// "alg":"EdDSA").
func JWKS(keys map[string]ed25519.PublicKey) ([]byte, error) {
	kids := make([]string, 0, len(keys))
	for kid := range keys {
		kids = append(kids, kid)
	}
	sort.Strings(kids)
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, kid := range kids {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: keys[kid], KeyID: kid,
			Algorithm: string(jose.EdDSA), Use: "sig"})
	}
	b, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("encode JWKS: %w", err)
	}
	return b, nil
}

// ParseJWKS returns the Ed25519 signing keys of a JWKS document, by kid.
// Keys of other types, or meant for other uses or algorithms, are skipped.
func ParseJWKS(data []byte) (map[string]ed25519.PublicKey, error) {
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("parse JWKS: %w", err)
	}
	out := map[string]ed25519.PublicKey{}
	for _, k := range set.Keys {
		pub, ok := k.Key.(ed25519.PublicKey)
		if !ok || k.KeyID == "" || (k.Use != "" && k.Use != "sig") ||
			(k.Algorithm != "" && k.Algorithm != string(jose.EdDSA)) {
			continue
		}
		out[k.KeyID] = pub
	}
	return out, nil
}
