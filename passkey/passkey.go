// Package passkey is Lockbox's WebAuthn relying party (SPEC §10.3), on
// github.com/go-webauthn/webauthn: registration ceremonies, assertion
// checks online (with the server's origin) and offline (from the audit
// log alone, for `lockbox audit verify`).
//
// It imports the root package, go-webauthn and the standard library.
package passkey

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/lockboxhq/lockbox"
)

// RelyingParty implements lockbox.PasskeyRelyingParty for one origin.
type RelyingParty struct {
	wa     *webauthn.WebAuthn
	rpID   string
	origin string
}

var _ lockbox.PasskeyRelyingParty = (*RelyingParty)(nil)

// New returns the relying party of externalURL (the URL people open the
// admin center at): its host is the RP ID, its scheme, host and port the
// only origin accepted.
func New(externalURL, displayName string) (*RelyingParty, error) {
	u, err := url.Parse(externalURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Hostname() == "" {
		return nil, fmt.Errorf("passkeys need an http(s) external URL; got %q", externalURL)
	}
	origin := u.Scheme + "://" + u.Host
	if displayName == "" {
		displayName = "Lockbox"
	}
	wa, err := webauthn.New(&webauthn.Config{
		RPID: u.Hostname(), RPDisplayName: displayName, RPOrigins: []string{origin},
		AttestationPreference: protocol.PreferNoAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey: protocol.ResidentKeyRequirementPreferred, UserVerification: protocol.VerificationRequired,
		},
		Timeouts: webauthn.TimeoutsConfig{
			Registration: webauthn.TimeoutConfig{Enforce: true, Timeout: lockbox.CeremonyTTL},
			Login:        webauthn.TimeoutConfig{Enforce: true, Timeout: lockbox.CeremonyTTL},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("webauthn relying party: %w", err)
	}
	return &RelyingParty{wa: wa, rpID: u.Hostname(), origin: origin}, nil
}

// RPID is the relying party id.
func (rp *RelyingParty) RPID() string { return rp.rpID }

// user adapts a Lockbox account to go-webauthn.
type user struct {
	u    *lockbox.User
	keys []*lockbox.Passkey
}

func (w user) WebAuthnID() []byte   { return []byte(w.u.ID) }
func (w user) WebAuthnName() string { return w.u.Email }
func (w user) WebAuthnDisplayName() string {
	if w.u.Name != "" {
		return w.u.Name
	}
	return w.u.Email
}

func (w user) WebAuthnCredentials() []webauthn.Credential {
	out := make([]webauthn.Credential, 0, len(w.keys))
	for _, k := range w.keys {
		id, err := lockbox.DecodeB64(k.ID)
		if err != nil {
			continue
		}
		out = append(out, webauthn.Credential{ID: id, PublicKey: k.PublicKey})
	}
	return out
}

// BeginRegistration returns navigator.credentials.create options that
// require user verification, allow a resident key, and exclude the keys
// the user has.
func (rp *RelyingParty) BeginRegistration(u *lockbox.User, existing []*lockbox.Passkey) ([]byte, []byte, error) {
	w := user{u: u, keys: existing}
	var exclude []protocol.CredentialDescriptor
	for _, c := range w.WebAuthnCredentials() {
		exclude = append(exclude, c.Descriptor())
	}
	creation, session, err := rp.wa.BeginRegistration(w, webauthn.WithExclusions(exclude))
	if err != nil {
		return nil, nil, fmt.Errorf("begin registration: %w", err)
	}
	options, err := json.Marshal(creation)
	if err != nil {
		return nil, nil, err
	}
	state, err := json.Marshal(session)
	return options, state, err
}

// FinishRegistration checks the browser's answer against the state.
func (rp *RelyingParty) FinishRegistration(u *lockbox.User, state, response []byte) (*lockbox.Passkey, error) {
	var session webauthn.SessionData
	if err := json.Unmarshal(state, &session); err != nil {
		return nil, fmt.Errorf("registration state: %w", err)
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return nil, invalid("The browser's answer is not a WebAuthn registration", err)
	}
	cred, err := rp.wa.CreateCredential(user{u: u}, session, parsed)
	if err != nil {
		return nil, invalid("The passkey could not be verified", err)
	}
	return &lockbox.Passkey{
		ID: base64.RawURLEncoding.EncodeToString(cred.ID), UserID: u.ID, PublicKey: cred.PublicKey,
		SignCount: cred.Authenticator.SignCount,
	}, nil
}

func invalid(msg string, err error) error {
	detail := err.Error()
	var perr *protocol.Error
	if pe, ok := err.(*protocol.Error); ok {
		perr = pe
		detail = perr.Details
	}
	return lockbox.Errorf(lockbox.EINVALID, "%s: %s.", msg, detail)
}

// assertionOptions is the publicKey member of navigator.credentials.get.
type assertionOptions struct {
	Challenge        string          `json:"challenge"`
	RPID             string          `json:"rpId"`
	Timeout          int64           `json:"timeout"`
	UserVerification string          `json:"userVerification"`
	AllowCredentials []allowedCredID `json:"allowCredentials"`
}

type allowedCredID struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// AssertionOptions returns navigator.credentials.get options over
// challenge for keys, user verification required.
func (rp *RelyingParty) AssertionOptions(challenge []byte, keys []*lockbox.Passkey) ([]byte, error) {
	o := assertionOptions{Challenge: base64.RawURLEncoding.EncodeToString(challenge), RPID: rp.rpID,
		Timeout: lockbox.CeremonyTTL.Milliseconds(), UserVerification: "required", AllowCredentials: []allowedCredID{}}
	for _, k := range keys {
		o.AllowCredentials = append(o.AllowCredentials, allowedCredID{Type: "public-key", ID: k.ID})
	}
	return json.Marshal(map[string]any{"publicKey": o})
}

// VerifyAssertion checks a against key over challenge at this origin, and
// that the authenticator's signature counter moved on (a cloned
// authenticator would repeat it).
func (rp *RelyingParty) VerifyAssertion(key *lockbox.Passkey, challenge []byte, a lockbox.PasskeyAssertion) (uint32, error) {
	parsed, err := parse(key, a)
	if err != nil {
		return 0, err
	}
	if err := verify(parsed, key.PublicKey, rp.rpID, []string{rp.origin}, challenge); err != nil {
		return 0, err
	}
	count := parsed.Response.AuthenticatorData.Counter
	if (count != 0 || key.SignCount != 0) && count <= key.SignCount {
		return 0, lockbox.Errorf(lockbox.EINVALID, "The passkey's signature counter went backwards: the authenticator may have been cloned.")
	}
	return count, nil
}

// CheckSignature checks an earlier assertion again, counter aside.
func (rp *RelyingParty) CheckSignature(key *lockbox.Passkey, challenge []byte, a lockbox.PasskeyAssertion) error {
	parsed, err := parse(key, a)
	if err != nil {
		return err
	}
	return verify(parsed, key.PublicKey, rp.rpID, []string{rp.origin}, challenge)
}

// VerifyOffline checks a signed assertion with a public key from the
// audit log, with no server: the relying party id is the one recorded
// when the key was registered, and the origin is taken from the client
// data once its host is that relying party's.
func VerifyOffline(publicKey []byte, rpID string, challenge []byte, a lockbox.PasskeyAssertion) error {
	parsed, err := parse(nil, a)
	if err != nil {
		return err
	}
	origin := parsed.Response.CollectedClientData.Origin
	if u, err := url.Parse(origin); err != nil || u.Hostname() != rpID {
		return lockbox.Errorf(lockbox.EINVALID, "The assertion was made at %q, not at relying party %q.", origin, rpID)
	}
	return verify(parsed, publicKey, rpID, []string{origin}, challenge)
}

func parse(key *lockbox.Passkey, a lockbox.PasskeyAssertion) (*protocol.ParsedCredentialAssertionData, error) {
	fields := map[string]string{"credential_id": a.CredentialID, "authenticator_data": a.AuthenticatorData,
		"client_data_json": a.ClientDataJSON, "signature": a.Signature}
	raw := map[string]string{}
	for name, v := range fields {
		b, err := lockbox.DecodeB64(v)
		if err != nil || len(b) == 0 {
			return nil, lockbox.FieldErrorf(lockbox.EINVALID, "passkey."+name, "passkey.%s must be base64url.", name)
		}
		raw[name] = base64.RawURLEncoding.EncodeToString(b)
	}
	if key != nil && raw["credential_id"] != key.ID {
		return nil, lockbox.Errorf(lockbox.EINVALID, "The assertion is by another passkey.")
	}
	body, err := json.Marshal(map[string]any{
		"id": raw["credential_id"], "rawId": raw["credential_id"], "type": "public-key",
		"response": map[string]string{"authenticatorData": raw["authenticator_data"],
			"clientDataJSON": raw["client_data_json"], "signature": raw["signature"]},
	})
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBody(bytes.NewReader(body))
	if err != nil {
		return nil, invalid("The passkey assertion is malformed", err)
	}
	return parsed, nil
}

func verify(parsed *protocol.ParsedCredentialAssertionData, publicKey []byte, rpID string, origins []string, challenge []byte) error {
	err := parsed.Verify(base64.RawURLEncoding.EncodeToString(challenge), rpID, "", origins, nil, nil,
		protocol.TopOriginExplicitVerificationMode, false, true, true, publicKey, protocol.SignaturePolicy{})
	if err != nil {
		return invalid("The passkey assertion does not verify", err)
	}
	return nil
}
