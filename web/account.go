package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/lockboxhq/lockbox"
)

// accountData is the Account page (SPEC §10.1): who one is, the password
// change, and one's sessions and API tokens.
type accountData struct {
	Me       *lockbox.User
	Tokens   []*lockbox.TokenInfo
	MustPick bool // signed in with a one-time password
	Problem  string
	Field    string
	// Passkeys (SPEC §10.3): one's own, and why adding one failed.
	Passkeys       []*lockbox.Passkey
	PasskeyProblem string
	// MustAddPasskey: a passkey is mandatory and the account has none;
	// this session may only add one (lockbox.CheckActiveFor).
	MustAddPasskey bool
}

func (h *Handler) accountPage(w http.ResponseWriter, r *http.Request) {
	h.renderAccount(w, r, http.StatusOK, &accountData{})
}

func (h *Handler) renderAccount(w http.ResponseWriter, r *http.Request, status int, d *accountData) {
	d.Me = lockbox.UserFromContext(r.Context())
	d.MustPick = d.Me.PasswordChangeRequired
	d.MustAddPasskey = d.Me.PasskeySetupRequired && !d.MustPick
	if !d.MustPick {
		if !d.MustAddPasskey {
			tokens, err := h.cfg.Accounts.ListMyTokens(r.Context())
			if err != nil {
				h.serviceError(w, r, err)
				return
			}
			d.Tokens = tokens
		}
		if ps, err := h.passkeys(); err == nil && !d.Me.ServiceAccount {
			if d.Passkeys, err = ps.ListPasskeys(r.Context()); err != nil {
				h.serviceError(w, r, err)
				return
			}
		}
	}
	h.render(w, r, status, "account", "Account", d)
}

// changePassword changes the signed-in person's password: this browser
// stays signed in, every other session and token ends.
func (h *Handler) changePassword(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		h.errorPage(w, r, http.StatusBadRequest, "The form could not be read.")
		return
	}
	in := lockbox.PasswordChange{Current: r.PostForm.Get("current"), New: r.PostForm.Get("new")}
	if in.New != r.PostForm.Get("confirm") {
		h.renderAccount(w, r, http.StatusBadRequest, &accountData{Problem: "The two new passwords differ.", Field: "confirm"})
		return
	}
	err := h.cfg.Accounts.ChangePassword(r.Context(), in)
	switch lockbox.ErrorCode(err) {
	case "":
		http.Redirect(w, r, "/account?done=password", http.StatusSeeOther)
	case lockbox.EINVALID, lockbox.ERATELIMITED, lockbox.EFORBIDDEN:
		h.renderAccount(w, r, statusOf(err), &accountData{Problem: lockbox.ErrorMessage(err), Field: lockbox.ErrorField(err)})
	default:
		h.serviceError(w, r, err)
	}
}

func (h *Handler) endToken(w http.ResponseWriter, r *http.Request) {
	if err := h.cfg.Accounts.RevokeMyToken(r.Context(), r.PathValue("id")); err != nil {
		h.serviceError(w, r, err)
		return
	}
	http.Redirect(w, r, "/account?done=token", http.StatusSeeOther)
}

// resetUserPassword gives a tenant user a one-time password (global admin),
// shown on this response only.
func (h *Handler) resetUserPassword(w http.ResponseWriter, r *http.Request) {
	u := lockbox.UserFromContext(r.Context())
	otp, err := h.cfg.Accounts.ResetTenantUserPassword(r.Context(), u.Tenant, r.PathValue("email"))
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	h.renderUsers(w, r, http.StatusOK, &usersData{Reset: otp})
}

// staffPath is the path of a staff member's action, email escaped.
func staffPath(email, action string) string { return "/staff/" + url.PathEscape(email) + "/" + action }

// removeStaffPage asks before a staff member is removed, as for a tenant's
// users: one click on the list must not end someone's access and revoke
// their requests.
func (h *Handler) removeStaffPage(w http.ResponseWriter, r *http.Request) {
	staff, err := h.cfg.Accounts.ListStaff(r.Context())
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	email := r.PathValue("email")
	for _, x := range staff {
		if strings.EqualFold(x.Email, email) {
			h.render(w, r, http.StatusOK, "removeuser", "Remove "+x.Email, removeData{
				Email: x.Email, Action: staffPath(x.Email, "remove"), Back: "/staff", BackLabel: "Staff",
				Consequence: x.Email + " can no longer sign in; their sessions and grants end at once, " +
					"and their approved or active requests are revoked."})
			return
		}
	}
	h.errorPage(w, r, http.StatusNotFound, "There is no staff member "+email+".")
}

// staffAction disables, enables, removes or resets a staff member
// (provider admin).
func (h *Handler) staffAction(w http.ResponseWriter, r *http.Request) {
	email, ctx := r.PathValue("email"), r.Context()
	var done string
	var err error
	switch r.PathValue("action") {
	case "disable", "enable":
		disable := r.PathValue("action") == "disable"
		_, err = h.cfg.Accounts.UpdateStaff(ctx, email, lockbox.StaffUpdate{Disabled: &disable})
		done = r.PathValue("action") + "d"
	case "roles":
		f, ferr := readUserForm(r)
		if ferr != nil {
			h.errorPage(w, r, http.StatusBadRequest, "The form could not be read.")
			return
		}
		_, err = h.cfg.Accounts.UpdateStaff(ctx, email, lockbox.StaffUpdate{Roles: f.Roles})
		done = "roles"
	case "remove":
		err, done = h.cfg.Accounts.RemoveStaff(ctx, email), "staff_removed"
	case "reset-password":
		otp, err := h.cfg.Accounts.ResetStaffPassword(ctx, email)
		if err != nil {
			h.serviceError(w, r, err)
			return
		}
		h.renderStaff(w, r, http.StatusOK, &usersData{Reset: otp})
		return
	default:
		h.notFoundPage(w, r)
		return
	}
	switch lockbox.ErrorCode(err) {
	case "":
		http.Redirect(w, r, "/staff?done="+done, http.StatusSeeOther)
	case lockbox.EINVALID, lockbox.ECONFLICT, lockbox.EFORBIDDEN:
		h.renderStaff(w, r, statusOf(err), &usersData{Problem: email + ": " + lockbox.ErrorMessage(err)})
	default:
		h.serviceError(w, r, err)
	}
}
