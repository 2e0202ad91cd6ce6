package lockbox

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// AccessReport is what was done with a request's access (SPEC §11): per
// approved operation, how many operator actions were allowed and blocked;
// every blocked attempt by operation, approved or not; and the approved
// operations never used. It is counted from the operator.action and
// operator.action_blocked records of the request in its tenant's audit
// log (POST /v1/operator-actions), and written as request.access_report
// when the request leaves active, in that transaction.
type AccessReport struct {
	RequestID string `json:"request_id"`
	Reference string `json:"reference"`
	Tenant    string `json:"tenant"`
	Service   string `json:"service"`
	Status    Status `json:"status"`
	// Final is false for a report of a request still active: what was done
	// so far.
	Final          bool              `json:"final"`
	BreakGlass     bool              `json:"break_glass"`
	AccessStartsAt *time.Time        `json:"access_starts_at"`
	AccessEndedAt  *time.Time        `json:"access_ended_at"`
	Operations     []OperationReport `json:"operations"`
	Blocked        []BlockedReport   `json:"blocked"`
	Unused         []string          `json:"unused"`
	AllowedTotal   int               `json:"allowed_total"`
	BlockedTotal   int               `json:"blocked_total"`
}

// OperationReport counts the actions on one approved operation.
type OperationReport struct {
	Operation string `json:"operation"`
	Allowed   int    `json:"allowed"`
	Blocked   int    `json:"blocked"`
}

// BlockedReport counts the blocked attempts on one operation; Approved
// tells whether the request approved it (then the attempt came too early
// or too late, or the grant did not match).
type BlockedReport struct {
	Operation string `json:"operation"`
	Approved  bool   `json:"approved"`
	Count     int    `json:"count"`
}

// NewAccessReport counts actions, the request's operator-action records
// (others are ignored), into r's report. final says whether r's access is
// over.
func NewAccessReport(r *AccessRequest, actions []*AuditRecord, final bool) *AccessReport {
	rep := &AccessReport{RequestID: r.ID, Reference: r.Reference, Tenant: r.Tenant, Service: r.Service,
		Status: r.Status, Final: final, BreakGlass: r.BreakGlass, AccessStartsAt: r.AccessStartsAt,
		Operations: []OperationReport{}, Blocked: []BlockedReport{}, Unused: []string{}}
	if final {
		rep.AccessEndedAt = r.EndedAt
	}
	allowed, blocked := map[string]int{}, map[string]int{}
	for _, rec := range actions {
		if rec.RequestID != r.ID {
			continue
		}
		op, _ := rec.AuditData["operation"].(string)
		switch rec.Operation {
		case OpOperatorAction:
			allowed[op]++
			rep.AllowedTotal++
		case OpOperatorActionBlocked:
			blocked[op]++
			rep.BlockedTotal++
		}
	}
	for _, op := range r.Operations {
		rep.Operations = append(rep.Operations, OperationReport{Operation: op, Allowed: allowed[op], Blocked: blocked[op]})
		if allowed[op] == 0 {
			rep.Unused = append(rep.Unused, op)
		}
	}
	ops := make([]string, 0, len(blocked))
	for op := range blocked {
		ops = append(ops, op)
	}
	slices.Sort(ops)
	for _, op := range ops {
		rep.Blocked = append(rep.Blocked, BlockedReport{Operation: op, Approved: slices.Contains(r.Operations, op), Count: blocked[op]})
	}
	return rep
}

// AuditData is the report as audit data: a JSON object (the canonical
// encoding sorts its keys), without the request id and tenant, which the
// record itself carries.
func (rep *AccessReport) AuditData() (map[string]any, error) {
	b, err := json.Marshal(rep)
	if err != nil {
		return nil, fmt.Errorf("encode access report: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("encode access report: %w", err)
	}
	delete(m, "request_id")
	delete(m, "tenant")
	return m, nil
}

// AccessReportFromAudit reads a report back from its request.access_report
// record.
func AccessReportFromAudit(rec *AuditRecord) (*AccessReport, error) {
	b, err := json.Marshal(rec.AuditData)
	if err != nil {
		return nil, fmt.Errorf("decode access report: %w", err)
	}
	var rep AccessReport
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, fmt.Errorf("decode access report: %w", err)
	}
	rep.RequestID, rep.Tenant = rec.RequestID, rec.Tenant
	return &rep, nil
}

// EndsAccess reports whether the row's event, leaving from, ends the
// access of a request (leaves active): that is when the access report is
// written.
func (rule EventRule) EndsAccess(from Status) bool {
	return from == StatusActive && rule.To != StatusActive && rule.To != ""
}
