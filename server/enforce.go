package server

import (
	"net/http"
	"time"

	"github.com/lockboxhq/lockbox"
)

// Enforcement routes (SPEC §6): grant tokens for operators, the JWKS for
// anyone verifying them, and the online check and action record for
// data-plane services. Every rule lives in the EnforcementService.

// grantResponse is the body of POST /v1/requests/{id}/token.
type grantResponse struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
	RequestID string    `json:"request_id"`
	KID       string    `json:"kid"`
}

// decisionResponse is the body of the check and action routes. The request
// fields are null when the token named no request that could be trusted.
type decisionResponse struct {
	Allowed      bool       `json:"allowed"`
	Reason       string     `json:"reason"`
	RequestID    *string    `json:"request_id"`
	AccessEndsAt *time.Time `json:"access_ends_at"`
}

func (s *Server) issueGrant(w http.ResponseWriter, r *http.Request) {
	if err := s.enforcementConfigured(); err != nil {
		s.error(w, r, err)
		return
	}
	// The body, if any, must be an empty object: nothing to choose.
	var body struct{}
	if err := decodeOptionalJSON(w, r, &body); err != nil {
		s.error(w, r, err)
		return
	}
	g, err := s.Enforcement.IssueGrant(r.Context(), r.PathValue("id"))
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.respond(w, r, http.StatusOK, grantResponse{Token: g.Token, ExpiresAt: g.ExpiresAt.UTC(),
		RequestID: g.RequestID, KID: g.KID})
}

func (s *Server) checkAccess(w http.ResponseWriter, r *http.Request) {
	s.serveCheck(w, r, false)
}

func (s *Server) recordOperatorAction(w http.ResponseWriter, r *http.Request) {
	s.serveCheck(w, r, true)
}

// serveCheck decodes a check, asks the service and writes its decision. A
// refusal is 200 with "allowed": false; errors are for bad calls.
func (s *Server) serveCheck(w http.ResponseWriter, r *http.Request, record bool) {
	if err := s.enforcementConfigured(); err != nil {
		s.error(w, r, err)
		return
	}
	var in lockbox.AccessCheck
	if err := withBody(w, r, false, func(b []byte) error { return decodeAccessCheck(b, &in) }); err != nil {
		s.error(w, r, err)
		return
	}
	if !record && in.ClientIP != "" {
		s.error(w, r, lockbox.Errorf(lockbox.EINVALID, "Unknown field \"client_ip\" in the request body: only /v1/operator-actions records it."))
		return
	}
	var (
		d   *lockbox.AccessDecision
		err error
	)
	if record {
		d, err = s.Enforcement.RecordOperatorAction(r.Context(), in)
	} else {
		d, err = s.Enforcement.CheckAccess(r.Context(), in)
	}
	if err != nil {
		s.error(w, r, err)
		return
	}
	out := decisionResponse{Allowed: d.Allowed, Reason: d.Reason, AccessEndsAt: utcPtr(d.AccessEndsAt)}
	if d.RequestID != "" {
		out.RequestID = &d.RequestID
	}
	s.respondDecision(w, r, out)
}

// jwks serves the published grant keys. Verifiers may cache it briefly;
// they fetch again when a token names a kid they do not know.
func (s *Server) jwks(w http.ResponseWriter, r *http.Request) {
	if s.JWKS == nil {
		s.error(w, r, lockbox.Errorf(lockbox.EUNAVAILABLE, "Grant tokens are not configured on this server."))
		return
	}
	b, err := s.JWKS(r.Context())
	if err != nil {
		s.error(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=60")
	_, _ = w.Write(b)
}

func (s *Server) enforcementConfigured() error {
	if s.Enforcement == nil {
		return lockbox.Errorf(lockbox.EUNAVAILABLE, "Grant tokens are not configured on this server.")
	}
	return nil
}
