package server

import (
	"net/http"

	"github.com/lockboxhq/lockbox"
)

// serviceList is the body of GET /v1/services.
type serviceList struct {
	Services []*lockbox.Service `json:"services"`
}

func (s *Server) listServices(w http.ResponseWriter, r *http.Request) {
	services, err := s.Catalog.ListServices(r.Context())
	if err != nil {
		s.error(w, r, err)
		return
	}
	out := serviceList{Services: make([]*lockbox.Service, len(services))}
	for i, svc := range services {
		out.Services[i] = utcService(svc)
	}
	s.respond(w, r, http.StatusOK, out)
}

func (s *Server) getService(w http.ResponseWriter, r *http.Request) {
	svc, err := s.Catalog.GetService(r.Context(), r.PathValue("service"))
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.respond(w, r, http.StatusOK, utcService(svc))
}

// putService creates or replaces a service; its name comes from the path.
func (s *Server) putService(w http.ResponseWriter, r *http.Request) {
	var in struct {
		DisplayName string   `json:"display_name"`
		Operations  []string `json:"operations"`
	}
	if err := decodeJSON(w, r, &in); err != nil {
		s.error(w, r, err)
		return
	}
	svc, err := s.Catalog.PutService(r.Context(), &lockbox.Service{
		Name:        r.PathValue("service"),
		DisplayName: in.DisplayName,
		Operations:  in.Operations,
	})
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.respond(w, r, http.StatusOK, utcService(svc))
}
