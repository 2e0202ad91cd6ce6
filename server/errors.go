package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/internal/httpcode"
)

// problem is the API's error document (one type for the server and the
// client).
type problem = httpcode.Problem

// error writes err as a problem document. Internal errors are logged here,
// once; the client sees only lockbox.ErrorMessage, which hides the text of
// any error that is not a *lockbox.Error.
func (s *Server) error(w http.ResponseWriter, r *http.Request, err error) {
	code := lockbox.ErrorCode(err)
	status, known := httpcode.Status(code)
	if !known || code == lockbox.EINTERNAL {
		s.logInternal(r, err)
		writeProblem(w, problem{Status: http.StatusInternalServerError, Code: lockbox.EINTERNAL, Detail: lockbox.ErrorMessage(err)})
		return
	}
	if code == lockbox.ERATELIMITED {
		w.Header().Set("Retry-After", retryAfter(lockbox.ErrorRetryAfter(err)))
	}
	writeProblem(w, problem{Status: status, Code: code, Detail: lockbox.ErrorMessage(err), Field: lockbox.ErrorField(err), Passkey: utcSignIn(lockbox.ErrorSignIn(err))})
}

// retryAfter is a Retry-After value in whole seconds, at least 1 (a
// limit that did not say how long waits a minute).
func retryAfter(d time.Duration) string {
	if d <= 0 {
		d = time.Minute
	}
	return strconv.Itoa(int(math.Ceil(d.Seconds())))
}

// logInternal logs an internal error, unless it is only the client going
// away, which is no fault of the server.
func (s *Server) logInternal(r *http.Request, err error) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		s.logger().DebugContext(r.Context(), "client went away", "method", r.Method, "path", r.URL.Path)
		return
	}
	s.logger().ErrorContext(r.Context(), "internal error",
		"method", r.Method, "path", r.URL.Path, "pattern", r.Pattern, "err", err)
}

// writeProblem writes p, with its type and title filled in.
func writeProblem(w http.ResponseWriter, p problem) {
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	if p.Status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", "Bearer")
	}
	w.WriteHeader(p.Status)
	p.Type, p.Title = "about:blank", http.StatusText(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// unmatched answers a request no route matches: 405 with Allow when the
// path exists for other methods, 404 otherwise, both as problem documents.
func (s *Server) unmatched(w http.ResponseWriter, r *http.Request, mux *http.ServeMux) {
	h, _ := mux.Handler(r)
	rec := &headerRecorder{header: http.Header{}}
	h.ServeHTTP(rec, r)
	if rec.status != http.StatusMethodNotAllowed {
		s.error(w, r, lockbox.Errorf(lockbox.ENOTFOUND, "There is no %s %s in the Lockbox API.", r.Method, r.URL.Path))
		return
	}
	allow := rec.header.Get("Allow")
	w.Header().Set("Allow", allow)
	writeProblem(w, problem{Status: http.StatusMethodNotAllowed, Code: lockbox.EINVALID,
		Detail: fmt.Sprintf("%s is not allowed on %s; use %s.", r.Method, r.URL.Path, allow)})
}

// headerRecorder keeps the status and headers the mux's own 404/405
// handler would send, and discards its plain-text body.
type headerRecorder struct {
	header http.Header
	status int
}

func (h *headerRecorder) Header() http.Header { return h.header }
func (h *headerRecorder) WriteHeader(status int) {
	if h.status == 0 {
		h.status = status
	}
}
func (h *headerRecorder) Write(b []byte) (int, error) {
	h.WriteHeader(http.StatusOK)
	return len(b), nil
}

// utcSignIn is c with its time in UTC, like every time the API writes.
func utcSignIn(c *lockbox.SignInChallenge) *lockbox.SignInChallenge {
	if c == nil {
		return nil
	}
	out := *c
	out.ExpiresAt = c.ExpiresAt.UTC()
	return &out
}
