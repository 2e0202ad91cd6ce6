package web_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/storetest"
)

// TestWebhooksPage: a tenant's admin adds a webhook (its secret shown
// once, never listed), rotates its secret with a grace period (deliveries
// signed with both secrets, the list saying until when) and without one,
// and deletes it only after a confirmation page; bad input is shown beside
// its field and changes nothing.
func TestWebhooksPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	admin := e.signIn("admin@contoso.test")
	wantBody(t, admin.get("/webhooks"), `id="no-webhooks"`, `id="add-webhook"`, `value="request.pending"`)

	for _, tc := range []struct {
		name  string
		form  url.Values
		field string
	}{
		{"PlainHTTP", url.Values{"url": {"http://hooks.example.com/x"}}, "url"},
		{"Loopback", url.Values{"url": {"https://127.0.0.1/x"}}, "url"},
		{"UnknownEvent", url.Values{"url": {"https://hooks.example.com/x"}, "event": {"request.exploded"}}, "events"},
	} {
		res := admin.post("/webhooks", tc.form)
		wantStatus(t, res, http.StatusBadRequest)
		wantBody(t, res, `id="`+tc.field+`-error"`, `aria-describedby="`+tc.field+`-error"`, `value="`+tc.form.Get("url")+`"`)
	}
	if hooks, _ := e.svc.ListWebhooks(e.as("admin@contoso.test"), "contoso"); len(hooks) != 0 {
		t.Fatalf("refused forms added %d webhooks", len(hooks))
	}

	res := admin.post("/webhooks", url.Values{"url": {"https://hooks.example.com/siem?token=x"}, "description": {"SIEM"},
		"event": {"request.pending", "operator.action"}})
	wantStatus(t, res, http.StatusOK)
	wantBody(t, res, `id="created"`, "SIEM", "request.pending, operator.action")
	m := rotatedTokenRE.FindStringSubmatch(res.body)
	if m == nil || !strings.HasPrefix(m[1], "whsec_") {
		t.Fatalf("no signing secret on the page:\n%s", excerpt(res.body))
	}
	first := html.UnescapeString(m[1])
	hooks, err := e.svc.ListWebhooks(e.as("admin@contoso.test"), "contoso")
	if err != nil || len(hooks) != 1 {
		t.Fatalf("ListWebhooks = %d, %v", len(hooks), err)
	}
	id := hooks[0].ID
	signing := func() []string {
		t.Helper()
		_, secrets, err := e.svc.WebhookForDelivery(ctx, "contoso", id)
		if err != nil {
			t.Fatal(err)
		}
		return secrets
	}
	if !slices.Equal(signing(), []string{first}) {
		t.Fatal("deliveries are not signed with the secret the page showed")
	}
	list := admin.get("/webhooks")
	wantBody(t, list, `id="webhooks"`, `href="/webhooks/`+id+`/rotate"`, `href="/webhooks/`+id+`/delete"`, `id="grace-ends-`+id+`">—<`,
		`id="waiting-`+id+`">—<`)
	if rotatedTokenRE.MatchString(list.body) {
		t.Error("the list shows a secret again")
	}

	// Changing it: the form shows it as it is; a bad URL is shown beside
	// its field and changes nothing; a good change keeps the secret.
	wantBody(t, admin.get("/webhooks/"+id+"/edit"), `value="https://hooks.example.com/siem?token=x"`, `value="SIEM"`,
		`value="operator.action" checked`, `value="request.denied">`)
	res = admin.post("/webhooks/"+id+"/edit", url.Values{"url": {"http://hooks.example.com/plain"}, "description": {"SIEM"}})
	wantStatus(t, res, http.StatusBadRequest)
	wantBody(t, res, `id="url-error"`, `aria-invalid="true"`, `value="http://hooks.example.com/plain"`)
	wantRedirect(t, admin.post("/webhooks/"+id+"/edit", url.Values{"url": {"https://hooks.example.com/moved"}, "description": {"SIEM 2"},
		"event": {"request.denied"}}), "/webhooks?done=webhook_updated")
	wantBody(t, admin.get("/webhooks?done=webhook_updated"), "Webhook saved", "https://hooks.example.com/moved", "SIEM 2", "request.denied")
	if hooks, _ := e.svc.ListWebhooks(e.as("admin@contoso.test"), "contoso"); len(hooks) != 1 || !slices.Equal(hooks[0].Events, []string{"request.denied"}) {
		t.Errorf("after the change: %+v", hooks)
	}
	if !slices.Equal(signing(), []string{first}) {
		t.Error("changing the webhook changed its secret")
	}
	wantRedirect(t, admin.post("/webhooks/"+id+"/edit", url.Values{"url": {"https://hooks.example.com/moved"}}), "/webhooks?done=webhook_updated")
	if hooks, _ := e.svc.ListWebhooks(e.as("admin@contoso.test"), "contoso"); len(hooks) != 1 || len(hooks[0].Events) != len(lockbox.WebhookEvents) {
		t.Errorf("no event checked should mean every event: %+v", hooks[0].Events)
	}

	// The confirmation pages change nothing.
	wantBody(t, admin.get("/webhooks/"+id+"/rotate"), `name="grace"`, `value="24h"`)
	wantBody(t, admin.get("/webhooks/"+id+"/delete"), `id="confirm"`, "dropped")
	wantStatus(t, admin.get("/webhooks/"+id+"/nonsense"), http.StatusNotFound)
	for _, grace := range []string{"soon", "48h", "-1m"} {
		res := admin.post("/webhooks/"+id+"/rotate", url.Values{"grace": {grace}})
		wantStatus(t, res, http.StatusBadRequest)
		wantBody(t, res, `id="grace-error"`, `aria-invalid="true"`, `value="`+grace+`"`)
		if rotatedTokenRE.MatchString(res.body) || !slices.Equal(signing(), []string{first}) {
			t.Fatalf("grace %q: a refused rotation showed or changed a secret", grace)
		}
	}

	res = admin.post("/webhooks/"+id+"/rotate", url.Values{"grace": {"1h"}})
	wantStatus(t, res, http.StatusOK)
	wantBody(t, res, `id="rotated"`, "signed with the old secret too until")
	second := html.UnescapeString(rotatedTokenRE.FindStringSubmatch(res.body)[1])
	if !slices.Equal(signing(), []string{second, first}) {
		t.Fatal("during the grace deliveries are not signed with the new and the old secret")
	}
	if !regexp.MustCompile(`id="grace-ends-` + id + `">[^—]*UTC`).MatchString(admin.get("/webhooks").body) {
		t.Errorf("the list does not show when the old secret stops signing")
	}
	res = admin.post("/webhooks/"+id+"/rotate", url.Values{"grace": {"0"}})
	wantBody(t, res, "The old secret no longer signs deliveries.")
	third := html.UnescapeString(rotatedTokenRE.FindStringSubmatch(res.body)[1])
	if !slices.Equal(signing(), []string{third}) {
		t.Fatal("after a rotation without grace deliveries are not signed with the new secret alone")
	}

	// A request reaching the tenant is delivered to it: its deliveries
	// page shows the message, waiting for the delivery worker.
	wantBody(t, admin.get("/webhooks/"+id+"/deliveries"), `id="no-deliveries"`)
	e.pending()
	deliveries, err := e.svc.ListWebhookDeliveries(e.as("admin@contoso.test"), "contoso", id)
	if err != nil || len(deliveries) != 1 {
		t.Fatalf("ListWebhookDeliveries = %d, %v; want the request.pending", len(deliveries), err)
	}
	wantBody(t, admin.get("/webhooks/"+id+"/deliveries"), `id="deliveries"`, `id="delivery-`+deliveries[0].ID+`"`,
		"request.pending", "pending", "next ")
	if strings.Contains(admin.get("/webhooks/"+id+"/deliveries").body, `/resend"`) {
		t.Error("a pending delivery is offered for resending")
	}
	// A given-up delivery is sent again from the page, once.
	now := time.Now().UTC()
	dead := &lockbox.OutboxMessage{ID: "msg-dead", Channel: lockbox.ChannelWebhook, Tenant: "contoso", Type: lockbox.OpRequestApproved,
		WebhookID: id, Payload: []byte(`{}`), Status: lockbox.OutboxDead, Attempts: 9, CreatedAt: now.Add(-time.Minute),
		NextAttemptAt: now, LastError: "http_status: the endpoint at hooks.example.com answered 503", FinishedAt: &now}
	if err := e.store.Update(ctx, func(tx lockbox.Tx) error { return tx.EnqueueOutbox(ctx, dead) }); err != nil {
		t.Fatal(err)
	}
	resend := "/webhooks/" + id + "/deliveries/msg-dead/resend"
	page := admin.get("/webhooks/" + id + "/deliveries")
	wantBody(t, page, `action="`+resend+`"`, "answered 503")
	if strings.Contains(page.body, "resent ") {
		t.Error("a delivery never resent is shown as resent")
	}
	wantStatus(t, e.signIn("auditor@contoso.test").post(resend, nil), http.StatusForbidden)
	wantRedirect(t, admin.post(resend, nil), "/webhooks/"+id+"/deliveries?done=resent")
	wantBody(t, admin.get("/webhooks/"+id+"/deliveries?done=resent"), "sent again within a second", "resent ")
	wantStatus(t, admin.post(resend, nil), http.StatusConflict)
	// A test delivery, from the page.
	wantRedirect(t, admin.post("/webhooks/"+id+"/test", nil), "/webhooks/"+id+"/deliveries?done=test_sent")
	wantBody(t, admin.get("/webhooks/"+id+"/deliveries?done=test_sent"), "goes out within a second", "<td>webhook.test</td>")
	wantStatus(t, e.signIn("auditor@contoso.test").post("/webhooks/"+id+"/test", nil), http.StatusForbidden)
	wantStatus(t, e.signIn("auditor@contoso.test").get("/webhooks/"+id+"/deliveries"), http.StatusForbidden)
	wantStatus(t, e.signIn("admin@fabrikam.test").get("/webhooks/"+id+"/deliveries"), http.StatusNotFound)

	wantRedirect(t, admin.post("/webhooks/"+id+"/delete", nil), "/webhooks?done=webhook_deleted")
	wantBody(t, admin.get("/webhooks?done=webhook_deleted"), "Webhook deleted", `id="no-webhooks"`)
	wantStatus(t, admin.post("/webhooks/"+id+"/delete", nil), http.StatusNotFound)
	wantStatus(t, admin.get("/webhooks/"+id+"/rotate"), http.StatusNotFound)
	wantStatus(t, admin.get("/webhooks/"+id+"/deliveries"), http.StatusNotFound)
}

// TestWebhooksRefused: only the tenant's global admins and approvers (the
// service's rule) manage its webhooks from the web; another tenant's
// endpoint is not found; a refused attempt changes nothing.
func TestWebhooksRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	hook, err := e.svc.CreateWebhook(e.as("admin@contoso.test"), "contoso", lockbox.NewWebhook{URL: "https://hooks.example.com/x"})
	if err != nil {
		t.Fatal(err)
	}
	_, before, err := e.svc.WebhookForDelivery(context.Background(), "contoso", hook.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		email string
		want  int
	}{
		{"admin@provider.test", http.StatusForbidden},
		{"operator@provider.test", http.StatusForbidden},
		{"auditor@contoso.test", http.StatusForbidden},
		{"admin@fabrikam.test", http.StatusNotFound},
	} {
		c := e.signIn(tc.email)
		wantStatus(t, c.post("/webhooks/"+hook.ID+"/rotate", url.Values{"grace": {"0"}}), tc.want)
		wantStatus(t, c.post("/webhooks/"+hook.ID+"/delete", nil), tc.want)
		wantStatus(t, c.post("/webhooks/"+hook.ID+"/edit", url.Values{"url": {"https://hooks.example.com/elsewhere"}}), tc.want)
		wantStatus(t, c.get("/webhooks/"+hook.ID+"/rotate"), tc.want)
	}
	hooks, err := e.svc.ListWebhooks(e.as("admin@contoso.test"), "contoso")
	if err != nil || len(hooks) != 1 || hooks[0].URL != hook.URL {
		t.Fatalf("after refused deletions and changes: %+v, %v", hooks, err)
	}
	if _, after, err := e.svc.WebhookForDelivery(context.Background(), "contoso", hook.ID); err != nil || !slices.Equal(after, before) {
		t.Errorf("a refused rotation changed the secret (%v)", err)
	}
}

// TestWebhooksShowWaiting: an endpoint's deliveries not yet delivered
// show as its backlog, with the oldest's time, in the service's list and
// on the Webhooks page; delivered ones do not count.
func TestWebhooksShowWaiting(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	as := e.as("admin@contoso.test")
	hook, err := e.svc.CreateWebhook(as, "contoso", lockbox.NewWebhook{URL: "https://hooks.example.com/siem"})
	if err != nil {
		t.Fatal(err)
	}
	admin := e.signIn("admin@contoso.test")
	wantBody(t, admin.get("/webhooks"), `id="waiting-`+hook.ID+`">—<`)
	waiting := []*lockbox.OutboxMessage{storetest.NewWebhookMessage(1, hook.ID), storetest.NewWebhookMessage(2, hook.ID),
		storetest.NewWebhookMessage(3, hook.ID)}
	storetest.MustEnqueue(t, e.store, waiting...)
	storetest.MustUpdate(t, e.store, func(tx lockbox.Tx) error { // the first is delivered
		_, err := tx.FinishOutbox(t.Context(), lockbox.OutboxFinish{ID: waiting[0].ID,
			Result: lockbox.OutboxResult{Status: lockbox.OutboxDelivered, At: storetest.T0}})
		return err
	})
	hooks, err := e.svc.ListWebhooks(as, "contoso")
	if err != nil || len(hooks) != 1 || hooks[0].Waiting != 2 || hooks[0].WaitingSince == nil || !hooks[0].WaitingSince.Equal(waiting[1].CreatedAt) {
		t.Fatalf("ListWebhooks: %+v, %v; want 2 waiting since %v", hooks, err, waiting[1].CreatedAt)
	}
	page := admin.get("/webhooks").body
	if !regexp.MustCompile(`id="waiting-` + hook.ID + `">2 not delivered yet, the oldest since <time[^>]*>21 Nov 2026, 09:00`).MatchString(page) {
		t.Errorf("the list does not show the 2 waiting:\n%s", excerpt(page))
	}
}
