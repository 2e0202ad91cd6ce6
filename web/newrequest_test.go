package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/lockboxhq/lockbox"
)

// TestNewRequestFormBreakGlass: the new-request form files a break-glass
// request with its incident; the service's refusals of the pair are shown
// beside the incident field, with what was typed kept; in a tenant that
// enabled break-glass the request filed from the form is active at once
// after review.
func TestNewRequestFormBreakGlass(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.signIn("operator@provider.test")
	wantBody(t, c.get("/requests/new"), `id="break_glass" name="break_glass"`, `<label for="incident">Incident</label>`)
	valid := func() url.Values {
		return url.Values{"tenant": {"contoso"}, "service": {"exchange"}, "service_request": {"SR-9"},
			"reason": {"Mail flow is down for everyone."}, "operation": {"exchange/Get-Mailbox"}, "duration": {"2h"},
			"break_glass": {"1"}, "incident": {"INC-4711"}}
	}
	for _, tc := range []struct {
		name  string
		edit  func(url.Values)
		msg   string
		check string // what the form must show again
	}{
		{"NoIncident", func(v url.Values) { v.Del("incident") }, ">Required.", `id="break_glass" name="break_glass" value="1" checked`},
		{"IncidentWithoutBreakGlass", func(v url.Values) { v.Del("break_glass") }, "Only for a break-glass request", `value="INC-4711"`},
		{"IncidentTooLong", func(v url.Values) { v.Set("incident", "INC-"+strings.Repeat("9", 70)) }, "", `id="break_glass" name="break_glass" value="1" checked`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			form := valid()
			tc.edit(form)
			res := c.post("/requests", form)
			wantStatus(t, res, http.StatusBadRequest)
			wantBody(t, res, `id="incident-error">`, tc.msg, `aria-invalid="true"`, tc.check, `value="SR-9"`)
		})
	}
	page, err := e.svc.ListRequests(e.as("operator@provider.test"), lockbox.RequestFilter{})
	if err != nil || len(page.Requests) != 0 {
		t.Fatalf("refused forms filed %d requests (%v)", len(page.Requests), err)
	}

	if _, err := e.svc.UpdateSettings(e.as("admin@contoso.test"), "contoso",
		lockbox.SettingsPatch{BreakGlass: &lockbox.BreakGlassPatch{Enabled: ptrTo(true)}}); err != nil {
		t.Fatal(err)
	}
	res := c.post("/requests", valid())
	wantRedirect(t, res, "/requests/LB-")
	wantBody(t, c.get(res.Header.Get("Location")), `id="break-glass"`, "INC-4711")
	page, err = e.svc.ListRequests(e.as("operator@provider.test"), lockbox.RequestFilter{})
	if err != nil || len(page.Requests) != 1 {
		t.Fatalf("filed %d requests (%v)", len(page.Requests), err)
	}
	r := page.Requests[0]
	if !r.BreakGlass || r.Incident != "INC-4711" {
		t.Fatalf("filed break_glass %v, incident %q", r.BreakGlass, r.Incident)
	}
	if r, err = e.svc.Act(e.as("manager@provider.test"), r.ID, lockbox.EventReviewApprove, lockbox.Decision{}); err != nil {
		t.Fatal(err)
	}
	if r.Status != lockbox.StatusActive || !r.NeedsReview {
		t.Errorf("after review: %s, needs review %v; want active at once", r.Status, r.NeedsReview)
	}
}
