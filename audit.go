package lockbox

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"strconv"
	"time"
)

// Audit operations (SPEC §7). Stable: customers filter on them.
const (
	OpRequestCreated         = "request.created"
	OpRequestReviewed        = "request.reviewed"
	OpRequestApproved        = "request.approved"
	OpRequestDenied          = "request.denied"
	OpRequestCanceled        = "request.canceled"
	OpRequestExpired         = "request.expired"
	OpRequestActivated       = "request.activated"
	OpRequestCompleted       = "request.completed"
	OpRequestRevoked         = "request.revoked"
	OpRequestDecisionRefused = "request.decision_refused"
	// OpRequestApprovalRecorded is an approval short of the quorum (SPEC §11).
	OpRequestApprovalRecorded = "request.approval_recorded"
	// Extensions (SPEC §11).
	OpRequestExtensionRequested = "request.extension_requested"
	OpRequestExtensionApproved  = "request.extension_approved"
	OpRequestExtensionDenied    = "request.extension_denied"
	OpRequestExtensionLapsed    = "request.extension_lapsed"
	// Break-glass, escalation and the access report (SPEC §11).
	OpRequestBreakGlassActivated = "request.break_glass_activated"
	OpRequestAcknowledged        = "request.acknowledged"
	OpRequestEscalated           = "request.escalated"
	OpRequestAccessReport        = "request.access_report"
	OpOperatorAction             = "operator.action"
	OpOperatorActionBlocked      = "operator.action_blocked"
	OpSettingsUpdated            = "settings.updated"
	// OpPolicyUpdated: a tenant's policy rules changed (old and new).
	OpPolicyUpdated  = "policy.updated"
	OpRoleAssigned   = "role.assigned"
	OpRoleRemoved    = "role.removed"
	OpWebhookCreated = "webhook.created"
	OpWebhookDeleted = "webhook.deleted"
	// OpWebhookSecretRotated: an endpoint got a new signing secret.
	OpWebhookSecretRotated = "webhook.secret_rotated"
	// OpWebhookDeliveryResent: a finished delivery was sent again.
	OpWebhookDeliveryResent = "webhook.delivery_resent"
	// OpWebhookTestSent: a test delivery was queued to an endpoint.
	OpWebhookTestSent = "webhook.test_sent"
	// OpWebhookUpdated: an endpoint's URL, events or description changed.
	OpWebhookUpdated = "webhook.updated"

	// Provider log operations.
	OpTenantCreated         = "tenant.created"
	OpStaffAdded            = "staff.added"
	OpServiceAccountCreated = "service_account.created"
	OpServiceUpdated        = "service.updated"

	// Account lifecycle (SPEC §10.1): in the tenant's log for tenant users,
	// in the provider log for staff and service accounts.
	OpPasswordChanged = "account.password_changed"
	OpPasswordReset   = "account.password_reset"
	OpAccountDisabled = "account.disabled"
	OpAccountEnabled  = "account.enabled"
	OpAccountRemoved  = "account.removed"
	OpTokenRevoked    = "token.revoked"
	// OpSignedIn: a session or API token was issued to a person who
	// proved who they are (audit_data: method, session).
	OpSignedIn             = "account.signed_in"
	OpServiceAccountRotate = "service_account.rotated"
)

// Record types (SPEC §7).
const (
	RecordLockboxRequest  = "LockboxRequest"
	RecordLockboxDecision = "LockboxDecision"
	RecordOperatorAction  = "OperatorAction"
	RecordTenantAdmin     = "TenantAdmin"
	RecordProviderAdmin   = "ProviderAdmin"
)

// Actor types.
const (
	ActorTenantUser       = "tenant_user"
	ActorProviderStaff    = "provider_staff"
	ActorProviderOperator = "provider_operator"
	ActorServiceAccount   = "service_account"
	ActorSystem           = "system"
	// ActorPolicy is a tenant's policy rule deciding a request by itself;
	// the record's user_id is "policy:<rule id>".
	ActorPolicy = "policy"
)

// Results.
const (
	ResultSucceeded = "Succeeded"
	ResultFailed    = "Failed"
)

// AuditRecord is one entry of a tenant's append-only audit log. Its
// canonical encoding (Canonical) is the Merkle leaf: once appended, those
// exact bytes are what customers verify.
type AuditRecord struct {
	ID         string         `json:"id"`
	Index      int64          `json:"index"`
	Time       time.Time      `json:"time"`
	Tenant     string         `json:"tenant"`
	RecordType string         `json:"record_type"`
	Operation  string         `json:"operation"`
	UserID     string         `json:"user_id"`
	ActorType  string         `json:"actor_type"`
	ClientIP   string         `json:"client_ip"`
	RequestID  string         `json:"request_id"`
	Result     string         `json:"result"`
	AuditData  map[string]any `json:"audit_data"`
}

// canonicalRecord fixes the field order and the time format of the leaf.
type canonicalRecord struct {
	ID         string         `json:"id"`
	Index      int64          `json:"index"`
	Time       string         `json:"time"`
	Tenant     string         `json:"tenant"`
	RecordType string         `json:"record_type"`
	Operation  string         `json:"operation"`
	UserID     string         `json:"user_id"`
	ActorType  string         `json:"actor_type"`
	ClientIP   string         `json:"client_ip"`
	RequestID  string         `json:"request_id"`
	Result     string         `json:"result"`
	AuditData  map[string]any `json:"audit_data"`
}

// AuditTimeFormat is RFC 3339 in UTC with exactly three fractional digits,
// so equal instants always encode to equal bytes.
const AuditTimeFormat = "2006-01-02T15:04:05.000Z"

// Canonical returns the record's canonical JSON: fields in the order above,
// object keys of audit_data sorted, no HTML escaping, no insignificant
// whitespace, no trailing newline. The same record always yields the same bytes.
//
// It writes the fixed fields directly (most of their strings need no
// escaping) and leaves audit_data to encoding/json; the result is byte for
// byte what encoding/json makes of canonicalRecord (audit_test.go checks
// that, fuzzed). Appends encode inside the store's serialized section, so
// this is on the audit log's critical path.
func (r *AuditRecord) Canonical() ([]byte, error) {
	data := r.AuditData
	if data == nil {
		data = map[string]any{}
	}
	b := make([]byte, 0, 512)
	b = append(b, `{"id":`...)
	b = appendJSONString(b, r.ID)
	b = append(b, `,"index":`...)
	b = strconv.AppendInt(b, r.Index, 10)
	b = append(b, `,"time":"`...)
	b = r.Time.UTC().AppendFormat(b, AuditTimeFormat)
	b = append(b, '"')
	for _, f := range [...]struct{ key, value string }{
		{`,"tenant":`, r.Tenant}, {`,"record_type":`, r.RecordType}, {`,"operation":`, r.Operation},
		{`,"user_id":`, r.UserID}, {`,"actor_type":`, r.ActorType}, {`,"client_ip":`, r.ClientIP},
		{`,"request_id":`, r.RequestID}, {`,"result":`, r.Result},
	} {
		b = append(b, f.key...)
		b = appendJSONString(b, f.value)
	}
	b = append(b, `,"audit_data":`...)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(data); err != nil {
		return nil, err
	}
	b = append(b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
	return append(b, '}'), nil
}

// appendJSONString appends s as encoding/json (without HTML escaping)
// writes it: printable ASCII other than '"' and '\\' as it is, anything else
// through encoding/json itself.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7f || c == '"' || c == '\\' {
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			enc.Encode(s) // a string always encodes
			return append(b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// LeafHash is the RFC 6962 leaf hash of canonical record bytes:
// SHA-256(0x00 || data).
func LeafHash(canonical []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte{0})
	h.Write(canonical)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// ParseAuditRecord decodes canonical bytes back into a record.
func ParseAuditRecord(b []byte) (*AuditRecord, error) {
	var c canonicalRecord
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&c); err != nil {
		return nil, err
	}
	t, err := time.Parse(AuditTimeFormat, c.Time)
	if err != nil {
		return nil, err
	}
	return &AuditRecord{
		ID: c.ID, Index: c.Index, Time: t, Tenant: c.Tenant, RecordType: c.RecordType,
		Operation: c.Operation, UserID: c.UserID, ActorType: c.ActorType, ClientIP: c.ClientIP,
		RequestID: c.RequestID, Result: c.Result, AuditData: c.AuditData,
	}, nil
}
