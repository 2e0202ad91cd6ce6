package web

import (
	"net/http"
	"strings"

	"github.com/lockboxhq/lockbox"
)

// The tenant's Single sign-on page (SPEC §10.2): its global admin sets the
// tenant's own IdP. The client secret is never shown: left empty, the
// stored one is kept.

type ssoForm struct {
	Tenant         string
	Configured     bool
	SecretSet      bool
	Issuer         string
	ClientID       string
	AllowedDomains string // one per line
	Enforce        bool
	BreakGlass     string
	RedirectURI    string
	Admins         []string // the tenant's global admins, for break_glass
	Errors         fieldErrors
	Problem        string
	Unavailable    bool
}

func (h *Handler) ssoPage(w http.ResponseWriter, r *http.Request) {
	u := lockbox.UserFromContext(r.Context())
	f := &ssoForm{Tenant: u.Tenant, Errors: fieldErrors{}}
	if h.cfg.SSO == nil {
		f.Unavailable = true
		h.renderSSO(w, r, http.StatusOK, f)
		return
	}
	c, err := h.cfg.SSO.GetTenantSSO(r.Context(), u.Tenant)
	switch lockbox.ErrorCode(err) {
	case "":
		f.Configured, f.SecretSet = true, c.ClientSecretSet
		f.Issuer, f.ClientID, f.Enforce, f.BreakGlass = c.Issuer, c.ClientID, c.Enforce, c.BreakGlass
		f.AllowedDomains = strings.Join(c.AllowedDomains, "\n")
	case lockbox.ENOTFOUND:
		f.BreakGlass = u.Email
	default:
		h.serviceError(w, r, err)
		return
	}
	h.renderSSO(w, r, http.StatusOK, f)
}

func (h *Handler) renderSSO(w http.ResponseWriter, r *http.Request, status int, f *ssoForm) {
	u := lockbox.UserFromContext(r.Context())
	if !lockbox.Can(u, lockbox.PermManageSSO, u.Tenant) {
		h.errorPage(w, r, http.StatusForbidden, "Only the tenant's global admins set up single sign-on.")
		return
	}
	users, err := h.cfg.Accounts.ListTenantUsers(r.Context(), u.Tenant)
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	for _, x := range users {
		if x.HasRole(lockbox.RoleGlobalAdmin) {
			f.Admins = append(f.Admins, x.Email)
		}
	}
	f.RedirectURI = strings.TrimSuffix(h.cfg.ExternalURL, "/") + "/auth/callback"
	if h.cfg.ExternalURL == "" {
		f.RedirectURI = "http://" + r.Host + "/auth/callback"
	}
	h.render(w, r, status, "sso", "Single sign-on", f)
}

func (h *Handler) saveSSO(w http.ResponseWriter, r *http.Request) {
	u := lockbox.UserFromContext(r.Context())
	if err := r.ParseForm(); err != nil {
		h.errorPage(w, r, http.StatusBadRequest, "The form could not be read.")
		return
	}
	if h.cfg.SSO == nil {
		h.errorPage(w, r, http.StatusNotFound, "Single sign-on is not available on this server.")
		return
	}
	p := r.PostForm
	f := &ssoForm{Tenant: u.Tenant, Issuer: strings.TrimSpace(p.Get("issuer")), ClientID: strings.TrimSpace(p.Get("client_id")),
		AllowedDomains: p.Get("allowed_domains"), Enforce: p.Get("enforce") == "on",
		BreakGlass: strings.TrimSpace(p.Get("break_glass")), Errors: fieldErrors{}}
	in := lockbox.TenantSSOInput{Issuer: f.Issuer, ClientID: f.ClientID, ClientSecret: p.Get("client_secret"),
		Enforce: f.Enforce, BreakGlass: f.BreakGlass}
	in.AllowedDomains = strings.FieldsFunc(f.AllowedDomains, func(r rune) bool { return r == '\n' || r == ',' || r == ' ' || r == '\r' })
	_, err := h.cfg.SSO.PutTenantSSO(r.Context(), u.Tenant, in)
	switch lockbox.ErrorCode(err) {
	case "":
		http.Redirect(w, r, "/sso?done=sso", http.StatusSeeOther)
	case lockbox.EINVALID, lockbox.ECONFLICT:
		f.Problem = f.Errors.add(err)
		if c, err := h.cfg.SSO.GetTenantSSO(r.Context(), u.Tenant); err == nil {
			f.Configured, f.SecretSet = true, c.ClientSecretSet
		}
		h.renderSSO(w, r, statusOf(err), f)
	default:
		h.serviceError(w, r, err)
	}
}

func (h *Handler) removeSSO(w http.ResponseWriter, r *http.Request) {
	u := lockbox.UserFromContext(r.Context())
	if h.cfg.SSO == nil {
		h.errorPage(w, r, http.StatusNotFound, "Single sign-on is not available on this server.")
		return
	}
	if err := h.cfg.SSO.DeleteTenantSSO(r.Context(), u.Tenant); err != nil {
		h.serviceError(w, r, err)
		return
	}
	http.Redirect(w, r, "/sso?done=sso_removed", http.StatusSeeOther)
}
