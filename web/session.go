package web

import (
	"net/http"
	"strings"
	"time"

	"github.com/lockboxhq/lockbox"
)

// Cookie names. Over TLS the session cookie takes the __Host- prefix, which
// browsers accept only with Secure, Path=/ and no Domain: no subdomain or
// plain-HTTP page can plant or overwrite it.
const (
	sessionCookie       = "lockbox_session"
	secureSessionCookie = "__Host-lockbox_session"
	tzCookie            = "lockbox_tz"
)

// secureRequest reports whether cookies of this response must be Secure.
func (h *Handler) secureRequest(r *http.Request) bool { return h.secure || r.TLS != nil }

func (h *Handler) cookieName(r *http.Request) string {
	if h.secureRequest(r) {
		return secureSessionCookie
	}
	return sessionCookie
}

func (h *Handler) setSessionCookie(w http.ResponseWriter, r *http.Request, token string) {
	// No Expires: the cookie goes when the browser closes; the server ends
	// the session earlier on its idle and absolute timeouts.
	http.SetCookie(w, &http.Cookie{Name: h.cookieName(r), Value: token, Path: "/",
		HttpOnly: true, Secure: h.secureRequest(r), SameSite: http.SameSiteLaxMode})
}

func (h *Handler) clearSessionCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: h.cookieName(r), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: h.secureRequest(r), SameSite: http.SameSiteLaxMode})
}

type signInData struct {
	Email   string
	Next    string
	Notice  string
	Problem string
	SSO     ssoChoices // sso.go
}

func (h *Handler) signInPage(w http.ResponseWriter, r *http.Request) {
	if lockbox.UserFromContext(r.Context()) != nil {
		http.Redirect(w, r, localPath(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	d := signInData{Next: localPath(r.URL.Query().Get("next"))}
	if r.URL.Query().Has("signedout") {
		d.Notice = "You have signed out."
	}
	h.renderSignIn(w, r, http.StatusOK, d)
}

// signIn checks the password and starts a session. The service throttles
// failed sign-ins per account and per client address (the request's
// context carries the address), for the web and the API alike.
func (h *Handler) signIn(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		h.errorPage(w, r, http.StatusBadRequest, "The form could not be read.")
		return
	}
	d := signInData{Email: strings.TrimSpace(r.PostForm.Get("email")), Next: localPath(r.PostForm.Get("next"))}
	token, _, err := h.cfg.Sessions.SignIn(r.Context(), d.Email, r.PostForm.Get("password"))
	if c := lockbox.ErrorSignIn(err); c != nil {
		// The password was right; the account's passkey ends the sign-in.
		h.render(w, r, http.StatusOK, "signinpasskey", "Confirm with your passkey",
			signInPasskeyData{Challenge: c.Challenge, Options: string(c.Options), Next: d.Next})
		return
	}
	h.finishSignIn(w, r, token, err, d)
}

// signInPasskeyData is the passkey step of a sign-in: the challenge and
// the options static/passkey.js hands to navigator.credentials.get.
type signInPasskeyData struct {
	Challenge, Options, Next string
}

// signInPasskey finishes a sign-in with the assertion the script put into
// the passkey step's form. Any failure starts again from the password.
func (h *Handler) signInPasskey(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		h.errorPage(w, r, http.StatusBadRequest, "The form could not be read.")
		return
	}
	d := signInData{Next: localPath(r.PostForm.Get("next"))}
	a := formAssertion(r.PostForm)
	if a == nil {
		d.Problem = "Confirming with a passkey needs JavaScript: only a script can reach your browser's authenticator. Turn JavaScript on and sign in again."
		h.renderSignIn(w, r, http.StatusBadRequest, d)
		return
	}
	token, _, err := h.cfg.Sessions.SignInPasskey(r.Context(), r.PostForm.Get("challenge"), *a)
	h.finishSignIn(w, r, token, err, d)
}

// finishSignIn sets the session cookie of a sign-in, or shows the sign-in
// page with what went wrong.
func (h *Handler) finishSignIn(w http.ResponseWriter, r *http.Request, token string, err error, d signInData) {
	switch lockbox.ErrorCode(err) {
	case "":
	case lockbox.EUNAUTHENTICATED, lockbox.ERATELIMITED, lockbox.EINVALID, lockbox.ECONFLICT, lockbox.EMFAREQUIRED, lockbox.EUNAVAILABLE:
		d.Problem = lockbox.ErrorMessage(err)
		h.renderSignIn(w, r, statusOf(err), d)
		return
	default:
		h.serviceError(w, r, err)
		return
	}
	// Signing in again (perhaps as someone else) ends the session this
	// browser had, on the server too.
	if s, ok := r.Context().Value(sessionKey{}).(*session); ok {
		if err := h.cfg.Sessions.SignOut(r.Context(), s.token); err != nil {
			h.cfg.Logger.WarnContext(r.Context(), "end the previous session", "err", err)
		}
	}
	h.setSessionCookie(w, r, token)
	http.Redirect(w, r, d.Next, http.StatusSeeOther)
}

// signOut ends the session on the server, so a copied cookie is useless,
// and clears it in the browser.
func (h *Handler) signOut(w http.ResponseWriter, r *http.Request) {
	if s, ok := r.Context().Value(sessionKey{}).(*session); ok {
		if err := h.cfg.Sessions.SignOut(r.Context(), s.token); err != nil {
			h.serviceError(w, r, err)
			return
		}
	}
	h.clearSessionCookie(w, r)
	http.Redirect(w, r, "/signin?signedout=1", http.StatusSeeOther)
}

// location is the viewer's time zone: their preference cookie, else UTC.
func location(r *http.Request) *time.Location {
	c, err := r.Cookie(tzCookie)
	if err != nil {
		return time.UTC
	}
	loc, err := loadLocation(c.Value)
	if err != nil {
		return time.UTC
	}
	return loc
}

// loadLocation accepts IANA zone names only (no file paths, no "Local").
func loadLocation(name string) (*time.Location, error) {
	if name == "" || name == "Local" || len(name) > 64 || strings.Contains(name, "..") || strings.HasPrefix(name, "/") {
		return nil, lockbox.Errorf(lockbox.EINVALID, "%q is not a time zone name such as Europe/Paris.", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, lockbox.Errorf(lockbox.EINVALID, "%q is not a time zone name such as Europe/Paris.", name)
	}
	return loc, nil
}

type preferencesData struct {
	Zone    string
	Zones   []string
	Problem string
	Saved   bool
}

// commonZones are offered in the time-zone list; any IANA name is accepted.
var commonZones = []string{"UTC", "America/Los_Angeles", "America/Denver", "America/Chicago",
	"America/New_York", "America/Sao_Paulo", "Europe/London", "Europe/Dublin", "Europe/Paris",
	"Europe/Berlin", "Europe/Amsterdam", "Europe/Helsinki", "Africa/Johannesburg", "Asia/Dubai",
	"Asia/Kolkata", "Asia/Singapore", "Asia/Shanghai", "Asia/Tokyo", "Australia/Sydney", "Pacific/Auckland"}

func (h *Handler) preferencesPage(w http.ResponseWriter, r *http.Request) {
	d := preferencesData{Zone: location(r).String(), Zones: commonZones, Saved: r.URL.Query().Has("saved")}
	h.render(w, r, http.StatusOK, "preferences", "Preferences", d)
}

// savePreferences stores the time zone in a cookie: it is the browser's
// preference, not the account's, so it needs no session.
func (h *Handler) savePreferences(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		h.errorPage(w, r, http.StatusBadRequest, "The form could not be read.")
		return
	}
	zone := strings.TrimSpace(r.PostForm.Get("zone"))
	if _, err := loadLocation(zone); err != nil {
		d := preferencesData{Zone: zone, Zones: commonZones, Problem: lockbox.ErrorMessage(err)}
		h.render(w, r, http.StatusBadRequest, "preferences", "Preferences", d)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: tzCookie, Value: zone, Path: "/", MaxAge: 365 * 24 * 3600,
		Secure: h.secureRequest(r), SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, "/preferences?saved=1", http.StatusSeeOther)
}
