package web

import (
	"crypto/rand"
	"net/http"
	"net/url"
	"strings"

	"github.com/lockboxhq/lockbox"
)

// Single sign-on in the browser (SPEC §10.2): the sign-in page's "Sign in
// with single sign-on" (the email's domain selects the tenant's IdP) and
// "Sign in with <provider IdP>", and the IdP's redirect back to
// /auth/callback. Plain forms and redirects: no JavaScript.

// ssoCookie binds a sign-in at an IdP to the browser that started it: the
// flow stores the hash of this random value, and the callback must come
// with it (a link someone else started, sent to a victim, does nothing).
const (
	ssoCookie       = "lockbox_sso"
	secureSSOCookie = "__Host-lockbox_sso"
)

// ssoChoices is what the sign-in page offers besides a password.
type ssoChoices struct {
	Enabled     bool   // any single sign-on (tenants' IdPs)
	ProviderIdP string // "Sign in with <ProviderIdP>" for staff, "" for none
}

func (h *Handler) ssoChoices() ssoChoices {
	if h.cfg.SSO == nil {
		return ssoChoices{}
	}
	return ssoChoices{Enabled: true, ProviderIdP: h.cfg.SSO.ProviderIdP()}
}

// renderSignIn renders the sign-in page with its single sign-on choices.
func (h *Handler) renderSignIn(w http.ResponseWriter, r *http.Request, status int, d signInData) {
	d.SSO = h.ssoChoices()
	h.render(w, r, status, "signin", "Sign in", d)
}

func (h *Handler) ssoCookieName(r *http.Request) string {
	if h.secureRequest(r) {
		return secureSSOCookie
	}
	return ssoCookie
}

// startSSO sends the browser to the IdP: the provider's (button "Sign in
// with <IdP>", provider=1) or the one the email's domain selects.
func (h *Handler) startSSO(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		h.errorPage(w, r, http.StatusBadRequest, "The form could not be read.")
		return
	}
	d := signInData{Email: strings.TrimSpace(r.PostForm.Get("email")), Next: localPath(r.PostForm.Get("next"))}
	if h.cfg.SSO == nil {
		d.Problem = "Single sign-on is not available on this server: sign in with your password."
		h.renderSignIn(w, r, http.StatusNotFound, d)
		return
	}
	browser := rand.Text() + rand.Text()
	u, err := h.cfg.SSO.StartSSO(r.Context(), lockbox.SSOStart{Email: d.Email,
		Provider: r.PostForm.Get("provider") != "", Browser: browser, Next: d.Next})
	switch lockbox.ErrorCode(err) {
	case "":
	case lockbox.EINVALID, lockbox.EUNAVAILABLE:
		d.Problem = lockbox.ErrorMessage(err)
		h.renderSignIn(w, r, statusOf(err), d)
		return
	default:
		h.serviceError(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: h.ssoCookieName(r), Value: browser, Path: "/", MaxAge: 600,
		HttpOnly: true, Secure: h.secureRequest(r), SameSite: http.SameSiteLaxMode})
	// Not a redirect: the page's CSP says form-action 'self', and browsers
	// apply it to where a form's answer redirects. A page that refreshes
	// to the IdP (the Refresh header, no script) and links to it is a new
	// navigation instead, and works without JavaScript.
	idp, err := url.Parse(u)
	if err != nil || (idp.Scheme != "https" && idp.Scheme != "http") {
		h.errorPage(w, r, http.StatusBadGateway, "The identity provider's sign-in address is not usable.")
		return
	}
	w.Header().Set("Refresh", "0; url="+idp.String())
	h.render(w, r, http.StatusOK, "ssoredirect", "Signing you in", struct{ URL, Host string }{idp.String(), idp.Host})
}

// ssoCallback is where IdPs send the browser back (the redirect URI
// <external-url>/auth/callback). Every refusal is the sign-in page with a
// sentence a person can act on: never a stack or the IdP's raw text.
func (h *Handler) ssoCallback(w http.ResponseWriter, r *http.Request) {
	if h.cfg.SSO == nil {
		h.notFoundPage(w, r)
		return
	}
	q := r.URL.Query()
	cb := lockbox.SSOCallback{State: q.Get("state"), Code: q.Get("code"), Error: q.Get("error")}
	if c, err := r.Cookie(h.ssoCookieName(r)); err == nil {
		cb.Browser = c.Value
	}
	res, err := h.cfg.SSO.FinishSSO(r.Context(), cb)
	switch lockbox.ErrorCode(err) {
	case "":
	case lockbox.EUNAUTHENTICATED, lockbox.EUNAVAILABLE, lockbox.EINVALID:
		h.clearSSOCookie(w, r)
		h.renderSignIn(w, r, statusOf(err), signInData{Problem: lockbox.ErrorMessage(err)})
		return
	default:
		h.serviceError(w, r, err)
		return
	}
	h.clearSSOCookie(w, r)
	if res.Redirect != "" { // lockbox login --sso: back to the CLI's loopback
		http.Redirect(w, r, res.Redirect, http.StatusSeeOther)
		return
	}
	if s, ok := r.Context().Value(sessionKey{}).(*session); ok {
		if err := h.cfg.Sessions.SignOut(r.Context(), s.token); err != nil {
			h.cfg.Logger.WarnContext(r.Context(), "end the previous session", "err", err)
		}
	}
	h.setSessionCookie(w, r, res.SessionToken)
	http.Redirect(w, r, localPath(res.Next), http.StatusSeeOther)
}

func (h *Handler) clearSSOCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: h.ssoCookieName(r), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: h.secureRequest(r), SameSite: http.SameSiteLaxMode})
}
