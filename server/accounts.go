package server

import (
	"net/http"

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
	s.respond(w, r, http.StatusOK, lockbox.Session{Token: sess.Token, ExpiresAt: sess.ExpiresAt.UTC()})
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
