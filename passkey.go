package lockbox

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// Passkeys and decisions the provider cannot forge (SPEC §10.3). A user
// registers WebAuthn credentials; each registration is written to the
// user's log with the credential's public key, so anyone holding the log
// can later check, without Lockbox's database, that an approval was signed
// by an authenticator its approver registered.

// Audit operations of passkeys.
const (
	OpPasskeyRegistered = "passkey.registered"
	OpPasskeyRemoved    = "passkey.removed"
)

// NoticePasskeyAdded is the email to a population's admins that a passkey
// was added to an account (no links, like every Lockbox email).
const NoticePasskeyAdded = "account.passkey_added"

// Challenge kinds: what a stored WebAuthn challenge is for.
const (
	ChallengeRegistration = "registration"
	ChallengeDecision     = "decision"
	// ChallengeSignIn is the second step of a password sign-in of an
	// account with a passkey.
	ChallengeSignIn = "sign_in"
)

// Lifetimes of challenges.
const (
	// DecisionChallengeTTL is how long a decision nonce stays usable.
	DecisionChallengeTTL = 5 * time.Minute
	// CeremonyTTL bounds a registration or sign-in ceremony.
	CeremonyTTL = 5 * time.Minute
)

// Passkey is a WebAuthn credential registered to a user.
type Passkey struct {
	// ID is the credential id, base64url without padding.
	ID     string `json:"id"`
	UserID string `json:"-"`
	Name   string `json:"name"`
	// PublicKey is the credential's COSE public key (JSON: base64).
	PublicKey  []byte     `json:"public_key"`
	SignCount  uint32     `json:"-"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

// PasskeyAssertion is a WebAuthn assertion as a client sends it: each
// field base64url (padding and standard base64 are accepted too).
type PasskeyAssertion struct {
	CredentialID      string `json:"credential_id"`
	AuthenticatorData string `json:"authenticator_data"`
	ClientDataJSON    string `json:"client_data_json"`
	Signature         string `json:"signature"`
}

// DecodeB64 decodes base64url or standard base64, with or without padding:
// browsers hand out base64url, people paste either.
func DecodeB64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	s = strings.NewReplacer("+", "-", "/", "_").Replace(s)
	return base64.RawURLEncoding.DecodeString(s)
}

// Challenge is a server-side WebAuthn challenge: a registration or
// sign-in ceremony's state, or a decision nonce. It is single use.
type Challenge struct {
	ID     string // random; the nonce of a decision
	UserID string
	Kind   string // ChallengeRegistration or ChallengeDecision
	// Subject binds the challenge: the request id of a decision.
	Subject   string
	Data      []byte // ceremony state
	ExpiresAt time.Time
}

// PasskeyTx is the passkey part of a store transaction.
type PasskeyTx interface {
	// InsertPasskey stores a credential; ECONFLICT when its id is registered.
	InsertPasskey(ctx context.Context, p *Passkey) error
	// ListPasskeys lists a user's credentials, oldest first.
	ListPasskeys(ctx context.Context, userID string) ([]*Passkey, error)
	// DeletePasskey removes one of a user's credentials; ENOTFOUND when
	// the user has none with that id.
	DeletePasskey(ctx context.Context, userID, id string) error
	// TouchPasskey records a use: the authenticator's signature counter.
	TouchPasskey(ctx context.Context, id string, signCount uint32, at time.Time) error
	// InsertChallenge stores c and drops challenges expired at now.
	InsertChallenge(ctx context.Context, c *Challenge, now time.Time) error
	// Challenges lists a user's unexpired challenges of kind and subject.
	Challenges(ctx context.Context, userID, kind, subject string, now time.Time) ([]*Challenge, error)
	// DeleteChallenge uses up a challenge; ENOTFOUND when it is gone (used
	// already, by a racing call too).
	DeleteChallenge(ctx context.Context, id string) error
}

// PasskeyRelyingParty runs the WebAuthn ceremonies for one relying party
// (the server's external URL). It is an adapter: cmd/lockbox wires one in.
type PasskeyRelyingParty interface {
	// RPID is the relying party id (the external URL's host).
	RPID() string
	// BeginRegistration returns the options for navigator.credentials.create
	// (JSON, {"publicKey": …}) and the ceremony state to keep.
	BeginRegistration(u *User, existing []*Passkey) (options, state []byte, err error)
	// FinishRegistration checks the browser's answer (the
	// PublicKeyCredential as JSON) against the state; EINVALID when wrong.
	FinishRegistration(u *User, state, response []byte) (*Passkey, error)
	// AssertionOptions returns the options for navigator.credentials.get
	// (JSON, {"publicKey": …}) over challenge for keys.
	AssertionOptions(challenge []byte, keys []*Passkey) ([]byte, error)
	// VerifyAssertion checks that a was made by key over challenge, with
	// user verification, for this relying party; it returns the new
	// signature counter. EINVALID when it does not verify.
	VerifyAssertion(key *Passkey, challenge []byte, a PasskeyAssertion) (uint32, error)
	// CheckSignature is VerifyAssertion without the counter: it checks an
	// assertion made earlier again (a signed approval, before a grant).
	CheckSignature(key *Passkey, challenge []byte, a PasskeyAssertion) error
}

// PasskeyBegin is the answer to the begin step of a ceremony.
type PasskeyBegin struct {
	// Options go to navigator.credentials.create or .get as they are.
	Options json.RawMessage `json:"options"`
}

// PasskeyService manages the caller's own passkeys. No route lets anyone
// act on another account's passkeys: a provider admin cannot add one to a
// tenant user.
type PasskeyService interface {
	ListPasskeys(ctx context.Context) ([]*Passkey, error)
	// BeginPasskey starts a registration; FinishPasskey completes it with
	// the browser's answer (JSON) and a name, audits it with the public
	// key and emails the admins of the caller's population.
	BeginPasskey(ctx context.Context) (*PasskeyBegin, error)
	FinishPasskey(ctx context.Context, name string, response json.RawMessage) (*Passkey, error)
	// RemovePasskey removes one of the caller's passkeys (ENOTFOUND).
	RemovePasskey(ctx context.Context, id string) error
	// DecisionChallenge issues a nonce for a signed decision on a request
	// and the statement to sign (SPEC §10.3).
	DecisionChallenge(ctx context.Context, idOrRef string, in DecisionIntent) (*DecisionChallenge, error)
	// LoginPasskey finishes a password sign-in that answered
	// EPASSKEYREQUIRED: the challenge it carried and an assertion over it
	// by one of the account's passkeys give the bearer token. A wrong
	// assertion counts as a failed sign-in.
	LoginPasskey(ctx context.Context, challenge string, a PasskeyAssertion) (*Session, error)
}

// SignInChallenge is the second step of a password sign-in of an account
// with a passkey: Challenge names it (single use, bound to the account,
// SignInChallengeTTL), Options go to navigator.credentials.get.
type SignInChallenge struct {
	Challenge string          `json:"challenge"`
	ExpiresAt time.Time       `json:"expires_at"`
	Options   json.RawMessage `json:"options"`
}

// SignInChallengeTTL is how long the passkey step of a sign-in may take.
const SignInChallengeTTL = 5 * time.Minute

// DecisionIntent is what a decider is about to do: the body of
// POST /v1/requests/{id}/decision-challenge.
type DecisionIntent struct {
	// Decision is approve, deny, extension_approve or extension_deny.
	Decision string `json:"decision"`
	Changes
}

// DecisionChallenge is what a decider signs: the statement, its SHA-256 as
// the WebAuthn challenge, and the options for navigator.credentials.get.
type DecisionChallenge struct {
	Nonce     string          `json:"nonce"`
	Statement string          `json:"statement"`
	Challenge string          `json:"challenge"` // base64url SHA-256 of statement
	ExpiresAt time.Time       `json:"expires_at"`
	Options   json.RawMessage `json:"options"`
}

// SignedEvents are the decisions a tenant requiring signed decisions
// must sign.
var SignedEvents = []Event{EventApprove, EventDeny, EventExtensionApprove, EventExtensionDeny}

// DecisionStatement is what a signed decision says (SPEC §10.3). Its
// canonical JSON keeps the fields in this order; the WebAuthn challenge is
// its SHA-256.
type DecisionStatement struct {
	V               int      `json:"v"`
	Tenant          string   `json:"tenant"`
	RequestID       string   `json:"request_id"`
	Reference       string   `json:"reference"`
	Decision        string   `json:"decision"`
	Operations      []string `json:"operations"`
	DurationMinutes int      `json:"duration_minutes"`
	StartTime       *string  `json:"start_time"`
	DecidedBy       string   `json:"decided_by"`
	Nonce           string   `json:"nonce"`
}

// NewDecisionStatement is the statement of decider's event ev on r as it
// stands, with an approver's changes: the operations, duration and start
// the decider says yes (or no) to. For an extension the duration is the
// extension's minutes.
func NewDecisionStatement(r *AccessRequest, ev Event, decider string, c Changes, nonce string) DecisionStatement {
	st := DecisionStatement{V: 1, Tenant: r.Tenant, RequestID: r.ID, Reference: r.Reference,
		Decision: string(ev), Operations: r.Operations, DurationMinutes: r.DurationMinutes,
		DecidedBy: decider, Nonce: nonce}
	start := r.StartTime
	if ev == EventApprove {
		if c.Operations != nil {
			st.Operations = c.Operations
		}
		if c.DurationMinutes != nil {
			st.DurationMinutes = *c.DurationMinutes
		}
		if c.StartTime != nil {
			start = c.StartTime
		}
	}
	if ev == EventExtensionApprove || ev == EventExtensionDeny {
		if x := r.PendingExtension(); x != nil {
			st.DurationMinutes = x.Minutes
		}
	}
	if start != nil {
		s := start.UTC().Format(time.RFC3339)
		st.StartTime = &s
	}
	if st.Operations == nil {
		st.Operations = []string{}
	}
	return st
}

// Canonical is the statement's canonical JSON: keys in the order above,
// no insignificant space, no HTML escaping.
func (st DecisionStatement) Canonical() string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(st) // strings and ints always encode
	return strings.TrimSuffix(buf.String(), "\n")
}

// StatementChallenge is the WebAuthn challenge of a canonical statement.
func StatementChallenge(canonical string) []byte {
	h := sha256.Sum256([]byte(canonical))
	return h[:]
}

// SignedDecision is a decision's statement (canonical JSON, exactly as
// signed) and the assertion over it; audited as audit_data.signed_decision.
type SignedDecision struct {
	Statement string           `json:"statement"`
	Assertion PasskeyAssertion `json:"assertion"`
}

// AuditData is the signed decision as audit data.
func (sd *SignedDecision) AuditData() map[string]any {
	return map[string]any{
		"statement": sd.Statement,
		"assertion": map[string]any{
			"credential_id": sd.Assertion.CredentialID, "authenticator_data": sd.Assertion.AuthenticatorData,
			"client_data_json": sd.Assertion.ClientDataJSON, "signature": sd.Assertion.Signature,
		},
	}
}

// Covers checks that st is decider's ev on r and says yes to at least
// what r grants: every operation and the whole duration. A statement
// that does not is no approval of r as it stands.
func (st DecisionStatement) Covers(r *AccessRequest, ev Event, decider string) error {
	switch {
	case st.V != 1 || st.Tenant != r.Tenant || st.RequestID != r.ID || st.Decision != string(ev) || st.DecidedBy != decider:
		return Errorf(EINVALID, "The signed statement is not %s's %s of request %s.", decider, ev, r.Reference)
	case ev == EventApprove && st.DurationMinutes < r.DurationMinutes:
		return Errorf(EINVALID, "The signed statement approves %d minutes; request %s grants %d.", st.DurationMinutes, r.Reference, r.DurationMinutes)
	}
	for _, op := range r.Operations {
		if ev == EventApprove && !slices.Contains(st.Operations, op) {
			return Errorf(EINVALID, "The signed statement does not approve operation %q.", op)
		}
	}
	return nil
}
