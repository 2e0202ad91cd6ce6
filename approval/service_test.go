package approval_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
)

func TestCreateRequestValidation(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, tc := range []struct {
		name   string
		change func(*lockbox.NewRequest)
		field  string // the NewRequest member the error names
	}{
		{"MissingTenant", func(r *lockbox.NewRequest) { r.Tenant = "" }, "tenant"},
		{"UnknownTenant", func(r *lockbox.NewRequest) { r.Tenant = "nope" }, "tenant"},
		{"UnknownService", func(r *lockbox.NewRequest) { r.Service = "nope" }, "service"},
		{"OperationNotInCatalog", func(r *lockbox.NewRequest) { r.Operations = []string{"Delete-Everything"} }, "operations"},
		{"MissingServiceRequest", func(r *lockbox.NewRequest) { r.ServiceRequest = "" }, "service_request"},
		{"ServiceRequestTooLong", func(r *lockbox.NewRequest) { r.ServiceRequest = strings.Repeat("x", 65) }, "service_request"},
		{"MissingReason", func(r *lockbox.NewRequest) { r.Reason = "  " }, "reason"},
		{"ReasonTooLong", func(r *lockbox.NewRequest) { r.Reason = strings.Repeat("é", 2001) }, "reason"},
		{"ZeroDuration", func(r *lockbox.NewRequest) { r.DurationMinutes = 0 }, "duration_minutes"},
		{"OverFourHours", func(r *lockbox.NewRequest) { r.DurationMinutes = 241 }, "duration_minutes"},
		{"StartInThePast", func(r *lockbox.NewRequest) { r.StartTime = ptr(time.Now().Add(-time.Hour)) }, "start_time"},
		{"StartTooFarAhead", func(r *lockbox.NewRequest) { r.StartTime = ptr(time.Now().Add(31 * 24 * time.Hour)) }, "start_time"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := validRequest()
			tc.change(&in)
			before := len(h.audit("contoso"))
			_, err := h.svc.CreateRequest(h.as("operator@provider.test"), in)
			wantCode(t, err, lockbox.EINVALID)
			wantField(t, err, tc.field)
			if after := len(h.audit("contoso")); after != before {
				t.Fatalf("a refused create changed the audit log (%d → %d records)", before, after)
			}
		})
	}
	t.Run("LimitsAreCharactersNotBytes", func(t *testing.T) {
		in := validRequest()
		in.Reason = strings.Repeat("é", 2000)
		h.MustFile(in)
	})
	t.Run("OperationsDefaultToTheWholeService", func(t *testing.T) {
		in := validRequest()
		in.Operations = nil
		if r := h.MustFile(in); len(r.Operations) != 5 {
			t.Fatalf("operations %v, want all 5 of exchange", r.Operations)
		}
	})
}

func TestWhoMayCreate(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, email := range []string{"manager@provider.test", "admin@provider.test", "approver@contoso.test", "admin@contoso.test"} {
		_, err := h.svc.CreateRequest(h.as(email), validRequest())
		wantCode(t, err, lockbox.EFORBIDDEN)
	}
}

func TestSeparationOfDuties(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	// A user who is both operator and support manager files a request...
	ctx := h.as("admin@provider.test")
	both, err := h.svc.AddStaff(ctx, lockbox.NewUser{Email: "both@provider.test", Password: "both-passw0rd",
		Roles: []lockbox.Role{lockbox.RoleOperator, lockbox.RoleSupportManager}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := h.svc.CreateRequest(h.as(both.Email), validRequest())
	if err != nil {
		t.Fatal(err)
	}
	// ...and can review it by no path: not by id, not by reference, not by
	// an alias of the same address in other case.
	for _, id := range []string{r.ID, r.Reference, strings.ToLower(r.Reference)} {
		_, err := h.svc.Act(h.as("BOTH@provider.test"), id, lockbox.EventReviewApprove, lockbox.Decision{})
		wantCode(t, err, lockbox.EFORBIDDEN)
	}
	// Another manager can.
	h.MustAct("manager@provider.test", r, lockbox.EventReviewApprove)
}

func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := h.MustPending(validRequest())
	for _, ev := range []lockbox.Event{lockbox.EventApprove, lockbox.EventDeny, lockbox.EventCancel, lockbox.EventRevoke} {
		_, err := h.svc.Act(h.as("admin@fabrikam.test"), r.ID, ev, lockbox.Decision{})
		wantCode(t, err, lockbox.ENOTFOUND)
	}
	_, err := h.svc.GetRequest(h.as("admin@fabrikam.test"), r.Reference)
	wantCode(t, err, lockbox.ENOTFOUND)
	page, err := h.svc.ListRequests(h.as("admin@fabrikam.test"), lockbox.RequestFilter{Tenant: "contoso"})
	if err != nil || len(page.Requests) != 0 {
		t.Fatalf("fabrikam listing contoso: %v, %v", page, err)
	}
	_, err = h.svc.GetSettings(h.as("admin@fabrikam.test"), "contoso")
	wantCode(t, err, lockbox.ENOTFOUND)
}

func TestTenantSeesRequestOnlyOnceReviewed(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := h.MustFile(validRequest())
	_, err := h.svc.GetRequest(h.as("approver@contoso.test"), r.ID)
	wantCode(t, err, lockbox.ENOTFOUND)
	_, err = h.svc.Act(h.as("approver@contoso.test"), r.ID, lockbox.EventCancel, lockbox.Decision{})
	wantCode(t, err, lockbox.ENOTFOUND)
	h.MustAct("manager@provider.test", r, lockbox.EventReviewApprove)
	if _, err := h.svc.GetRequest(h.as("auditor@contoso.test"), r.ID); err != nil {
		t.Fatal(err)
	}
	// A request denied in review never reaches the tenant's request list...
	d := h.MustAct("manager@provider.test", h.MustFile(validRequest()), lockbox.EventReviewDeny)
	_, err = h.svc.GetRequest(h.as("approver@contoso.test"), d.ID)
	wantCode(t, err, lockbox.ENOTFOUND)
	// ...but its provider-side steps are in the tenant's audit log.
	if n := h.ops(d); n[lockbox.OpRequestCreated] != 1 || n[lockbox.OpRequestDenied] != 1 {
		t.Fatalf("audit %v", n)
	}
}

func TestFullLifecycleAudit(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := h.MustPending(validRequest())
	if r.Status != lockbox.StatusPending || *r.ReviewedBy != "manager@provider.test" {
		t.Fatalf("after review: %+v", r)
	}
	r, err := h.svc.Act(h.as("approver@contoso.test"), r.Reference, lockbox.EventApprove, lockbox.Decision{Comment: "OK for 2h"})
	if err != nil || r.Status != lockbox.StatusActive || *r.DecidedBy != "approver@contoso.test" {
		t.Fatalf("after approval: %+v, %v", r, err)
	}
	r = h.MustAct("operator@provider.test", r, lockbox.EventComplete)
	if r.Status != lockbox.StatusCompleted || r.EndedAt == nil {
		t.Fatalf("after completion: %+v", r)
	}
	var got []string
	for _, rec := range h.audit("contoso") {
		if rec.RequestID == r.ID {
			got = append(got, rec.Operation+" by "+rec.UserID)
		}
	}
	want := []string{
		"request.created by operator@provider.test",
		"request.reviewed by manager@provider.test",
		"request.approved by approver@contoso.test",
		"request.activated by system",
		"request.completed by operator@provider.test",
		"request.access_report by system",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("audit trail:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestNoApprovalRequired(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	if _, err := h.svc.UpdateSettings(h.as("admin@contoso.test"), "contoso", lockbox.SettingsPatch{RequireApproval: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	r := h.MustPending(validRequest())
	if r.Status != lockbox.StatusActive || *r.DecidedBy != "system" {
		t.Fatalf("reviewed request in a no-approval tenant: %s decided by %v", r.Status, r.DecidedBy)
	}
	var approved *lockbox.AuditRecord
	for _, rec := range h.audit("contoso") {
		if rec.RequestID == r.ID && rec.Operation == lockbox.OpRequestApproved {
			approved = rec
		}
	}
	if approved == nil || approved.ActorType != lockbox.ActorSystem || approved.UserID != "system" {
		t.Fatalf("system approval audit record: %+v", approved)
	}
	if _, err := h.svc.GetRequest(h.as("approver@contoso.test"), r.ID); err != nil {
		t.Fatalf("tenant cannot see the system-approved request: %v", err)
	}
}

func TestSettingsAuditedWithOldAndNew(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, err := h.svc.UpdateSettings(h.as("approver@contoso.test"), "contoso", lockbox.SettingsPatch{
		RequestTTLMinutes: ptr(90), NotifyEmails: &[]string{"SOC@Contoso.test"}})
	if err != nil {
		t.Fatal(err)
	}
	recs := h.audit("contoso")
	last := recs[len(recs)-1]
	changes := last.AuditData["changes"].(map[string]any)
	ttl := changes["request_ttl_minutes"].(map[string]any)
	if last.Operation != lockbox.OpSettingsUpdated || fmt.Sprint(ttl["old"]) != "720" || fmt.Sprint(ttl["new"]) != "90" || changes["notify_emails"] == nil {
		t.Fatalf("settings record: %+v", last)
	}
	for _, bad := range []struct {
		patch lockbox.SettingsPatch
		field string
	}{
		{lockbox.SettingsPatch{RequestTTLMinutes: ptr(59)}, "request_ttl_minutes"},
		{lockbox.SettingsPatch{RequestTTLMinutes: ptr(10081)}, "request_ttl_minutes"},
		{lockbox.SettingsPatch{MaxAccessMinutes: ptr(0)}, "max_access_minutes"},
		{lockbox.SettingsPatch{MaxAccessMinutes: ptr(241)}, "max_access_minutes"},
		{lockbox.SettingsPatch{ReminderMinutesBeforeExpiry: ptr(721)}, "reminder_minutes_before_expiry"},
		{lockbox.SettingsPatch{NotifyEmails: &[]string{"not an address"}}, "notify_emails"},
	} {
		_, err := h.svc.UpdateSettings(h.as("approver@contoso.test"), "contoso", bad.patch)
		wantCode(t, err, lockbox.EINVALID)
		wantField(t, err, bad.field)
	}
	if n := len(h.audit("contoso")); n != len(recs) {
		t.Fatalf("refused settings changes were audited (%d → %d)", len(recs), n)
	}
	for _, email := range []string{"auditor@contoso.test", "admin@provider.test", "operator@provider.test"} {
		_, err := h.svc.UpdateSettings(h.as(email), "contoso", lockbox.SettingsPatch{RequireApproval: ptr(false)})
		wantCode(t, err, lockbox.EFORBIDDEN)
	}
}

func TestOnlyGlobalAdminAssignsRoles(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	nu := lockbox.NewUser{Email: "new@contoso.test", Roles: []lockbox.Role{lockbox.RoleLockboxApprover}}
	for _, email := range []string{"approver@contoso.test", "auditor@contoso.test", "admin@provider.test"} {
		_, err := h.svc.AddTenantUser(h.as(email), "contoso", nu)
		wantCode(t, err, lockbox.EFORBIDDEN)
	}
	_, err := h.svc.AddTenantUser(h.as("admin@fabrikam.test"), "contoso", nu)
	wantCode(t, err, lockbox.ENOTFOUND)
	u, err := h.svc.AddTenantUser(h.as("admin@contoso.test"), "contoso", nu)
	if err != nil || u.InitialPassword == "" {
		t.Fatalf("add: %+v, %v", u, err)
	}
	_, err = h.svc.UpdateTenantUser(h.as("admin@contoso.test"), "contoso", "new@contoso.test",
		lockbox.UserUpdate{Roles: []lockbox.Role{lockbox.RoleOperator}})
	wantCode(t, err, lockbox.EINVALID) // a provider role in a tenant
	_, err = h.svc.UpdateTenantUser(h.as("admin@contoso.test"), "contoso", "admin@contoso.test",
		lockbox.UserUpdate{Roles: []lockbox.Role{lockbox.RoleAuditReader}})
	wantCode(t, err, lockbox.ECONFLICT) // the last global admin
	if err := h.svc.RemoveTenantUser(h.as("admin@contoso.test"), "contoso", "new@contoso.test"); err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, rec := range h.audit("contoso") {
		if rec.AuditData["target_user"] == "new@contoso.test" {
			ops = append(ops, rec.Operation)
		}
	}
	if strings.Join(ops, ",") != "role.assigned,account.removed,role.removed" {
		t.Fatalf("role audit: %v", ops)
	}
}

func TestLogin(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := t.Context()
	s, err := h.svc.Login(ctx, "Operator@Provider.test", "lockbox-dev")
	if err != nil {
		t.Fatal(err)
	}
	u, err := h.svc.Authenticate(ctx, s.Token)
	if err != nil || u.Email != "operator@provider.test" {
		t.Fatalf("authenticate: %v, %v", u, err)
	}
	_, err = h.svc.Authenticate(ctx, s.Token+"x")
	wantCode(t, err, lockbox.EUNAUTHENTICATED)
	_, err = h.svc.Login(ctx, "nobody@provider.test", "lockbox-dev")
	wantCode(t, err, lockbox.EUNAUTHENTICATED)
	var last error
	for range 20 {
		_, last = h.svc.Login(ctx, "manager@provider.test", "wrong")
	}
	wantCode(t, last, lockbox.ERATELIMITED)
	// Rate limited even with the right password: guessing gains nothing.
	_, err = h.svc.Login(ctx, "manager@provider.test", "lockbox-dev")
	wantCode(t, err, lockbox.ERATELIMITED)
	// The service account has no password at all.
	_, err = h.svc.Login(ctx, "service:dev-service", "")
	wantCode(t, err, lockbox.EUNAUTHENTICATED)
	if u, err := h.svc.Authenticate(ctx, "dev-service-token"); err != nil || !u.ServiceAccount {
		t.Fatalf("service token: %v, %v", u, err)
	}
}

func TestBootstrapOnlyOnEmptyDatabase(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	pw, err := h.svc.Bootstrap(t.Context())
	if err != nil || pw != "" {
		t.Fatalf("bootstrap on a seeded database: %q, %v", pw, err)
	}
}

func TestListPaging(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for range 7 {
		h.MustFile(validRequest())
	}
	seen := map[string]bool{}
	f := lockbox.RequestFilter{Limit: 3}
	for pages := 0; ; pages++ {
		page, err := h.svc.ListRequests(h.as("operator@provider.test"), f)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page.Requests {
			if seen[r.ID] {
				t.Fatalf("%s twice", r.ID)
			}
			seen[r.ID] = true
		}
		if page.NextCursor == "" {
			break
		}
		f.Cursor = page.NextCursor
	}
	if len(seen) != 7 {
		t.Fatalf("listed %d, want 7", len(seen))
	}
	// Another operator sees none of them.
	page, err := h.svc.ListRequests(h.as("operator2@provider.test"), lockbox.RequestFilter{})
	if err != nil || len(page.Requests) != 0 {
		t.Fatalf("operator2 sees %d requests (%v)", len(page.Requests), err)
	}
	_, err = h.svc.ListRequests(h.as("operator@provider.test"), lockbox.RequestFilter{Cursor: "garbage"})
	wantCode(t, err, lockbox.EINVALID)
}
