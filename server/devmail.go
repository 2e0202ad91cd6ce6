package server

import (
	"net/http"
	"strings"

	"github.com/lockboxhq/lockbox"
)

// devMailList is the body of GET /v1/dev/mail.
type devMailList struct {
	Messages []*lockbox.DevMail `json:"messages"`
}

// listDevMail serves the mail a --dev server captured, newest first.
func (s *Server) listDevMail(w http.ResponseWriter, r *http.Request) {
	out := devMailList{Messages: []*lockbox.DevMail{}}
	if s.DevMail != nil {
		msgs, err := s.DevMail.ListMail(r.Context())
		if err != nil {
			s.error(w, r, err)
			return
		}
		out.Messages = append(out.Messages, msgs...)
	}
	s.respond(w, r, http.StatusOK, out)
}

// devMailFile serves one captured message as an .eml file: GET
// /v1/dev/mail/{id}.eml (a ServeMux wildcard is a whole path segment, so
// the extension is checked here).
func (s *Server) devMailFile(w http.ResponseWriter, r *http.Request) {
	id, ok := strings.CutSuffix(r.PathValue("file"), ".eml")
	if !ok || s.DevMail == nil {
		s.error(w, r, lockbox.Errorf(lockbox.ENOTFOUND, "No captured mail at this path; use /v1/dev/mail/{id}.eml."))
		return
	}
	eml, err := s.DevMail.MailEML(r.Context(), id)
	if err != nil {
		s.error(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "message/rfc822")
	w.Header().Set("Content-Disposition", `attachment; filename="`+safeFilename(id)+`.eml"`)
	_, _ = w.Write(eml)
}

// safeFilename keeps the characters of an outbox id; anything else would
// need quoting in a header.
func safeFilename(id string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '_'
	}, id)
}

// metrics serves the Prometheus metrics (GET /metrics), public like
// /healthz so that a scraper needs no token; bind the server where only
// your monitoring reaches it if the counts are sensitive to you.
func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	if s.Metrics == nil {
		s.error(w, r, lockbox.Errorf(lockbox.ENOTFOUND, "Metrics are not enabled on this server."))
		return
	}
	s.Metrics.ServeHTTP(w, r)
}
