package server

import (
	"net/http"

	"github.com/lockboxhq/lockbox"
)

// Single sign-on (SPEC §10.2): the loopback flow of `lockbox login --sso`
// and each tenant's IdP configuration. The browser's redirect dance
// (/auth/sso, /auth/callback) is the admin center's (web/sso.go).

func (s *Server) sso() (lockbox.SSOService, error) {
	if s.SSO == nil {
		return nil, lockbox.Errorf(lockbox.ENOTFOUND, "Single sign-on is not enabled on this server.")
	}
	return s.SSO, nil
}

// ssoStartIn is the body of POST /v1/auth/sso/start.
type ssoStartIn struct {
	Email         string `json:"email"`
	RedirectURI   string `json:"redirect_uri"`
	State         string `json:"state"`
	CodeChallenge string `json:"code_challenge"`
}

// ssoStart begins a CLI sign-in: the CLI opens the returned URL in a
// browser; the IdP comes back to /auth/callback, which sends the browser
// to the CLI's loopback redirect with a one-time code.
func (s *Server) ssoStart(w http.ResponseWriter, r *http.Request) {
	svc, err := s.sso()
	if err != nil {
		s.error(w, r, err)
		return
	}
	var in ssoStartIn
	if err := decodeJSON(w, r, &in); err != nil {
		s.error(w, r, err)
		return
	}
	if in.RedirectURI == "" {
		s.error(w, r, lockbox.FieldErrorf(lockbox.EINVALID, "redirect_uri", "redirect_uri is required: the CLI's loopback address, like http://127.0.0.1:PORT/callback."))
		return
	}
	u, err := svc.StartSSO(r.Context(), lockbox.SSOStart{Email: in.Email, CLIRedirect: in.RedirectURI,
		CLIState: in.State, CLIChallenge: in.CodeChallenge})
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.respond(w, r, http.StatusOK, map[string]string{"authorization_url": u})
}

// ssoToken trades the one-time code the loopback received, and the PKCE
// verifier only the CLI knows, for a bearer token.
func (s *Server) ssoToken(w http.ResponseWriter, r *http.Request) {
	svc, err := s.sso()
	if err != nil {
		s.error(w, r, err)
		return
	}
	var in struct {
		Code         string `json:"code"`
		CodeVerifier string `json:"code_verifier"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		s.error(w, r, err)
		return
	}
	sess, err := svc.RedeemCLICode(r.Context(), in.Code, in.CodeVerifier)
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.respond(w, r, http.StatusOK, lockbox.Session{Token: sess.Token, ExpiresAt: sess.ExpiresAt.UTC(), PasswordChangeRequired: sess.PasswordChangeRequired})
}

func (s *Server) getTenantSSO(w http.ResponseWriter, r *http.Request) {
	svc, err := s.sso()
	if err != nil {
		s.error(w, r, err)
		return
	}
	c, err := svc.GetTenantSSO(r.Context(), r.PathValue("tenant"))
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.respond(w, r, http.StatusOK, utcSSO(c))
}

func (s *Server) putTenantSSO(w http.ResponseWriter, r *http.Request) {
	svc, err := s.sso()
	if err != nil {
		s.error(w, r, err)
		return
	}
	var in lockbox.TenantSSOInput
	if err := decodeJSON(w, r, &in); err != nil {
		s.error(w, r, err)
		return
	}
	c, err := svc.PutTenantSSO(r.Context(), r.PathValue("tenant"), in)
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.respond(w, r, http.StatusOK, utcSSO(c))
}

func (s *Server) deleteTenantSSO(w http.ResponseWriter, r *http.Request) {
	svc, err := s.sso()
	if err != nil {
		s.error(w, r, err)
		return
	}
	if err := svc.DeleteTenantSSO(r.Context(), r.PathValue("tenant")); err != nil {
		s.error(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func utcSSO(c *lockbox.TenantSSO) *lockbox.TenantSSO {
	out := *c
	out.ClientSecret = "" // never serialized anyway (json:"-")
	out.UpdatedAt = c.UpdatedAt.UTC()
	if out.AllowedDomains == nil {
		out.AllowedDomains = []string{}
	}
	return &out
}
