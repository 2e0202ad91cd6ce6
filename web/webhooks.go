package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/lockboxhq/lockbox"
)

// webhooksData is a tenant's "Webhooks" page: the endpoints, the form that
// adds one, and a signing secret just made by adding or rotating, shown
// on that response only (it is stored sealed and never listed).
type webhooksData struct {
	Tenant   string
	Webhooks []*lockbox.Webhook
	Events   []string
	Form     webhookForm
	Created  *lockbox.Webhook
	Rotated  *lockbox.Webhook
}

type webhookForm struct {
	URL         string
	Description string
	Events      []string
	Error       string
	Errors      fieldErrors
}

// webhookData is an endpoint's form page: the one that changes it, and
// those that ask before it is deleted (its undelivered deliveries go with
// it) or its secret rotated (a receiver not given the new one refuses
// deliveries once the grace ends).
type webhookData struct {
	Webhook *lockbox.Webhook
	Action  string // "edit", "delete" or "rotate"
	Grace   string
	Error   string
	Errors  fieldErrors
	// Form and Events are the edit form's.
	Form   webhookForm
	Events []string
}

// webhookPath is the path of an endpoint's action.
func webhookPath(id, action string) string {
	return "/webhooks/" + url.PathEscape(id) + "/" + action
}

// resendPath is the path that sends delivery of endpoint id again.
func resendPath(id, delivery string) string {
	return webhookPath(id, "deliveries") + "/" + url.PathEscape(delivery) + "/resend"
}

// webhookService is the configured service, or a 404 page when the server
// has none.
func (h *Handler) webhookService(w http.ResponseWriter, r *http.Request) (lockbox.WebhookService, bool) {
	if h.cfg.Webhooks == nil {
		h.errorPage(w, r, http.StatusNotFound, "Webhooks are not enabled on this server.")
		return nil, false
	}
	return h.cfg.Webhooks, true
}

func (h *Handler) webhooksPage(w http.ResponseWriter, r *http.Request) {
	h.renderWebhooks(w, r, http.StatusOK, &webhooksData{})
}

// renderWebhooks lists the signed-in user's tenant's endpoints; the
// service authorizes the listing, so the page is refused to whoever may
// not manage them.
func (h *Handler) renderWebhooks(w http.ResponseWriter, r *http.Request, status int, d *webhooksData) {
	svc, ok := h.webhookService(w, r)
	if !ok {
		return
	}
	u := lockbox.UserFromContext(r.Context())
	hooks, err := svc.ListWebhooks(r.Context(), u.Tenant)
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	d.Tenant, d.Webhooks, d.Events = u.Tenant, hooks, lockbox.WebhookEvents
	h.render(w, r, status, "webhooks", "Webhooks", d)
}

// readWebhookForm reads the webhook fields of a parsed form.
func readWebhookForm(r *http.Request) webhookForm {
	return webhookForm{URL: strings.TrimSpace(r.PostForm.Get("url")), Description: strings.TrimSpace(r.PostForm.Get("description")),
		Events: r.PostForm["event"]}
}

// createWebhook adds an endpoint. No event checked means every event, as
// leaving events out does in the API.
func (h *Handler) createWebhook(w http.ResponseWriter, r *http.Request) {
	svc, ok := h.webhookService(w, r)
	if !ok {
		return
	}
	if err := r.ParseForm(); err != nil {
		h.errorPage(w, r, http.StatusBadRequest, "The form could not be read.")
		return
	}
	f := readWebhookForm(r)
	u := lockbox.UserFromContext(r.Context())
	created, err := svc.CreateWebhook(r.Context(), u.Tenant, lockbox.NewWebhook{URL: f.URL, Events: f.Events, Description: f.Description})
	switch lockbox.ErrorCode(err) {
	case "":
		h.renderWebhooks(w, r, http.StatusOK, &webhooksData{Created: created})
	case lockbox.EINVALID:
		f.Errors = fieldErrors{}
		f.Error = f.Errors.add(err)
		h.renderWebhooks(w, r, statusOf(err), &webhooksData{Form: f})
	default:
		h.serviceError(w, r, err)
	}
}

// webhookDeliveriesData is an endpoint's "Deliveries" page.
type webhookDeliveriesData struct {
	Webhook    *lockbox.Webhook
	Deliveries []*lockbox.WebhookDelivery
	Max        int
}

// webhookPage serves an endpoint's pages: its deliveries, the form that
// changes it, and the pages that ask before a deletion or a rotation.
func (h *Handler) webhookPage(w http.ResponseWriter, r *http.Request) {
	switch action := r.PathValue("action"); action {
	case "deliveries":
		h.webhookDeliveriesPage(w, r)
	case "delete", "rotate", "edit":
		h.renderWebhookConfirm(w, r, http.StatusOK, &webhookData{Action: action, Grace: "24h"})
	default:
		h.notFoundPage(w, r)
	}
}

func (h *Handler) webhookDeliveriesPage(w http.ResponseWriter, r *http.Request) {
	svc, hook, ok := h.findWebhook(w, r)
	if !ok {
		return
	}
	u := lockbox.UserFromContext(r.Context())
	deliveries, err := svc.ListWebhookDeliveries(r.Context(), u.Tenant, hook.ID)
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	d := &webhookDeliveriesData{Webhook: hook, Deliveries: deliveries, Max: lockbox.MaxWebhookDeliveries}
	h.render(w, r, http.StatusOK, "webhookdeliveries", "Webhook deliveries", d)
}

func (h *Handler) renderWebhookConfirm(w http.ResponseWriter, r *http.Request, status int, d *webhookData) {
	_, hook, ok := h.findWebhook(w, r)
	if !ok {
		return
	}
	d.Webhook = hook
	title := "Delete a webhook"
	switch d.Action {
	case "rotate":
		title = "Rotate a webhook's signing secret"
	case "edit":
		title = "Change a webhook"
		if d.Form.Errors == nil { // first shown: the endpoint as it is
			d.Form = webhookForm{URL: hook.URL, Description: hook.Description, Events: hook.Events}
		}
		d.Events = lockbox.WebhookEvents
	}
	h.render(w, r, status, "webhook", title, d)
}

// findWebhook is the service and the signed-in user's tenant's endpoint
// named by the path, or an error page: not found, or the service's
// refusal.
func (h *Handler) findWebhook(w http.ResponseWriter, r *http.Request) (lockbox.WebhookService, *lockbox.Webhook, bool) {
	svc, ok := h.webhookService(w, r)
	if !ok {
		return nil, nil, false
	}
	u := lockbox.UserFromContext(r.Context())
	hooks, err := svc.ListWebhooks(r.Context(), u.Tenant)
	if err != nil {
		h.serviceError(w, r, err)
		return nil, nil, false
	}
	id := r.PathValue("id")
	for _, hook := range hooks {
		if hook.ID == id {
			return svc, hook, true
		}
	}
	h.errorPage(w, r, http.StatusNotFound, "There is no webhook "+id+".")
	return nil, nil, false
}

// resendWebhookDelivery sends a finished delivery again; it then shows as
// pending among the deliveries.
func (h *Handler) resendWebhookDelivery(w http.ResponseWriter, r *http.Request) {
	h.deliveriesAction(w, r, "resent", func(svc lockbox.WebhookService, tenant, id string) error {
		_, err := svc.ResendWebhookDelivery(r.Context(), tenant, id, r.PathValue("delivery"))
		return err
	})
}

// sendWebhookTest queues a test delivery; it then shows among the
// deliveries.
func (h *Handler) sendWebhookTest(w http.ResponseWriter, r *http.Request) {
	h.deliveriesAction(w, r, "test_sent", func(svc lockbox.WebhookService, tenant, id string) error {
		_, err := svc.SendWebhookTest(r.Context(), tenant, id)
		return err
	})
}

// deliveriesAction runs do on the signed-in user's tenant's endpoint named
// by the path, then comes back to its deliveries with the notice done.
func (h *Handler) deliveriesAction(w http.ResponseWriter, r *http.Request, done string,
	do func(svc lockbox.WebhookService, tenant, id string) error) {
	svc, ok := h.webhookService(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	if err := do(svc, lockbox.UserFromContext(r.Context()).Tenant, id); err != nil {
		h.serviceError(w, r, err)
		return
	}
	http.Redirect(w, r, webhookPath(id, "deliveries")+"?done="+done, http.StatusSeeOther)
}

// webhookAction changes or deletes an endpoint, or rotates its signing
// secret.
func (h *Handler) webhookAction(w http.ResponseWriter, r *http.Request) {
	svc, ok := h.webhookService(w, r)
	if !ok {
		return
	}
	u := lockbox.UserFromContext(r.Context())
	id := r.PathValue("id")
	switch r.PathValue("action") {
	case "edit":
		if err := r.ParseForm(); err != nil {
			h.errorPage(w, r, http.StatusBadRequest, "The form could not be read.")
			return
		}
		f := readWebhookForm(r)
		// No event checked (nil) means every event, as when adding one.
		_, err := svc.UpdateWebhook(r.Context(), u.Tenant, id, lockbox.WebhookUpdate{URL: &f.URL, Events: &f.Events, Description: &f.Description})
		switch lockbox.ErrorCode(err) {
		case "":
			http.Redirect(w, r, "/webhooks?done=webhook_updated", http.StatusSeeOther)
		case lockbox.EINVALID:
			f.Errors = fieldErrors{}
			f.Error = f.Errors.add(err)
			h.renderWebhookConfirm(w, r, statusOf(err), &webhookData{Action: "edit", Form: f})
		default:
			h.serviceError(w, r, err)
		}
	case "delete":
		if err := svc.DeleteWebhook(r.Context(), u.Tenant, id); err != nil {
			h.serviceError(w, r, err)
			return
		}
		http.Redirect(w, r, "/webhooks?done=webhook_deleted", http.StatusSeeOther)
	case "rotate":
		if err := r.ParseForm(); err != nil {
			h.errorPage(w, r, http.StatusBadRequest, "The form could not be read.")
			return
		}
		d := &webhookData{Action: "rotate", Grace: strings.TrimSpace(r.PostForm.Get("grace"))}
		grace, err := lockbox.ParseGrace(d.Grace)
		var rotated *lockbox.Webhook
		if err == nil {
			rotated, err = svc.RotateWebhookSecret(r.Context(), u.Tenant, id, grace)
		}
		switch lockbox.ErrorCode(err) {
		case "":
			h.renderWebhooks(w, r, http.StatusOK, &webhooksData{Rotated: rotated})
		case lockbox.EINVALID:
			d.Errors = fieldErrors{}
			d.Error = d.Errors.add(err)
			h.renderWebhookConfirm(w, r, statusOf(err), d)
		default:
			h.serviceError(w, r, err)
		}
	default:
		h.notFoundPage(w, r)
	}
}
