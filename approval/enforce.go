package approval

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/lockboxhq/lockbox"
)

// Enforcement (SPEC §6): grant tokens for operators, online access checks
// and operator-action records for data-plane services. The token says what
// was approved; the store says whether it still holds. Both are checked on
// every call, so a revocation or an ended window refuses at once, not when
// the token expires.

var _ lockbox.EnforcementService = (*Service)(nil)

func (s *Service) grants() (lockbox.GrantAuthority, error) {
	if s.opts.Grants == nil {
		return nil, lockbox.Errorf(lockbox.EUNAVAILABLE, "Grant tokens are not configured on this server.")
	}
	return s.opts.Grants, nil
}

func (s *Service) grantIssuer() string {
	if s.opts.GrantIssuer == "" {
		return lockbox.DefaultGrantIssuer
	}
	return s.opts.GrantIssuer
}

// IssueGrant signs a grant for the caller's own active request. It runs in
// a write transaction holding the request's lock, with passed deadlines
// applied first, so a grant is never issued for a request that has ended,
// whether or not the worker has run.
func (s *Service) IssueGrant(ctx context.Context, idOrRef string) (*lockbox.Grant, error) {
	u, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	ga, err := s.grants()
	if err != nil {
		return nil, err
	}
	var out *lockbox.Grant
	var refused error
	err = s.store.Update(ctx, func(tx lockbox.Tx) error {
		now := s.now()
		r, err := s.lockVisible(ctx, tx, u, idOrRef)
		if err != nil {
			return err
		}
		if err := lockbox.AuthorizeGrant(u, r); err != nil {
			return err
		}
		if err := s.settle(ctx, tx, r, now); err != nil {
			return err
		}
		c, err := s.grantClaims(r, now, s.sessionNow())
		if err == nil {
			err = s.grantSigned(ctx, tx, r)
		}
		if lockbox.ErrorCode(err) == lockbox.ECONFLICT {
			refused = err // commit what settling wrote, then refuse
			return nil
		} else if err != nil {
			return err
		}
		token, kid, err := ga.Sign(ctx, c)
		if err != nil {
			return fmt.Errorf("sign grant for %s: %w", r.ID, err)
		}
		out = &lockbox.Grant{Token: token, ExpiresAt: c.ExpiresAt, RequestID: r.ID, KID: kid}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if refused != nil {
		return nil, refused
	}
	s.opts.Logger.InfoContext(ctx, "grant issued", "request_id", out.RequestID, "kid", out.KID,
		"expires_at", out.ExpiresAt)
	return out, nil
}

// lockVisible reads and locks a request u may see; ENOTFOUND otherwise.
func (s *Service) lockVisible(ctx context.Context, tx lockbox.Tx, u *lockbox.User, idOrRef string) (*lockbox.AccessRequest, error) {
	r, err := tx.GetRequest(ctx, idOrRef)
	if lockbox.ErrorCode(err) == lockbox.ENOTFOUND || (err == nil && !lockbox.CanSeeRequest(u, r)) {
		return nil, notFound(idOrRef)
	}
	return r, err
}

// grantClaims are the claims of a grant for active request r at now.
//
// A grant is a bearer token checked offline by data-plane services on
// their own (wall) clocks, so its times are on the token clock
// (sessionNow), like sign-in tokens, while the request's window is on the
// workflow clock (now). The two are one clock in production; in --dev,
// after `lockbox dev clock advance`, a grant stamped with the moved clock
// would look issued in the future to every service. The token lives for
// the access time that is left, as the workflow clock measures it, capped
// at MaxGrantTTL. Token times are whole seconds (JWT NumericDate), rounded
// down, so exp is never after the end of access and never more than
// MaxGrantTTL after iat. The online check still decides on the workflow
// clock (decide).
func (s *Service) grantClaims(r *lockbox.AccessRequest, now, tokenNow time.Time) (*lockbox.GrantClaims, error) {
	if r.Status != lockbox.StatusActive {
		return nil, lockbox.Errorf(lockbox.ECONFLICT, "%s", notActiveReason(r))
	}
	iat := tokenNow.Truncate(time.Second)
	exp := tokenNow.Add(min(lockbox.MaxGrantTTL, r.AccessEndsAt.Sub(now))).Truncate(time.Second)
	if !exp.After(iat) {
		return nil, lockbox.Errorf(lockbox.ECONFLICT, "Access of request %s ends in less than a second.", r.Reference)
	}
	return &lockbox.GrantClaims{
		Issuer: s.grantIssuer(), Subject: r.RequestedBy, Audience: r.Service, Tenant: r.Tenant,
		RequestID: r.ID, Operations: slices.Clone(r.Operations),
		IssuedAt: iat, NotBefore: iat, ExpiresAt: exp,
	}, nil
}

// CheckAccess answers a data-plane service's online check. It writes
// nothing: a deadline that has passed is applied to the answer (refused),
// and the worker or the next write records the transition.
func (s *Service) CheckAccess(ctx context.Context, in lockbox.AccessCheck) (*lockbox.AccessDecision, error) {
	c, refusal, err := s.verifyCheck(ctx, in)
	if err != nil || refusal != nil {
		return refusal, err
	}
	return s.checkOnline(ctx, c, in)
}

// checkOnline reads the request a verified grant names and decides.
func (s *Service) checkOnline(ctx context.Context, c *lockbox.GrantClaims, in lockbox.AccessCheck) (*lockbox.AccessDecision, error) {
	if r, ok := s.access.request(c.RequestID); ok {
		return decide(r, c, in, s.now()), nil
	}
	epoch := s.access.begin()
	var r *lockbox.AccessRequest
	var err error
	err = s.store.View(ctx, func(tx lockbox.Tx) error {
		r, err = tx.GetRequest(ctx, c.RequestID)
		return err
	})
	if lockbox.ErrorCode(err) == lockbox.ENOTFOUND {
		return refuse("The request this grant names no longer exists."), nil
	} else if err != nil {
		return nil, err
	}
	s.access.putRequest(r, epoch)
	return decide(r, c, in, s.now()), nil
}

// RecordOperatorAction checks like CheckAccess and appends operator.action
// or operator.action_blocked to the tenant's log in the same transaction,
// with passed deadlines applied first (so the log shows access ending
// before the action it blocked).
func (s *Service) RecordOperatorAction(ctx context.Context, in lockbox.AccessCheck) (*lockbox.AccessDecision, error) {
	c, refusal, err := s.verifyCheck(ctx, in)
	if err != nil {
		return nil, err
	}
	if c == nil {
		// An unauthentic token names no tenant we can trust: recording it
		// would let anyone write into any tenant's log.
		s.opts.Logger.WarnContext(ctx, "operator action with an invalid grant refused",
			"service_account", lockbox.UserFromContext(ctx).Email, "reason", refusal.Reason)
		return refusal, nil
	}
	u := lockbox.UserFromContext(ctx)
	var out *lockbox.AccessDecision
	err = s.store.Update(ctx, func(tx lockbox.Tx) error {
		now := s.now()
		r, err := tx.GetRequest(ctx, c.RequestID)
		if lockbox.ErrorCode(err) == lockbox.ENOTFOUND {
			out = refuse("The request this grant names no longer exists.")
			return nil
		} else if err != nil {
			return err
		}
		if err := s.settle(ctx, tx, r, now); err != nil {
			return err
		}
		out = decide(r, c, in, now)
		if refusal != nil { // an authentic grant used outside its times
			out.Allowed, out.Reason = false, refusal.Reason
		}
		rec := operatorActionRecord(u, r, c, in, out, now)
		if err := appendAudit(ctx, tx, rec); err != nil {
			return err
		}
		// The tenant's webhooks hear of it in the same transaction (notify.go).
		return EmitWebhookEvent(ctx, tx, rec.Operation, lockbox.NoticeData{Tenant: r.Tenant,
			Actor: rec.UserID, Request: r.Clone(), Action: rec.AuditData}, now)
	})
	return out, err
}

// verifyCheck authorizes the caller, validates the check and verifies its
// token. A token that does not verify is a refusal, not an error.
func (s *Service) verifyCheck(ctx context.Context, in lockbox.AccessCheck) (*lockbox.GrantClaims, *lockbox.AccessDecision, error) {
	u, err := actor(ctx)
	if err != nil {
		return nil, nil, err
	}
	if err := lockbox.Authorize(u, lockbox.PermCheckAccess, ""); err != nil {
		return nil, nil, err
	}
	if err := validateCheck(in); err != nil {
		return nil, nil, err
	}
	ga, err := s.grants()
	if err != nil {
		return nil, nil, err
	}
	c, err := ga.Verify(ctx, in.Token, s.sessionNow()) // token times: see grantClaims
	switch {
	case lockbox.ErrorCode(err) == lockbox.EUNAUTHENTICATED && c == nil:
		return nil, refuse(lockbox.ErrorMessage(err)), nil
	case lockbox.ErrorCode(err) == lockbox.EUNAUTHENTICATED:
		// Authentic but expired or not yet valid: the request is known,
		// so the refusal names it (and operator actions are recorded).
		return c, &lockbox.AccessDecision{Reason: lockbox.ErrorMessage(err), RequestID: c.RequestID}, nil
	case err != nil:
		return nil, nil, err
	}
	return c, nil, nil
}

func validateCheck(in lockbox.AccessCheck) error {
	if in.Token == "" {
		return lockbox.FieldErrorf(lockbox.EINVALID, "token", "token is required: the operator's grant token.")
	}
	if len(in.Token) > lockbox.MaxGrantLen {
		return lockbox.FieldErrorf(lockbox.EINVALID, "token", "token is longer than %d bytes.", lockbox.MaxGrantLen)
	}
	if err := lockbox.ValidText("operation", in.Operation, lockbox.MaxOperationLen, true); err != nil {
		return err
	}
	if err := lockbox.ValidText("resource", in.Resource, lockbox.MaxResourceLen, false); err != nil {
		return err
	}
	if err := lockbox.ValidText("service", in.Service, lockbox.MaxOperationLen, false); err != nil {
		return err
	}
	if in.ClientIP != "" {
		if _, err := netip.ParseAddr(in.ClientIP); err != nil || len(in.ClientIP) > lockbox.MaxClientIPLen {
			return lockbox.FieldErrorf(lockbox.EINVALID, "client_ip", "client_ip %q is not an IP address.", truncateText(in.ClientIP, 64))
		}
	}
	return nil
}

func refuse(reason string) *lockbox.AccessDecision {
	return &lockbox.AccessDecision{Allowed: false, Reason: reason}
}

// decide is the online rule: the verified grant c must still match request
// r at now, for in's operation and service. r may have been read earlier
// (the access cache): its passed deadlines are applied to a copy with the
// same Settle every reader uses, so whether access is still on is decided by
// the event table, here as everywhere.
func decide(r *lockbox.AccessRequest, c *lockbox.GrantClaims, in lockbox.AccessCheck, now time.Time) *lockbox.AccessDecision {
	if _, due := r.Due(now); due { // only then is there anything to apply: the copy costs a check its share of CPU
		r = r.Clone()
		if err := r.Settle(now); err != nil {
			return &lockbox.AccessDecision{RequestID: r.ID, Reason: err.Error()}
		}
	}
	d := &lockbox.AccessDecision{RequestID: r.ID, AccessEndsAt: r.AccessEndsAt}
	switch {
	case r.Tenant != c.Tenant || r.Service != c.Audience || r.RequestedBy != c.Subject:
		d.Reason = "The grant does not match its request (tenant, service or operator differ)."
	case in.Service != "" && in.Service != c.Audience:
		d.Reason = fmt.Sprintf("The grant is for service %s, not %s.", c.Audience, in.Service)
	case r.Status != lockbox.StatusActive:
		d.Reason = notActiveReason(r)
	case !slices.Contains(r.Operations, in.Operation) || !slices.Contains(c.Operations, in.Operation):
		d.Reason = fmt.Sprintf("Operation %q is not approved by request %s (approved: %v).",
			truncateText(in.Operation, 80), r.Reference, r.Operations)
	default:
		d.Allowed = true
		d.Reason = fmt.Sprintf("Operation %s is approved by request %s until %s.",
			in.Operation, r.Reference, r.AccessEndsAt.Format(time.RFC3339))
	}
	return d
}

// notActiveReason says why a request gives no access now.
func notActiveReason(r *lockbox.AccessRequest) string {
	at := ""
	if r.EndedAt != nil {
		at = " at " + r.EndedAt.Format(time.RFC3339)
	}
	switch r.Status {
	case lockbox.StatusRevoked:
		return fmt.Sprintf("Request %s was revoked by the tenant%s: access is over.", r.Reference, at)
	case lockbox.StatusCompleted:
		return fmt.Sprintf("Request %s ended%s: access is over.", r.Reference, at)
	case lockbox.StatusApproved:
		return fmt.Sprintf("Request %s is approved, but access starts at %s.", r.Reference, r.AccessStartsAt.Format(time.RFC3339))
	}
	return fmt.Sprintf("Request %s is %s, not active.", r.Reference, r.Status)
}

// operatorActionRecord is the tenant's record of one operator action
// (SPEC §7): attributed to "Provider Operator", with the operator's staff
// id, the approval it rests on and what was done.
func operatorActionRecord(svc *lockbox.User, r *lockbox.AccessRequest, c *lockbox.GrantClaims, in lockbox.AccessCheck, d *lockbox.AccessDecision, now time.Time) *lockbox.AuditRecord {
	op, result := lockbox.OpOperatorAction, lockbox.ResultSucceeded
	if !d.Allowed {
		op, result = lockbox.OpOperatorActionBlocked, lockbox.ResultFailed
	}
	rec := newRecord(context.Background(), svc, r.Tenant, lockbox.RecordOperatorAction, op, now)
	rec.UserID, rec.ActorType, rec.ClientIP = "Provider Operator", lockbox.ActorProviderOperator, in.ClientIP
	rec.RequestID, rec.Result = r.ID, result
	rec.AuditData = map[string]any{
		"operator_staff_id": r.RequesterID, "operator": r.RequestedBy,
		"request_id": r.ID, "reference": r.Reference, "service": r.Service,
		"approver": deref(r.DecidedBy), "approved_at": lockbox.AuditTime(r.DecidedAt),
		"approved_duration_minutes": r.DurationMinutes, "access_ends_at": lockbox.AuditTime(r.AccessEndsAt),
		"operation": in.Operation, "resource": in.Resource,
		"reported_by": svc.Email, "grant_expires_at": c.ExpiresAt.Format(time.RFC3339),
	}
	if !d.Allowed {
		rec.AuditData["reason"] = d.Reason
	}
	return rec
}

func deref(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

func truncateText(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
