package web

import (
	"net/http"
	"net/url"

	"github.com/lockboxhq/lockbox"
)

// lockbox login --browser (docs/identity.md): the CLI opens
// /cli-login?redirect_uri=…&state=…&code_challenge=… and waits on its
// loopback redirect. Behind the ordinary sign-in (password, then passkey),
// this page asks the person to confirm, and the confirmed form hands the
// session to the CLI (lockbox.SSOService.HandOffToCLI: loopback only, a
// one-time code bound to the CLI's PKCE challenge). The confirmation is a
// POST so that a page elsewhere cannot hand someone's session off by
// linking or redirecting here: cross-origin posts are refused
// (crossOrigin), like every form's.

type cliLoginData struct {
	Redirect, State, Challenge string
	// Offer shows the Allow form; To is the loopback redirect once allowed.
	Offer bool
	To    string
	// Declined: the person chose Cancel; To tells the CLI so.
	Declined bool
	Problem  string
}

func cliLoginForm(v url.Values) cliLoginData {
	return cliLoginData{Redirect: v.Get("redirect_uri"), State: v.Get("state"), Challenge: v.Get("code_challenge")}
}

func (h *Handler) cliLoginPage(w http.ResponseWriter, r *http.Request) {
	d := cliLoginForm(r.URL.Query())
	switch {
	case h.cfg.SSO == nil:
		d.Problem = "Signing in the command line from the browser is not available on this server."
		h.render(w, r, http.StatusNotFound, "clilogin", "Sign in the command line", d)
		return
	case d.Redirect == "":
		d.Problem = "This page is opened by lockbox login --browser, with the address the command line waits at. Run that command again."
		h.render(w, r, http.StatusBadRequest, "clilogin", "Sign in the command line", d)
		return
	}
	d.Offer = true
	h.render(w, r, http.StatusOK, "clilogin", "Sign in the command line", d)
}

// cliLogin hands the session off and sends the browser to the CLI's
// loopback with the one-time code.
func (h *Handler) cliLogin(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		h.errorPage(w, r, http.StatusBadRequest, "The form could not be read.")
		return
	}
	d := cliLoginForm(r.PostForm)
	if h.cfg.SSO == nil {
		d.Problem = "Signing in the command line from the browser is not available on this server."
		h.render(w, r, http.StatusNotFound, "clilogin", "Sign in the command line", d)
		return
	}
	// Cancel tells the waiting CLI at once instead of leaving it to time
	// out; Allow hands the session off.
	handOff := h.cfg.SSO.HandOffToCLI
	if r.PostForm.Get("decline") != "" {
		handOff = h.cfg.SSO.DeclineCLI
		d.Declined = true
	}
	to, err := handOff(r.Context(), d.Redirect, d.State, d.Challenge)
	switch lockbox.ErrorCode(err) {
	case "":
	case lockbox.EINTERNAL:
		h.serviceError(w, r, err)
		return
	default:
		d.Problem = lockbox.ErrorMessage(err) + " Run lockbox login --browser again."
		h.render(w, r, statusOf(err), "clilogin", "Sign in the command line", d)
		return
	}
	// Not a redirect: the page's CSP says form-action 'self', and browsers
	// apply it to where a form's answer redirects (as for /auth/sso). A
	// page that refreshes to the loopback and links to it is a new
	// navigation instead, and works without JavaScript. HandOffToCLI
	// checked that it is a loopback http URL.
	w.Header().Set("Refresh", "0; url="+to)
	d.To = to
	h.render(w, r, http.StatusOK, "clilogin", "Sign in the command line", d)
}
