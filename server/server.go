// Package server is Lockbox's HTTP JSON API (SPEC §8): the routes, the
// bearer-token authentication, the mapping of lockbox errors to RFC 9457
// problem documents, and the OpenAPI document that describes it all.
//
// It imports the root package, internal/httpcode, internal/middleware and
// the standard library only; the services it serves are injected, so
// cmd/lockbox wires the real ones and tests fakes.
package server

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/internal/middleware"
)

// Server serves the HTTP JSON API. Set the fields, then call Handler.
type Server struct {
	Requests lockbox.RequestService
	Accounts lockbox.AccountService
	Tenants  lockbox.TenantService
	Catalog  lockbox.CatalogService
	// Audit serves the audit log: search, CSV export, checkpoints, proofs.
	Audit lockbox.AuditService
	// Enforcement issues grants and answers data-plane checks (enforce.go);
	// JWKS returns the JSON Web Key Set of the published grant keys.
	Enforcement lockbox.EnforcementService
	JWKS        func(context.Context) ([]byte, error)
	// Webhooks manages tenants' webhook endpoints (webhooks.go); DevMail is
	// the mail a --dev server captured (devmail.go); Metrics serves GET
	// /metrics (Prometheus). Nil: those routes answer 404.
	Webhooks lockbox.WebhookService
	// Policies reads, changes and simulates tenants' policy rules
	// (policy.go); nil: those routes answer 404.
	Policies lockbox.PolicyService
	// Passkeys serves the caller's passkeys and decision challenges
	// (passkeys.go); nil: those routes answer 503.
	Passkeys lockbox.PasskeyService
	DevMail  lockbox.DevMailbox
	// SSO is single sign-on (sso.go); nil: its routes answer 404.
	SSO     lockbox.SSOService
	Metrics http.Handler
	// Ready reports whether the server can serve (the database answers);
	// nil means always ready.
	Ready func(context.Context) error
	// DevClock is the adjustable clock of --dev mode. It is nil otherwise,
	// and then the dev routes do not exist (they answer 404).
	DevClock *lockbox.OffsetClock
	// Logger receives internal errors; nil means slog.Default().
	Logger *slog.Logger
}

// Handler returns the API's handler: every route of the table, the
// authentication middleware, and problem responses for unknown routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range s.routes() {
		if rt.dev && s.DevClock == nil {
			continue
		}
		mux.Handle(rt.Method+" "+rt.Pattern, s.authenticate(rt.Route, rt.handler))
	}
	return s.logRequests(s.recoverPanics(middleware.Private(s.dispatch(mux))))
}

// statusRecorder remembers the status a handler wrote, for the access log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer (flushing
// long streams).
func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// logRequests writes one access-log line per request: method, the route
// pattern (not the raw path, which may carry an email address), status and
// duration. Headers, query strings and bodies, which may carry tokens, are
// never logged.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		level := slog.LevelInfo
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
			level = slog.LevelDebug
		}
		s.logger().Log(r.Context(), level, "http request", "method", r.Method, "route", r.Pattern,
			"status", rec.status, "duration_ms", time.Since(start).Milliseconds(), "client_ip", middleware.ClientIP(r))
	})
}

// dispatch serves the routes of mux, and a problem document where the mux
// would answer a plain-text 404 or 405.
func (s *Server) dispatch(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := plainURL(r); err != nil {
			s.error(w, r, err)
			return
		}
		if _, pattern := mux.Handler(r); pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		s.unmatched(w, r, mux)
	})
}

// plainURL refuses a path or query holding control characters (a NUL,
// say): no id, name or filter has one, and they must not reach a store,
// where PostgreSQL refuses NUL outright (SPEC §14).
func plainURL(r *http.Request) error {
	if lockbox.HasControl(r.URL.Path) {
		return lockbox.Errorf(lockbox.EINVALID, "The URL path contains a control character; ids and names never do.")
	}
	for k, vs := range r.URL.Query() {
		for _, v := range vs {
			if lockbox.HasControl(k) || lockbox.HasControl(v) {
				return lockbox.FieldErrorf(lockbox.EINVALID, k, "Query parameter %q contains a control character.", k)
			}
		}
	}
	return nil
}

// recoverPanics turns a handler's panic into a logged 500 problem, so one
// bug answers one request with an error instead of dropping the connection.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return middleware.Recover(s.logger(), http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeProblem(w, problem{Status: http.StatusInternalServerError, Code: lockbox.EINTERNAL, Detail: "Internal error."})
	}), next)
}

// authenticate puts the caller's address and, from the bearer token, the
// caller and their token into the request context. A route that is not
// public refuses a request without a valid token, and one that is not
// OneTime (or PasskeySetup) a caller whose session may not call it yet
// (lockbox.CheckActiveFor).
func (s *Server) authenticate(rt Route, next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := lockbox.NewContextWithClientIP(r.Context(), middleware.ClientIP(r))
		if rt.Public {
			next(w, r.WithContext(ctx))
			return
		}
		token, ok := middleware.BearerToken(r)
		if !ok {
			s.error(w, r, lockbox.Errorf(lockbox.EUNAUTHENTICATED,
				"Sign in first: send an Authorization: Bearer <token> header."))
			return
		}
		u, err := s.Accounts.Authenticate(ctx, token)
		if err != nil {
			s.error(w, r, err)
			return
		}
		call := lockbox.AnyCall
		if rt.OneTime {
			call = lockbox.AccountCall
		} else if rt.PasskeySetup {
			call = lockbox.PasskeyCall
		}
		if err := lockbox.CheckActiveFor(u, call); err != nil {
			s.error(w, r, err)
			return
		}
		ctx = lockbox.NewContextWithCredential(ctx, token)
		next(w, r.WithContext(lockbox.NewContextWithUser(ctx, u)))
	})
}

func (s *Server) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}
