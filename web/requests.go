package web

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lockboxhq/lockbox"
)

// action is something a person can do to a request from its page. Each
// has a confirmation page at GET /requests/{id}/{name} and is done by
// POST /requests/{id}/{name}.
type action struct {
	Name    string
	Event   lockbox.Event
	Label   string // the button
	Explain string // what confirming does, on the confirmation page
	Danger  bool
}

var actions = []action{
	{"approve", lockbox.EventApprove, "Approve",
		"The support engineer gets access to the operations listed, for the duration requested, starting at the requested start time (or now).", false},
	{"deny", lockbox.EventDeny, "Deny",
		"The support engineer gets no access. The request ends and cannot be reopened.", true},
	{"revoke", lockbox.EventRevoke, "Revoke access",
		"Access ends now, even if the approved duration is not over. The request ends.", true},
	{"cancel", lockbox.EventCancel, "Cancel request",
		"The request is withdrawn before any access begins. It ends and cannot be reopened.", true},
	{"complete", lockbox.EventComplete, "Complete",
		"Close the request as fixed: access ends now.", false},
	{"extend", lockbox.EventExtend, "Ask for more time",
		"The tenant's approvers are asked to approve more time. Access still ends when approved before unless they approve in time; if nobody decides by then, the ask lapses.", false},
	{"extension-approve", lockbox.EventExtensionApprove, "Approve extension",
		"Access ends later by the minutes asked for (once the request's quorum of approvers has approved).", false},
	{"extension-deny", lockbox.EventExtensionDeny, "Deny extension",
		"Access ends when approved before.", true},
	{"acknowledge", lockbox.EventAcknowledge, "Acknowledge break-glass",
		"You confirm your organization reviewed this break-glass access (see the access report on the request's page). It no longer shows as needing review.", false},
	{"review-approve", lockbox.EventReviewApprove, "Approve review",
		"The request goes to the tenant's approvers (or, if the tenant does not require approval, is approved by the system).", false},
	{"review-deny", lockbox.EventReviewDeny, "Deny in review",
		"The request is denied before it reaches the tenant. It ends.", true},
}

var actionsByName = func() map[string]action {
	m := map[string]action{}
	for _, a := range actions {
		m[a.Name] = a
	}
	return m
}()

// available lists the actions u may take on r now, by asking the root
// package's authorization point and state machine: the page shows exactly
// what the service would accept.
func available(u *lockbox.User, r *lockbox.AccessRequest) []action {
	var out []action
	for _, a := range actions {
		if lockbox.AuthorizeEvent(u, r, a.Event) != nil {
			continue
		}
		if r.Check(a.Event) != nil {
			continue
		}
		if r.CheckDecider(a.Event, u.ID) != nil {
			continue // they approved already: a quorum counts distinct people
		}
		out = append(out, a)
	}
	return out
}

// blockedReason explains why a support manager cannot review r (separation
// of duties), so the page says so instead of silently showing no button.
func blockedReason(u *lockbox.User, r *lockbox.AccessRequest) string {
	if _, err := lockbox.Next(r.Status, lockbox.EventReviewApprove); err != nil || !lockbox.Can(u, lockbox.PermReviewRequests, "") {
		return ""
	}
	if err := lockbox.AuthorizeEvent(u, r, lockbox.EventReviewApprove); err != nil {
		return lockbox.ErrorMessage(err)
	}
	return ""
}

type listRow struct {
	R       *lockbox.AccessRequest
	Blocked string
}

type listData struct {
	Heading    string
	Intro      string
	Rows       []listRow
	Status     string
	Statuses   []lockbox.Status
	ShowTenant bool
	Review     bool // the review queue: no status filter
	NextCursor string
	Query      string // the filter, for the next-page link
	FindRef    string
	Problem    string
	// NeedsReview lists only break-glass requests waiting for an
	// acknowledgement (the "Needs review" filter).
	NeedsReview bool
}

// requestList is "Customer Lockbox requests" for a tenant, "My requests"
// for an operator and "All requests" for managers and admins: the service
// returns what the caller may see, newest first.
func (h *Handler) requestList(w http.ResponseWriter, r *http.Request) {
	u := lockbox.UserFromContext(r.Context())
	q := r.URL.Query()
	tenant := lockbox.VisibleTo(u).Tenant()
	d := listData{Heading: requestListTitle(u), Status: q.Get("status"), Statuses: lockbox.Statuses,
		ShowTenant: tenant == "", FindRef: q.Get("ref")}
	if tenant != "" {
		d.Intro = "Requests from the provider's support engineers to access your organization's content. Match the reference code with the one in the notification email before you decide."
		// A tenant opens the list to decide: it starts at what waits for
		// a decision. "All" (status=) shows every status.
		if _, chosen := q["status"]; !chosen {
			d.Status = string(lockbox.StatusPending)
		}
	}
	f := lockbox.RequestFilter{Cursor: q.Get("cursor"), Limit: 50, NeedsReview: q.Get("needs_review") == "1"}
	if d.NeedsReview = f.NeedsReview; d.NeedsReview {
		d.Status = "" // every status: what needs review has ended
	}
	if d.Status != "" {
		f.Status = []lockbox.Status{lockbox.Status(d.Status)}
	}
	page, err := h.cfg.Requests.ListRequests(r.Context(), f)
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	for _, req := range page.Requests {
		d.Rows = append(d.Rows, listRow{R: req, Blocked: blockedReason(u, req)})
	}
	d.NextCursor = page.NextCursor
	d.Query = url.Values{"status": {d.Status}, "cursor": {page.NextCursor}}.Encode()
	if d.NeedsReview {
		d.Query += "&needs_review=1"
	}
	h.render(w, r, http.StatusOK, "requests", d.Heading, d)
}

// reviewQueue lists requests waiting for a support manager, with the
// requester's own visibly not reviewable by them.
func (h *Handler) reviewQueue(w http.ResponseWriter, r *http.Request) {
	u := lockbox.UserFromContext(r.Context())
	if !lockbox.Can(u, lockbox.PermReviewRequests, "") {
		h.errorPage(w, r, http.StatusForbidden, "Only support managers have a review queue.")
		return
	}
	f := lockbox.RequestFilter{Status: []lockbox.Status{lockbox.StatusPendingReview},
		Cursor: r.URL.Query().Get("cursor"), Limit: 50}
	page, err := h.cfg.Requests.ListRequests(r.Context(), f)
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	d := listData{Heading: "Review queue", ShowTenant: true, Review: true,
		Intro:      "Requests filed by operators, waiting for a support manager. You cannot review a request you filed yourself.",
		NextCursor: page.NextCursor, Query: url.Values{"cursor": {page.NextCursor}}.Encode()}
	for _, req := range page.Requests {
		d.Rows = append(d.Rows, listRow{R: req, Blocked: blockedReason(u, req)})
	}
	h.render(w, r, http.StatusOK, "requests", d.Heading, d)
}

// findRequest opens a request by the reference code from an email.
func (h *Handler) findRequest(w http.ResponseWriter, r *http.Request) {
	ref := strings.ToUpper(strings.TrimSpace(r.URL.Query().Get("ref")))
	if ref == "" {
		http.Redirect(w, r, "/requests", http.StatusSeeOther)
		return
	}
	req, err := h.cfg.Requests.GetRequest(r.Context(), ref)
	if lockbox.ErrorCode(err) == lockbox.ENOTFOUND {
		h.errorPage(w, r, http.StatusNotFound, "No request with reference "+ref+" is visible to you. Check the code in the email; requests reach you only after the provider's review.")
		return
	} else if err != nil {
		h.serviceError(w, r, err)
		return
	}
	http.Redirect(w, r, "/requests/"+url.PathEscape(req.Reference), http.StatusSeeOther)
}

type detailData struct {
	R       *lockbox.AccessRequest
	Actions []action
	Blocked string
	Token   bool // the person may get the request's grant token now
	// StillMay lists the tenant's approvers who have not approved what
	// waits for them: the request while pending, else its pending
	// extension (shown to whoever may read the tenant's users).
	StillMay []string
	Narrowed bool // the approvals changed what was requested
	// Report is the access report, once the request gave access.
	Report *lockbox.AccessReport
	// PolicyErrors are the tenant's rules that could not be evaluated when
	// the request became pending, and so why it was not decided
	// automatically (fail closed). The service returns them only to those
	// who may read the rules (AccessRequest.ForViewer).
	PolicyErrors []lockbox.RuleResult
}

func (h *Handler) requestDetail(w http.ResponseWriter, r *http.Request) {
	u := lockbox.UserFromContext(r.Context())
	req, err := h.cfg.Requests.GetRequest(r.Context(), r.PathValue("id"))
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	d := detailData{R: req, Actions: available(u, req), Blocked: blockedReason(u, req),
		Token:    req.Status == lockbox.StatusActive && lockbox.AuthorizeGrant(u, req) == nil,
		Narrowed: narrowed(req)}
	if req.Policy != nil {
		d.PolicyErrors = req.Policy.Errors
	}
	if req.AccessStartsAt != nil && (req.Status == lockbox.StatusActive || req.Status.Terminal()) {
		rep, err := h.cfg.Requests.AccessReport(r.Context(), req.ID)
		if err != nil && lockbox.ErrorCode(err) != lockbox.ECONFLICT { // conflict: it never gave access
			h.serviceError(w, r, err)
			return
		}
		d.Report = rep
	}
	// Who may still approve what is waiting: the request, or its pending
	// extension; by the rule that refuses a second approval by the same
	// person (CheckDecider).
	waiting := lockbox.Event("")
	switch {
	case req.Status == lockbox.StatusPending:
		waiting = lockbox.EventApprove
	case req.PendingExtension() != nil:
		waiting = lockbox.EventExtensionApprove
	}
	if waiting != "" && lockbox.Can(u, lockbox.PermReadTenantUsers, req.Tenant) {
		users, err := h.cfg.Accounts.ListTenantUsers(r.Context(), req.Tenant)
		if err != nil {
			h.serviceError(w, r, err)
			return
		}
		for _, x := range users {
			if x.IsTenantApprover(req.Tenant) && req.CheckDecider(waiting, x.ID) == nil {
				d.StillMay = append(d.StillMay, x.Email)
			}
		}
	}
	h.render(w, r, http.StatusOK, "request", "Request "+req.Reference, d)
}

// narrowed reports whether the approvals so far grant less than requested.
func narrowed(r *lockbox.AccessRequest) bool {
	return r.DurationMinutes != r.RequestedDurationMinutes || len(r.Operations) != len(r.RequestedOperations) ||
		!sameTimePtr(r.StartTime, r.RequestedStartTime)
}

func sameTimePtr(a, b *time.Time) bool {
	return a == b || (a != nil && b != nil && a.Equal(*b))
}

type confirmData struct {
	R       *lockbox.AccessRequest
	Action  action
	Allowed bool // the action is still possible: show the button
	Comment string
	Version int
	Problem string
	// Approve only: the narrowing form, as typed (Duration in minutes; Keep
	// the operations ticked).
	Approve  bool
	Duration string
	Keep     map[string]bool
	// Start is a later start the approver asks for, as typed
	// (2006-01-02T15:04 in their time zone; "" for as requested).
	Start      string
	StartError string
	// Extend only: the ask, as typed.
	Extend  bool
	Minutes string
	Reason  string
	// Sign: the tenant requires decisions signed with a passkey, and this
	// action is one (static/passkey.js does the ceremony).
	Sign bool
}

// confirmPage is the confirmation step of an action: what it will do, a
// comment, and the button. It carries the version of the request the
// person is looking at, so the decision applies to exactly that.
func (h *Handler) confirmPage(w http.ResponseWriter, r *http.Request) {
	a, ok := actionsByName[r.PathValue("action")]
	if !ok {
		h.notFoundPage(w, r)
		return
	}
	req, err := h.cfg.Requests.GetRequest(r.Context(), r.PathValue("id"))
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	d := h.confirmData(r, req, a)
	if !d.Allowed {
		d.Problem = "You cannot " + strings.ToLower(a.Label) + " this request now: it is " + statusLabel(req.Status) + "."
		if err := lockbox.AuthorizeEvent(lockbox.UserFromContext(r.Context()), req, a.Event); err != nil {
			d.Problem = lockbox.ErrorMessage(err)
		}
	}
	h.render(w, r, http.StatusOK, "confirm", a.Label+" "+req.Reference, d)
}

func (h *Handler) confirmData(r *http.Request, req *lockbox.AccessRequest, a action) confirmData {
	d := confirmData{R: req, Action: a, Version: req.Version, Approve: a.Event == lockbox.EventApprove,
		Extend: a.Event == lockbox.EventExtend, Minutes: "30",
		Duration: strconv.Itoa(req.DurationMinutes), Keep: map[string]bool{}}
	if slices.Contains(lockbox.SignedEvents, a.Event) {
		d.Sign = h.signsDecisions(r, req.Tenant)
	}
	for _, op := range req.Operations {
		d.Keep[op] = true
	}
	for _, x := range available(lockbox.UserFromContext(r.Context()), req) {
		if x.Name == a.Name {
			d.Allowed = true
		}
	}
	return d
}

// act does an action. On success it shows the request with a notice; on a
// refusal (409: it expired, someone else decided first, the page was stale)
// it shows the confirmation page again with the service's explanation and
// the request as it is now.
func (h *Handler) act(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("action") == "token" {
		h.grantToken(w, r)
		return
	}
	a, ok := actionsByName[r.PathValue("action")]
	if !ok {
		h.notFoundPage(w, r)
		return
	}
	if err := r.ParseForm(); err != nil {
		h.errorPage(w, r, http.StatusBadRequest, "The form could not be read.")
		return
	}
	version, err := strconv.Atoi(r.PostForm.Get("version"))
	if err != nil || version < 1 {
		h.errorPage(w, r, http.StatusBadRequest, "The form is missing the version of the request you saw. Reload the request and try again.")
		return
	}
	comment := r.PostForm.Get("comment")
	id := r.PathValue("id")
	dec := lockbox.Decision{Comment: comment, IfVersion: version, Passkey: formAssertion(r.PostForm)}
	if a.Event == lockbox.EventExtend {
		n, err := strconv.Atoi(strings.TrimSpace(r.PostForm.Get("minutes")))
		if err != nil {
			h.refused(w, r, id, a, comment, lockbox.FieldErrorf(lockbox.EINVALID, "minutes", "Enter a whole number of minutes."))
			return
		}
		dec = lockbox.Decision{IfVersion: version, Extend: &lockbox.ExtensionAsk{Minutes: n, Reason: r.PostForm.Get("reason")}}
	}
	if a.Event == lockbox.EventApprove {
		if dec.Changes, err = h.narrowing(r, id); err != nil {
			h.refused(w, r, id, a, comment, err)
			return
		}
	}
	out, err := h.cfg.Requests.Act(r.Context(), id, a.Event, dec)
	switch lockbox.ErrorCode(err) {
	case "":
		done := a.Name
		if a.Event == lockbox.EventApprove && out.Status == lockbox.StatusPending {
			done = "approval" // short of the quorum
		}
		http.Redirect(w, r, "/requests/"+url.PathEscape(out.Reference)+"?done="+done, http.StatusSeeOther)
	case lockbox.ECONFLICT, lockbox.EINVALID, lockbox.EFORBIDDEN, lockbox.ESIGNATUREREQUIRED, lockbox.EUNAVAILABLE:
		h.refused(w, r, id, a, comment, err)
	default:
		h.serviceError(w, r, err)
	}
}

// narrowing reads the approve form's duration and ticked operations as
// changes to the request as the person saw it: only what differs from it
// is sent, so an untouched form approves as requested and the service
// judges any narrowing (it refuses widening, whatever the form says).
func (h *Handler) narrowing(r *http.Request, id string) (lockbox.Changes, error) {
	var c lockbox.Changes
	req, err := h.cfg.Requests.GetRequest(r.Context(), id)
	if err != nil {
		return c, err
	}
	if v := strings.TrimSpace(r.PostForm.Get("start_time")); v != "" {
		loc := location(r)
		t, err := time.ParseInLocation("2006-01-02T15:04", v, loc)
		if err != nil {
			return c, lockbox.FieldErrorf(lockbox.EINVALID, "start_time", "Give the start as a date and time, e.g. 2026-11-21T14:30 (your time zone, %s).", loc)
		}
		// Earlier than what the request asks for (or than now, for a
		// request that starts on approval) would widen it: said here,
		// next to the field, and refused by the service anyway.
		floor := h.cfg.Clock.Now()
		if req.StartTime != nil && req.StartTime.After(floor) {
			floor = *req.StartTime
		}
		if t.Before(floor.Truncate(time.Minute)) {
			return c, lockbox.FieldErrorf(lockbox.EINVALID, "start_time", "The start may only be later than requested (%s), not earlier.", floor.In(loc).Format("2006-01-02 15:04"))
		}
		t = t.UTC()
		c.StartTime = &t
	}
	if v := strings.TrimSpace(r.PostForm.Get("duration_minutes")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return c, lockbox.FieldErrorf(lockbox.EINVALID, "duration_minutes", "Enter the duration as a whole number of minutes.")
		}
		if n != req.DurationMinutes {
			c.DurationMinutes = &n
		}
	}
	if r.PostForm.Get("narrow_operations") == "1" {
		ops := r.PostForm["operations"]
		if ops == nil {
			ops = []string{}
		}
		if len(ops) != len(req.Operations) {
			c.Operations = ops
		}
	}
	return c, nil
}

// refused re-renders the confirmation page after the service said no.
func (h *Handler) refused(w http.ResponseWriter, r *http.Request, id string, a action, comment string, cause error) {
	req, err := h.cfg.Requests.GetRequest(r.Context(), id)
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	d := h.confirmData(r, req, a)
	d.Comment, d.Problem = comment, lockbox.ErrorMessage(cause)
	d.Minutes, d.Reason = r.PostForm.Get("minutes"), r.PostForm.Get("reason")
	if d.Approve {
		d.Duration = r.PostForm.Get("duration_minutes")
		d.Start = r.PostForm.Get("start_time")
		if lockbox.ErrorField(cause) == "start_time" {
			d.StartError = lockbox.ErrorMessage(cause)
		}
		if r.PostForm.Get("narrow_operations") == "1" {
			d.Keep = map[string]bool{}
			for _, op := range r.PostForm["operations"] {
				d.Keep[op] = true
			}
		}
	}
	h.render(w, r, statusOf(cause), "confirm", a.Label+" "+req.Reference, d)
}

type tokenData struct {
	R         *lockbox.AccessRequest
	Token     string
	ExpiresAt any
	Missing   bool
	Problem   string
}

// grantToken shows the operator the grant token of their active request.
// The token is in this response only (no-store), never in a URL.
func (h *Handler) grantToken(w http.ResponseWriter, r *http.Request) {
	req, err := h.cfg.Requests.GetRequest(r.Context(), r.PathValue("id"))
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	if h.cfg.Grants == nil {
		h.render(w, r, http.StatusNotImplemented, "token", "Grant token", tokenData{R: req, Missing: true})
		return
	}
	g, err := h.cfg.Grants.IssueGrant(r.Context(), req.ID)
	switch lockbox.ErrorCode(err) {
	case "":
		h.render(w, r, http.StatusOK, "token", "Grant token", tokenData{R: req, Token: g.Token, ExpiresAt: g.ExpiresAt})
	case lockbox.ECONFLICT, lockbox.EFORBIDDEN, lockbox.EUNAVAILABLE:
		h.render(w, r, statusOf(err), "token", "Grant token", tokenData{R: req, Problem: lockbox.ErrorMessage(err)})
	default:
		h.serviceError(w, r, err)
	}
}
