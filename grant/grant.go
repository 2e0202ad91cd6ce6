// Package grant is the format of Lockbox grant tokens (SPEC §6): signing,
// verification with an algorithm allow-list, the JWKS document, and a cache
// of verified tokens. The server signs with it and data-plane services
// (through package guard) verify with it, so both sides agree by
// construction.
//
// A grant is a compact JWS (a JWT) signed with EdDSA (Ed25519), with the
// protected header {"alg":"EdDSA","kid":KID,"typ":"lockbox-grant+jwt"} and
// the claims iss, sub (operator), aud (service), tenant, rid (request id),
// ops (approved operations), iat, nbf and exp.
//
// It imports the root lockbox package (vocabulary only), go-jose and the
// standard library: a data-plane service can import it without pulling in
// a database driver.
package grant

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/lockboxhq/lockbox"
)

// Type is the "typ" header of every grant token. Checking it keeps another
// JWT signed by the same key (none today, but keys outlive code) from being
// accepted as a grant.
const Type = "lockbox-grant+jwt"

// DefaultIssuer is the "iss" of a server that was given no issuer.
const DefaultIssuer = lockbox.DefaultGrantIssuer

// allowedAlgorithms is the allow-list every parse uses: a token naming any
// other algorithm, "none" included, is rejected before any key is looked up.
var allowedAlgorithms = []jose.SignatureAlgorithm{jose.EdDSA}

// claims is the JSON payload.
type claims struct {
	jwt.Claims
	Tenant     string   `json:"tenant"`
	RequestID  string   `json:"rid"`
	Operations []string `json:"ops"`
}

// Sign returns c signed with key under kid.
func Sign(c *lockbox.GrantClaims, kid string, key ed25519.PrivateKey) (string, error) {
	if err := complete(c); err != nil {
		return "", err
	}
	opts := (&jose.SignerOptions{}).WithType(Type)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA,
		Key: jose.JSONWebKey{Key: key, KeyID: kid, Algorithm: string(jose.EdDSA)}}, opts)
	if err != nil {
		return "", fmt.Errorf("grant signer: %w", err)
	}
	payload := claims{
		Claims: jwt.Claims{
			Issuer: c.Issuer, Subject: c.Subject, Audience: jwt.Audience{c.Audience},
			IssuedAt: jwt.NewNumericDate(c.IssuedAt), NotBefore: jwt.NewNumericDate(c.NotBefore),
			Expiry: jwt.NewNumericDate(c.ExpiresAt),
		},
		Tenant: c.Tenant, RequestID: c.RequestID, Operations: c.Operations,
	}
	tok, err := jwt.Signed(signer).Claims(payload).Serialize()
	if err != nil {
		return "", fmt.Errorf("sign grant: %w", err)
	}
	return tok, nil
}

// complete checks that c has every claim a verifier requires, so the server
// never issues a token its own verifier would refuse.
func complete(c *lockbox.GrantClaims) error {
	switch {
	case c.Issuer == "", c.Subject == "", c.Audience == "", c.Tenant == "", c.RequestID == "":
		return errors.New("grant: iss, sub, aud, tenant and rid are required")
	case len(c.Operations) == 0:
		return errors.New("grant: ops must not be empty")
	case !c.ExpiresAt.After(c.NotBefore) || c.ExpiresAt.Sub(c.IssuedAt) > lockbox.MaxGrantTTL:
		return fmt.Errorf("grant: exp must be after nbf and at most %v after iat", lockbox.MaxGrantTTL)
	}
	return nil
}

// KeySource finds grant public keys by kid.
type KeySource interface {
	// Key returns the public key of kid. It returns an error wrapping
	// ErrUnknownKey when no such key is published.
	Key(ctx context.Context, kid string) (ed25519.PublicKey, error)
}

// ErrUnknownKey is wrapped by KeySource errors for an unpublished kid.
var ErrUnknownKey = errors.New("unknown signing key")

// Verifier checks grant tokens. Set the fields, then call Verify; it is
// safe for concurrent use once in use.
type Verifier struct {
	Keys KeySource
	// Issuer, when set, is the only accepted "iss".
	Issuer string
	// Leeway tolerates clock skew on "nbf" and "iat" only: a token is never
	// accepted at or after its "exp".
	Leeway time.Duration
	// Cache, when set, remembers verified tokens until they expire, so a
	// busy service verifies each token's signature once.
	Cache *Cache
}

// Verify checks token at now and returns its claims. Every failure is a
// lockbox EUNAUTHENTICATED error saying what is wrong with the token. A
// token that is authentic (signature and claims verify) but not valid at
// now — expired, or not valid yet — returns its claims with the error, so
// the caller can attribute the attempt (see lockbox.GrantAuthority).
func (v *Verifier) Verify(ctx context.Context, token string, now time.Time) (*lockbox.GrantClaims, error) {
	if v.Cache != nil {
		if c, ok := v.Cache.get(token); ok {
			return c, v.checkTimes(c, now)
		}
	}
	c, err := v.verifySignature(ctx, token)
	if err != nil {
		return nil, err
	}
	if err := v.checkClaims(c); err != nil {
		return nil, err
	}
	if err := v.checkTimes(c, now); err != nil {
		return c, err
	}
	if v.Cache != nil {
		v.Cache.put(token, c)
	}
	return c, nil
}

func invalid(format string, args ...any) error {
	return lockbox.Errorf(lockbox.EUNAUTHENTICATED, "Grant token rejected: "+format, args...)
}

func (v *Verifier) verifySignature(ctx context.Context, token string) (*lockbox.GrantClaims, error) {
	if len(token) > lockbox.MaxGrantLen {
		return nil, invalid("it is longer than %d bytes.", lockbox.MaxGrantLen)
	}
	tok, err := jwt.ParseSigned(token, allowedAlgorithms)
	if err != nil {
		return nil, invalid("it is not a compact EdDSA-signed JWT (%s).", errText(err))
	}
	if len(tok.Headers) != 1 {
		return nil, invalid("it must carry exactly one signature.")
	}
	h := tok.Headers[0]
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != Type {
		return nil, invalid("its type is %q, want %q.", typ, Type)
	}
	if h.KeyID == "" {
		return nil, invalid("it names no signing key (kid).")
	}
	pub, err := v.Keys.Key(ctx, h.KeyID)
	if errors.Is(err, ErrUnknownKey) {
		return nil, invalid("it was signed with key %q, which is not published.", truncate(h.KeyID))
	} else if err != nil {
		return nil, fmt.Errorf("grant key %s: %w", truncate(h.KeyID), err)
	}
	var cl claims
	if err := tok.Claims(pub, &cl); err != nil {
		return nil, invalid("its signature does not verify.")
	}
	return toGrantClaims(&cl)
}

func toGrantClaims(cl *claims) (*lockbox.GrantClaims, error) {
	if len(cl.Audience) != 1 {
		return nil, invalid("it must name exactly one service (aud).")
	}
	if cl.IssuedAt == nil || cl.NotBefore == nil || cl.Expiry == nil {
		return nil, invalid("iat, nbf and exp are required.")
	}
	return &lockbox.GrantClaims{
		Issuer: cl.Issuer, Subject: cl.Subject, Audience: cl.Audience[0], Tenant: cl.Tenant,
		RequestID: cl.RequestID, Operations: cl.Operations,
		IssuedAt: cl.IssuedAt.Time().UTC(), NotBefore: cl.NotBefore.Time().UTC(), ExpiresAt: cl.Expiry.Time().UTC(),
	}, nil
}

func (v *Verifier) checkClaims(c *lockbox.GrantClaims) error {
	switch {
	case v.Issuer != "" && c.Issuer != v.Issuer:
		return invalid("it was issued by %q, not by %q.", truncate(c.Issuer), v.Issuer)
	case c.Subject == "" || c.Tenant == "" || c.RequestID == "" || len(c.Operations) == 0:
		return invalid("sub, tenant, rid and ops are required.")
	case c.ExpiresAt.Sub(c.IssuedAt) > lockbox.MaxGrantTTL:
		return invalid("it is valid for longer than %v.", lockbox.MaxGrantTTL)
	}
	return nil
}

// checkTimes runs on every use, cached or not: a cached token expires on
// time too.
func (v *Verifier) checkTimes(c *lockbox.GrantClaims, now time.Time) error {
	switch {
	case !now.Before(c.ExpiresAt):
		return invalid("it expired at %s; ask Lockbox for a new one.", c.ExpiresAt.Format(time.RFC3339))
	case now.Add(v.Leeway).Before(c.NotBefore):
		return invalid("it is not valid before %s.", c.NotBefore.Format(time.RFC3339))
	case now.Add(v.Leeway).Before(c.IssuedAt):
		return invalid("it was issued in the future (%s).", c.IssuedAt.Format(time.RFC3339))
	}
	return nil
}

// HasOperation reports whether the grant covers op.
func HasOperation(c *lockbox.GrantClaims, op string) bool {
	return slices.Contains(c.Operations, op)
}

// errText keeps go-jose's reason short and free of token bytes.
func errText(err error) string {
	s := strings.TrimPrefix(err.Error(), "go-jose/go-jose: ")
	return truncate(s)
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
