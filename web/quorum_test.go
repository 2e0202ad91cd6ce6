package web_test

import (
	"net/http"
	"net/url"
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
	wantBody(t, ap.get(path), `id="extensions"`, "copy still running", "pending", `id="action-extension-approve"`, `id="action-extension-deny"`)
	res = ap.post(path+"/extension-approve", url.Values{"version": {"5"}})
	wantRedirect(t, res, path+"?done=extension-approve")
	if got := e.get(r.ID); got.AccessEndsAt.Sub(*got.AccessStartsAt) != 150*time.Minute {
		t.Fatalf("access after the extension: %v", got.AccessEndsAt.Sub(*got.AccessStartsAt))
	}
}
