package server

import (
	"net/http"
	"time"

	"github.com/lockboxhq/lockbox"
)

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		s.error(w, r, err)
		return
	}
	sess, err := s.Accounts.Login(r.Context(), in.Email, in.Password)
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.respond(w, r, http.StatusOK, lockbox.Session{Token: sess.Token, ExpiresAt: sess.ExpiresAt.UTC(),
		PasswordChangeRequired: sess.PasswordChangeRequired, PasskeySetupRequired: sess.PasskeySetupRequired})
}

func (s *Server) me(w http.ResponseWriter, r *http.Request) {
	u, err := s.Accounts.Me(r.Context())
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.respond(w, r, http.StatusOK, utcUser(u))
}

// staffList and userList are the bodies of GET /v1/staff and
// GET /v1/tenants/{tenant}/users.
type (
	staffList struct {
		Staff []*lockbox.User `json:"staff"`
	}
	userList struct {
		Users []*lockbox.User `json:"users"`
	}
)

func (s *Server) listStaff(w http.ResponseWriter, r *http.Request) {
	staff, err := s.Accounts.ListStaff(r.Context())
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.respond(w, r, http.StatusOK, staffList{Staff: utcUsers(staff)})
}

func (s *Server) addStaff(w http.ResponseWriter, r *http.Request) {
	var in lockbox.NewUser
	if err := decodeJSON(w, r, &in); err != nil {
		s.error(w, r, err)
		return
	}
	u, err := s.Accounts.AddStaff(r.Context(), in)
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.respond(w, r, http.StatusCreated, utcUser(u))
}

func (s *Server) createServiceAccount(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name string `json:"name"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		s.error(w, r, err)
		return
	}
	sa, err := s.Accounts.CreateServiceAccount(r.Context(), in.Name)
	if err != nil {
		s.error(w, r, err)
		return
	}
	out := *sa
	out.CreatedAt = sa.CreatedAt.UTC()
	s.respond(w, r, http.StatusCreated, out)
}

func (s *Server) listTenantUsers(w http.ResponseWriter, r *http.Request) {
	users, err := s.Accounts.ListTenantUsers(r.Context(), r.PathValue("tenant"))
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.respond(w, r, http.StatusOK, userList{Users: utcUsers(users)})
}

func (s *Server) addTenantUser(w http.ResponseWriter, r *http.Request) {
	var in lockbox.NewUser
	if err := decodeJSON(w, r, &in); err != nil {
		s.error(w, r, err)
		return
	}
	u, err := s.Accounts.AddTenantUser(r.Context(), r.PathValue("tenant"), in)
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.respond(w, r, http.StatusCreated, utcUser(u))
}

func (s *Server) updateTenantUser(w http.ResponseWriter, r *http.Request) {
	var upd lockbox.UserUpdate
	if err := decodeJSON(w, r, &upd); err != nil {
		s.error(w, r, err)
		return
	}
	u, err := s.Accounts.UpdateTenantUser(r.Context(), r.PathValue("tenant"), r.PathValue("email"), upd)
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.respond(w, r, http.StatusOK, utcUser(u))
}

func (s *Server) removeTenantUser(w http.ResponseWriter, r *http.Request) {
	if err := s.Accounts.RemoveTenantUser(r.Context(), r.PathValue("tenant"), r.PathValue("email")); err != nil {
		s.error(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if err := s.Accounts.Logout(r.Context()); err != nil {
		s.error(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) changePassword(w http.ResponseWriter, r *http.Request) {
	var in lockbox.PasswordChange
	if err := decodeJSON(w, r, &in); err != nil {
		s.error(w, r, err)
		return
	}
	if err := s.Accounts.ChangePassword(r.Context(), in); err != nil {
		s.error(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// tokenList is the body of GET /v1/me/tokens.
type tokenList struct {
	Tokens []*lockbox.TokenInfo `json:"tokens"`
}

func (s *Server) listMyTokens(w http.ResponseWriter, r *http.Request) {
	tokens, err := s.Accounts.ListMyTokens(r.Context())
	if err != nil {
		s.error(w, r, err)
		return
	}
	out := tokenList{Tokens: make([]*lockbox.TokenInfo, 0, len(tokens))}
	for _, t := range tokens {
		c := *t
		c.CreatedAt = t.CreatedAt.UTC()
		c.LastUsedAt, c.ExpiresAt = utcPtr(t.LastUsedAt), utcPtr(t.ExpiresAt)
		out.Tokens = append(out.Tokens, &c)
	}
	s.respond(w, r, http.StatusOK, out)
}

func (s *Server) revokeMyToken(w http.ResponseWriter, r *http.Request) {
	if err := s.Accounts.RevokeMyToken(r.Context(), r.PathValue("id")); err != nil {
		s.error(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) resetTenantUserPassword(w http.ResponseWriter, r *http.Request) {
	otp, err := s.Accounts.ResetTenantUserPassword(r.Context(), r.PathValue("tenant"), r.PathValue("email"))
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.respond(w, r, http.StatusOK, otp)
}

func (s *Server) resetStaffPassword(w http.ResponseWriter, r *http.Request) {
	otp, err := s.Accounts.ResetStaffPassword(r.Context(), r.PathValue("email"))
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.respond(w, r, http.StatusOK, otp)
}

func (s *Server) updateStaff(w http.ResponseWriter, r *http.Request) {
	var upd lockbox.StaffUpdate
	if err := decodeJSON(w, r, &upd); err != nil {
		s.error(w, r, err)
		return
	}
	u, err := s.Accounts.UpdateStaff(r.Context(), r.PathValue("email"), upd)
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.respond(w, r, http.StatusOK, utcUser(u))
}

func (s *Server) removeStaff(w http.ResponseWriter, r *http.Request) {
	if err := s.Accounts.RemoveStaff(r.Context(), r.PathValue("email")); err != nil {
		s.error(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// serviceAccountList is the body of GET /v1/service-accounts.
type serviceAccountList struct {
	ServiceAccounts []*lockbox.ServiceAccount `json:"service_accounts"`
}

func (s *Server) listServiceAccounts(w http.ResponseWriter, r *http.Request) {
	sas, err := s.Accounts.ListServiceAccounts(r.Context())
	if err != nil {
		s.error(w, r, err)
		return
	}
	out := serviceAccountList{ServiceAccounts: make([]*lockbox.ServiceAccount, 0, len(sas))}
	for _, sa := range sas {
		c := *sa
		c.CreatedAt = sa.CreatedAt.UTC()
		out.ServiceAccounts = append(out.ServiceAccounts, &c)
	}
	s.respond(w, r, http.StatusOK, out)
}

func (s *Server) revokeServiceAccount(w http.ResponseWriter, r *http.Request) {
	if err := s.Accounts.RevokeServiceAccount(r.Context(), r.PathValue("name")); err != nil {
		s.error(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// decodeGrace reads a rotation's body, {"grace": "10m"}: how long the old
// credential keeps working. An empty body, or no grace, means none: the
// old one stops at once.
func decodeGrace(w http.ResponseWriter, r *http.Request) (time.Duration, error) {
	var in struct {
		Grace string `json:"grace"`
	}
	if r.ContentLength != 0 {
		if err := decodeJSON(w, r, &in); err != nil {
			return 0, err
		}
	}
	return lockbox.ParseGrace(in.Grace)
}

func (s *Server) rotateServiceAccount(w http.ResponseWriter, r *http.Request) {
	grace, err := decodeGrace(w, r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	sa, err := s.Accounts.RotateServiceAccount(r.Context(), r.PathValue("name"), grace)
	if err != nil {
		s.error(w, r, err)
		return
	}
	out := *sa
	out.CreatedAt = sa.CreatedAt.UTC()
	s.respond(w, r, http.StatusOK, out)
}
