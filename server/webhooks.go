package server

import (
	"net/http"

	"github.com/lockboxhq/lockbox"
)

// webhookList is the body of GET /v1/tenants/{tenant}/webhooks.
type webhookList struct {
	Webhooks []*lockbox.Webhook `json:"webhooks"`
}

// webhooks is the service, or an error when the server runs without one.
func (s *Server) webhooks() (lockbox.WebhookService, error) {
	if s.Webhooks == nil {
		return nil, lockbox.Errorf(lockbox.ENOTFOUND, "Webhooks are not enabled on this server.")
	}
	return s.Webhooks, nil
}

func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request) {
	svc, err := s.webhooks()
	if err != nil {
		s.error(w, r, err)
		return
	}
	var in lockbox.NewWebhook
	if err := decodeJSON(w, r, &in); err != nil {
		s.error(w, r, err)
		return
	}
	created, err := svc.CreateWebhook(r.Context(), r.PathValue("tenant"), in)
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.respond(w, r, http.StatusCreated, utcWebhook(created))
}

func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request) {
	svc, err := s.webhooks()
	if err != nil {
		s.error(w, r, err)
		return
	}
	hooks, err := svc.ListWebhooks(r.Context(), r.PathValue("tenant"))
	if err != nil {
		s.error(w, r, err)
		return
	}
	out := webhookList{Webhooks: make([]*lockbox.Webhook, len(hooks))}
	for i, h := range hooks {
		out.Webhooks[i] = utcWebhook(h)
		out.Webhooks[i].Secret = "" // shown once, at creation
	}
	s.respond(w, r, http.StatusOK, out)
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request) {
	svc, err := s.webhooks()
	if err != nil {
		s.error(w, r, err)
		return
	}
	if err := svc.DeleteWebhook(r.Context(), r.PathValue("tenant"), r.PathValue("id")); err != nil {
		s.error(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) updateWebhook(w http.ResponseWriter, r *http.Request) {
	svc, err := s.webhooks()
	if err != nil {
		s.error(w, r, err)
		return
	}
	var in lockbox.WebhookUpdate
	if err := decodeJSON(w, r, &in); err != nil {
		s.error(w, r, err)
		return
	}
	updated, err := svc.UpdateWebhook(r.Context(), r.PathValue("tenant"), r.PathValue("id"), in)
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.respond(w, r, http.StatusOK, utcWebhook(updated))
}

func (s *Server) rotateWebhookSecret(w http.ResponseWriter, r *http.Request) {
	svc, err := s.webhooks()
	if err != nil {
		s.error(w, r, err)
		return
	}
	grace, err := decodeGrace(w, r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	rotated, err := svc.RotateWebhookSecret(r.Context(), r.PathValue("tenant"), r.PathValue("id"), grace)
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.respond(w, r, http.StatusOK, utcWebhook(rotated))
}

// deliveryList is the body of GET /v1/tenants/{tenant}/webhooks/{id}/deliveries.
type deliveryList struct {
	Deliveries []*lockbox.WebhookDelivery `json:"deliveries"`
}

func (s *Server) listWebhookDeliveries(w http.ResponseWriter, r *http.Request) {
	svc, err := s.webhooks()
	if err != nil {
		s.error(w, r, err)
		return
	}
	list, err := svc.ListWebhookDeliveries(r.Context(), r.PathValue("tenant"), r.PathValue("id"))
	if err != nil {
		s.error(w, r, err)
		return
	}
	out := deliveryList{Deliveries: make([]*lockbox.WebhookDelivery, len(list))}
	for i, d := range list {
		out.Deliveries[i] = utcDelivery(d)
	}
	s.respond(w, r, http.StatusOK, out)
}

func (s *Server) resendWebhookDelivery(w http.ResponseWriter, r *http.Request) {
	svc, err := s.webhooks()
	if err != nil {
		s.error(w, r, err)
		return
	}
	d, err := svc.ResendWebhookDelivery(r.Context(), r.PathValue("tenant"), r.PathValue("id"), r.PathValue("delivery"))
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.respond(w, r, http.StatusOK, utcDelivery(d))
}

func (s *Server) sendWebhookTest(w http.ResponseWriter, r *http.Request) {
	svc, err := s.webhooks()
	if err != nil {
		s.error(w, r, err)
		return
	}
	d, err := svc.SendWebhookTest(r.Context(), r.PathValue("tenant"), r.PathValue("id"))
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.respond(w, r, http.StatusOK, utcDelivery(d))
}

func utcDelivery(d *lockbox.WebhookDelivery) *lockbox.WebhookDelivery {
	c := *d
	c.Created = d.Created.UTC()
	c.NextAttemptAt, c.FinishedAt, c.ResentAt = utcPtr(d.NextAttemptAt), utcPtr(d.FinishedAt), utcPtr(d.ResentAt)
	return &c
}

func utcWebhook(h *lockbox.Webhook) *lockbox.Webhook {
	c := *h
	c.CreatedAt = h.CreatedAt.UTC()
	c.PreviousSecretExpiresAt, c.WaitingSince = utcPtr(h.PreviousSecretExpiresAt), utcPtr(h.WaitingSince)
	if c.Events == nil {
		c.Events = []string{}
	}
	return &c
}
