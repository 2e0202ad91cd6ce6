package web

import (
	"net/http"
	"strings"

	"github.com/lockboxhq/lockbox"
)

// tenantsData is the provider admin's onboarding page.
type tenantsData struct {
	Tenants []*lockbox.Tenant
	Form    struct {
		Name, DisplayName, AdminEmail, Error string
		Errors                               fieldErrors
	}
	Created *lockbox.TenantCreated
}

func (h *Handler) tenantsPage(w http.ResponseWriter, r *http.Request) {
	h.renderTenants(w, r, http.StatusOK, &tenantsData{})
}

func (h *Handler) renderTenants(w http.ResponseWriter, r *http.Request, status int, d *tenantsData) {
	ts, err := h.cfg.Tenants.ListTenants(r.Context())
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	d.Tenants = ts
	h.render(w, r, status, "tenants", "Tenants", d)
}

// createTenant onboards a tenant with its first global admin, whose
// one-time password is shown on this response only.
func (h *Handler) createTenant(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		h.errorPage(w, r, http.StatusBadRequest, "The form could not be read.")
		return
	}
	d := &tenantsData{}
	d.Form.Name = strings.TrimSpace(r.PostForm.Get("name"))
	d.Form.DisplayName = strings.TrimSpace(r.PostForm.Get("display_name"))
	d.Form.AdminEmail = strings.TrimSpace(r.PostForm.Get("admin_email"))
	created, err := h.cfg.Tenants.CreateTenant(r.Context(), lockbox.NewTenant{Name: d.Form.Name,
		DisplayName: d.Form.DisplayName,
		Admin:       lockbox.NewUser{Email: d.Form.AdminEmail, Roles: []lockbox.Role{lockbox.RoleGlobalAdmin}}})
	switch lockbox.ErrorCode(err) {
	case "":
		h.renderTenants(w, r, http.StatusOK, &tenantsData{Created: created})
	case lockbox.EINVALID, lockbox.ECONFLICT:
		d.Form.Errors = fieldErrors{}
		d.Form.Error = d.Form.Errors.add(err)
		h.renderTenants(w, r, statusOf(err), d)
	default:
		h.serviceError(w, r, err)
	}
}

// servicesData is the services catalog page.
type servicesData struct {
	Services []*lockbox.Service
	Form     struct {
		Name, DisplayName, Operations, Error string
		Errors                               fieldErrors
	}
	CanEdit bool
}

func (h *Handler) servicesPage(w http.ResponseWriter, r *http.Request) {
	h.renderServices(w, r, http.StatusOK, &servicesData{})
}

func (h *Handler) renderServices(w http.ResponseWriter, r *http.Request, status int, d *servicesData) {
	svcs, err := h.cfg.Catalog.ListServices(r.Context())
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	d.Services = svcs
	d.CanEdit = lockbox.Authorize(lockbox.UserFromContext(r.Context()), lockbox.PermWriteCatalog, "") == nil
	h.render(w, r, status, "services", "Services", d)
}

// putService creates or replaces a catalog entry; operations are one per
// line.
func (h *Handler) putService(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		h.errorPage(w, r, http.StatusBadRequest, "The form could not be read.")
		return
	}
	d := &servicesData{}
	d.Form.Name = strings.TrimSpace(r.PostForm.Get("name"))
	d.Form.DisplayName = strings.TrimSpace(r.PostForm.Get("display_name"))
	d.Form.Operations = r.PostForm.Get("operations")
	var ops []string
	for _, line := range strings.Split(d.Form.Operations, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			ops = append(ops, line)
		}
	}
	_, err := h.cfg.Catalog.PutService(r.Context(), &lockbox.Service{Name: d.Form.Name, DisplayName: d.Form.DisplayName, Operations: ops})
	switch lockbox.ErrorCode(err) {
	case "":
		http.Redirect(w, r, "/services?done=service", http.StatusSeeOther)
	case lockbox.EINVALID, lockbox.ECONFLICT:
		d.Form.Errors = fieldErrors{}
		d.Form.Error = d.Form.Errors.add(err)
		h.renderServices(w, r, statusOf(err), d)
	default:
		h.serviceError(w, r, err)
	}
}
