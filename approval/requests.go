package approval

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lockboxhq/lockbox"
)

// CreateRequest files an access request in pending_review.
func (s *Service) CreateRequest(ctx context.Context, in lockbox.NewRequest) (*lockbox.AccessRequest, error) {
	u, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	if err := lockbox.AuthorizeCreate(u); err != nil {
		return nil, err
	}
	if err := validateNewRequest(in); err != nil {
		return nil, err
	}
	var out *lockbox.AccessRequest
	// The tenant and the service are what buildRequest reads first: the
	// hint is on Update's context only, for the account lock before fn.
	ahead := lockbox.WithReadAhead(ctx, lockbox.ReadAhead{Tenant: in.Tenant, Service: in.Service})
	err = s.store.Update(ahead, func(tx lockbox.Tx) error {
		now := s.now()
		r, err := s.buildRequest(ctx, tx, u, in, now)
		if err != nil {
			return err
		}
		if err := insertWithReference(ctx, tx, r); err != nil {
			return err
		}
		rec := newRecord(ctx, u, r.Tenant, lockbox.RecordLockboxRequest, lockbox.OpRequestCreated, now)
		rec.RequestID = r.ID
		rec.AuditData = map[string]any{
			"reference": r.Reference, "service": r.Service, "service_request": r.ServiceRequest,
			"reason": r.Reason, "operations": r.Operations, "duration_minutes": r.DurationMinutes,
			"start_time": lockbox.AuditTime(r.StartTime), "expires_at": r.ExpiresAt.Format(time.RFC3339),
		}
		if r.BreakGlass {
			rec.AuditData["break_glass"], rec.AuditData["incident"] = true, r.Incident
		}
		out = r
		return appendAudit(ctx, tx, rec)
	})
	if err != nil {
		return nil, err
	}
	return out.ForViewer(u), nil
}

func validateNewRequest(in lockbox.NewRequest) error {
	if err := lockbox.ValidText("tenant", in.Tenant, 63, true); err != nil {
		return err
	}
	if err := lockbox.ValidText("service", in.Service, 63, true); err != nil {
		return err
	}
	if in.Operations != nil && len(in.Operations) == 0 {
		return lockbox.FieldErrorf(lockbox.EINVALID, "operations", "operations is an empty list; leave it out to request every operation of the service, or name at least one.")
	}
	for _, op := range in.Operations {
		if err := lockbox.ValidText("operations", op, lockbox.MaxOperationLen, true); err != nil {
			return err
		}
	}
	if err := lockbox.ValidText("service_request", in.ServiceRequest, lockbox.MaxServiceRequestLen, true); err != nil {
		return err
	}
	if strings.TrimSpace(in.ServiceRequest) != in.ServiceRequest {
		return lockbox.FieldErrorf(lockbox.EINVALID, "service_request", "service_request must not start or end with spaces.")
	}
	if err := lockbox.ValidNote("reason", in.Reason, lockbox.MaxReasonLen, true); err != nil {
		return err
	}
	if strings.TrimSpace(in.Reason) == "" {
		return lockbox.FieldErrorf(lockbox.EINVALID, "reason", "reason is required.")
	}
	if in.BreakGlass {
		if err := lockbox.ValidText("incident", in.Incident, lockbox.MaxIncidentLen, true); err != nil {
			return err
		}
	} else if in.Incident != "" {
		return lockbox.FieldErrorf(lockbox.EINVALID, "incident", "incident is only for a break-glass request; set break_glass too, or leave incident out.")
	}
	d := time.Duration(in.DurationMinutes) * time.Minute
	if d < lockbox.MinAccessDuration || d > lockbox.MaxAccessDuration {
		return lockbox.FieldErrorf(lockbox.EINVALID, "duration_minutes", "duration_minutes must be between 1 and 240 (4 hours); got %d.", in.DurationMinutes)
	}
	return nil
}

// buildRequest checks the request against the tenant and the catalog and
// fills in the server-side fields.
func (s *Service) buildRequest(ctx context.Context, tx lockbox.Tx, u *lockbox.User, in lockbox.NewRequest, now time.Time) (*lockbox.AccessRequest, error) {
	settings, err := tx.GetSettings(ctx, in.Tenant)
	if lockbox.ErrorCode(err) == lockbox.ENOTFOUND {
		return nil, lockbox.FieldErrorf(lockbox.EINVALID, "tenant", "Tenant %q does not exist.", in.Tenant)
	} else if err != nil {
		return nil, err
	}
	if in.DurationMinutes > settings.MaxAccessMinutes {
		return nil, lockbox.FieldErrorf(lockbox.EINVALID, "duration_minutes", "Tenant %s allows access of at most %d minutes; %d were requested.", in.Tenant, settings.MaxAccessMinutes, in.DurationMinutes)
	}
	ops, err := s.checkOperations(ctx, tx, in.Service, in.Operations)
	if err != nil {
		return nil, err
	}
	start, err := checkStart(in.StartTime, now)
	if err != nil {
		return nil, err
	}
	r := &lockbox.AccessRequest{
		ID: newID(), Tenant: in.Tenant, Service: in.Service, ServiceRequest: in.ServiceRequest,
		Reason: in.Reason, Operations: ops, DurationMinutes: in.DurationMinutes, StartTime: start,
		RequestedOperations: slices.Clone(ops), RequestedDurationMinutes: in.DurationMinutes,
		RequestedStartTime: start, Approvals: []lockbox.Approval{}, ApprovalsRequired: max(settings.ApprovalsRequired, 1),
		Extensions: []lockbox.Extension{}, BreakGlass: in.BreakGlass, Incident: in.Incident,
		Status: lockbox.StatusPendingReview, RequestedBy: u.Email, RequesterID: u.ID,
		CreatedAt: now, ExpiresAt: now.Add(lockbox.ReviewTTL), Version: 1,
	}
	r.Schedule(settings)
	return r, nil
}

func (s *Service) checkOperations(ctx context.Context, tx lockbox.Tx, service string, ops []string) ([]string, error) {
	svc, err := tx.GetService(ctx, service)
	if lockbox.ErrorCode(err) == lockbox.ENOTFOUND {
		return nil, lockbox.FieldErrorf(lockbox.EINVALID, "service", "Service %q is not in the services catalog.", service)
	} else if err != nil {
		return nil, err
	}
	if len(ops) == 0 {
		return slices.Clone(svc.Operations), nil
	}
	var out []string
	for _, op := range ops {
		if !slices.Contains(svc.Operations, op) {
			return nil, lockbox.FieldErrorf(lockbox.EINVALID, "operations", "Operation %q is not a pre-approved operation of service %s.", op, service)
		}
		if !slices.Contains(out, op) {
			out = append(out, op)
		}
	}
	return out, nil
}

// checkStart accepts a start time up to five minutes in the past (clock skew
// between an operator's machine and the server) and at most 30 days ahead.
func checkStart(start *time.Time, now time.Time) (*time.Time, error) {
	if start == nil {
		return nil, nil
	}
	t := start.UTC().Truncate(time.Microsecond)
	if t.Before(now.Add(-5 * time.Minute)) {
		return nil, lockbox.FieldErrorf(lockbox.EINVALID, "start_time", "start_time %s is in the past.", t.Format(time.RFC3339))
	}
	if t.After(now.Add(lockbox.MaxStartTimeAhead)) {
		return nil, lockbox.FieldErrorf(lockbox.EINVALID, "start_time", "start_time may be at most 30 days ahead.")
	}
	return &t, nil
}

// insertWithReference gives r a fresh reference code, retrying the rare
// collision (40 random bits per code).
func insertWithReference(ctx context.Context, tx lockbox.Tx, r *lockbox.AccessRequest) error {
	var err error
	for range 5 {
		r.Reference = newReference()
		if err = tx.InsertRequest(ctx, r); lockbox.ErrorCode(err) != lockbox.ECONFLICT {
			return err
		}
	}
	return fmt.Errorf("no free reference code after 5 tries: %w", err)
}

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// newReference returns a reference (lockbox.ReferencePrefix and random
// Crockford base32 characters, lockbox.ReferenceLen in all).
func newReference() string {
	var b [lockbox.ReferenceLen - len(lockbox.ReferencePrefix)]byte
	rand.Read(b[:])
	out := []byte(lockbox.ReferencePrefix)
	for _, c := range b {
		out = append(out, crockford[c%32])
	}
	return string(out)
}

// GetRequest returns a request the caller may see, as the caller may see it
// (AccessRequest.ForViewer) and as it stands now: a deadline that has
// passed is applied in memory (lockbox's Settle), so nothing looks alive
// after its deadline, and nothing is written; the worker or the next
// decision records the same change.
func (s *Service) GetRequest(ctx context.Context, idOrRef string) (*lockbox.AccessRequest, error) {
	u, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	now := s.now()
	var r *lockbox.AccessRequest
	err = s.store.View(ctx, func(tx lockbox.Tx) error {
		r, err = tx.GetRequest(ctx, idOrRef)
		return err
	})
	if err != nil {
		return nil, err
	}
	if !lockbox.CanSeeRequest(u, r) {
		return nil, notFound(idOrRef)
	}
	if err := r.Settle(now); err != nil {
		return nil, err
	}
	return r.ForViewer(u), nil
}

func notFound(idOrRef string) error {
	return lockbox.Errorf(lockbox.ENOTFOUND, "Request %q not found.", idOrRef)
}

// ListRequests lists what the caller may see, newest first, each request as
// it stands now and as the caller may see it (as GetRequest shows it). It
// writes nothing.
func (s *Service) ListRequests(ctx context.Context, f lockbox.RequestFilter) (*lockbox.RequestPage, error) {
	u, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	q, visible, err := requestQuery(u, f)
	if err != nil {
		return nil, err
	}
	if !visible {
		return &lockbox.RequestPage{Requests: []*lockbox.AccessRequest{}}, nil
	}
	now := s.now()
	var page *lockbox.RequestPage
	err = s.store.View(ctx, func(tx lockbox.Tx) error {
		page, err = listPage(ctx, tx, q, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	for i, r := range page.Requests {
		page.Requests[i] = r.ForViewer(u)
	}
	return page, nil
}

// listPage reads the page of q (whose Limit is the page size plus one)
// with every request settled in memory at now. A status filter must match
// the status a request has now, which differs from the stored one once a
// deadline has passed: the store also returns the rows whose deadline has
// come (OrDueBy), and those whose settled status is not wanted drop out
// here. When rows drop out, it reads on after the last row read until the
// page is full, so the page size and the cursor stay exact.
func listPage(ctx context.Context, tx lockbox.Tx, q lockbox.RequestQuery, now time.Time) (*lockbox.RequestPage, error) {
	size := q.Limit - 1
	want := q.Statuses
	if len(want) > 0 {
		q.OrDueBy = &now
	}
	var out []*lockbox.AccessRequest
	for {
		rs, err := tx.ListRequests(ctx, q)
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			if err := r.Settle(now); err != nil {
				return nil, err
			}
			if len(want) == 0 || slices.Contains(want, r.Status) {
				out = append(out, r)
			}
		}
		if len(out) > size || len(rs) < q.Limit {
			break
		}
		last := rs[len(rs)-1]
		q.BeforeCreatedAt, q.BeforeID = &last.CreatedAt, last.ID
	}
	page := &lockbox.RequestPage{Requests: out}
	if len(out) > size {
		page.Requests = out[:size]
		page.NextCursor = encodeCursor(page.Requests[size-1])
	}
	return page, nil
}

// requestQuery turns a client's filter into a store query constrained to
// what u may see (lockbox.VisibleTo, the scope CanSeeRequest also reads);
// visible is false when the filter can match nothing u may see.
func requestQuery(u *lockbox.User, f lockbox.RequestFilter) (q lockbox.RequestQuery, visible bool, err error) {
	limit := f.Limit
	if limit == 0 {
		limit = lockbox.DefaultRequestPageSize
	}
	if limit < 1 || limit > lockbox.MaxRequestPageSize {
		return q, false, lockbox.Errorf(lockbox.EINVALID, "limit must be between 1 and %d.", lockbox.MaxRequestPageSize)
	}
	for _, st := range f.Status {
		if !st.Valid() {
			return q, false, lockbox.Errorf(lockbox.EINVALID, "Unknown status %q.", st)
		}
	}
	// One extra row tells whether there is a next page.
	q = lockbox.RequestQuery{Tenant: f.Tenant, Statuses: f.Status, Service: f.Service,
		CreatedAfter: f.CreatedAfter, NeedsReview: f.NeedsReview, Limit: limit + 1}
	if err := decodeCursor(f.Cursor, &q); err != nil {
		return q, false, err
	}
	visible = lockbox.VisibleTo(u).Constrain(&q)
	return q, visible, nil
}

type cursor struct {
	CreatedAt time.Time `json:"c"`
	ID        string    `json:"i"`
}

func encodeCursor(r *lockbox.AccessRequest) string {
	b, _ := json.Marshal(cursor{CreatedAt: r.CreatedAt, ID: r.ID})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string, q *lockbox.RequestQuery) error {
	if s == "" {
		return nil
	}
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil || c.ID == "" {
		return lockbox.Errorf(lockbox.EINVALID, "The cursor is not valid; start again without it.")
	}
	q.BeforeCreatedAt, q.BeforeID = &c.CreatedAt, c.ID
	return nil
}

// errRefused carries a refused decision out of a committed transaction: the
// refusal's audit record commits, and the caller still gets the conflict.
type errRefused struct{ err error }

func (e errRefused) Error() string { return e.err.Error() }

// Act applies a person's event to a request and returns it as the caller
// may see it (AccessRequest.ForViewer).
func (s *Service) Act(ctx context.Context, idOrRef string, ev lockbox.Event, d lockbox.Decision) (*lockbox.AccessRequest, error) {
	u, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(lockbox.PersonEvents, ev) {
		return nil, lockbox.Errorf(lockbox.EINVALID, "Unknown action %q.", ev)
	}
	if err := lockbox.ValidNote("comment", d.Comment, lockbox.MaxCommentLen, false); err != nil {
		return nil, err
	}
	if ev != lockbox.EventApprove && !d.Changes.Empty() {
		return nil, lockbox.Errorf(lockbox.EINVALID, "Only an approval may change the duration, operations or start time of a request.")
	}
	if (ev == lockbox.EventExtend) != (d.Extend != nil) {
		return nil, lockbox.Errorf(lockbox.EINVALID, "Asking for more time takes minutes and a reason; nothing else does.")
	}
	var out *lockbox.AccessRequest
	var refused error
	// The request (and its tenant) is what act reads first, the tenant
	// locked where transitionAs will lock it: the hint is on Update's
	// context only, for the account lock before fn.
	rule, _ := ev.Rule()
	ahead := lockbox.WithReadAhead(ctx, lockbox.ReadAhead{Request: idOrRef, ShareTenant: rule.To == lockbox.StatusPending})
	err = s.store.Update(ahead, func(tx lockbox.Tx) error {
		r, err := s.act(ctx, tx, u, idOrRef, ev, d)
		var ref errRefused
		if errors.As(err, &ref) {
			refused = ref.err
			return nil
		}
		out = r
		return err
	})
	if err != nil {
		return nil, err
	}
	if refused != nil {
		return nil, refused
	}
	return out.ForViewer(u), nil
}

func (s *Service) act(ctx context.Context, tx lockbox.Tx, u *lockbox.User, idOrRef string, ev lockbox.Event, d lockbox.Decision) (*lockbox.AccessRequest, error) {
	now := s.now()
	r, err := tx.GetRequest(ctx, idOrRef)
	if lockbox.ErrorCode(err) == lockbox.ENOTFOUND || (err == nil && !lockbox.CanSeeRequest(u, r)) {
		return nil, notFound(idOrRef)
	} else if err != nil {
		return nil, err
	}
	if err := lockbox.AuthorizeEvent(u, r, ev); err != nil {
		return nil, err
	}
	// A deadline that has passed takes effect before any decision: a
	// decision at or after it finds the request already expired or ended.
	if err := s.settle(ctx, tx, r, now); err != nil {
		return nil, err
	}
	// The state is checked before the version: "it expired at …" tells the
	// person more than "it changed since you read it".
	if err := r.Check(ev); err != nil {
		return nil, s.refuse(ctx, tx, u, r, ev, d, now, lockbox.Errorf(lockbox.ECONFLICT, "%s", refusalMessage(r, ev, err)))
	}
	if d.IfVersion != 0 && d.IfVersion != r.Version {
		return nil, s.refuse(ctx, tx, u, r, ev, d, now, lockbox.Errorf(lockbox.ECONFLICT,
			"Request %s changed since you read it: it is now %s. Reload it and decide again.", r.Reference, r.Status))
	}
	if err := r.CheckDecider(ev, u.ID); err != nil {
		return nil, s.refuse(ctx, tx, u, r, ev, d, now, err)
	}
	if err := s.checkSigned(ctx, tx, u, r, ev, &d, now); err != nil {
		return nil, err
	}
	if err := s.apply(ctx, tx, u, r, ev, d, now); err != nil {
		return nil, err
	}
	return r, nil
}

// refuse records a refused decision attempt and returns errRefused so the
// transaction commits the record.
func (s *Service) refuse(ctx context.Context, tx lockbox.Tx, u *lockbox.User, r *lockbox.AccessRequest, ev lockbox.Event, d lockbox.Decision, now time.Time, reason error) error {
	rec := newRecord(ctx, u, r.Tenant, lockbox.RecordLockboxDecision, lockbox.OpRequestDecisionRefused, now)
	rec.RequestID = r.ID
	rec.Result = lockbox.ResultFailed
	rec.AuditData = map[string]any{
		"reference": r.Reference, "attempted": string(ev), "status": string(r.Status),
		"reason": lockbox.ErrorMessage(reason), "comment": d.Comment,
	}
	if err := appendAudit(ctx, tx, rec); err != nil {
		return err
	}
	return errRefused{reason}
}

func refusalMessage(r *lockbox.AccessRequest, ev lockbox.Event, cause error) string {
	at := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return " at " + t.UTC().Format(time.RFC3339)
	}
	if _, err := lockbox.Next(r.Status, ev); err == nil {
		return lockbox.ErrorMessage(cause) // the status allows ev; the row's own condition refused it
	}
	switch r.Status {
	case lockbox.StatusExpired:
		return fmt.Sprintf("Request %s expired%s: nobody decided before the deadline. It can no longer be %s.", r.Reference, at(&r.ExpiresAt), ev.Verb())
	case lockbox.StatusCompleted:
		return fmt.Sprintf("Request %s already ended%s: access is over.", r.Reference, at(r.EndedAt))
	case lockbox.StatusDenied, lockbox.StatusCanceled, lockbox.StatusRevoked:
		return fmt.Sprintf("Request %s was already %s%s.", r.Reference, r.Status, at(r.EndedAt))
	}
	if _, err := lockbox.Next(r.Status, ev); err != nil {
		return fmt.Sprintf("%s (request %s)", strings.TrimSuffix(lockbox.ErrorMessage(err), "."), r.Reference)
	}
	return lockbox.ErrorMessage(cause)
}
