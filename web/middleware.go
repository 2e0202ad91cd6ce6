package web

import (
	"context"
	"net/http"
	"net/url"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/internal/middleware"
)

// contentSecurityPolicy allows nothing inline: no inline script, no style
// attributes, no framing, forms posting only here.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"

// maxFormBytes bounds a form body; the largest real form (a reason of 2000
// characters) is far smaller.
const maxFormBytes = 1 << 20

// securityHeaders sets the headers of every response, error pages included
// (pages hold tenants' data: middleware.Private).
func (h *Handler) securityHeaders(next http.Handler) http.Handler {
	return middleware.Private(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", contentSecurityPolicy)
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		}
		next.ServeHTTP(w, r)
	}))
}

// recoverPanics answers one request with an error page instead of dropping
// the connection when a handler has a bug.
func (h *Handler) recoverPanics(next http.Handler) http.Handler {
	return middleware.Recover(h.cfg.Logger, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.errorPage(w, r, http.StatusInternalServerError, "Something went wrong on our side.")
	}), next)
}

// crossOrigin refuses state-changing requests a browser sent from another
// origin (CSRF), before any session is looked at.
func (h *Handler) crossOrigin(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.cfg.Logger.WarnContext(r.Context(), "cross-origin request refused",
			"method", r.Method, "path", r.URL.Path, "origin", r.Header.Get("Origin"))
		h.errorPage(w, r, http.StatusForbidden,
			"This form was sent from another web site, so Lockbox refused it. Open the admin center directly and try again.")
	}))
	return cop.Handler(next)
}

type sessionKey struct{}

// session is the browser session of a request, for sign-out.
type session struct {
	token string
	ws    *lockbox.WebSession
}

// loadSession puts the caller's address and, from the session cookie, the
// signed-in user into the request's context. An invalid cookie is cleared.
func (h *Handler) loadSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := lockbox.NewContextWithClientIP(r.Context(), middleware.ClientIP(r))
		c, err := r.Cookie(h.cookieName(r))
		if err != nil || c.Value == "" {
			next.ServeHTTP(w, r.WithContext(ctx))
			return
		}
		u, ws, err := h.cfg.Sessions.ResumeWebSession(ctx, c.Value)
		switch lockbox.ErrorCode(err) {
		case "":
			ctx = lockbox.NewContextWithUser(ctx, u)
			ctx = lockbox.NewContextWithCredential(ctx, c.Value)
			ctx = context.WithValue(ctx, sessionKey{}, &session{token: c.Value, ws: ws})
		case lockbox.EUNAUTHENTICATED:
			h.clearSessionCookie(w, r)
		default:
			h.serviceError(w, r.WithContext(ctx), err)
			return
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// authed serves next only to a signed-in person whose session may do
// anything (lockbox.CheckActive); see allows.
func (h *Handler) authed(next http.HandlerFunc) http.HandlerFunc {
	return h.allows(lockbox.AnyCall, next)
}

// allows serves next to a signed-in person whose session may make call
// (lockbox.CheckActiveFor). One who must first choose a password (a
// one-time password) or add a passkey (one is mandatory and they have
// none) is sent to the Account page, which says so; anyone not signed in
// to the sign-in page, which brings them back afterwards.
func (h *Handler) allows(call lockbox.Call, next http.HandlerFunc) http.HandlerFunc {
	return h.signedIn(func(w http.ResponseWriter, r *http.Request) {
		switch lockbox.ErrorCode(lockbox.CheckActiveFor(lockbox.UserFromContext(r.Context()), call)) {
		case lockbox.EPASSWORDCHANGE:
			http.Redirect(w, r, "/account", http.StatusSeeOther)
			return
		case lockbox.EMFAREQUIRED:
			http.Redirect(w, r, "/account#passkeys", http.StatusSeeOther)
			return
		}
		next(w, r)
	})
}

// signedIn serves next to any signed-in person, even one who must change
// a one-time password (the Account page).
func (h *Handler) signedIn(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if lockbox.UserFromContext(r.Context()) != nil {
			next(w, r)
			return
		}
		target := "/signin"
		if r.Method == http.MethodGet && r.URL.Path != "/" {
			target += "?next=" + url.QueryEscape(r.URL.RequestURI())
		}
		http.Redirect(w, r, target, http.StatusSeeOther)
	}
}
