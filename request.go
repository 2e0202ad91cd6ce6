package lockbox

import (
	"context"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Status is where an access request is in its lifecycle (SPEC §3).
type Status string

const (
	StatusPendingReview Status = "pending_review"
	StatusPending       Status = "pending"
	StatusApproved      Status = "approved"
	StatusActive        Status = "active"
	StatusCompleted     Status = "completed"
	StatusDenied        Status = "denied"
	StatusCanceled      Status = "canceled"
	StatusExpired       Status = "expired"
	StatusRevoked       Status = "revoked"
)

// Statuses lists every status in lifecycle order.
var Statuses = []Status{StatusPendingReview, StatusPending, StatusApproved, StatusActive,
	StatusCompleted, StatusDenied, StatusCanceled, StatusExpired, StatusRevoked}

// Terminal reports whether no further transition can leave s.
func (s Status) Terminal() bool {
	switch s {
	case StatusCompleted, StatusDenied, StatusCanceled, StatusExpired, StatusRevoked:
		return true
	}
	return false
}

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	for _, x := range Statuses {
		if s == x {
			return true
		}
	}
	return false
}

// Limits of SPEC §3. Durations are plain elapsed time: no calendar arithmetic.
const (
	ReviewTTL              = 12 * time.Hour
	MinAccessDuration      = time.Minute
	MaxAccessDuration      = 4 * time.Hour
	MaxServiceRequestLen   = 64
	MaxReasonLen           = 2000
	MaxCommentLen          = 1000
	MaxStartTimeAhead      = 30 * 24 * time.Hour
	DefaultRequestPageSize = 100
	MaxRequestPageSize     = 1000
)

// AccessRequest is an operator's request for time-boxed access to one
// tenant's content.
type AccessRequest struct {
	ID              string     `json:"id"`
	Reference       string     `json:"reference"`
	Tenant          string     `json:"tenant"`
	Service         string     `json:"service"`
	ServiceRequest  string     `json:"service_request"`
	Reason          string     `json:"reason"`
	Operations      []string   `json:"operations"`
	DurationMinutes int        `json:"duration_minutes"`
	StartTime       *time.Time `json:"start_time"`
	Status          Status     `json:"status"`
	RequestedBy     string     `json:"requested_by"`
	CreatedAt       time.Time  `json:"created_at"`
	ExpiresAt       time.Time  `json:"expires_at"`
	ReviewedBy      *string    `json:"reviewed_by"`
	ReviewedAt      *time.Time `json:"reviewed_at"`
	ReviewComment   *string    `json:"review_comment"`
	DecidedBy       *string    `json:"decided_by"`
	DecidedAt       *time.Time `json:"decided_at"`
	DecisionComment *string    `json:"decision_comment"`
	AccessStartsAt  *time.Time `json:"access_starts_at"`
	AccessEndsAt    *time.Time `json:"access_ends_at"`
	EndedAt         *time.Time `json:"ended_at"`
	// EndedBy and EndComment record who canceled, revoked or completed the
	// request (the system when a deadline ended it).
	EndedBy    *string `json:"ended_by"`
	EndComment *string `json:"end_comment"`
	// RequestedOperations, RequestedDurationMinutes and RequestedStartTime
	// are what the operator asked for; Operations, DurationMinutes and
	// StartTime are what the approvals so far grant (SPEC §11).
	RequestedOperations      []string   `json:"requested_operations"`
	RequestedDurationMinutes int        `json:"requested_duration_minutes"`
	RequestedStartTime       *time.Time `json:"requested_start_time"`
	// ApprovalsRequired is the quorum, fixed when the request became
	// pending; Approvals are the approvals so far.
	ApprovalsRequired int        `json:"approvals_required"`
	Approvals         []Approval `json:"approvals"`
	// Extensions are the requester's asks for more time, oldest first; only
	// the last may be pending (SPEC §11).
	Extensions []Extension `json:"extensions"`
	// Policy is what the tenant's policy rules decided when the request
	// became pending (SPEC §11); nil when the tenant had no rules then.
	Policy *PolicyDecision `json:"policy,omitempty"`
	// BreakGlass marks an emergency request, with its Incident reference
	// (SPEC §11, breakglass.go). NeedsReview is set when a break-glass
	// request starts access and cleared when a tenant approver
	// acknowledges it (AcknowledgedBy, AcknowledgedAt, AcknowledgeComment).
	BreakGlass         bool       `json:"break_glass"`
	Incident           string     `json:"incident"`
	NeedsReview        bool       `json:"needs_review"`
	AcknowledgedBy     *string    `json:"acknowledged_by"`
	AcknowledgedAt     *time.Time `json:"acknowledged_at"`
	AcknowledgeComment *string    `json:"acknowledge_comment"`
	// EscalateAt is when the request, still pending, is escalated (fixed
	// when it became pending, from the tenant's setting then); EscalatedAt
	// is when it was.
	EscalateAt  *time.Time `json:"escalate_at"`
	EscalatedAt *time.Time `json:"escalated_at"`
	// Version increases with every change; clients send it back (If-Match)
	// to act only on the state they saw.
	Version int `json:"version"`

	// RequesterID is the requester's stable user id: separation of duties
	// compares ids, never addresses, so an alias cannot pass as someone else.
	RequesterID string `json:"-"`
	// TenantVisible is set once the request has reached the tenant
	// (pending, or system-approved); provider-internal steps stay hidden.
	TenantVisible bool `json:"-"`
	// Deadline is when the request next changes by itself (NextDeadline)
	// and RemindAt when its approvers get an expiry reminder (RemindAt);
	// nil for none. The workflow sets both on every change (Schedule) and
	// the stores keep them, so that the deadline worker finds what is due by
	// a range scan. Clients see the times they derive from instead.
	Deadline *time.Time `json:"-"`
	RemindAt *time.Time `json:"-"`
}

// Duration is the approved access duration.
func (r *AccessRequest) Duration() time.Duration {
	return time.Duration(r.DurationMinutes) * time.Minute
}

// Clone returns a deep copy, so a caller can change it without aliasing.
func (r *AccessRequest) Clone() *AccessRequest {
	c := *r
	c.Operations = append([]string(nil), r.Operations...)
	c.RequestedOperations = slices.Clone(r.RequestedOperations)
	if r.Extensions != nil {
		c.Extensions = make([]Extension, len(r.Extensions))
		for i, x := range r.Extensions {
			x.Approvals = slices.Clone(x.Approvals)
			c.Extensions[i] = x
		}
	}
	if r.Approvals != nil {
		c.Approvals = make([]Approval, len(r.Approvals))
		for i, a := range r.Approvals {
			a.Operations = slices.Clone(a.Operations)
			c.Approvals[i] = a
		}
	}
	if r.Policy != nil {
		p := *r.Policy
		p.Matched = slices.Clone(p.Matched)
		p.Errors = slices.Clone(p.Errors)
		c.Policy = &p
	}
	return &c
}

// ForViewer returns r as u may see it. A tenant's policy rules are u's to
// read only with PermReadPolicy on that tenant (its global admins and
// lockbox approvers, never the provider), and the messages of the rules
// that failed to evaluate can quote them or the request's input: anyone
// else gets the policy's outcome, deciding rule, matches and quorum, which
// explain what happened to the request (decided_by names the rule too),
// without Policy.Errors. r itself never changes, since it may be a stored
// or cached value: what is hidden is hidden on a clone. Every workflow
// method that hands a request to a caller returns it through here. A
// hidden copy is for showing, never for deciding: PolicyDecision's
// HoldsForPeople reads Errors.
func (r *AccessRequest) ForViewer(u *User) *AccessRequest {
	if r == nil || r.Policy == nil || len(r.Policy.Errors) == 0 || Can(u, PermReadPolicy, r.Tenant) {
		return r
	}
	c := r.Clone()
	c.Policy.Errors = nil
	return c
}

// A request's reference is ReferencePrefix and ReferenceLen-3 Crockford
// base32 characters ("LB-7K3Q9MXA"); people use it wherever the id works.
const (
	ReferencePrefix = "LB-"
	ReferenceLen    = 11
)

// IsReference reports whether key has the form of a request's reference,
// in any letter case, rather than of its id (a UUID): a key names a
// request by one or the other, so stores look it up in the one index its
// form names.
func IsReference(key string) bool {
	return len(key) == ReferenceLen && strings.EqualFold(key[:len(ReferencePrefix)], ReferencePrefix)
}

// NewRequest is an operator's input to file a request.
type NewRequest struct {
	Tenant          string     `json:"tenant"`
	Service         string     `json:"service"`
	ServiceRequest  string     `json:"service_request"`
	Reason          string     `json:"reason"`
	Operations      []string   `json:"operations,omitempty"`
	DurationMinutes int        `json:"duration_minutes"`
	StartTime       *time.Time `json:"start_time,omitempty"`
	// BreakGlass files an emergency request; Incident (required then) is
	// the incident it is for.
	BreakGlass bool   `json:"break_glass,omitempty"`
	Incident   string `json:"incident,omitempty"`
}

// RequestFilter narrows a request listing. Results are newest first.
type RequestFilter struct {
	Tenant       string
	Status       []Status
	Service      string
	CreatedAfter *time.Time
	// NeedsReview lists only break-glass requests a tenant approver has
	// yet to acknowledge.
	NeedsReview bool
	Limit       int
	Cursor      string
}

// RequestPage is one page of a listing; NextCursor is "" on the last page.
type RequestPage struct {
	Requests   []*AccessRequest `json:"requests"`
	NextCursor string           `json:"next_cursor,omitempty"`
}

// Decision is the body of a decision call.
type Decision struct {
	Comment string `json:"comment,omitempty"`
	// Changes narrow the request on approval (SPEC §11); other decisions
	// refuse them.
	Changes
	// Extend is the ask of POST /v1/requests/{id}/extend.
	Extend *ExtensionAsk `json:"-"`
	// IfVersion, when non-zero, makes the call succeed only if the request
	// is still at that version (HTTP If-Match): the caller acts on what it saw.
	IfVersion int `json:"-"`
	// Passkey is the decider's assertion over the decision statement, in a
	// tenant that requires signed decisions (SPEC §10.3).
	Passkey *PasskeyAssertion `json:"passkey,omitempty"`
	// Signed is set by the workflow once Passkey verified.
	Signed *SignedDecision `json:"-"`
}

// RequestService is the access-request workflow. Every method authorizes the
// caller in the context; a request the caller may not see answers ENOTFOUND,
// and every request it returns is as the caller may see it (ForViewer: the
// policy's errors only to those who may read the tenant's rules).
type RequestService interface {
	// CreateRequest files a request (operator). EINVALID on a bad field.
	CreateRequest(ctx context.Context, in NewRequest) (*AccessRequest, error)
	// GetRequest finds a request by id or reference. ENOTFOUND when missing
	// or not visible to the caller.
	GetRequest(ctx context.Context, idOrRef string) (*AccessRequest, error)
	// ListRequests lists what the caller may see.
	ListRequests(ctx context.Context, f RequestFilter) (*RequestPage, error)
	// Act applies a person's event (review, approve, deny, cancel, revoke,
	// complete). ECONFLICT when the request's state does not allow it (the
	// refusal is audited); EFORBIDDEN when the caller's role does not.
	Act(ctx context.Context, idOrRef string, ev Event, d Decision) (*AccessRequest, error)
	// AccessReport returns what was done with a request's access (SPEC
	// §11): the final report once access ended, the report so far while
	// active. ENOTFOUND as GetRequest; ECONFLICT when the request never
	// gave access.
	AccessReport(ctx context.Context, idOrRef string) (*AccessReport, error)
}

// ValidText checks a bounded one-line text field, named as in the API:
// valid UTF-8, at most max characters, and no control characters (NUL,
// escape sequences, line breaks), which no name or identifier needs and
// which PostgreSQL refuses to store (SPEC §14).
func ValidText(field, s string, max int, required bool) error {
	return validText(field, s, max, required, false)
}

// ValidNote is ValidText for a person's free text (a request's reason, a
// decision's comment), which may also hold line breaks and tabs.
func ValidNote(field, s string, max int, required bool) error {
	return validText(field, s, max, required, true)
}

func validText(field, s string, max int, required, multiline bool) error {
	if required && s == "" {
		return FieldErrorf(EINVALID, field, "%s is required.", field)
	}
	if !utf8.ValidString(s) {
		return FieldErrorf(EINVALID, field, "%s must be valid UTF-8 text.", field)
	}
	if n := utf8.RuneCountInString(s); n > max {
		return FieldErrorf(EINVALID, field, "%s is %d characters long; the limit is %d.", field, n, max)
	}
	if i := controlIndex(s, multiline); i >= 0 {
		what := "control characters"
		if multiline {
			what = "control characters other than line breaks and tabs"
		}
		return FieldErrorf(EINVALID, field, "%s must not contain %s; character %d is %U.", field, what, utf8.RuneCountInString(s[:i])+1, []rune(s[i:])[0])
	}
	return nil
}

// controlIndex is the byte offset of the first control character in s
// (C0, DEL, C1; multiline allows tab, line feed and the CR of a CRLF that
// browsers send from a textarea), or -1.
func controlIndex(s string, multiline bool) int {
	for i, r := range s {
		if !unicode.IsControl(r) {
			continue
		}
		if multiline && (r == '\n' || r == '\t' || r == '\r' && strings.HasPrefix(s[i+1:], "\n")) {
			continue
		}
		return i
	}
	return -1
}

// HasControl reports whether s holds any control character: identifiers
// (tenant and service names, ids, emails) are refused with it before they
// reach a store.
func HasControl(s string) bool { return controlIndex(s, false) >= 0 }
