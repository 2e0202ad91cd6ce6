package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/lockboxhq/lockbox"
)

// serviceAccountsData is the provider admin's "Service accounts" page: the
// list, and a token just issued by a rotation (shown on that response only).
type serviceAccountsData struct {
	Accounts []*lockbox.ServiceAccount
	Rotated  *lockbox.ServiceAccount
	Grace    string // the rotation's grace period as typed, for the notice
	Problem  string
}

// serviceAccountData is the page that asks before a service account is
// revoked or rotated: either one can stop a data-plane service, so one
// click on the list must not.
type serviceAccountData struct {
	Account *lockbox.ServiceAccount
	Action  string // "revoke" or "rotate"
	Grace   string
	Error   string
	Errors  fieldErrors
}

// serviceAccountPath is the path of a service account's action.
func serviceAccountPath(name, action string) string {
	return "/service-accounts/" + url.PathEscape(name) + "/" + action
}

func (h *Handler) serviceAccountsPage(w http.ResponseWriter, r *http.Request) {
	h.renderServiceAccounts(w, r, http.StatusOK, &serviceAccountsData{})
}

// renderServiceAccounts lists the accounts; the service authorizes the
// listing, so the page is refused to whoever may not manage them.
func (h *Handler) renderServiceAccounts(w http.ResponseWriter, r *http.Request, status int, d *serviceAccountsData) {
	accounts, err := h.cfg.Accounts.ListServiceAccounts(r.Context())
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	d.Accounts = accounts
	h.render(w, r, status, "serviceaccounts", "Service accounts", d)
}

// serviceAccountConfirmPage asks before a revocation or rotation.
func (h *Handler) serviceAccountConfirmPage(w http.ResponseWriter, r *http.Request) {
	action := r.PathValue("action")
	if action != "revoke" && action != "rotate" {
		h.notFoundPage(w, r)
		return
	}
	h.renderServiceAccountConfirm(w, r, http.StatusOK, &serviceAccountData{Action: action, Grace: "10m"})
}

func (h *Handler) renderServiceAccountConfirm(w http.ResponseWriter, r *http.Request, status int, d *serviceAccountData) {
	accounts, err := h.cfg.Accounts.ListServiceAccounts(r.Context())
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	name := r.PathValue("name")
	for _, sa := range accounts {
		if sa.Name == name {
			d.Account = sa
			title := "Revoke " + name
			if d.Action == "rotate" {
				title = "Rotate the token of " + name
			}
			h.render(w, r, status, "serviceaccount", title, d)
			return
		}
	}
	h.errorPage(w, r, http.StatusNotFound, "There is no service account "+name+".")
}

// serviceAccountAction revokes a service account or rotates its token.
func (h *Handler) serviceAccountAction(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	switch r.PathValue("action") {
	case "revoke":
		err := h.cfg.Accounts.RevokeServiceAccount(r.Context(), name)
		if err != nil {
			h.serviceError(w, r, err)
			return
		}
		http.Redirect(w, r, "/service-accounts?done=service_account_revoked", http.StatusSeeOther)
	case "rotate":
		if err := r.ParseForm(); err != nil {
			h.errorPage(w, r, http.StatusBadRequest, "The form could not be read.")
			return
		}
		d := &serviceAccountData{Action: "rotate", Grace: strings.TrimSpace(r.PostForm.Get("grace"))}
		grace, err := lockbox.ParseGrace(d.Grace)
		var sa *lockbox.ServiceAccount
		if err == nil {
			sa, err = h.cfg.Accounts.RotateServiceAccount(r.Context(), name, grace)
		}
		switch lockbox.ErrorCode(err) {
		case "":
			// The new token is on this response only: it is stored hashed.
			h.renderServiceAccounts(w, r, http.StatusOK, &serviceAccountsData{Rotated: sa, Grace: grace.String()})
		case lockbox.EINVALID:
			d.Errors = fieldErrors{}
			d.Error = d.Errors.add(err)
			h.renderServiceAccountConfirm(w, r, statusOf(err), d)
		default:
			h.serviceError(w, r, err)
		}
	default:
		h.notFoundPage(w, r)
	}
}
