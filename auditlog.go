package lockbox

import (
	"context"
	"slices"
	"time"
)

// This file is the vocabulary of the customer-verifiable audit log (SPEC §7):
// search and export of a log's records, and the Merkle log over them that
// customers verify (signed checkpoints, entries, proofs). The record itself
// and its canonical encoding are in audit.go.

// Audit search bounds (SPEC §7).
const (
	DefaultAuditPageSize = 100
	MaxAuditPageSize     = 5000
	// MaxLogEntriesPage bounds one GET …/log/entries answer; a client asks
	// again from the index after the last one it received.
	MaxLogEntriesPage = 1000
)

// AuditOperations lists every operation a record may carry, tenant and
// provider logs alike, so a filter naming anything else is refused.
var AuditOperations = []string{
	OpRequestCreated, OpRequestReviewed, OpRequestApproved, OpRequestDenied, OpRequestCanceled,
	OpRequestExpired, OpRequestActivated, OpRequestCompleted, OpRequestRevoked,
	OpRequestDecisionRefused, OpOperatorAction, OpOperatorActionBlocked, OpSettingsUpdated, OpPolicyUpdated,
	OpRoleAssigned, OpRoleRemoved, OpWebhookCreated, OpWebhookDeleted, OpWebhookSecretRotated, OpWebhookDeliveryResent, OpWebhookTestSent, OpWebhookUpdated,
	OpTenantCreated, OpStaffAdded, OpServiceAccountCreated, OpServiceUpdated,
	OpPasswordChanged, OpPasswordReset, OpAccountDisabled, OpAccountEnabled, OpAccountRemoved,
	OpTokenRevoked, OpSignedIn, OpServiceAccountRotate, OpSSOConfigured, OpBreakGlassSignIn, OpSSOVerified,
	// SPEC §11.
	OpRequestApprovalRecorded, OpRequestExtensionRequested, OpRequestExtensionApproved,
	OpRequestExtensionDenied, OpRequestExtensionLapsed, OpRequestBreakGlassActivated,
	OpRequestAcknowledged, OpRequestEscalated, OpRequestAccessReport,
}

// AuditRecordTypes lists every record type.
var AuditRecordTypes = []string{
	RecordLockboxRequest, RecordLockboxDecision, RecordOperatorAction, RecordTenantAdmin, RecordProviderAdmin,
}

// IsAuditOperation reports whether op is a known operation.
func IsAuditOperation(op string) bool { return slices.Contains(AuditOperations, op) }

// IsAuditRecordType reports whether t is a known record type.
func IsAuditRecordType(t string) bool { return slices.Contains(AuditRecordTypes, t) }

// AuditFilter is what a client searches a log with (the query parameters of
// GET /v1/tenants/{tenant}/audit). Empty fields do not filter.
type AuditFilter struct {
	Start      *time.Time // records at or after Start
	End        *time.Time // records strictly before End
	Operations []string   // any of these operations
	Users      []string   // any of these user_id values (exact match)
	RequestID  string
	RecordType string
	// Limit is the page size: 0 means DefaultAuditPageSize; at most
	// MaxAuditPageSize. Export ignores it.
	Limit int
	// Cursor is the opaque NextCursor of the previous page.
	Cursor string
}

// AuditPage is one page of a search, newest first. NextCursor is "" on the
// last page.
type AuditPage struct {
	Records    []*AuditRecord `json:"records"`
	NextCursor string         `json:"next_cursor,omitempty"`
}

// LogEntry is one leaf of a log: its index and the exact canonical bytes the
// Merkle tree hashes (encoding/json serves Data as base64).
type LogEntry struct {
	Index int64  `json:"index"`
	Data  []byte `json:"data"`
}

// Checkpoint is a log's signed checkpoint (c2sp.org/tlog-checkpoint): Note
// is the whole signed note, exactly as served; the other fields are what it
// says.
type Checkpoint struct {
	Origin   string
	Size     int64
	RootHash [32]byte
	Note     []byte
}

// AuditService is the audit log as its readers use it: the HTTP API, the web
// admin center and the CLI (through the API) all go through it.
//
// log names a tenant's log (the tenant's name) or the provider's own log
// (ProviderLog). Every method but LogKey authorizes the caller in ctx with
// PermReadAudit on the tenant, or PermReadProviderAudit for ProviderLog; a
// tenant user naming any other log, the provider's included, gets
// ENOTFOUND, exactly as for a tenant that does not exist. A log nobody has
// written to is empty (size 0), not missing.
type AuditService interface {
	// SearchAudit returns one page of log's records matching f, newest
	// first (by time, then by index, descending). EINVALID for a bad filter
	// (unknown operation or record type, End before Start, Limit out of
	// range, a cursor this server did not issue for this search).
	SearchAudit(ctx context.Context, log string, f AuditFilter) (*AuditPage, error)
	// ExportAudit calls fn with every record matching f (Limit and Cursor
	// ignored), newest first, reading the store in bounded pages so memory
	// stays constant however long the log. It stops at fn's first error and
	// returns it. Authorization and the filter are checked before fn is
	// first called, so a caller may start its response in fn.
	ExportAudit(ctx context.Context, log string, f AuditFilter, fn func(*AuditRecord) error) error
	// Checkpoint returns the signed checkpoint of the log's current
	// committed size. It never describes a size that is not committed, and
	// equal sizes always give byte-identical notes (no timestamp), so every
	// replica serves the same checkpoint.
	Checkpoint(ctx context.Context, log string) (*Checkpoint, error)
	// LogEntries returns the leaves start <= index < end in index order,
	// at most MaxLogEntriesPage of them and none at or past the current
	// size. EINVALID when start < 0, end <= start or start > size.
	LogEntries(ctx context.Context, log string, start, end int64) ([]LogEntry, error)
	// InclusionProof returns the RFC 6962 proof that leaf index is in the
	// tree of size size. EINVALID unless 0 <= index < size <= current size.
	InclusionProof(ctx context.Context, log string, index, size int64) ([][32]byte, error)
	// ConsistencyProof returns the RFC 6962 proof that the tree of size
	// oldSize is a prefix of the tree of size newSize (empty when oldSize is
	// 0 or equal to newSize). EINVALID unless 0 <= oldSize <= newSize <=
	// current size.
	ConsistencyProof(ctx context.Context, log string, oldSize, newSize int64) ([][32]byte, error)
	// LogKey returns the checkpoint verifier key in
	// golang.org/x/mod/sumdb/note verifier format. Public: no caller needed.
	LogKey(ctx context.Context) (string, error)
}

// AuditQuery is what a store searches a log with. The audit service builds
// it from a validated AuditFilter.
type AuditQuery struct {
	Log        string
	Start, End *time.Time // Start <= time < End, when set
	Operations []string
	Users      []string
	RequestID  string
	RecordType string
	// Before is the keyset cursor: only records strictly older than
	// (BeforeTime, BeforeIndex) in (time desc, index desc) order.
	BeforeTime  *time.Time
	BeforeIndex int64
	Limit       int // > 0
}

// MayMatch reports whether rec could be among q's results: it is in q's
// log and has q's request, record type and one of q's operations and
// users, where q names them (times and the cursor are not looked at, so a
// true answer may be wrong, a false one never). A store whose Update
// cannot search the records that earlier Updates of its commit group
// appended (they are written at the group's commit) asks it of each, to
// know when the Update must run again after them (store.go, Update).
func (q AuditQuery) MayMatch(rec *AuditRecord) bool {
	return rec.Tenant == q.Log &&
		(q.RequestID == "" || rec.RequestID == q.RequestID) &&
		(q.RecordType == "" || rec.RecordType == q.RecordType) &&
		(len(q.Operations) == 0 || slices.Contains(q.Operations, rec.Operation)) &&
		(len(q.Users) == 0 || slices.Contains(q.Users, rec.UserID))
}

// AuditLogTx is the part of Tx the audit log reads. Appends go through
// Tx.AppendAudit, which must also store the record's RFC 6962 stored hashes
// (golang.org/x/mod/sumdb/tlog StoredHashes over the canonical bytes) in the
// same transaction, so that every proof and tree hash below is O(log n)
// reads whatever the log's size.
type AuditLogTx interface {
	// SearchAudit returns q.Log's records matching q, newest first: by time
	// descending (the record's canonical, millisecond time), then by index
	// descending, at most q.Limit of them. Records are decoded from the
	// stored canonical bytes, which alone are authoritative.
	SearchAudit(ctx context.Context, q AuditQuery) ([]*AuditRecord, error)
	// SearchAuditLeaves is SearchAudit without decoding: the same records
	// in the same order, as their index and exact stored canonical bytes
	// (the CSV export streams them as they are).
	SearchAuditLeaves(ctx context.Context, q AuditQuery) ([]LogEntry, error)
	// AuditLeaves returns the exact stored canonical bytes of log's records
	// with start <= index < end, in index order, as stored (never
	// re-encoded: they are what customers hash).
	AuditLeaves(ctx context.Context, log string, start, end int64) ([]LogEntry, error)
	// ReadAuditHashes returns log's stored hashes at the given storage
	// indexes (tlog.StoredHashIndex numbering), in the order asked: the
	// tlog.HashReader of the log. Every index must belong to a record
	// already appended; asking for any other is an error (EINTERNAL), never
	// a zero hash.
	ReadAuditHashes(ctx context.Context, log string, indexes []int64) ([][32]byte, error)
	// AuditBundle returns log's full entry bundle n (c2sp.org/tlog-tiles:
	// records n*256 to n*256+255, each its exact stored canonical bytes
	// after their big-endian uint16 length) as stored when the append that
	// filled it committed, or nil when none is stored (a log filled before
	// bundles were stored, until FillAuditBundle runs) or the log has fewer
	// than (n+1)*256 records (so a stored bundle alone says it is in the
	// log, even in a log rolled back by hand).
	AuditBundle(ctx context.Context, log string, n int64) ([]byte, error)
	// AppendAuditBundles appends to dst log's stored full entry bundles
	// from, from+1, … before to, as AuditBundle would return each, and
	// stops at the first one not stored (or not filled); it returns dst
	// and the length of each bundle it appended, in order. One scan for a
	// run of bundles, and the bytes copied once, into dst (a verifier
	// streams a large log through it: auditlog.Service.LogBundles).
	AppendAuditBundles(ctx context.Context, dst []byte, log string, from, to int64) ([]byte, []int, error)
	// FillAuditBundle stores log's full entry bundle n, built from its
	// stored records in this transaction, unless one is stored; nothing
	// when the log has not filled it. Only inside Update.
	FillAuditBundle(ctx context.Context, log string, n int64) error
}
