package server

import (
	"context"
	_ "embed"
	"encoding/json"
	"net/http"
	"time"

	"github.com/lockboxhq/lockbox"
)

// openAPIDocument is the hand-written OpenAPI 3.0.3 description of every
// route; tests check it against the routes table and the real responses.
//
//go:embed openapi.json
var openAPIDocument []byte

// OpenAPI returns the OpenAPI document of the API, dev routes included.
func OpenAPI() []byte { return append([]byte(nil), openAPIDocument...) }

// readyTimeout bounds a readiness probe, so a stuck database answers 503
// before the load balancer gives up on the probe.
const readyTimeout = 5 * time.Second

type healthStatus struct {
	Status string `json:"status"`
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	s.respond(w, r, http.StatusOK, healthStatus{Status: "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		if err := s.Ready(ctx); err != nil {
			s.logger().WarnContext(r.Context(), "not ready", "err", err)
			s.error(w, r, lockbox.Errorf(lockbox.EUNAVAILABLE, "Lockbox is not ready to serve: %s", notReadyReason(err)))
			return
		}
	}
	s.respond(w, r, http.StatusOK, healthStatus{Status: "ok"})
}

// notReadyReason is the message of a *lockbox.Error, and nothing of an
// internal error, whose text may describe the infrastructure.
func notReadyReason(err error) string {
	if lockbox.ErrorCode(err) == lockbox.EINTERNAL {
		return "its database does not answer."
	}
	return lockbox.ErrorMessage(err)
}

func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(s.openAPIDoc())
}

// openAPIDoc is the document without the dev paths when they are not served,
// so the document describes exactly what this server answers.
func (s *Server) openAPIDoc() []byte {
	if s.DevClock != nil {
		return openAPIDocument
	}
	var doc map[string]any
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		return openAPIDocument // a test catches an unparsable document
	}
	paths, _ := doc["paths"].(map[string]any)
	for _, rt := range s.routes() {
		if rt.dev {
			delete(paths, rt.Pattern)
		}
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return openAPIDocument
	}
	return b
}
