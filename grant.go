package lockbox

import (
	"context"
	"time"
)

// Grant tokens and data-plane enforcement (SPEC §6).

// MaxGrantTTL caps a grant token's lifetime: an operator asks again to
// refresh, so a leaked token is useful for minutes, not hours.
const MaxGrantTTL = 15 * time.Minute

// DefaultGrantIssuer is the "iss" of grant tokens when the server is given
// no issuer.
const DefaultGrantIssuer = "lockbox"

// Grant token validation limits. Operations and resources come from
// data-plane services; they are bounded like every other text field.
const (
	MaxOperationLen = 200
	MaxResourceLen  = 1000
	MaxClientIPLen  = 64
	MaxGrantLen     = 8192
)

// GrantClaims is what a grant token asserts (the JWT claims of SPEC §6).
type GrantClaims struct {
	Issuer     string    // iss
	Subject    string    // sub: the operator's email
	Audience   string    // aud: the service the grant is for
	Tenant     string    // tenant
	RequestID  string    // rid
	Operations []string  // ops: the approved operations
	IssuedAt   time.Time // iat
	NotBefore  time.Time // nbf
	ExpiresAt  time.Time // exp: at most MaxGrantTTL after iat, never after access_ends_at
}

// Grant is a signed grant token as handed to the operator.
type Grant struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
	RequestID string    `json:"request_id"`
	KID       string    `json:"kid"`
}

// GrantAuthority signs and verifies grant tokens. The workflow decides what
// a grant says and whether it is still honoured; the authority only does
// the cryptography (package grant implements it with go-jose).
type GrantAuthority interface {
	// Sign returns the signed token for c and the kid of the key used.
	Sign(ctx context.Context, c *GrantClaims) (token, kid string, err error)
	// Verify checks a token's algorithm, type, key, signature, issuer and
	// times at now, and returns its claims. EUNAUTHENTICATED, with a reason
	// a person understands, when the token is not a valid grant at now. An
	// authentic token that is merely expired or not valid yet returns its
	// claims along with that error (nil claims otherwise): the claims are
	// trustworthy, the permission is not.
	Verify(ctx context.Context, token string, now time.Time) (*GrantClaims, error)
}

// AccessCheck is a data-plane service's question: may the holder of Token
// perform Operation on Resource now?
type AccessCheck struct {
	Token     string `json:"token"`
	Operation string `json:"operation"`
	Resource  string `json:"resource"`
	// Service, when set, is the calling data-plane service: the grant's
	// audience must be this service.
	Service string `json:"service,omitempty"`
	// ClientIP is the operator's address as the data-plane service saw it
	// (operator actions only).
	ClientIP string `json:"client_ip,omitempty"`
}

// AccessDecision answers an AccessCheck. RequestID and AccessEndsAt are set
// whenever the token identified a request the caller may know about.
type AccessDecision struct {
	Allowed      bool       `json:"allowed"`
	Reason       string     `json:"reason"`
	RequestID    string     `json:"request_id,omitempty"`
	AccessEndsAt *time.Time `json:"access_ends_at,omitempty"`
}

// EnforcementService is the enforcement side of the workflow.
type EnforcementService interface {
	// IssueGrant signs a grant for the caller's own active request.
	// ENOTFOUND when the caller may not see the request; EFORBIDDEN when it
	// is not theirs; ECONFLICT when it is not active (a deadline that has
	// passed applies first, so no grant is issued after access_ends_at).
	IssueGrant(ctx context.Context, idOrRef string) (*Grant, error)
	// CheckAccess answers a data-plane service (service accounts only,
	// EFORBIDDEN otherwise): the token must verify, and the request it names
	// must be active now, before access_ends_at, for the token's service and
	// tenant, with the operation approved and in the token. A refusal is a
	// decision (Allowed false, with the reason), not an error; EINVALID only
	// for a malformed check.
	CheckAccess(ctx context.Context, in AccessCheck) (*AccessDecision, error)
	// RecordOperatorAction checks like CheckAccess and appends the action to
	// the tenant's audit log in the same transaction: operator.action when
	// allowed, operator.action_blocked when refused (an expired but
	// authentic grant included). A token that is not authentic names no
	// tenant it can be trusted for, so that refusal is answered but not
	// recorded.
	RecordOperatorAction(ctx context.Context, in AccessCheck) (*AccessDecision, error)
}
