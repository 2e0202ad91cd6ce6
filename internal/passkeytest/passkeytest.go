// Package passkeytest is a software WebAuthn authenticator for tests: it
// answers real registration options and signs real assertions (ES256,
// "none" attestation), so the relying party under test verifies them as
// it would a security key's. Browser tests use Chromium's virtual
// authenticator instead.
package passkeytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"

	"github.com/lockboxhq/lockbox"
)

// Authenticator holds one credential.
type Authenticator struct {
	key    *ecdsa.PrivateKey
	ID     []byte
	RPID   string
	Origin string
	count  uint32
	// NoUV makes the authenticator claim no user verification.
	NoUV bool
}

// New returns an authenticator for the relying party rpID at origin.
func New(rpID, origin string) *Authenticator {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	id := make([]byte, 16)
	rand.Read(id)
	return &Authenticator{key: key, ID: id, RPID: rpID, Origin: origin}
}

// CredentialID is the credential id, base64url.
func (a *Authenticator) CredentialID() string { return b64(a.ID) }

// COSEKey is the credential's public key, COSE-encoded.
func (a *Authenticator) COSEKey() []byte {
	k := webauthncose.EC2PublicKeyData{
		PublicKeyData: webauthncose.PublicKeyData{KeyType: int64(webauthncose.EllipticKey), Algorithm: int64(webauthncose.AlgES256)},
		Curve:         1, XCoord: pad32(a.key.X.Bytes()), YCoord: pad32(a.key.Y.Bytes()),
	}
	b, err := webauthncbor.Marshal(k)
	if err != nil {
		panic(err)
	}
	return b
}

func pad32(b []byte) []byte { return append(make([]byte, 32-len(b)), b...) }

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func (a *Authenticator) flags(extra byte) byte {
	f := byte(0x01) | extra // user present
	if !a.NoUV {
		f |= 0x04
	}
	return f
}

// Register answers navigator.credentials.create options ({"publicKey":…})
// with the PublicKeyCredential JSON a browser would send.
func (a *Authenticator) Register(options []byte) ([]byte, error) {
	var o struct {
		PublicKey struct {
			Challenge string `json:"challenge"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(options, &o); err != nil {
		return nil, fmt.Errorf("creation options: %w", err)
	}
	cd, _ := json.Marshal(map[string]any{"type": "webauthn.create", "challenge": o.PublicKey.Challenge, "origin": a.Origin, "crossOrigin": false})
	rp := sha256.Sum256([]byte(a.RPID))
	auth := append(rp[:], a.flags(0x40))
	auth = binary.BigEndian.AppendUint32(auth, a.count)
	auth = append(auth, make([]byte, 16)...) // AAGUID
	auth = binary.BigEndian.AppendUint16(auth, uint16(len(a.ID)))
	auth = append(auth, a.ID...)
	auth = append(auth, a.COSEKey()...)
	att, err := webauthncbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": auth})
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{
		"id": b64(a.ID), "rawId": b64(a.ID), "type": "public-key",
		"response": map[string]string{"clientDataJSON": b64(cd), "attestationObject": b64(att)},
	})
}

// Assert signs challenge as navigator.credentials.get would.
func (a *Authenticator) Assert(challenge []byte) lockbox.PasskeyAssertion {
	return a.AssertAt(a.Origin, challenge)
}

// AssertAt is Assert at another origin (a phishing page).
func (a *Authenticator) AssertAt(origin string, challenge []byte) lockbox.PasskeyAssertion {
	a.count++
	cd, _ := json.Marshal(map[string]any{"type": "webauthn.get", "challenge": b64(challenge), "origin": origin, "crossOrigin": false})
	rp := sha256.Sum256([]byte(a.RPID))
	auth := append(rp[:], a.flags(0))
	auth = binary.BigEndian.AppendUint32(auth, a.count)
	cdh := sha256.Sum256(cd)
	digest := sha256.Sum256(append(auth, cdh[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, a.key, digest[:])
	if err != nil {
		panic(err)
	}
	return lockbox.PasskeyAssertion{CredentialID: b64(a.ID), AuthenticatorData: b64(auth), ClientDataJSON: b64(cd), Signature: b64(sig)}
}
