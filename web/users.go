package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/lockboxhq/lockbox"
)

// usersData is the "Users and roles" page of a tenant, and the "Staff"
// page of the provider: the list, the add form, and a new account's
// one-time password right after it was created.
type usersData struct {
	Tenant  string
	Users   []*lockbox.User
	Roles   []lockbox.Role
	Me      string
	Form    userForm
	Created *lockbox.User
	Problem string
	// Reset is a one-time password just made by a reset, shown once.
	Reset *lockbox.OneTimePassword
}

type userForm struct {
	Email  string
	Name   string
	Roles  []lockbox.Role
	Error  string
	Errors fieldErrors
}

func (h *Handler) usersPage(w http.ResponseWriter, r *http.Request) {
	h.renderUsers(w, r, http.StatusOK, &usersData{})
}

func (h *Handler) renderUsers(w http.ResponseWriter, r *http.Request, status int, d *usersData) {
	u := lockbox.UserFromContext(r.Context())
	users, err := h.cfg.Accounts.ListTenantUsers(r.Context(), u.Tenant)
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	d.Tenant, d.Users, d.Roles, d.Me = u.Tenant, users, lockbox.TenantRoles, u.Email
	h.render(w, r, status, "users", "Users and roles", d)
}

func readUserForm(r *http.Request) (userForm, error) {
	if err := r.ParseForm(); err != nil {
		return userForm{}, err
	}
	f := userForm{Email: strings.TrimSpace(r.PostForm.Get("email")), Name: strings.TrimSpace(r.PostForm.Get("name"))}
	for _, role := range r.PostForm["role"] {
		f.Roles = append(f.Roles, lockbox.Role(role))
	}
	return f, nil
}

// addUser adds a tenant user (global admin). The service generates the
// first password, shown on this response only.
func (h *Handler) addUser(w http.ResponseWriter, r *http.Request) {
	u := lockbox.UserFromContext(r.Context())
	f, err := readUserForm(r)
	if err != nil {
		h.errorPage(w, r, http.StatusBadRequest, "The form could not be read.")
		return
	}
	created, err := h.cfg.Accounts.AddTenantUser(r.Context(), u.Tenant, lockbox.NewUser{Email: f.Email, Name: f.Name, Roles: f.Roles})
	switch lockbox.ErrorCode(err) {
	case "":
		h.renderUsers(w, r, http.StatusOK, &usersData{Created: created})
	case lockbox.EINVALID, lockbox.ECONFLICT:
		f.Errors = fieldErrors{}
		f.Error = f.Errors.add(err)
		h.renderUsers(w, r, statusOf(err), &usersData{Form: f})
	default:
		h.serviceError(w, r, err)
	}
}

func (h *Handler) setUserRoles(w http.ResponseWriter, r *http.Request) {
	u := lockbox.UserFromContext(r.Context())
	f, err := readUserForm(r)
	if err != nil {
		h.errorPage(w, r, http.StatusBadRequest, "The form could not be read.")
		return
	}
	_, err = h.cfg.Accounts.UpdateTenantUser(r.Context(), u.Tenant, r.PathValue("email"), lockbox.UserUpdate{Roles: f.Roles})
	switch lockbox.ErrorCode(err) {
	case "":
		http.Redirect(w, r, "/users?done=roles", http.StatusSeeOther)
	case lockbox.EINVALID, lockbox.ECONFLICT:
		h.renderUsers(w, r, statusOf(err), &usersData{Problem: r.PathValue("email") + ": " + lockbox.ErrorMessage(err)})
	default:
		h.serviceError(w, r, err)
	}
}

// removeData is the confirmation page of a removal (removeuser.html).
type removeData struct {
	Email, Action, Back, BackLabel, Consequence string
}

// removeUserPage asks before a user is removed: one click on the list must
// not take someone's access away.
func (h *Handler) removeUserPage(w http.ResponseWriter, r *http.Request) {
	u := lockbox.UserFromContext(r.Context())
	users, err := h.cfg.Accounts.ListTenantUsers(r.Context(), u.Tenant)
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	if !lockbox.Can(u, lockbox.PermWriteTenantUsers, u.Tenant) {
		h.errorPage(w, r, http.StatusForbidden, "Only the tenant's global admins manage users.")
		return
	}
	email := r.PathValue("email")
	for _, x := range users {
		if strings.EqualFold(x.Email, email) {
			h.render(w, r, http.StatusOK, "removeuser", "Remove "+x.Email, removeData{
				Email: x.Email, Action: userPath(x.Email, "remove"), Back: "/users", BackLabel: "Users and roles",
				Consequence: x.Email + " loses every role in " + u.Tenant + " and can no longer sign in here."})
			return
		}
	}
	h.errorPage(w, r, http.StatusNotFound, "There is no user "+email+" in "+u.Tenant+".")
}

func (h *Handler) removeUser(w http.ResponseWriter, r *http.Request) {
	u := lockbox.UserFromContext(r.Context())
	err := h.cfg.Accounts.RemoveTenantUser(r.Context(), u.Tenant, r.PathValue("email"))
	switch lockbox.ErrorCode(err) {
	case "":
		http.Redirect(w, r, "/users?done=removed", http.StatusSeeOther)
	case lockbox.EINVALID, lockbox.ECONFLICT:
		h.renderUsers(w, r, statusOf(err), &usersData{Problem: r.PathValue("email") + ": " + lockbox.ErrorMessage(err)})
	default:
		h.serviceError(w, r, err)
	}
}

// userPath is the path of a user's sub-resource, email escaped.
func userPath(email, rest string) string { return "/users/" + url.PathEscape(email) + "/" + rest }

func (h *Handler) staffPage(w http.ResponseWriter, r *http.Request) {
	h.renderStaff(w, r, http.StatusOK, &usersData{})
}

func (h *Handler) renderStaff(w http.ResponseWriter, r *http.Request, status int, d *usersData) {
	staff, err := h.cfg.Accounts.ListStaff(r.Context())
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	d.Users, d.Roles, d.Me = staff, lockbox.ProviderRoles, lockbox.UserFromContext(r.Context()).Email
	h.render(w, r, status, "staff", "Staff", d)
}

func (h *Handler) addStaff(w http.ResponseWriter, r *http.Request) {
	f, err := readUserForm(r)
	if err != nil {
		h.errorPage(w, r, http.StatusBadRequest, "The form could not be read.")
		return
	}
	created, err := h.cfg.Accounts.AddStaff(r.Context(), lockbox.NewUser{Email: f.Email, Name: f.Name, Roles: f.Roles})
	switch lockbox.ErrorCode(err) {
	case "":
		h.renderStaff(w, r, http.StatusOK, &usersData{Created: created})
	case lockbox.EINVALID, lockbox.ECONFLICT:
		f.Errors = fieldErrors{}
		f.Error = f.Errors.add(err)
		h.renderStaff(w, r, statusOf(err), &usersData{Form: f})
	default:
		h.serviceError(w, r, err)
	}
}
