package server

import (
	"net/http"

	"github.com/lockboxhq/lockbox"
)

func (s *Server) createTenant(w http.ResponseWriter, r *http.Request) {
	var in lockbox.NewTenant
	if err := decodeJSON(w, r, &in); err != nil {
		s.error(w, r, err)
		return
	}
	created, err := s.Tenants.CreateTenant(r.Context(), in)
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.respond(w, r, http.StatusCreated, lockbox.TenantCreated{
		Tenant: utcTenant(created.Tenant),
		Admin:  utcUser(created.Admin),
	})
}

// tenantList is the body of GET /v1/tenants.
type tenantList struct {
	Tenants []*lockbox.Tenant `json:"tenants"`
}

func (s *Server) listTenants(w http.ResponseWriter, r *http.Request) {
	tenants, err := s.Tenants.ListTenants(r.Context())
	if err != nil {
		s.error(w, r, err)
		return
	}
	out := tenantList{Tenants: make([]*lockbox.Tenant, len(tenants))}
	for i, t := range tenants {
		out.Tenants[i] = utcTenant(t)
	}
	s.respond(w, r, http.StatusOK, out)
}

func (s *Server) getSettings(w http.ResponseWriter, r *http.Request) {
	settings, err := s.Tenants.GetSettings(r.Context(), r.PathValue("tenant"))
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.respond(w, r, http.StatusOK, settingsOut(settings))
}

func (s *Server) updateSettings(w http.ResponseWriter, r *http.Request) {
	var p lockbox.SettingsPatch
	if err := decodeJSON(w, r, &p); err != nil {
		s.error(w, r, err)
		return
	}
	settings, err := s.Tenants.UpdateSettings(r.Context(), r.PathValue("tenant"), p)
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.respond(w, r, http.StatusOK, settingsOut(settings))
}

// settingsOut serves notify_emails as [] rather than null.
func settingsOut(s *lockbox.Settings) lockbox.Settings {
	out := *s
	if out.NotifyEmails == nil {
		out.NotifyEmails = []string{}
	}
	return out
}
