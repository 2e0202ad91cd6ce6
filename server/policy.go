package server

import (
	"net/http"

	"github.com/lockboxhq/lockbox"
)

// A tenant's policy rules in CEL (SPEC §11).

// policies is the service, or an error when the server runs without one.
func (s *Server) policies() (lockbox.PolicyService, error) {
	if s.Policies == nil {
		return nil, lockbox.Errorf(lockbox.ENOTFOUND, "Policy rules are not enabled on this server.")
	}
	return s.Policies, nil
}

func (s *Server) getPolicy(w http.ResponseWriter, r *http.Request) {
	svc, err := s.policies()
	if err != nil {
		s.error(w, r, err)
		return
	}
	p, err := svc.GetPolicy(r.Context(), r.PathValue("tenant"))
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.respond(w, r, http.StatusOK, p)
}

func (s *Server) putPolicy(w http.ResponseWriter, r *http.Request) {
	svc, err := s.policies()
	if err != nil {
		s.error(w, r, err)
		return
	}
	var in lockbox.Policy
	if err := decodeJSON(w, r, &in); err != nil {
		s.error(w, r, err)
		return
	}
	p, err := svc.PutPolicy(r.Context(), r.PathValue("tenant"), in)
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.respond(w, r, http.StatusOK, p)
}

func (s *Server) simulatePolicy(w http.ResponseWriter, r *http.Request) {
	svc, err := s.policies()
	if err != nil {
		s.error(w, r, err)
		return
	}
	var in lockbox.PolicySimulation
	if err := decodeJSON(w, r, &in); err != nil {
		s.error(w, r, err)
		return
	}
	out, err := svc.SimulatePolicy(r.Context(), r.PathValue("tenant"), in)
	if err != nil {
		s.error(w, r, err)
		return
	}
	out.Now = out.Now.UTC()
	s.respond(w, r, http.StatusOK, out)
}
