package approval

import (
	"context"
	"fmt"
	"time"

	"github.com/lockboxhq/lockbox"
)

// Access reports (SPEC §11): when a request leaves active, the transition
// that ends its access (transition) counts its operator actions from the
// tenant's audit log and appends request.access_report, emailing it to the
// tenant's approvers, all in that transaction.

// reportPage is how many operator-action records one read of a report takes.
const reportPage = 1000

// reportAccess writes the final access report of r, whose access has just
// ended, and emails it to the tenant's approvers.
func (s *Service) reportAccess(ctx context.Context, tx lockbox.Tx, r *lockbox.AccessRequest, now time.Time) error {
	actions, err := operatorActions(ctx, tx, r)
	if err != nil {
		return err
	}
	rep := lockbox.NewAccessReport(r, actions, true)
	rec := newRecord(ctx, lockbox.System, r.Tenant, lockbox.RecordLockboxRequest, lockbox.OpRequestAccessReport, now)
	rec.ClientIP, rec.RequestID = "", r.ID
	if rec.AuditData, err = rep.AuditData(); err != nil {
		return err
	}
	if err := appendAudit(ctx, tx, rec); err != nil {
		return err
	}
	data := lockbox.NoticeData{Tenant: r.Tenant, Actor: lockbox.System.Email, Request: r.Clone(), Report: rep}
	if tn, err := tx.GetTenant(ctx, r.Tenant); err == nil {
		data.TenantName = tn.DisplayName
	}
	return enqueueApproverEmails(ctx, tx, lockbox.NoticeAccessReport, data, now)
}

// operatorActions reads every operator.action and operator.action_blocked
// record of r from its tenant's log, newest first, page by page.
func operatorActions(ctx context.Context, tx lockbox.Tx, r *lockbox.AccessRequest) ([]*lockbox.AuditRecord, error) {
	q := lockbox.AuditQuery{Log: r.Tenant, RequestID: r.ID, Limit: reportPage,
		Operations: []string{lockbox.OpOperatorAction, lockbox.OpOperatorActionBlocked}}
	var out []*lockbox.AuditRecord
	for {
		recs, err := tx.SearchAudit(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("operator actions of %s: %w", r.ID, err)
		}
		out = append(out, recs...)
		if len(recs) < q.Limit {
			return out, nil
		}
		last := recs[len(recs)-1]
		q.BeforeTime, q.BeforeIndex = &last.Time, last.Index
	}
}

// AccessReport returns the access report of a request the caller may see:
// the one written when its access ended, or, while it is active, what was
// done so far (Final false). ECONFLICT for a request that never gave
// access. Passed deadlines are applied (and written) first, so a request
// whose access ended has its final report whether or not the worker ran.
func (s *Service) AccessReport(ctx context.Context, idOrRef string) (*lockbox.AccessReport, error) {
	u, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	var out *lockbox.AccessReport
	err = s.store.Update(ctx, func(tx lockbox.Tx) error {
		r, err := s.lockVisible(ctx, tx, u, idOrRef)
		if err != nil {
			return err
		}
		if err := s.settle(ctx, tx, r, s.now()); err != nil {
			return err
		}
		out, err = storedReport(ctx, tx, r)
		return err
	})
	return out, err
}

// storedReport is r's report as AccessReport serves it.
func storedReport(ctx context.Context, tx lockbox.Tx, r *lockbox.AccessRequest) (*lockbox.AccessReport, error) {
	gaveAccess := r.AccessStartsAt != nil && (r.Status == lockbox.StatusActive ||
		r.EndedAt != nil && r.AccessStartsAt.Before(*r.EndedAt))
	if !gaveAccess {
		return nil, lockbox.Errorf(lockbox.ECONFLICT, "Request %s has given no access (it is %s), so it has no access report.", r.Reference, r.Status)
	}
	if r.Status != lockbox.StatusActive {
		recs, err := tx.SearchAudit(ctx, lockbox.AuditQuery{Log: r.Tenant, RequestID: r.ID, Limit: 1,
			Operations: []string{lockbox.OpRequestAccessReport}})
		if err != nil {
			return nil, fmt.Errorf("access report of %s: %w", r.ID, err)
		}
		if len(recs) > 0 {
			return lockbox.AccessReportFromAudit(recs[0])
		}
		// Ended before access reports were written: counted now.
	}
	actions, err := operatorActions(ctx, tx, r)
	if err != nil {
		return nil, err
	}
	return lockbox.NewAccessReport(r, actions, r.Status != lockbox.StatusActive), nil
}
