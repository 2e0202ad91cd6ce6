package web_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
	"github.com/lockboxhq/lockbox/internal/lockboxtest"
	"github.com/lockboxhq/lockbox/oidcrp"
	"github.com/lockboxhq/lockbox/web"
)

var devAccounts = []string{"admin@provider.test", "operator@provider.test", "manager@provider.test",
	"admin@contoso.test", "approver@contoso.test", "auditor@contoso.test", "admin@fabrikam.test"}

// TestEveryPageEveryRole renders every page for every kind of account and
// checks the status, and that no page carries inline script or style (the
// CSP would block it, so it would be a broken page).
func TestEveryPageEveryRole(t *testing.T) {
	t.Parallel()
	// Single sign-on on (a relying party that is never called here), so
	// /sso answers by the service's authorization rather than "not
	// available on this server".
	e := newEnvWith(t, approval.Options{Secrets: lockboxtest.SecretBox(t), SSO: approval.SSOOptions{Client: oidcrp.New(nil)}}, func(cfg *web.Config) {
		cfg.SSO = cfg.Accounts.(*approval.Service).SSO(cfg.Sessions.(*approval.WebSessions), "http://example.com/auth/callback")
	})
	r := e.pending()
	ref := "/requests/" + r.Reference
	// An active request with an extension asked for, and a break-glass
	// request, so that every request action has a request it applies to.
	active, err := e.svc.Act(e.as("approver@contoso.test"), e.pending().ID, lockbox.EventApprove, lockbox.Decision{})
	if err != nil {
		t.Fatal(err)
	}
	if active, err = e.svc.Act(e.as("operator@provider.test"), active.ID, lockbox.EventExtend,
		lockbox.Decision{Extend: &lockbox.ExtensionAsk{Minutes: 30, Reason: "Export still running."}}); err != nil {
		t.Fatal(err)
	}
	act := "/requests/" + active.Reference
	if _, err := e.svc.UpdateSettings(e.as("admin@contoso.test"), "contoso",
		lockbox.SettingsPatch{BreakGlass: &lockbox.BreakGlassPatch{Enabled: ptrTo(true)}}); err != nil {
		t.Fatal(err)
	}
	bgIn := newRequest()
	bgIn.BreakGlass, bgIn.Incident = true, "INC-4711"
	bg, err := e.svc.CreateRequest(e.as("operator@provider.test"), bgIn)
	if err != nil {
		t.Fatal(err)
	}
	if bg, err = e.svc.Act(e.as("manager@provider.test"), bg.ID, lockbox.EventReviewApprove, lockbox.Decision{}); err != nil {
		t.Fatal(err)
	}
	bgRef := "/requests/" + bg.Reference
	// Accounts the staff and user actions below act on, so the dev
	// accounts keep their sessions and roles across the rows.
	if _, err := e.svc.AddStaff(e.as("admin@provider.test"), lockbox.NewUser{Email: "extra@provider.test", Roles: []lockbox.Role{lockbox.RoleOperator}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.AddTenantUser(e.as("admin@contoso.test"), "contoso", lockbox.NewUser{Email: "extra@contoso.test", Roles: []lockbox.Role{lockbox.RoleAuditReader}}); err != nil {
		t.Fatal(err)
	}
	const (
		ok  = http.StatusOK
		no  = http.StatusForbidden
		nf  = http.StatusNotFound
		bad = http.StatusBadRequest
		see = http.StatusSeeOther // done: redirected to the page's notice
		old = http.StatusConflict // allowed, but the form's version is stale
	)
	// stale is a decision form from a page older than the request: the
	// service answers who may act (409) or may not (403) without anything
	// changing.
	stale := url.Values{"version": {"999"}, "minutes": {"30"}}
	// Columns follow devAccounts: provider admin, operator, manager,
	// contoso admin, contoso approver, contoso auditor, fabrikam admin.
	// Rows run in order, each column left to right: a row that changes
	// something (the last ones remove accounts) comes after the rows that
	// need it unchanged.
	pages := []struct {
		path string
		want [7]int
		form url.Values // non-nil: POST it
	}{
		{"/requests", [7]int{ok, ok, ok, ok, ok, ok, ok}, nil},
		{"/requests?status=pending", [7]int{ok, ok, ok, ok, ok, ok, ok}, nil},
		{"/requests?status=bogus", [7]int{400, 400, 400, 400, 400, 400, 400}, nil},
		{ref, [7]int{ok, ok, ok, ok, ok, ok, nf}, nil},
		{ref + "/approve", [7]int{ok, ok, ok, ok, ok, ok, nf}, nil},
		{ref + "/nonsense", [7]int{nf, nf, nf, nf, nf, nf, nf}, nil},
		{"/requests/LB-NOTEXIST", [7]int{nf, nf, nf, nf, nf, nf, nf}, nil},
		{"/requests/new", [7]int{no, ok, no, no, no, no, no}, nil},
		{"/review", [7]int{no, no, ok, no, no, no, no}, nil},
		{"/settings", [7]int{no, no, no, ok, ok, no, ok}, nil},
		{"/users", [7]int{no, no, no, ok, ok, no, ok}, nil},
		{"/audit", [7]int{ok, no, no, ok, ok, ok, ok}, nil},
		{"/audit.csv", [7]int{ok, no, no, ok, ok, ok, ok}, nil},
		{"/tenants", [7]int{ok, no, no, no, no, no, no}, nil},
		{"/staff", [7]int{ok, no, no, no, no, no, no}, nil},
		{"/staff/operator@provider.test/remove", [7]int{ok, no, no, no, no, no, no}, nil},
		{"/staff/nobody@provider.test/remove", [7]int{nf, no, no, no, no, no, no}, nil},
		{"/services", [7]int{ok, ok, ok, no, no, no, no}, nil},
		{"/preferences", [7]int{ok, ok, ok, ok, ok, ok, ok}, nil},
		{"/dev/mail", [7]int{ok, ok, ok, ok, ok, ok, ok}, nil},
		{"/account", [7]int{ok, ok, ok, ok, ok, ok, ok}, nil},
		// A tenant's own pages: the provider admin has no tenant, so no
		// policy or SSO of one; fabrikam's admin sees fabrikam's.
		{"/sso", [7]int{no, no, no, ok, no, no, ok}, nil},
		{"/sso", [7]int{no, no, no, bad, no, no, bad}, url.Values{"issuer": {"not a url"}}},
		{"/policy", [7]int{no, no, no, ok, ok, no, ok}, nil}, // approvers read it (PermReadPolicy)
		{"/webhooks", [7]int{no, no, no, ok, ok, no, ok}, nil},
		{"/webhooks", [7]int{no, no, no, bad, bad, no, bad}, url.Values{"url": {"http://hooks.example.com/x"}}},
		{"/webhooks/nothing/rotate", [7]int{no, no, no, nf, nf, no, nf}, nil},
		{"/webhooks/nothing/rotate", [7]int{no, no, no, nf, nf, no, nf}, url.Values{"grace": {"0"}}},
		{"/webhooks/nothing/delete", [7]int{no, no, no, nf, nf, no, nf}, url.Values{}},
		{"/webhooks/nothing/deliveries", [7]int{no, no, no, nf, nf, no, nf}, nil},
		{"/webhooks/nothing/deliveries/msg/resend", [7]int{no, no, no, nf, nf, no, nf}, url.Values{}},
		{"/webhooks/nothing/test", [7]int{no, no, no, nf, nf, no, nf}, url.Values{}},
		{"/webhooks/nothing/edit", [7]int{no, no, no, nf, nf, no, nf}, nil},
		{"/webhooks/nothing/edit", [7]int{no, no, no, nf, nf, no, nf}, url.Values{"url": {"https://hooks.example.com/x"}}},
		{"/requests?needs_review=1", [7]int{ok, ok, ok, ok, ok, ok, ok}, nil},
		// Request actions: the confirmation page explains a refusal to
		// whoever sees the request; the action itself is the service's.
		{act + "/extend", [7]int{ok, ok, ok, ok, ok, ok, nf}, nil},
		{act + "/extend", [7]int{no, old, no, no, no, no, nf}, stale},
		{act + "/extension-approve", [7]int{ok, ok, ok, ok, ok, ok, nf}, nil},
		{act + "/extension-approve", [7]int{no, no, no, old, old, no, nf}, stale},
		{act + "/extension-deny", [7]int{ok, ok, ok, ok, ok, ok, nf}, nil},
		{act + "/extension-deny", [7]int{no, no, no, old, old, no, nf}, stale},
		{bgRef + "/acknowledge", [7]int{ok, ok, ok, ok, ok, ok, nf}, nil},
		{bgRef + "/acknowledge", [7]int{no, no, no, old, old, no, nf}, stale},
		// Service accounts: the provider admin's, as in the API.
		{"/service-accounts", [7]int{ok, no, no, no, no, no, no}, nil},
		{"/service-accounts/dev-service/rotate", [7]int{ok, no, no, no, no, no, no}, nil},
		{"/service-accounts/dev-service/revoke", [7]int{ok, no, no, no, no, no, no}, nil},
		{"/service-accounts/nobody/revoke", [7]int{nf, no, no, no, no, no, no}, nil},
		{"/service-accounts/nobody/rotate", [7]int{nf, no, no, no, no, no, no}, url.Values{"grace": {"0"}}},
		{"/service-accounts/nobody/revoke", [7]int{nf, no, no, no, no, no, no}, url.Values{}},
		// Staff actions: the provider admin's; never on oneself.
		{"/staff", [7]int{bad, no, no, no, no, no, no}, url.Values{"email": {"not-an-email"}, "role": {"operator"}}},
		{"/staff/extra@provider.test/roles", [7]int{see, no, no, no, no, no, no}, url.Values{"role": {"operator", "support_manager"}}},
		{"/staff/extra@provider.test/disable", [7]int{see, no, no, no, no, no, no}, url.Values{}},
		{"/staff/extra@provider.test/enable", [7]int{see, no, no, no, no, no, no}, url.Values{}},
		{"/staff/extra@provider.test/reset-password", [7]int{ok, no, no, no, no, no, no}, url.Values{}},
		{"/staff/admin@provider.test/disable", [7]int{no, no, no, no, no, no, no}, url.Values{}},
		{"/staff/nobody@provider.test/disable", [7]int{nf, no, no, no, no, no, no}, url.Values{}},
		// Tenant users: the tenant's global admin; another tenant's users
		// are not found.
		{"/users", [7]int{no, no, no, bad, no, no, bad}, url.Values{"email": {"not-an-email"}, "role": {"audit_reader"}}},
		{"/users/extra@contoso.test/roles", [7]int{no, no, no, see, no, no, nf}, url.Values{"role": {"lockbox_approver"}}},
		{"/users/extra@contoso.test/reset-password", [7]int{no, no, no, ok, no, no, nf}, url.Values{}},
		{"/users/extra@contoso.test/remove", [7]int{no, no, no, ok, no, no, nf}, nil},
		// Removals last: after the first allowed one, the account is gone.
		{"/users/extra@contoso.test/remove", [7]int{no, no, no, see, no, no, nf}, url.Values{}},
		{"/staff/extra@provider.test/remove", [7]int{see, no, no, no, no, no, no}, url.Values{}},
	}
	clients := map[string]*client{}
	for _, email := range devAccounts {
		clients[email] = e.signIn(email)
	}
	for _, p := range pages {
		method := "GET"
		if p.form != nil {
			method = "POST"
		}
		for i, email := range devAccounts {
			t.Run(method+" "+p.path+"/"+email, func(t *testing.T) {
				var res *response
				if p.form != nil {
					res = clients[email].post(p.path, p.form)
				} else {
					res = clients[email].get(p.path)
				}
				wantStatus(t, res, p.want[i])
				if strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
					checkNoInline(t, res.body)
				}
			})
		}
	}
}

var (
	inlineScriptRE  = regexp.MustCompile(`<script(\s[^>]*)?>`)
	inlineHandlerRE = regexp.MustCompile(`(?i)\son[a-z]+\s*=`)
	styleAttrRE     = regexp.MustCompile(`(?i)\sstyle\s*=|<style`)
)

func checkNoInline(t *testing.T, body string) {
	t.Helper()
	for _, tag := range inlineScriptRE.FindAllString(body, -1) {
		if !strings.Contains(tag, `src="/static/`) {
			t.Errorf("inline script: %s", tag)
		}
	}
	if m := inlineHandlerRE.FindString(body); m != "" {
		t.Errorf("inline event handler: %q", m)
	}
	if m := styleAttrRE.FindString(body); m != "" {
		t.Errorf("inline style: %q", m)
	}
}

// TestNavigationByRole: each person sees the pages of their roles.
func TestNavigationByRole(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, tc := range []struct {
		email      string
		want, lack []string
	}{
		{"approver@contoso.test", []string{"Customer Lockbox requests", "Settings", "Audit log"}, []string{"Users and roles", "New request", "Tenants"}},
		{"admin@contoso.test", []string{"Customer Lockbox requests", "Settings", "Users and roles", "Audit log"}, []string{"New request"}},
		{"auditor@contoso.test", []string{"Customer Lockbox requests", "Audit log"}, []string{">Settings<", "Users and roles"}},
		{"operator@provider.test", []string{"New request", "My requests"}, []string{"Review queue", "Tenants"}},
		{"manager@provider.test", []string{"Review queue", "All requests"}, []string{"New request"}},
		{"admin@provider.test", []string{"All requests", "Tenants", "Staff", "Services"}, []string{"New request", "Review queue"}},
	} {
		t.Run(tc.email, func(t *testing.T) {
			res := e.signIn(tc.email).get("/requests")
			nav := res.body[strings.Index(res.body, `<nav`):strings.Index(res.body, `</nav>`)]
			for _, s := range tc.want {
				if !strings.Contains(nav, s) {
					t.Errorf("navigation lacks %q", s)
				}
			}
			for _, s := range tc.lack {
				if strings.Contains(nav, s) {
					t.Errorf("navigation shows %q", s)
				}
			}
		})
	}
}

// TestApproveFromTheWeb: the approver finds the request by its reference,
// confirms with a comment, and sees it active; the decision is the
// approver's in the audit log.
func TestApproveFromTheWeb(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.pending()
	c := e.signIn("approver@contoso.test")
	// The approver's list opens at what waits for them.
	wantBody(t, c.get("/requests"), `<option value="pending" selected>`, r.Reference)
	wantRedirect(t, c.get("/requests/find?ref="+strings.ToLower(r.Reference)), "/requests/"+r.Reference)
	res := c.get("/requests/" + r.Reference)
	wantBody(t, res, r.Reference, "SR-2026-004211", "Get-MailboxStatistics", "2 h", "operator@provider.test",
		`href="/requests/`+r.Reference+`/approve"`, `href="/requests/`+r.Reference+`/deny"`)
	res = c.get("/requests/" + r.Reference + "/approve")
	wantBody(t, res, `name="version" value="2"`, "Approve "+`<span class="reference">`+r.Reference)
	if got := e.get(r.ID); got.Status != lockbox.StatusPending {
		t.Fatalf("the confirmation page changed the request: %s", got.Status)
	}
	res = c.post("/requests/"+r.Reference+"/approve", url.Values{"version": {"2"}, "comment": {"OK for 2h"}})
	wantRedirect(t, res, "/requests/"+r.Reference+"?done=approve")
	res = c.get(res.Header.Get("Location"))
	wantBody(t, res, "Request approved.", `id="status">Active`, "approver@contoso.test", "OK for 2h", `action-revoke`)
	got := e.get(r.ID)
	if got.Status != lockbox.StatusActive || got.DecidedBy == nil || *got.DecidedBy != "approver@contoso.test" {
		t.Errorf("after approval: %s by %v", got.Status, got.DecidedBy)
	}
	if strings.Contains(c.get("/requests").body, r.Reference) {
		t.Error("a decided request is still in the approver's default list")
	}
	wantBody(t, c.get("/requests?status="), r.Reference) // "All"
}

// TestStalePageCannotDecide: a decision carries the version the page
// showed, so a page from before someone else's change decides nothing.
func TestStalePageCannotDecide(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	clock, svc, h := e.withClock()
	in := newRequest()
	start := clock.Now().Add(time.Hour)
	in.StartTime = &start
	r, err := svc.CreateRequest(e.as("operator@provider.test"), in)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Act(e.as("manager@provider.test"), r.ID, lockbox.EventReviewApprove, lockbox.Decision{}); err != nil {
		t.Fatal(err)
	}
	c := &client{t: t, h: h, cookies: e.signIn("approver@contoso.test").cookies}
	wantRedirect(t, c.post("/requests/"+r.Reference+"/approve", url.Values{"version": {"2"}}), "/requests/")
	res := c.get("/requests/" + r.Reference + "/revoke")
	wantBody(t, res, `id="status">Approved (scheduled)`, `name="version" value="3"`)
	clock.Advance(time.Hour) // access starts: the request changes under the open page
	res = c.post("/requests/"+r.Reference+"/revoke", url.Values{"version": {"3"}})
	wantStatus(t, res, http.StatusConflict)
	wantBody(t, res, "changed since you read it: it is now active", `id="status">Active`, `name="version" value="4"`)
	if got, _ := svc.GetRequest(e.as("approver@contoso.test"), r.ID); got.Status != lockbox.StatusActive {
		t.Fatalf("status %s, want active", got.Status)
	}
	// Having seen the new state, the approver revokes it; then nothing is left to do.
	wantRedirect(t, c.post("/requests/"+r.Reference+"/revoke", url.Values{"version": {"4"}}), "/requests/")
	res = c.get("/requests/" + r.Reference)
	wantBody(t, res, `id="status">Revoked`)
	if strings.Contains(res.body, `id="actions"`) {
		t.Error("a revoked request still offers actions")
	}
	// A decision the state no longer allows says why, not merely "stale".
	res = c.post("/requests/"+r.Reference+"/deny", url.Values{"version": {"5"}})
	wantStatus(t, res, http.StatusConflict)
	wantBody(t, res, "was already revoked")
}

// withClock returns the admin center on a workflow service with an
// adjustable clock (sessions stay on the wall clock, as in --dev).
func (e *env) withClock() (*lockbox.OffsetClock, *approval.Service, http.Handler) {
	e.t.Helper()
	clock := lockbox.NewOffsetClock()
	svc := approval.New(e.store, clock, approval.Options{PasswordMemoryKiB: 64, PasswordTime: 1, SessionClock: lockbox.SystemClock{}})
	cfg := e.cfg
	cfg.Requests, cfg.Clock = svc, clock
	h, err := web.New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return clock, svc, h
}

// TestExpiredRequestMessage: deciding after the deadline answers 409 with
// the service's explanation, even though no worker ran.
func TestExpiredRequestMessage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	clock, _, h := e.withClock()
	r := e.pending()
	c := &client{t: t, h: h, cookies: e.signIn("approver@contoso.test").cookies}
	clock.Advance(13 * time.Hour)
	res := c.post("/requests/"+r.Reference+"/approve", url.Values{"version": {"2"}})
	wantStatus(t, res, http.StatusConflict)
	wantBody(t, res, "Request "+r.Reference+" expired at "+r.ExpiresAt.UTC().Format("2006-01-02T15:04:05Z"),
		`id="status">Expired`)
	if strings.Contains(res.body, `id="confirm"`) {
		t.Error("the refused page still offers the button")
	}
}

// TestManagerCannotReviewOwnRequest: separation of duties is visible in
// the review queue and enforced by the service when forced.
func TestManagerCannotReviewOwnRequest(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, err := e.svc.AddStaff(e.as("admin@provider.test"), lockbox.NewUser{Email: "both@provider.test",
		Roles: []lockbox.Role{lockbox.RoleOperator, lockbox.RoleSupportManager}, Password: approval.DevPassword})
	if err != nil {
		t.Fatal(err)
	}
	own, err := e.svc.CreateRequest(e.as("both@provider.test"), newRequest())
	if err != nil {
		t.Fatal(err)
	}
	other := e.file()
	c := e.signIn("both@provider.test")
	res := c.get("/review")
	wantBody(t, res, own.Reference, other.Reference,
		"Not approvable by you: You filed this request, so you cannot review it: another support manager must.",
		`href="/requests/`+other.Reference+`/review-approve"`)
	if strings.Contains(res.body, `href="/requests/`+own.Reference+`/review-approve"`) {
		t.Error("the review queue offers to review the manager's own request")
	}
	res = c.get("/requests/" + own.Reference)
	wantBody(t, res, `id="blocked"`, "You filed this request")
	res = c.post("/requests/"+own.Reference+"/review-approve", url.Values{"version": {"1"}})
	wantStatus(t, res, http.StatusForbidden)
	wantBody(t, res, "You filed this request, so you cannot review it")
	if got := e.get(own.ID); got.Status != lockbox.StatusPendingReview {
		t.Errorf("own request is %s after a forced review", got.Status)
	}
	wantRedirect(t, e.signIn("manager@provider.test").post("/requests/"+own.Reference+"/review-approve",
		url.Values{"version": {"1"}, "comment": {"fine"}}), "/requests/"+own.Reference+"?done=review-approve")
}

// TestDecisionFormErrors: bad forms are refused with a reason and change
// nothing.
func TestDecisionFormErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.pending()
	c := e.signIn("approver@contoso.test")
	for _, tc := range []struct {
		name string
		form url.Values
		want int
		msg  string
	}{
		{"NoVersion", url.Values{}, 400, "missing the version"},
		{"CommentTooLong", url.Values{"version": {"2"}, "comment": {strings.Repeat("x", 1001)}}, 400, "the limit is 1000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := c.post("/requests/"+r.Reference+"/approve", tc.form)
			wantStatus(t, res, tc.want)
			wantBody(t, res, tc.msg)
		})
	}
	// Another tenant's request does not exist, for deciding as for looking.
	res := e.signIn("admin@fabrikam.test").post("/requests/"+r.Reference+"/approve", url.Values{"version": {"2"}})
	wantStatus(t, res, http.StatusNotFound)
	if got := e.get(r.ID); got.Status != lockbox.StatusPending {
		t.Errorf("status %s, want pending", got.Status)
	}
}

func TestSettingsPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.signIn("approver@contoso.test")
	res := c.get("/settings")
	wantBody(t, res, "Require approval for all data access requests", `name="require_approval" checked`, `value="720"`)
	// Several bad values: each is named next to its field, nothing saved.
	res = c.post("/settings", url.Values{"request_ttl_minutes": {"5"}, "max_access_minutes": {"x"},
		"reminder_minutes_before_expiry": {"120"}, "notify_emails": {"ok@contoso.test\nnot-an-address"}})
	wantStatus(t, res, http.StatusBadRequest)
	wantBody(t, res, `id="request_ttl_minutes-error">Must be between 60 and 10080; got 5.`,
		`id="max_access_minutes-error">Enter a whole number of minutes.`,
		`id="notify_emails-error">&#34;not-an-address&#34; is not an email address.`,
		`value="5"`, "nothing was saved")
	if strings.Contains(res.body, `id="reminder_minutes_before_expiry-error"`) {
		t.Error("a valid field is marked as an error")
	}
	s, err := e.svc.GetSettings(e.as("approver@contoso.test"), "contoso")
	if err != nil || s.RequestTTLMinutes != 720 || !s.RequireApproval {
		t.Fatalf("settings changed by a refused form: %+v, %v", s, err)
	}
	// Turning approval off (the checkbox unticked) and a valid change save.
	res = c.post("/settings", url.Values{"request_ttl_minutes": {"1440"}, "max_access_minutes": {"60"},
		"reminder_minutes_before_expiry": {"0"}, "notify_emails": {"soc@contoso.test"}})
	wantRedirect(t, res, "/settings?done=settings")
	s, _ = e.svc.GetSettings(e.as("approver@contoso.test"), "contoso")
	if s.RequireApproval || s.RequestTTLMinutes != 1440 || s.MaxAccessMinutes != 60 || s.ReminderMinutesBeforeExpiry != 0 ||
		len(s.NotifyEmails) != 1 || s.NotifyEmails[0] != "soc@contoso.test" {
		t.Errorf("saved settings = %+v", s)
	}
	wantBody(t, c.get("/settings?done=settings"), "Settings saved.", `name="require_approval" aria`)
	// An audit reader may not change settings: the service says so.
	res = e.signIn("auditor@contoso.test").post("/settings", url.Values{"request_ttl_minutes": {"60"},
		"max_access_minutes": {"60"}, "reminder_minutes_before_expiry": {"0"}})
	wantStatus(t, res, http.StatusForbidden)
}

// TestSettingsPageEmergencies: break-glass and escalation are set on the
// Settings page; a bad value is named beside its field and saves nothing.
func TestSettingsPageEmergencies(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.signIn("approver@contoso.test")
	wantBody(t, c.get("/settings"), "Allow break-glass access", `name="break_glass.max_minutes" inputmode="numeric" value="60"`)
	form := func(max, after, notify string) url.Values {
		return url.Values{"request_ttl_minutes": {"720"}, "max_access_minutes": {"240"}, "reminder_minutes_before_expiry": {"120"},
			"require_approval": {"on"}, "emergency_settings": {"1"}, "break_glass.enabled": {"on"},
			"break_glass.max_minutes": {max}, "escalation.after_minutes": {after}, "escalation.notify": {notify}}
	}
	res := c.post("/settings", form("500", "30", ""))
	wantStatus(t, res, http.StatusBadRequest)
	wantBody(t, res, `id="break_glass.max_minutes-error">Must be between 1 and 240; got 500.`,
		`id="escalation.notify-error">`, "nothing was saved")
	get := func() *lockbox.Settings {
		t.Helper()
		s, err := e.svc.GetSettings(e.as("approver@contoso.test"), "contoso")
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if s := get(); s.BreakGlass.Enabled || s.Escalation.AfterMinutes != 0 {
		t.Fatalf("a refused form changed the settings: %+v", s)
	}
	wantRedirect(t, c.post("/settings", form("90", "30", "soc@contoso.test\nciso@contoso.test")), "/settings?done=settings")
	s := get()
	if !s.BreakGlass.Enabled || s.BreakGlass.MaxMinutes != 90 || s.Escalation.AfterMinutes != 30 ||
		!slices.Equal(s.Escalation.Notify, []string{"soc@contoso.test", "ciso@contoso.test"}) {
		t.Errorf("saved: break-glass %+v, escalation %+v", s.BreakGlass, s.Escalation)
	}
	wantBody(t, c.get("/settings"), `name="break_glass.enabled" checked`, "ciso@contoso.test")
}

func TestNewRequestForm(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.signIn("operator@provider.test")
	res := c.get("/requests/new")
	wantBody(t, res, `value="exchange/Get-MailboxStatistics"`, `<label for="tenant">Tenant</label>`)
	valid := url.Values{"tenant": {"contoso"}, "service": {"exchange"}, "service_request": {"SR-1"},
		"reason": {"Mailbox fails to load."}, "operation": {"exchange/Get-Mailbox", "exchange/Repair-Mailbox"},
		"duration": {"1h30m"}}
	for _, tc := range []struct {
		name  string
		edit  func(url.Values)
		field string
		msg   string
	}{
		{"BadDuration", func(v url.Values) { v.Set("duration", "soon") }, "duration", "is not a duration in whole minutes"},
		{"TooLong", func(v url.Values) { v.Set("duration", "5h") }, "duration", ">Must be between 1 and 240"},
		{"OtherServiceOperation", func(v url.Values) { v.Add("operation", "teams/Get-Team") }, "operations", "Operation Get-Team belongs to teams"},
		{"UnknownTenant", func(v url.Values) { v.Set("tenant", "nosuch") }, "tenant", "Tenant &#34;nosuch&#34; does not exist."},
		{"NoReason", func(v url.Values) { v.Set("reason", "") }, "reason", ">Required."},
		{"BadStart", func(v url.Values) { v.Set("start", "tomorrow") }, "start", "Give the start as a date and time"},
		{"PartMinute", func(v url.Values) { v.Set("duration", "90s") }, "duration", "is not a whole number of minutes"},
		{"UnknownService", func(v url.Values) { v.Set("service", "nosuch"); v.Del("operation") }, "service", "is not in the services catalog"},
		{"StartInThePast", func(v url.Values) { v.Set("start", "2020-01-01T09:00") }, "start", "is in the past"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			form := url.Values{}
			for k, v := range valid {
				form[k] = append([]string(nil), v...)
			}
			tc.edit(form)
			res := c.post("/requests", form)
			wantStatus(t, res, http.StatusBadRequest)
			wantBody(t, res, `id="`+tc.field+`-error">`, tc.msg, `value="SR-1"`)
			if strings.Contains(res.body, "lockbox error") {
				t.Error("the page shows an error's debugging text, not its message")
			}
			// Shown again after POST /requests, it is still the New request page.
			wantBody(t, res, `href="/requests/new" aria-current="page"`)
			if strings.Contains(res.body, `href="/requests" aria-current`) {
				t.Error("the menu marks the request list as the current page")
			}
		})
	}
	page, err := e.svc.ListRequests(e.as("operator@provider.test"), lockbox.RequestFilter{})
	if err != nil || len(page.Requests) != 0 {
		t.Fatalf("refused forms filed %d requests (%v)", len(page.Requests), err)
	}
	res = c.post("/requests", valid)
	wantRedirect(t, res, "/requests/LB-")
	res = c.get(res.Header.Get("Location"))
	wantBody(t, res, "Request filed.", `id="status">Pending review`, "Get-Mailbox", "Repair-Mailbox", "1 h 30 min")
	// The operator's own recent tenants are offered next time.
	wantBody(t, c.get("/requests/new"), `<option value="contoso">`)
}

func TestOperatorCompletesAndGetsToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.pending()
	if _, err := e.svc.Act(e.as("approver@contoso.test"), r.ID, lockbox.EventApprove, lockbox.Decision{}); err != nil {
		t.Fatal(err)
	}
	op := e.signIn("operator@provider.test")
	res := op.get("/requests/" + r.Reference)
	wantBody(t, res, `id="get-token"`, `href="/requests/`+r.Reference+`/complete"`)
	// No grant authority is configured in this test: the page says so.
	res = op.post("/requests/"+r.Reference+"/token", nil)
	wantStatus(t, res, http.StatusServiceUnavailable)
	wantBody(t, res, "Grant tokens are not configured on this server.")
	// Another operator cannot see it at all.
	wantStatus(t, e.signIn("operator2@provider.test").post("/requests/"+r.Reference+"/token", nil), http.StatusNotFound)
	wantRedirect(t, op.post("/requests/"+r.Reference+"/complete", url.Values{"version": {"4"}, "comment": {"Fixed"}}),
		"/requests/"+r.Reference+"?done=complete")
	if got := e.get(r.ID); got.Status != lockbox.StatusCompleted {
		t.Errorf("status %s, want completed", got.Status)
	}
}

func TestUsersAndRoles(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.signIn("admin@contoso.test")
	res := admin.post("/users", url.Values{"email": {"new@contoso.test"}, "name": {"New Person"}, "role": {"lockbox_approver"}})
	wantStatus(t, res, http.StatusOK)
	wantBody(t, res, "Added new@contoso.test.", "Their first password is")
	res = admin.post("/users", url.Values{"email": {"new@contoso.test"}, "role": {"lockbox_approver"}})
	wantStatus(t, res, http.StatusConflict)
	wantBody(t, res, "already a user of tenant contoso")
	// An address that is another tenant's user is added like any other:
	// nothing tells contoso's admin it exists elsewhere (docs/identity.md).
	res = admin.post("/users", url.Values{"email": {"admin@fabrikam.test"}, "role": {"audit_reader"}})
	wantStatus(t, res, http.StatusOK)
	res = admin.post("/users", url.Values{"email": {"x@contoso.test"}, "role": {"operator"}})
	wantStatus(t, res, http.StatusBadRequest)
	wantRedirect(t, admin.post("/users/new@contoso.test/roles", url.Values{"role": {"audit_reader"}}), "/users?done=roles")
	users, err := e.svc.ListTenantUsers(e.as("admin@contoso.test"), "contoso")
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		if u.Email == "new@contoso.test" && (len(u.Roles) != 1 || u.Roles[0] != lockbox.RoleAuditReader) {
			t.Errorf("roles = %v", u.Roles)
		}
	}
	// An approver sees the list but cannot change it.
	approver := e.signIn("approver@contoso.test")
	wantStatus(t, approver.post("/users/new@contoso.test/remove", nil), http.StatusForbidden)
	wantStatus(t, approver.get("/users/new@contoso.test/remove"), http.StatusForbidden)
	// Remove asks first: the list links to a confirmation, which changes nothing.
	wantBody(t, admin.get("/users"), `href="/users/new@contoso.test/remove"`)
	wantBody(t, admin.get("/users/new@contoso.test/remove"), "Remove", `action="/users/new@contoso.test/remove"`, "loses every role")
	wantBody(t, admin.get("/users"), "new@contoso.test")
	wantStatus(t, admin.get("/users/nobody@contoso.test/remove"), http.StatusNotFound)
	wantRedirect(t, admin.post("/users/new@contoso.test/remove", nil), "/users?done=removed")
	if strings.Contains(admin.get("/users").body, "new@contoso.test") {
		t.Error("removed user still listed")
	}
	// Another tenant's admin cannot touch contoso's users.
	wantStatus(t, e.signIn("admin@fabrikam.test").post("/users/approver@contoso.test/remove", nil), http.StatusNotFound)
}

func TestProviderAdminPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.signIn("admin@provider.test")
	res := c.post("/tenants", url.Values{"name": {"northwind"}, "display_name": {"Northwind"}, "admin_email": {"admin@northwind.test"}})
	wantStatus(t, res, http.StatusOK)
	wantBody(t, res, "Created tenant northwind with global admin admin@northwind.test.", "first password is")
	res = c.post("/tenants", url.Values{"name": {"Bad Name"}, "admin_email": {"a@b.test"}})
	wantStatus(t, res, http.StatusBadRequest)
	wantBody(t, res, "must be 2–63 lower-case letters")
	res = c.post("/staff", url.Values{"email": {"op3@provider.test"}, "role": {"operator"}})
	wantBody(t, res, "Added op3@provider.test.")
	wantRedirect(t, c.post("/services", url.Values{"name": {"dynamics"}, "display_name": {"Dynamics"},
		"operations": {"Get-Record\nRepair-Index\n"}}), "/services?done=service")
	wantBody(t, c.get("/services"), "Repair-Index")
	res = c.post("/services", url.Values{"name": {"dynamics"}, "operations": {"bad op"}})
	wantStatus(t, res, http.StatusBadRequest)
	// Operators read the catalog but cannot change it.
	op := e.signIn("operator@provider.test")
	if strings.Contains(op.get("/services").body, `id="put-service"`) {
		t.Error("operators are offered the catalog form")
	}
	wantStatus(t, op.post("/services", url.Values{"name": {"x"}, "operations": {"A"}}), http.StatusForbidden)
}

// TestAuditLogPage: search, filters, the CSV download in SPEC §7's layout,
// and the checkpoint verified against the log's key and entries.
func TestAuditLogPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.pending()
	if _, err := e.svc.Act(e.as("approver@contoso.test"), r.ID, lockbox.EventApprove, lockbox.Decision{Comment: "=HYPERLINK(\"x\")"}); err != nil {
		t.Fatal(err)
	}
	c := e.signIn("auditor@contoso.test")
	res := c.get("/audit")
	wantBody(t, res, "request.approved", "request.created", "approver@contoso.test",
		`id="checkpoint-status">Verified`, "root hash recomputed from all")
	res = c.get("/audit?operation=request.approved")
	wantBody(t, res, "request.approved")
	if strings.Contains(res.body, "<code>request.created</code><br>") {
		t.Error("the operation filter did not filter")
	}
	res = c.get("/audit?start=2999-01-01")
	wantBody(t, res, "No records match.")
	res = c.get("/audit?start=yesterday")
	wantStatus(t, res, http.StatusBadRequest)
	wantBody(t, res, "is not a date")

	res = c.get("/audit.csv?operation=request.approved")
	wantStatus(t, res, http.StatusOK)
	if ct := res.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	rows, err := csv.NewReader(strings.NewReader(res.body)).ReadAll()
	if err != nil {
		t.Fatalf("CSV: %v\n%s", err, res.body)
	}
	if len(rows) != 2 || strings.Join(rows[0], ",") != "RecordId,CreationDate,RecordType,Operation,UserId,AuditData" {
		t.Fatalf("CSV rows = %q", rows)
	}
	var rec lockbox.AuditRecord
	if err := json.Unmarshal([]byte(rows[1][5]), &rec); err != nil || rec.Operation != "request.approved" || rows[1][3] != "request.approved" {
		t.Errorf("CSV record = %q (%v)", rows[1], err)
	}
	if !strings.Contains(rows[1][5], `=HYPERLINK`) {
		t.Errorf("the comment is missing from AuditData: %s", rows[1][5])
	}
	// The provider's log is not the tenant's to read.
	wantStatus(t, e.signIn("operator@provider.test").get("/audit.csv"), http.StatusForbidden)
}

// TestAuditLogMissing: without the audit service the page says so plainly.
func TestAuditLogMissing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *web.Config) { c.Audit = nil })
	res := e.signIn("auditor@contoso.test").get("/audit")
	wantStatus(t, res, http.StatusOK)
	wantBody(t, res, `id="audit-missing"`)
}

func TestDevMail(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *web.Config) { c.Dev = false })
	wantStatus(t, e.signIn("approver@contoso.test").get("/dev/mail"), http.StatusNotFound)
	e = newEnv(t, func(c *web.Config) { c.DevMail = fakeMailbox{} })
	res := e.signIn("approver@contoso.test").get("/dev/mail")
	wantBody(t, res, "Customer Lockbox request LB-TEST0001 needs a decision", "approver@contoso.test")
}

// fakeMailbox stands in for mail.DevMailbox, which fills only through the
// notification outbox (the browser test runs the real one).
type fakeMailbox struct{}

var _ lockbox.DevMailbox = fakeMailbox{}

func (fakeMailbox) ListMail(context.Context) ([]*lockbox.DevMail, error) {
	return []*lockbox.DevMail{{ID: "m1", To: []string{"approver@contoso.test"},
		Subject: "Customer Lockbox request LB-TEST0001 needs a decision", MessageID: "<m1@lockbox>",
		Date: time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC), Text: "Sign in to the admin center."}}, nil
}

func (fakeMailbox) MailEML(context.Context, string) ([]byte, error) {
	return nil, lockbox.Errorf(lockbox.ENOTFOUND, "No such mail.")
}

// TestAdminFormFieldErrors: the users, staff, tenants and services forms
// show a refused value's message next to its field (the error's Field),
// marked invalid for assistive technology, and keep what was typed.
func TestAdminFormFieldErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		name, as, path string
		form           url.Values
		id, msg, kept  string
	}{
		{"UserEmail", "admin@contoso.test", "/users", url.Values{"email": {"not-an-email"}, "name": {"Ann"}, "role": {"lockbox_approver"}},
			"email", "is not an email address", `value="Ann"`},
		{"UserRoles", "admin@contoso.test", "/users", url.Values{"email": {"ann@contoso.test"}},
			"roles", "At least one role is required", `value="ann@contoso.test"`},
		{"StaffRole", "admin@provider.test", "/staff", url.Values{"email": {"op9@provider.test"}, "role": {"global_admin"}},
			"roles", "Unknown role", `value="op9@provider.test"`},
		{"TenantName", "admin@provider.test", "/tenants", url.Values{"name": {"Bad Name"}, "admin_email": {"a@b.test"}},
			"name", "must be 2–63 lower-case letters", `value="a@b.test"`},
		{"TenantAdminEmail", "admin@provider.test", "/tenants", url.Values{"name": {"northwind"}, "admin_email": {"nobody"}},
			"admin_email", "is not an email address", `value="northwind"`},
		{"ServiceOperations", "admin@provider.test", "/services", url.Values{"name": {"dynamics"}, "operations": {"bad op"}},
			"operations", "must start with a letter", `value="dynamics"`},
		{"ServiceName", "admin@provider.test", "/services", url.Values{"name": {"Dynamics!"}, "operations": {"Get-Record"}},
			"name", "must be lower-case letters", "Get-Record"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := e.signIn(tc.as).post(tc.path, tc.form)
			wantStatus(t, res, http.StatusBadRequest)
			wantBody(t, res, `id="`+tc.id+`-error">`, tc.msg, tc.kept)
			if !regexp.MustCompile(`aria-describedby="[^"]*\b` + tc.id + `-error"( aria-invalid="true")?`).MatchString(res.body) {
				t.Errorf("no input names %s-error", tc.id)
			}
		})
	}
}
