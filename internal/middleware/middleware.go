// Package middleware is the HTTP plumbing that the JSON API (server), the
// admin center (web) and guard share, so each rule of it is written once:
// what to do when a handler panics, which address a request came from,
// how a bearer token is read, that responses holding tenants' data are
// never cached, and which proxies may say who the client is (proxy.go).
//
// It imports the standard library only.
package middleware

import (
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Recover serves next, and when next panics, logs the panic to logger and
// serves fail instead: one bug answers one request with an error rather than
// dropping the connection. http.ErrAbortHandler is passed on, since it is
// how a handler asks net/http to abort the response.
//
// fail writes the error in the caller's form (a problem document, a page);
// if next had already started its response, fail's status is ignored by
// net/http and the client gets a truncated body, which is the best left.
func Recover(logger *slog.Logger, fail http.Handler, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			logger.ErrorContext(r.Context(), "panic serving request",
				"method", r.Method, "path", r.URL.Path, "panic", v)
			fail.ServeHTTP(w, r)
		}()
		next.ServeHTTP(w, r)
	})
}

// ClientIP is the IP address a request came from: the host of RemoteAddr
// ("ip:port", as net/http sets it), or RemoteAddr itself when a middleware
// in front rewrote it to a bare address; "" when it holds no IP address
// (a Unix socket). A proxy in front is the peer unless it is trusted
// (--trusted-proxies): then TrustedProxies.Forwarded, in front of every
// handler, has rewritten RemoteAddr to the client's address.
func ClientIP(r *http.Request) string {
	host := r.RemoteAddr
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if _, err := netip.ParseAddr(host); err != nil {
		return ""
	}
	return host
}

// BearerToken returns the token of an "Authorization: Bearer <token>"
// header; the scheme is case-insensitive (RFC 9110 §11.1).
func BearerToken(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// Private serves next with the headers every response holding tenants'
// data carries: never stored by a browser or proxy cache, never sniffed as
// another type than it says.
func Private(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}
