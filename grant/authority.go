package grant

import (
	"context"
	"crypto/ed25519"
	"time"

	"github.com/lockboxhq/lockbox"
)

// Authority is the server's lockbox.GrantAuthority: it signs with the
// active key of the key directory and verifies against the published keys
// (which include keys other replicas rotated in since this one started),
// caching verified tokens.
type Authority struct {
	// Signer returns the active grant key (keys.Ring.GrantSigner).
	Signer func() (kid string, key ed25519.PrivateKey)
	// Verifier checks tokens; its Issuer should be the server's issuer.
	Verifier *Verifier
}

var _ lockbox.GrantAuthority = (*Authority)(nil)

// NewAuthority returns an Authority that signs with signer and verifies
// tokens of issuer against keys, with a cache of verified tokens.
func NewAuthority(signer func() (string, ed25519.PrivateKey), keys KeySource, issuer string) *Authority {
	return &Authority{Signer: signer, Verifier: &Verifier{Keys: keys, Issuer: issuer, Cache: NewCache(0)}}
}

// Sign signs c with the active key.
func (a *Authority) Sign(_ context.Context, c *lockbox.GrantClaims) (string, string, error) {
	kid, key := a.Signer()
	tok, err := Sign(c, kid, key)
	return tok, kid, err
}

// Verify checks a token at now.
func (a *Authority) Verify(ctx context.Context, token string, now time.Time) (*lockbox.GrantClaims, error) {
	return a.Verifier.Verify(ctx, token, now)
}
