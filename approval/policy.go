package approval

import (
	"context"
	"fmt"
	"reflect"
	"time"

	"github.com/lockboxhq/lockbox"
)

// A tenant's policy rules in CEL (SPEC §11): read, replaced and simulated
// here; applied when a request becomes pending (policyDecision, called by
// transitionAs, the one place that transition happens).

// GetPolicy returns a tenant's rules (global_admin, lockbox_approver).
func (s *Service) GetPolicy(ctx context.Context, tenant string) (*lockbox.Policy, error) {
	u, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	if err := lockbox.Authorize(u, lockbox.PermReadPolicy, tenant); err != nil {
		return nil, err
	}
	var out *lockbox.Policy
	err = s.store.View(ctx, func(tx lockbox.Tx) error {
		out, err = tx.GetPolicy(ctx, tenant)
		return err
	})
	return out, err
}

// PutPolicy replaces a tenant's rules after compiling and type-checking
// every expression, and audits the old and new rules as policy.updated.
// Rules equal to the stored ones change nothing and are not audited.
func (s *Service) PutPolicy(ctx context.Context, tenant string, p lockbox.Policy) (*lockbox.Policy, error) {
	u, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	if err := lockbox.Authorize(u, lockbox.PermWritePolicy, tenant); err != nil {
		return nil, err
	}
	if p.Rules == nil {
		p.Rules = []lockbox.PolicyRule{}
	}
	if err := s.rules.Check(p); err != nil {
		return nil, err
	}
	err = s.store.Update(ctx, func(tx lockbox.Tx) error {
		// Exclusive, as a settings change: a request becoming pending holds
		// the settings shared while the rules decide (transitionAs), so it
		// sees the old rules or the new, and this change waits for it.
		if _, err := tx.LockSettings(ctx, tenant, true); err != nil {
			return err
		}
		old, err := tx.GetPolicy(ctx, tenant)
		if err != nil {
			return err
		}
		oldData, err := plainJSON(old.Rules)
		if err != nil {
			return err
		}
		newData, err := plainJSON(p.Rules)
		if err != nil {
			return err
		}
		if reflect.DeepEqual(oldData, newData) {
			return nil
		}
		if err := tx.UpdatePolicy(ctx, tenant, p); err != nil {
			return err
		}
		rec := newRecord(ctx, u, tenant, lockbox.RecordTenantAdmin, lockbox.OpPolicyUpdated, s.now())
		rec.AuditData = map[string]any{"old": oldData, "new": newData}
		return appendAudit(ctx, tx, rec)
	})
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// SimulatePolicy evaluates a tenant's rules on in at in.Now (now when
// unset) and answers what they would decide. It only reads.
func (s *Service) SimulatePolicy(ctx context.Context, tenant string, in lockbox.PolicySimulation) (*lockbox.SimulationResult, error) {
	u, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	if err := lockbox.Authorize(u, lockbox.PermReadPolicy, tenant); err != nil {
		return nil, err
	}
	if err := in.Request.Validate(); err != nil {
		return nil, err
	}
	now := s.now()
	if in.Now != nil {
		now = in.Now.UTC()
	}
	var policy *lockbox.Policy
	var settings *lockbox.Settings
	err = s.store.View(ctx, func(tx lockbox.Tx) error {
		if settings, err = tx.GetSettings(ctx, tenant); err != nil {
			return err
		}
		policy, err = tx.GetPolicy(ctx, tenant)
		return err
	})
	if err != nil {
		return nil, err
	}
	results, d := s.rules.Decide(policy.Rules, in.Request, now)
	eff := effectiveSettings(settings, &d)
	// What really happens is what the workflow does with a request that
	// becomes pending (decidedAtOnce): the rules' outcome, break-glass and
	// the signed-decision rule together, not a second copy of them.
	r := &lockbox.AccessRequest{Tenant: tenant, Status: lockbox.StatusPending, BreakGlass: in.Request.BreakGlass, Policy: &d}
	ev, _ := decidedAtOnce(r, eff)
	out := &lockbox.SimulationResult{Now: now, Rules: results, Decision: d, DecidedAtOnce: ev,
		ApprovalsRequired: max(eff.ApprovalsRequired, lockbox.MinApprovalsRequired), RequireApproval: ev == ""}
	if ev != "" {
		out.ApprovalsRequired = 0
	}
	return out, nil
}

// policyDecision evaluates the tenant's rules on r, which is becoming
// pending, at now. It returns the decision (nil when the tenant has no
// rules) and the settings the transition uses: the quorum a
// require_approvals rule sets, and approval required whenever people must
// decide (a rule asked for approvals, or a rule failed), or not when a
// rule decides by itself, so that approvers are not asked to decide what
// is already decided. The caller holds the settings' lock.
func (s *Service) policyDecision(ctx context.Context, tx lockbox.Tx, r *lockbox.AccessRequest, settings *lockbox.Settings, now time.Time) (*lockbox.PolicyDecision, *lockbox.Settings, error) {
	p, err := tx.GetPolicy(ctx, r.Tenant)
	if err != nil {
		return nil, nil, fmt.Errorf("policy of %s: %w", r.Tenant, err)
	}
	if len(p.Rules) == 0 {
		return nil, settings, nil
	}
	_, d := s.rules.Decide(p.Rules, r.PolicyInput(), now)
	return &d, effectiveSettings(settings, &d), nil
}

// effectiveSettings are settings as decision d leaves them for one request.
func effectiveSettings(settings *lockbox.Settings, d *lockbox.PolicyDecision) *lockbox.Settings {
	eff := *settings
	switch {
	case d.Outcome == lockbox.OutcomeDeny || d.Outcome == lockbox.OutcomeAutoApprove:
		eff.RequireApproval = false
	case d.HoldsForPeople():
		eff.RequireApproval = true
		if d.ApprovalsRequired > 0 {
			eff.ApprovalsRequired = d.ApprovalsRequired
		}
	}
	return &eff
}
