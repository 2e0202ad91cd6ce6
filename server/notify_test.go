package server_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
	"github.com/lockboxhq/lockbox/mail"
	"github.com/lockboxhq/lockbox/outbox"
	"github.com/lockboxhq/lockbox/server"
	"github.com/lockboxhq/lockbox/sqlite"
)

func init() {
	// The .eml route answers message/rfc822, which the validator reads as
	// an opaque file.
	openapi3filter.RegisterBodyDecoder("message/rfc822", openapi3filter.FileBodyDecoder)
}

// testNotify wires the notification routes of the real server: webhooks on
// the workflow service, a dev mailbox filled by a real delivery worker, and
// the Prometheus metrics.
type testNotify struct {
	worker *outbox.Worker
	mail   *mail.DevMailbox
	store  *sqlite.Store
}

// notifyBySvc finds the notification wiring of a test server by its service.
var notifyBySvc sync.Map // *approval.Service → *testNotify

func newTestNotify(tb testing.TB, s *server.Server, svc *approval.Service, store *sqlite.Store, clock lockbox.Clock) *testNotify {
	tb.Helper()
	box := mail.NewDevMailbox(100)
	sender, err := mail.NewSender("Lockbox <lockbox@provider.test>", nil, box)
	if err != nil {
		tb.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	w := outbox.New(store, clock, map[string]outbox.Deliverer{lockbox.ChannelEmail: sender},
		outbox.Options{Metrics: outbox.NewMetrics(reg, store, clock)})
	s.Webhooks, s.DevMail = svc, box
	s.Metrics = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	n := &testNotify{worker: w, mail: box, store: store}
	notifyBySvc.Store(svc, n)
	tb.Cleanup(func() { notifyBySvc.Delete(svc) })
	return n
}

// The authorization matrix (authz_test.go) of the notification routes.
func init() {
	tenantApproversOnly := func(p principal, t string) outcome { return tenantRole(p, t, tenantApprovers...) }
	for key, r := range map[string]rule{
		"GET /metrics":                                                         anyone,
		"GET /v1/dev/mail":                                                     anyone,
		"GET /v1/dev/mail/{file}":                                              anyone,
		"POST /v1/tenants/{tenant}/webhooks":                                   tenantApproversOnly,
		"GET /v1/tenants/{tenant}/webhooks":                                    tenantApproversOnly,
		"DELETE /v1/tenants/{tenant}/webhooks/{id}":                            tenantApproversOnly,
		"PATCH /v1/tenants/{tenant}/webhooks/{id}":                             tenantApproversOnly,
		"POST /v1/tenants/{tenant}/webhooks/{id}/rotate-secret":                tenantApproversOnly,
		"GET /v1/tenants/{tenant}/webhooks/{id}/deliveries":                    tenantApproversOnly,
		"POST /v1/tenants/{tenant}/webhooks/{id}/deliveries/{delivery}/resend": tenantApproversOnly,
		"POST /v1/tenants/{tenant}/webhooks/{id}/test":                         tenantApproversOnly,
	} {
		expectations[key] = r
	}
}

// notifyBody is a valid body for the notification routes, nil for others.
func notifyBody(route server.Route) any {
	switch route.Method + " " + route.Pattern {
	case "POST /v1/tenants/{tenant}/webhooks":
		return map[string]any{"url": "https://hooks.example.com/lockbox"}
	case "PATCH /v1/tenants/{tenant}/webhooks/{id}":
		return map[string]any{"description": "changed"}
	}
	return nil
}

// notifyFixture makes what a notification route acts on: a webhook of
// target (after clearing the tenant's others, which are capped at 10), or
// a captured email.
func (m *matrix) notifyFixture(route server.Route, target, path string) string {
	v, _ := notifyBySvc.Load(m.svc)
	n := v.(*testNotify)
	switch route.Method + " " + route.Pattern {
	case "POST /v1/tenants/{tenant}/webhooks", "DELETE /v1/tenants/{tenant}/webhooks/{id}", "PATCH /v1/tenants/{tenant}/webhooks/{id}",
		"POST /v1/tenants/{tenant}/webhooks/{id}/rotate-secret", "GET /v1/tenants/{tenant}/webhooks/{id}/deliveries",
		"POST /v1/tenants/{tenant}/webhooks/{id}/deliveries/{delivery}/resend", "POST /v1/tenants/{tenant}/webhooks/{id}/test":
		ctx := m.ctxOf("admin@" + target + ".test")
		hooks, err := m.svc.ListWebhooks(ctx, target)
		if err != nil {
			m.t.Fatal(err)
		}
		for _, h := range hooks {
			if err := m.svc.DeleteWebhook(ctx, target, h.ID); err != nil {
				m.t.Fatal(err)
			}
		}
		if route.Pattern == "/v1/tenants/{tenant}/webhooks" {
			return path
		}
		h, err := m.svc.CreateWebhook(ctx, target, lockbox.NewWebhook{URL: "https://hooks.example.com/" + target})
		if err != nil {
			m.t.Fatal(err)
		}
		path = strings.ReplaceAll(path, "{id}", h.ID)
		if strings.Contains(path, "{delivery}") {
			path = strings.ReplaceAll(path, "{delivery}", deadDelivery(m.t, m.store, target, h.ID, m.seq.Add(1)))
		}
		return path
	case "GET /v1/dev/mail/{file}":
		m.request(target, lockbox.StatusPending)
		if _, err := n.worker.DeliverDue(context.Background()); err != nil {
			m.t.Fatal(err)
		}
		msgs, _ := n.mail.ListMail(context.Background())
		return strings.ReplaceAll(path, "{file}", msgs[0].ID+".eml")
	}
	return path
}

// notifications exercises the webhook, dev mail and metrics routes. It runs
// after the request lifecycle, whose notifications it delivers first.
func (c *conformance) notifications(t *testing.T) {
	const contosoAdmin = "admin@contoso.test"
	hooks := "/v1/tenants/contoso/webhooks"
	created := decode[*lockbox.Webhook](t, c.run(t, step{name: "create webhook", as: approver, method: "POST", path: hooks,
		body: map[string]any{"url": "https://hooks.example.com/lockbox", "events": []string{"request.pending", "operator.action"}, "description": "SIEM"}, want: 201}))
	if !strings.HasPrefix(created.Secret, "whsec_") {
		t.Errorf("created webhook secret %q, want whsec_…", created.Secret)
	}
	rotated := decode[*lockbox.Webhook](t, c.run(t, step{name: "rotate webhook secret", as: contosoAdmin, method: "POST",
		path: hooks + "/" + created.ID + "/rotate-secret", body: map[string]any{"grace": "1h"}, want: 200}))
	if !strings.HasPrefix(rotated.Secret, "whsec_") || rotated.Secret == created.Secret || rotated.PreviousSecretExpiresAt == nil {
		t.Errorf("rotated webhook: secret %q, previous until %v; want a new whsec_… and the grace's end", rotated.Secret, rotated.PreviousSecretExpiresAt)
	}
	deliveries := decode[struct{ Deliveries []*lockbox.WebhookDelivery }](t, c.run(t, step{name: "webhook deliveries", as: approver,
		method: "GET", path: hooks + "/" + created.ID + "/deliveries", want: 200}))
	if deliveries.Deliveries == nil {
		t.Error("webhook deliveries: want a list, even an empty one")
	}
	dead := deadDelivery(t, c.srv.notify.store, "contoso", created.ID, 1)
	resend := hooks + "/" + created.ID + "/deliveries/" + dead + "/resend"
	resent := decode[*lockbox.WebhookDelivery](t, c.run(t, step{name: "resend webhook delivery", as: approver, method: "POST", path: resend, want: 200}))
	if resent.ID != dead || resent.Status != lockbox.OutboxPending || resent.NextAttemptAt == nil || resent.ResentAt == nil {
		t.Errorf("resent delivery %+v, want %s pending with its next attempt and when it was resent", resent, dead)
	}
	tested := decode[*lockbox.WebhookDelivery](t, c.run(t, step{name: "send webhook test", as: contosoAdmin, method: "POST",
		path: hooks + "/" + created.ID + "/test", want: 200}))
	if tested.Type != lockbox.EventTypeWebhookTest || tested.Status != lockbox.OutboxPending {
		t.Errorf("test delivery %+v, want a pending webhook.test", tested)
	}
	// The resent delivery and the test are waiting: the list says so.
	waitingList := decode[struct{ Webhooks []*lockbox.Webhook }](t, c.run(t, step{name: "list webhooks while deliveries wait", as: approver,
		method: "GET", path: hooks, want: 200}))
	if i := slices.IndexFunc(waitingList.Webhooks, func(w *lockbox.Webhook) bool { return w.ID == created.ID }); i < 0 ||
		waitingList.Webhooks[i].Waiting != 2 || waitingList.Webhooks[i].WaitingSince == nil {
		t.Errorf("webhooks %+v: want %s with 2 waiting, and since when", waitingList.Webhooks, created.ID)
	}
	for _, s := range []step{
		{name: "send webhook test of other tenant", as: "admin@fabrikam.test", method: "POST", path: "/v1/tenants/fabrikam/webhooks/" + created.ID + "/test", want: 404},
		{name: "send webhook test as auditor", as: "auditor@contoso.test", method: "POST", path: hooks + "/" + created.ID + "/test", want: 403},
		{name: "resend webhook delivery again", as: approver, method: "POST", path: resend, want: 409},
		{name: "resend webhook delivery unknown", as: approver, method: "POST", path: hooks + "/" + created.ID + "/deliveries/nope/resend", want: 404},
		{name: "resend webhook delivery as auditor", as: "auditor@contoso.test", method: "POST", path: resend, want: 403},
		{name: "resend webhook delivery of other tenant", as: "admin@fabrikam.test", method: "POST",
			path: "/v1/tenants/fabrikam/webhooks/" + created.ID + "/deliveries/" + dead + "/resend", want: 404},
	} {
		c.run(t, s)
	}
	updated := decode[*lockbox.Webhook](t, c.run(t, step{name: "update webhook", as: contosoAdmin, method: "PATCH",
		path: hooks + "/" + created.ID, body: map[string]any{"events": []string{"request.pending"}, "description": "SIEM (pending only)"}, want: 200}))
	if updated.URL != created.URL || len(updated.Events) != 1 || updated.Description != "SIEM (pending only)" || updated.Secret != "" {
		t.Errorf("updated webhook %+v", updated)
	}
	for _, s := range []step{
		{name: "update webhook nothing", as: contosoAdmin, method: "PATCH", path: hooks + "/" + created.ID, body: map[string]any{}, want: 400},
		{name: "update webhook private target", as: contosoAdmin, method: "PATCH", path: hooks + "/" + created.ID, body: map[string]any{"url": "https://10.0.0.5/hook"}, want: 400},
		{name: "update webhook no events", as: contosoAdmin, method: "PATCH", path: hooks + "/" + created.ID, body: map[string]any{"events": []string{}}, want: 400, invalid: true},
		{name: "update webhook of other tenant", as: "admin@fabrikam.test", method: "PATCH", path: "/v1/tenants/fabrikam/webhooks/" + created.ID, body: map[string]any{"description": "x"}, want: 404},
		{name: "update webhook as auditor", as: "auditor@contoso.test", method: "PATCH", path: hooks + "/" + created.ID, body: map[string]any{"description": "x"}, want: 403},
	} {
		c.run(t, s)
	}
	listed := decode[struct{ Webhooks []*lockbox.Webhook }](t, c.run(t, step{name: "list webhooks", as: contosoAdmin, method: "GET", path: hooks, want: 200}))
	if len(listed.Webhooks) != 1 || listed.Webhooks[0].Secret != "" {
		t.Errorf("listed %+v, want one webhook without its secret", listed.Webhooks)
	}
	for _, s := range []step{
		{name: "create webhook private target", as: approver, method: "POST", path: hooks, body: map[string]any{"url": "https://10.0.0.5/hook"}, want: 400},
		{name: "create webhook http", as: approver, method: "POST", path: hooks, body: map[string]any{"url": "http://hooks.example.com/x"}, want: 400},
		{name: "create webhook unknown event", as: approver, method: "POST", path: hooks, body: map[string]any{"url": "https://hooks.example.com/x", "events": []string{"request.exploded"}}, want: 400, invalid: true},
		{name: "create webhook unknown field", as: approver, method: "POST", path: hooks, body: `{"url":"https://hooks.example.com/x","secret":"mine"}`, want: 400, invalid: true},
		{name: "create webhook as auditor", as: "auditor@contoso.test", method: "POST", path: hooks, body: map[string]any{"url": "https://hooks.example.com/x"}, want: 403},
		{name: "list webhooks of other tenant", as: "admin@fabrikam.test", method: "GET", path: hooks, want: 404},
		{name: "list webhooks as provider admin", as: "admin@provider.test", method: "GET", path: hooks, want: 403},
		{name: "delete webhook of other tenant", as: "admin@fabrikam.test", method: "DELETE", path: "/v1/tenants/fabrikam/webhooks/" + created.ID, want: 404},
		{name: "rotate webhook secret bad grace", as: approver, method: "POST", path: hooks + "/" + created.ID + "/rotate-secret", body: map[string]any{"grace": "forever"}, want: 400},
		{name: "rotate webhook secret grace too long", as: approver, method: "POST", path: hooks + "/" + created.ID + "/rotate-secret", body: map[string]any{"grace": "25h"}, want: 400},
		{name: "rotate webhook secret unknown field", as: approver, method: "POST", path: hooks + "/" + created.ID + "/rotate-secret", body: `{"grace":"1h","secret":"mine"}`, want: 400, invalid: true},
		{name: "rotate webhook secret of other tenant", as: "admin@fabrikam.test", method: "POST", path: "/v1/tenants/fabrikam/webhooks/" + created.ID + "/rotate-secret", want: 404},
		{name: "rotate webhook secret as auditor", as: "auditor@contoso.test", method: "POST", path: hooks + "/" + created.ID + "/rotate-secret", want: 403},
		{name: "webhook deliveries of other tenant", as: "admin@fabrikam.test", method: "GET", path: "/v1/tenants/fabrikam/webhooks/" + created.ID + "/deliveries", want: 404},
		{name: "webhook deliveries as auditor", as: "auditor@contoso.test", method: "GET", path: hooks + "/" + created.ID + "/deliveries", want: 403},
		{name: "webhook deliveries unknown", as: approver, method: "GET", path: hooks + "/nope/deliveries", want: 404},
		{name: "delete webhook", as: approver, method: "DELETE", path: hooks + "/" + created.ID, want: 204},
		{name: "delete webhook again", as: approver, method: "DELETE", path: hooks + "/" + created.ID, want: 404},
	} {
		c.run(t, s)
	}

	if _, err := c.srv.notify.worker.DeliverDue(t.Context()); err != nil {
		t.Fatal(err)
	}
	box := decode[struct{ Messages []*lockbox.DevMail }](t, c.run(t, step{name: "dev mail", as: operator, method: "GET", path: "/v1/dev/mail", want: 200}))
	if len(box.Messages) == 0 {
		t.Fatal("the dev mailbox is empty after the lifecycle")
	}
	first := box.Messages[0]
	eml := c.run(t, step{name: "dev mail eml", as: operator, method: "GET", path: "/v1/dev/mail/" + first.ID + ".eml", want: 200})
	if !strings.Contains(string(eml), "Message-ID: "+first.MessageID) {
		t.Errorf("the .eml lacks its Message-ID %s:\n%s", first.MessageID, eml)
	}
	c.run(t, step{name: "dev mail eml unknown", as: operator, method: "GET", path: "/v1/dev/mail/nope.eml", want: 404})
	c.run(t, step{name: "dev mail wrong extension", as: operator, method: "GET", path: "/v1/dev/mail/" + first.ID + ".txt", want: 404, invalid: true})
	metrics := string(c.run(t, step{name: "metrics", method: "GET", path: "/metrics", want: 200}))
	if !strings.Contains(metrics, `lockbox_outbox_messages{channel="email",status="delivered"}`) {
		t.Errorf("metrics lack the outbox counts:\n%s", metrics)
	}
}

// deadDelivery stores given-up delivery number n to tenant's endpoint id,
// as the worker leaves one, and returns its id.
func deadDelivery(t testing.TB, store lockbox.Store, tenant, id string, n int64) string {
	now := time.Now().UTC()
	msg := &lockbox.OutboxMessage{ID: fmt.Sprintf("dead-%d", n), Channel: lockbox.ChannelWebhook, Tenant: tenant,
		Type: lockbox.EventTypeRequestPending, WebhookID: id, Payload: []byte(`{}`), Status: lockbox.OutboxDead, Attempts: 1,
		CreatedAt: now, NextAttemptAt: now, LastError: "http_status: the endpoint answered 410 Gone", FinishedAt: &now}
	if err := store.Update(context.Background(), func(tx lockbox.Tx) error { return tx.EnqueueOutbox(context.Background(), msg) }); err != nil {
		t.Fatal(err)
	}
	return msg.ID
}
