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

// newRequestForm is the operator's request tool: what was typed, and the
// problems found, by field, so the form is shown again with both.
type newRequestForm struct {
	Tenant         string
	Service        string
	ServiceRequest string
	Reason         string
	Operations     []string // "service/operation"
	Duration       string
	Start          string // datetime-local, in the viewer's zone
	// BreakGlass and Incident file an emergency (SPEC §11). Offered for
	// every tenant: operators may not read a tenant's settings, and the
	// service decides what a break-glass request of a tenant that has not
	// enabled it becomes (a normal one).
	BreakGlass bool
	Incident   string

	Errors   fieldErrors
	Problem  string
	Tenants  []string
	Services []*lockbox.Service
	Zone     string
}

func (h *Handler) newRequestPage(w http.ResponseWriter, r *http.Request) {
	if err := lockbox.AuthorizeCreate(lockbox.UserFromContext(r.Context())); err != nil {
		h.serviceError(w, r, err)
		return
	}
	f := &newRequestForm{Duration: "2h", Service: r.URL.Query().Get("service")}
	h.renderNewRequest(w, r, http.StatusOK, f)
}

func (h *Handler) renderNewRequest(w http.ResponseWriter, r *http.Request, status int, f *newRequestForm) {
	svcs, err := h.cfg.Catalog.ListServices(r.Context())
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	f.Services, f.Tenants, f.Zone = svcs, h.knownTenants(r), location(r).String()
	v := h.newView(r, "New request", f)
	// The form posts to /requests; shown again with its errors it is still
	// the New request page, not the list the menu links /requests to.
	v.Path = "/requests/new"
	h.renderView(w, r, status, "newrequest", v)
}

// knownTenants suggests tenant names for the form. Operators may not list
// tenants (that is the provider admin's permission), so they get the
// tenants of their own recent requests; the field stays free text, and the
// service says clearly when a tenant does not exist.
func (h *Handler) knownTenants(r *http.Request) []string {
	var names []string
	if ts, err := h.cfg.Tenants.ListTenants(r.Context()); err == nil {
		for _, t := range ts {
			names = append(names, t.Name)
		}
		return names
	}
	page, err := h.cfg.Requests.ListRequests(r.Context(), lockbox.RequestFilter{Limit: 200})
	if err != nil {
		return nil
	}
	for _, req := range page.Requests {
		if !slices.Contains(names, req.Tenant) {
			names = append(names, req.Tenant)
		}
	}
	slices.Sort(names)
	return names
}

// createRequest files the request. Bad input comes back as the form with
// the problem next to its field; the service validates again regardless.
func (h *Handler) createRequest(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		h.errorPage(w, r, http.StatusBadRequest, "The form could not be read.")
		return
	}
	p := r.PostForm
	f := &newRequestForm{Tenant: strings.TrimSpace(p.Get("tenant")), Service: p.Get("service"),
		ServiceRequest: strings.TrimSpace(p.Get("service_request")), Reason: p.Get("reason"),
		Operations: p["operation"], Duration: strings.TrimSpace(p.Get("duration")),
		Start: strings.TrimSpace(p.Get("start")), BreakGlass: p.Get("break_glass") != "",
		Incident: strings.TrimSpace(p.Get("incident")), Errors: fieldErrors{}}
	in := f.parse(location(r))
	if len(f.Errors) > 0 {
		f.Problem = "Some fields need your attention."
		h.renderNewRequest(w, r, http.StatusBadRequest, f)
		return
	}
	out, err := h.cfg.Requests.CreateRequest(r.Context(), in)
	switch lockbox.ErrorCode(err) {
	case "":
		http.Redirect(w, r, "/requests/"+url.PathEscape(out.Reference)+"?done=created", http.StatusSeeOther)
	case lockbox.EINVALID:
		f.Problem = f.Errors.add(err)
		h.renderNewRequest(w, r, http.StatusBadRequest, f)
	default:
		h.serviceError(w, r, err)
	}
}

// parse turns the form into a NewRequest, noting what cannot be parsed
// under the NewRequest member it is for, as the service names its errors.
func (f *newRequestForm) parse(loc *time.Location) lockbox.NewRequest {
	in := lockbox.NewRequest{Tenant: f.Tenant, Service: f.Service, ServiceRequest: f.ServiceRequest, Reason: f.Reason,
		BreakGlass: f.BreakGlass, Incident: f.Incident}
	for _, v := range f.Operations {
		svc, op, _ := strings.Cut(v, "/")
		if svc != f.Service {
			f.Errors["operations"] = "Operation " + op + " belongs to " + svc + ", but this request is for " + f.Service + ". Tick only operations of the chosen service."
			continue
		}
		in.Operations = append(in.Operations, op)
	}
	mins, err := parseMinutes(f.Duration)
	if err != nil {
		f.Errors["duration_minutes"] = lockbox.ErrorMessage(err)
	}
	in.DurationMinutes = mins
	if f.Start != "" {
		t, err := time.ParseInLocation("2006-01-02T15:04", f.Start, loc)
		if err != nil {
			f.Errors["start_time"] = "Give the start as a date and time, e.g. 2026-11-21T14:30 (your time zone, " + loc.String() + ")."
		} else {
			in.StartTime = &t
		}
	}
	return in
}

// parseMinutes reads the duration field: a number of minutes ("90"), or a
// duration as everywhere else (lockbox.ParseMinutes: "2h", "1h30m"), here
// also with spaces inside ("1h 30m").
func parseMinutes(s string) (int, error) {
	if s == "" {
		return 0, lockbox.Errorf(lockbox.EINVALID, "Give a duration, e.g. 2h or 90m (at most 4h).")
	}
	s = strings.ReplaceAll(s, " ", "")
	if n, err := strconv.Atoi(s); err == nil {
		return n, nil
	}
	return lockbox.ParseMinutes(s)
}
