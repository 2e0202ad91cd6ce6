package web_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
)

// pendingOfTwo sets contoso to a quorum of two and files a pending request
// for two operations.
func (e *env) pendingOfTwo() *lockbox.AccessRequest {
	e.t.Helper()
	if _, err := e.svc.UpdateSettings(e.as("admin@contoso.test"), "contoso", lockbox.SettingsPatch{ApprovalsRequired: ptrTo(2)}); err != nil {
		e.t.Fatal(err)
	}
	in := newRequest()
	in.Operations = []string{"Get-MailboxStatistics", "Repair-Mailbox"}
	r, err := e.svc.CreateRequest(e.as("operator@provider.test"), in)
	if err != nil {
		e.t.Fatal(err)
	}
	if r, err = e.svc.Act(e.as("manager@provider.test"), r.ID, lockbox.EventReviewApprove, lockbox.Decision{}); err != nil {
		e.t.Fatal(err)
	}
	return r
}

func ptrTo[T any](v T) *T { return &v }

// TestQuorumWithNarrowingFromTheWeb: the approve form narrows; the request
// page shows the approvals so far and who still may approve; the first
// approver is not offered to approve again; a widening is refused next to
// the form, and the second approver's approval makes it active with the
// narrowest values.
func TestQuorumWithNarrowingFromTheWeb(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.pendingOfTwo()
	path := "/requests/" + r.Reference
	c := e.signIn("approver@contoso.test")
	wantBody(t, c.get(path+"/approve"), `id="duration_minutes"`, `value="120"`,
		`name="operations" value="Repair-Mailbox" checked`, "needs 2 approvals; the narrowest of them applies")
	res := c.post(path+"/approve", url.Values{"version": {"2"}, "duration_minutes": {"500"}, "narrow_operations": {"1"},
		"operations": {"Get-MailboxStatistics", "Repair-Mailbox"}})
	wantStatus(t, res, http.StatusBadRequest)
	wantBody(t, res, "not lengthen it", `value="500"`)
	res = c.post(path+"/approve", url.Values{"version": {"2"}, "duration_minutes": {"60"}, "narrow_operations": {"1"},
		"operations": {"Get-MailboxStatistics"}, "comment": {"stats only"}})
	wantRedirect(t, res, path+"?done=approval")
	page := c.get(path + "?done=approval")
	wantBody(t, page, "Your approval is recorded", `id="approvals"`, "1 of 2", "approver@contoso.test", "only <code>Get-MailboxStatistics</code>",
		`id="still-may">Still needed: 1 more, from any of admin@contoso.test`, `id="duration">1 h`, `id="requested">2 h of`)
	if strings.Contains(page.body, `id="action-approve"`) {
		t.Error("the approver who approved is offered to approve again")
	}
	admin := e.signIn("admin@contoso.test")
	wantBody(t, admin.get(path), `id="action-approve"`)
	res = admin.post(path+"/approve", url.Values{"version": {"3"}, "duration_minutes": {"60"}, "narrow_operations": {"1"},
		"operations": {"Get-MailboxStatistics"}})
	wantRedirect(t, res, path+"?done=approve")
	got := e.get(r.ID)
	if got.Status != lockbox.StatusActive || got.DurationMinutes != 60 || len(got.Operations) != 1 || len(got.Approvals) != 2 {
		t.Fatalf("after two approvals: %s, %d min, %v, %d approvals", got.Status, got.DurationMinutes, got.Operations, len(got.Approvals))
	}
}

// TestExtensionFromTheWeb: the operator asks for more time on the request
// page; the approver sees it and approves it; access ends later.
func TestExtensionFromTheWeb(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r, err := e.svc.Act(e.as("approver@contoso.test"), e.pending().ID, lockbox.EventApprove, lockbox.Decision{})
	if err != nil {
		t.Fatal(err)
	}
	path := "/requests/" + r.Reference
	op := e.signIn("operator@provider.test")
	wantBody(t, op.get(path), `id="action-extend"`)
	wantBody(t, op.get(path+"/extend"), `id="minutes"`, `id="reason"`)
	res := op.post(path+"/extend", url.Values{"version": {"4"}, "minutes": {"30"}, "reason": {""}})
	wantStatus(t, res, http.StatusBadRequest)
	wantBody(t, res, "reason is required")
	res = op.post(path+"/extend", url.Values{"version": {"4"}, "minutes": {"30"}, "reason": {"copy still running"}})
	wantRedirect(t, res, path+"?done=extend")
	ap := e.signIn("approver@contoso.test")
	wantBody(t, ap.get(path), `id="extensions"`, "copy still running", "pending", `id="action-extension-approve"`, `id="action-extension-deny"`,
		`id="extension-still-may">Still needed: 1 more, from any of admin@contoso.test, approver@contoso.test.`)
	res = ap.post(path+"/extension-approve", url.Values{"version": {"5"}})
	wantRedirect(t, res, path+"?done=extension-approve")
	if got := e.get(r.ID); got.AccessEndsAt.Sub(*got.AccessStartsAt) != 150*time.Minute {
		t.Fatalf("access after the extension: %v", got.AccessEndsAt.Sub(*got.AccessStartsAt))
	}
}

// breakGlassEnded enables break-glass for contoso and returns a break-glass
// request that was active at once after review and is now revoked.
func (e *env) breakGlassEnded() *lockbox.AccessRequest {
	e.t.Helper()
	if _, err := e.svc.UpdateSettings(e.as("admin@contoso.test"), "contoso",
		lockbox.SettingsPatch{BreakGlass: &lockbox.BreakGlassPatch{Enabled: ptrTo(true)}}); err != nil {
		e.t.Fatal(err)
	}
	in := newRequest()
	in.BreakGlass, in.Incident = true, "INC-4711"
	r, err := e.svc.CreateRequest(e.as("operator@provider.test"), in)
	if err != nil {
		e.t.Fatal(err)
	}
	if r, err = e.svc.Act(e.as("manager@provider.test"), r.ID, lockbox.EventReviewApprove, lockbox.Decision{}); err != nil {
		e.t.Fatal(err)
	}
	if r, err = e.svc.Act(e.as("admin@contoso.test"), r.ID, lockbox.EventRevoke, lockbox.Decision{}); err != nil {
		e.t.Fatal(err)
	}
	return r
}

// TestBreakGlassFromTheWeb: the list and the page set a break-glass
// request apart; only an approver is offered to acknowledge it, once.
func TestBreakGlassFromTheWeb(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.breakGlassEnded()
	path := "/requests/" + r.Reference
	ap := e.signIn("approver@contoso.test")
	wantBody(t, ap.get("/requests?needs_review=1"), `class="breakglass-row"`, r.Reference, "badge-breakglass", "Needs review")
	wantBody(t, ap.get(path), `id="break-glass"`, "INC-4711", `id="needs-review"`, `id="access-report"`, `id="action-acknowledge"`)
	auditor := e.signIn("auditor@contoso.test")
	if page := auditor.get(path); !strings.Contains(page.body, `id="break-glass"`) || strings.Contains(page.body, `id="action-acknowledge"`) {
		t.Error("an audit reader sees no banner, or is offered to acknowledge")
	}
	wantRedirect(t, ap.post(path+"/acknowledge", url.Values{"version": {strconv.Itoa(r.Version)}, "comment": {"ok"}}), path+"?done=acknowledge")
	page := ap.get(path)
	wantBody(t, page, "Acknowledged by approver@contoso.test")
	if strings.Contains(page.body, `id="action-acknowledge"`) || strings.Contains(page.body, `id="needs-review"`) {
		t.Error("acknowledged, the page still asks for review")
	}
	if strings.Contains(ap.get("/requests?needs_review=1").body, r.Reference) {
		t.Error("acknowledged, the request is still listed as needing review")
	}
}

// TestApproveWithLaterStartFromTheWeb: the approve form takes a later start
// (in the approver's time zone); an earlier one is refused next to the
// field and changes nothing.
func TestApproveWithLaterStartFromTheWeb(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.pending()
	path := "/requests/" + r.Reference
	c := e.signIn("approver@contoso.test")
	wantBody(t, c.get(path+"/approve"), `id="start_time"`, `type="datetime-local"`)
	early := time.Now().Add(-2 * time.Hour).UTC().Format("2006-01-02T15:04")
	res := c.post(path+"/approve", url.Values{"version": {strconv.Itoa(r.Version)}, "start_time": {early}})
	wantStatus(t, res, http.StatusBadRequest)
	wantBody(t, res, `id="start_time-error"`, "only be later than requested", `value="`+early+`"`)
	if got := e.get(r.ID); got.Status != lockbox.StatusPending {
		t.Fatalf("a refused start changed the request: %s", got.Status)
	}
	later := time.Now().Add(3 * time.Hour).UTC().Truncate(time.Minute)
	res = c.post(path+"/approve", url.Values{"version": {strconv.Itoa(r.Version)}, "start_time": {later.Format("2006-01-02T15:04")}})
	wantRedirect(t, res, path+"?done=approve")
	got := e.get(r.ID)
	if got.Status != lockbox.StatusApproved || got.AccessStartsAt == nil || !got.AccessStartsAt.Equal(later) {
		t.Fatalf("approved with a later start: %s from %v, want approved from %v", got.Status, got.AccessStartsAt, later)
	}
}
