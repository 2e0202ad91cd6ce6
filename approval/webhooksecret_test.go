package approval_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
	"github.com/lockboxhq/lockbox/internal/lockboxtest"
	"github.com/lockboxhq/lockbox/outbox"
	"github.com/lockboxhq/lockbox/webhook"
)

// TestWebhookSecretSealed: a webhook's signing secret, shown once at
// creation, is stored sealed; deliveries get it opened; a replica with
// other keys cannot open it (deliveries wait, nothing goes out unsigned);
// a secret stored in clear by an older version is sealed by SealSecrets;
// a sealed value moved to another endpoint, or an IdP's sealed secret put
// in a webhook's row, does not open.
func TestWebhookSecretSealed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t)
	st, svc, opts := h.store, h.svc, h.opts
	admin := h.as("admin@contoso.test")
	w, err := svc.CreateWebhook(admin, "contoso", lockbox.NewWebhook{URL: "https://hooks.example.com/x"})
	if err != nil {
		t.Fatal(err)
	}
	stored := func(id string) string {
		t.Helper()
		return storedWebhookSecrets(t, st, "contoso", id).Current
	}
	raw := stored(w.ID)
	if !strings.HasPrefix(raw, lockbox.SealedPrefix) || strings.Contains(raw, strings.TrimPrefix(w.Secret, "whsec_")) {
		t.Fatalf("stored secret %q: want it sealed", raw)
	}
	if _, secrets, err := svc.WebhookForDelivery(ctx, "contoso", w.ID); err != nil || !slices.Equal(secrets, []string{w.Secret}) {
		t.Fatalf("WebhookForDelivery = %q, %v; want the secret shown at creation", secrets, err)
	}
	other := opts
	other.Secrets = lockboxtest.SecretBox(t)
	if _, _, err := approval.New(st, lockbox.SystemClock{}, other).WebhookForDelivery(ctx, "contoso", w.ID); lockbox.ErrorCode(err) != lockbox.EUNAVAILABLE {
		t.Errorf("delivery on a replica with other keys: %v, want unavailable", err)
	}

	// Stored in clear by an older version: delivered as is, then sealed.
	legacy := &lockbox.Webhook{ID: "wh-legacy", Tenant: "contoso", URL: "https://hooks.example.com/y", Events: []string{}, CreatedBy: "admin@contoso.test"}
	moved := &lockbox.Webhook{ID: "wh-moved", Tenant: "contoso", URL: "https://hooks.example.com/z", Events: []string{}, CreatedBy: "admin@contoso.test"}
	if err := st.Update(ctx, func(tx lockbox.Tx) error {
		if err := tx.InsertWebhook(ctx, legacy, "whsec_c2VjcmV0LWluLWNsZWFy"); err != nil {
			return err
		}
		return tx.InsertWebhook(ctx, moved, raw) // w's sealed secret, in another row
	}); err != nil {
		t.Fatal(err)
	}
	if _, secrets, err := svc.WebhookForDelivery(ctx, "contoso", legacy.ID); err != nil || !slices.Equal(secrets, []string{"whsec_c2VjcmV0LWluLWNsZWFy"}) {
		t.Errorf("delivery with a secret stored in clear = %q, %v", secrets, err)
	}
	if _, _, err := svc.WebhookForDelivery(ctx, "contoso", moved.ID); lockbox.ErrorCode(err) != lockbox.EUNAVAILABLE {
		t.Errorf("delivery with a secret moved from another endpoint: %v, want unavailable", err)
	}
	if n, err := svc.SealSecrets(ctx); err != nil || n != 1 {
		t.Fatalf("SealSecrets = %d, %v; want the clear one sealed", n, err)
	}
	if raw := stored(legacy.ID); !strings.HasPrefix(raw, lockbox.SealedPrefix) {
		t.Errorf("after SealSecrets: %q, want sealed", raw)
	}
	if stored(moved.ID) != raw {
		t.Error("SealSecrets changed a secret that does not open")
	}
	if _, secrets, err := svc.WebhookForDelivery(ctx, "contoso", legacy.ID); err != nil || !slices.Equal(secrets, []string{"whsec_c2VjcmV0LWluLWNsZWFy"}) {
		t.Errorf("delivery after sealing = %q, %v", secrets, err)
	}
}

func storedWebhookSecrets(t *testing.T, st lockbox.Store, tenant, id string) lockbox.StoredWebhookSecrets {
	t.Helper()
	var s lockbox.StoredWebhookSecrets
	if err := st.View(context.Background(), func(tx lockbox.Tx) (err error) {
		_, s, err = tx.GetWebhook(context.Background(), tenant, id)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestWebhookSecretRotated: a rotation shows a new secret once and stores
// it sealed; with a grace period deliveries are signed with both secrets
// until the grace ends, and with the new one only from that instant, with
// no worker involved; a second rotation drops the first one's previous
// secret; the rotation is audited without either secret; the grace is
// checked; another tenant's endpoint looks missing; only the tenant's
// admins may rotate.
func TestWebhookSecretRotated(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := newHarness(t)
		ctx := context.Background()
		admin := h.as("admin@contoso.test")
		w, err := h.svc.CreateWebhook(admin, "contoso", lockbox.NewWebhook{URL: "https://hooks.example.com/x"})
		if err != nil {
			t.Fatal(err)
		}
		delivered := func() []string {
			t.Helper()
			_, secrets, err := h.svc.WebhookForDelivery(ctx, "contoso", w.ID)
			if err != nil {
				t.Fatal(err)
			}
			return secrets
		}

		r, err := h.svc.RotateWebhookSecret(admin, "contoso", w.ID, 2*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(r.Secret, "whsec_") || r.Secret == w.Secret || r.ID != w.ID || r.URL != w.URL {
			t.Fatalf("rotated: %+v; want the endpoint with a new secret", r)
		}
		if r.PreviousSecretExpiresAt == nil || !r.PreviousSecretExpiresAt.Equal(time.Now().Add(2*time.Hour)) {
			t.Errorf("previous_secret_expires_at = %v, want in 2h", r.PreviousSecretExpiresAt)
		}
		stored := storedWebhookSecrets(t, h.store, "contoso", w.ID)
		for _, v := range []string{stored.Current, stored.Previous} {
			if !strings.HasPrefix(v, lockbox.SealedPrefix) {
				t.Errorf("stored secret %q: want it sealed", v)
			}
		}
		if got := delivered(); !slices.Equal(got, []string{r.Secret, w.Secret}) {
			t.Errorf("during the grace deliveries are signed with %d secrets, want the new then the old", len(got))
		}
		listedUntil := func() *time.Time {
			t.Helper()
			list, err := h.svc.ListWebhooks(admin, "contoso")
			if err != nil || len(list) != 1 {
				t.Fatalf("ListWebhooks = %d, %v", len(list), err)
			}
			return list[0].PreviousSecretExpiresAt
		}
		time.Sleep(2*time.Hour - time.Microsecond)
		if got := delivered(); len(got) != 2 {
			t.Errorf("1µs before the grace ends: %d secrets, want 2", len(got))
		}
		if got := listedUntil(); got == nil || !got.Equal(*r.PreviousSecretExpiresAt) {
			t.Errorf("1µs before the grace ends the list shows its end %v, want %v", got, r.PreviousSecretExpiresAt)
		}
		time.Sleep(time.Microsecond)
		if got := delivered(); !slices.Equal(got, []string{r.Secret}) {
			t.Errorf("when the grace ends: %d secrets, want the new one only", len(got))
		}
		if got := listedUntil(); got != nil {
			t.Errorf("when the grace ends the list still shows it ending at %v", got)
		}

		// A rotation with no grace drops the old secret at once, and a
		// later one replaces the previous secret of the one before.
		r2, err := h.svc.RotateWebhookSecret(admin, "contoso", w.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		if r2.PreviousSecretExpiresAt != nil || !slices.Equal(delivered(), []string{r2.Secret}) {
			t.Errorf("no grace: previous until %v, want none, and deliveries signed with the new secret only", r2.PreviousSecretExpiresAt)
		}
		r3, err := h.svc.RotateWebhookSecret(admin, "contoso", w.ID, 24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if got := delivered(); !slices.Equal(got, []string{r3.Secret, r2.Secret}) {
			t.Errorf("after a second rotation: %d secrets, want the newest and the one it replaced", len(got))
		}

		recs := h.auditOf("contoso", lockbox.OpWebhookSecretRotated)
		if len(recs) != 3 {
			t.Fatalf("%d webhook.secret_rotated records, want 3", len(recs))
		}
		if d := recs[0].AuditData; d["webhook_id"] != w.ID || fmt.Sprint(d["grace_seconds"]) != "7200" || d["previous_kept"] != true {
			t.Errorf("audit data = %v", d)
		}
		for _, rec := range recs {
			b, _ := json.Marshal(rec)
			for _, secret := range []string{w.Secret, r.Secret, r2.Secret, r3.Secret} {
				if strings.Contains(string(b), strings.TrimPrefix(secret, "whsec_")) {
					t.Errorf("audit record %s holds a secret", rec.ID)
				}
			}
		}

		for _, tc := range []struct {
			name, by, tenant, id string
			grace                time.Duration
			want                 string
		}{
			{"GraceTooLong", "admin@contoso.test", "contoso", w.ID, 25 * time.Hour, lockbox.EINVALID},
			{"GraceNegative", "admin@contoso.test", "contoso", w.ID, -time.Minute, lockbox.EINVALID},
			{"Missing", "admin@contoso.test", "contoso", "nope", 0, lockbox.ENOTFOUND},
			{"AnotherTenantsEndpoint", "admin@fabrikam.test", "fabrikam", w.ID, 0, lockbox.ENOTFOUND},
			{"AnotherTenant", "admin@fabrikam.test", "contoso", w.ID, 0, lockbox.ENOTFOUND},
			{"AuditReader", "auditor@contoso.test", "contoso", w.ID, 0, lockbox.EFORBIDDEN},
			{"Provider", "operator@provider.test", "contoso", w.ID, 0, lockbox.EFORBIDDEN},
		} {
			if _, err := h.svc.RotateWebhookSecret(h.as(tc.by), tc.tenant, tc.id, tc.grace); lockbox.ErrorCode(err) != tc.want {
				t.Errorf("%s: %v, want %s", tc.name, err, tc.want)
			}
		}
		if got := delivered(); !slices.Equal(got, []string{r3.Secret, r2.Secret}) {
			t.Error("a refused rotation changed the secrets")
		}
	})
}

// TestWebhookSecretRotatedWithoutTheKey: an endpoint whose secret this
// server cannot open (a database restored without its key directory) gets
// a working secret by a rotation, with no previous one kept.
func TestWebhookSecretRotatedWithoutTheKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t)
	st, svc, opts := h.store, h.svc, h.opts
	w, err := svc.CreateWebhook(h.as("admin@contoso.test"), "contoso", lockbox.NewWebhook{URL: "https://hooks.example.com/x"})
	if err != nil {
		t.Fatal(err)
	}
	other := opts
	other.Secrets = lockboxtest.SecretBox(t)
	restored := approval.New(st, lockbox.SystemClock{}, other)
	if _, _, err := restored.WebhookForDelivery(ctx, "contoso", w.ID); lockbox.ErrorCode(err) != lockbox.EUNAVAILABLE {
		t.Fatalf("before: %v, want unavailable", err)
	}
	r, err := restored.RotateWebhookSecret(h.as("admin@contoso.test"), "contoso", w.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if r.PreviousSecretExpiresAt != nil {
		t.Errorf("previous_secret_expires_at = %v, want none: the old secret does not open", r.PreviousSecretExpiresAt)
	}
	if _, secrets, err := restored.WebhookForDelivery(ctx, "contoso", w.ID); err != nil || !slices.Equal(secrets, []string{r.Secret}) {
		t.Errorf("after the rotation: %d secrets, %v; want the new one", len(secrets), err)
	}
}

// TestWebhookDeliveriesListed: an endpoint's admins see its deliveries,
// newest first, with when a pending one is tried again and why the last
// attempt failed; another tenant's endpoint is not found, and an audit
// reader may not look.
func TestWebhookDeliveriesListed(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	admin := h.as("admin@contoso.test")
	w, err := h.svc.CreateWebhook(admin, "contoso", lockbox.NewWebhook{URL: "https://hooks.example.com/x"})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now().UTC().Truncate(time.Second)
	msg := func(id string, created time.Time) *lockbox.OutboxMessage {
		return &lockbox.OutboxMessage{ID: id, Channel: lockbox.ChannelWebhook, Tenant: "contoso", Type: lockbox.OpRequestApproved,
			WebhookID: w.ID, Payload: []byte(`{}`), Status: lockbox.OutboxPending, CreatedAt: created, NextAttemptAt: created}
	}
	older, newer := msg("msg-1", t0), msg("msg-2", t0.Add(time.Second))
	if err := h.store.Update(ctx, func(tx lockbox.Tx) error { return tx.EnqueueOutbox(ctx, older, newer) }); err != nil {
		t.Fatal(err)
	}
	var claimed []*lockbox.OutboxMessage
	if err := h.store.Update(ctx, func(tx lockbox.Tx) (err error) {
		claimed, err = tx.ClaimOutbox(ctx, lockbox.OutboxClaim{Channel: lockbox.ChannelWebhook, Now: t0.Add(time.Minute), LeaseUntil: t0.Add(2 * time.Minute), Limit: 1})
		return err
	}); err != nil || len(claimed) != 1 || claimed[0].ID != "msg-1" {
		t.Fatalf("claim: %v, %v", claimed, err)
	}
	retry := t0.Add(5 * time.Minute)
	if err := h.store.Update(ctx, func(tx lockbox.Tx) error {
		_, err := tx.FinishOutbox(ctx, lockbox.OutboxFinish{ID: "msg-1", Attempt: 1, Result: lockbox.OutboxResult{Status: lockbox.OutboxPending,
			At: t0.Add(time.Minute), NextAttemptAt: retry, LastError: "the endpoint at hooks.example.com answered 503 Service Unavailable"}})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	got, err := h.svc.ListWebhookDeliveries(admin, "contoso", w.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != "msg-2" || got[1].ID != "msg-1" {
		t.Fatalf("deliveries = %+v, want msg-2 then msg-1", got)
	}
	if d := got[1]; d.Status != lockbox.OutboxPending || d.Attempts != 1 || d.NextAttemptAt == nil || !d.NextAttemptAt.Equal(retry) ||
		!strings.Contains(d.LastError, "503") || d.Type != lockbox.OpRequestApproved {
		t.Errorf("the retried delivery: %+v", d)
	}
	for _, tc := range []struct {
		name, by, tenant, id, want string
	}{
		{"AnotherTenant", "admin@fabrikam.test", "fabrikam", w.ID, lockbox.ENOTFOUND},
		{"Missing", "admin@contoso.test", "contoso", "nope", lockbox.ENOTFOUND},
		{"AuditReader", "auditor@contoso.test", "contoso", w.ID, lockbox.EFORBIDDEN},
		{"Provider", "admin@provider.test", "contoso", w.ID, lockbox.EFORBIDDEN},
	} {
		if _, err := h.svc.ListWebhookDeliveries(h.as(tc.by), tc.tenant, tc.id); lockbox.ErrorCode(err) != tc.want {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.want)
		}
	}
}

// TestWebhookDeliveryResent: a given-up delivery sent again is delivered
// by the real worker and sender with the same webhook-id, signed with the
// endpoint's secret; it is audited; a pending one, a missing one, another
// tenant's, and an audit reader are refused, and nothing changes. A test
// delivery goes the same way.
func TestWebhookDeliveryResent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarnessWith(t, func(o *approval.Options) { o.AllowPrivateWebhooks = true })
	st, svc := h.store, h.svc
	var got atomic.Pointer[received]
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got.Store(&received{r.Header.Clone(), body})
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(receiver.Close)
	admin := h.as("admin@contoso.test")
	w, err := svc.CreateWebhook(admin, "contoso", lockbox.NewWebhook{URL: receiver.URL + "/hook"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	dead := &lockbox.OutboxMessage{ID: "msg-dead", Channel: lockbox.ChannelWebhook, Tenant: "contoso", Type: lockbox.OpRequestApproved,
		WebhookID: w.ID, Payload: []byte(`{"type":"request.approved"}`), Status: lockbox.OutboxDead, Attempts: 1,
		CreatedAt: now.Add(-25 * time.Hour), NextAttemptAt: now.Add(-25 * time.Hour), LastError: "http_status: 410 Gone", FinishedAt: &now}
	if err := st.Update(ctx, func(tx lockbox.Tx) error { return tx.EnqueueOutbox(ctx, dead) }); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, by, tenant, id, delivery, want string }{
		{"Missing", "admin@contoso.test", "contoso", w.ID, "nope", lockbox.ENOTFOUND},
		{"AnotherTenant", "admin@fabrikam.test", "fabrikam", w.ID, "msg-dead", lockbox.ENOTFOUND},
		{"AuditReader", "auditor@contoso.test", "contoso", w.ID, "msg-dead", lockbox.EFORBIDDEN},
	} {
		if _, err := svc.ResendWebhookDelivery(h.as(tc.by), tc.tenant, tc.id, tc.delivery); lockbox.ErrorCode(err) != tc.want {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.want)
		}
	}
	d, err := svc.ResendWebhookDelivery(admin, "contoso", w.ID, "msg-dead")
	if err != nil || d.Status != lockbox.OutboxPending || d.NextAttemptAt == nil {
		t.Fatalf("resend = %+v, %v; want it pending", d, err)
	}
	if _, err := svc.ResendWebhookDelivery(admin, "contoso", w.ID, "msg-dead"); lockbox.ErrorCode(err) != lockbox.ECONFLICT {
		t.Errorf("resending a pending delivery: %v, want conflict", err)
	}
	recs := h.auditOf("contoso", lockbox.OpWebhookDeliveryResent)
	if len(recs) != 1 || recs[0].AuditData["delivery_id"] != "msg-dead" || recs[0].AuditData["webhook_id"] != w.ID {
		t.Fatalf("webhook.delivery_resent records: %v", recs)
	}

	worker := outbox.New(st, lockbox.SystemClock{}, map[string]outbox.Deliverer{lockbox.ChannelWebhook: &webhook.Sender{
		Lookup: svc.WebhookForDelivery, AllowPrivate: true, Clock: lockbox.SystemClock{}}}, outbox.Options{})
	if _, err := worker.DeliverDue(ctx); err != nil {
		t.Fatal(err)
	}
	r := got.Load()
	if r == nil || r.header.Get("webhook-id") != "msg-dead" {
		t.Fatalf("the receiver got %v, want msg-dead again", r)
	}
	verifier, err := standardwebhooks.NewWebhook(w.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := verifier.Verify(r.body, r.header); err != nil {
		t.Errorf("the resent delivery does not verify with the endpoint's secret: %v", err)
	}
	list, err := svc.ListWebhookDeliveries(admin, "contoso", w.ID)
	if err != nil || len(list) != 1 || list[0].Status != lockbox.OutboxDelivered || list[0].Attempts != 2 {
		t.Errorf("after the resend: %+v, %v; want delivered at attempt 2", list, err)
	}

	// A test delivery: to this endpoint whatever its events, signed,
	// delivered by the same worker, listed, audited; refused like the rest.
	for _, tc := range []struct{ name, by, tenant, id, want string }{
		{"Missing", "admin@contoso.test", "contoso", "nope", lockbox.ENOTFOUND},
		{"AnotherTenant", "admin@fabrikam.test", "fabrikam", w.ID, lockbox.ENOTFOUND},
		{"AuditReader", "auditor@contoso.test", "contoso", w.ID, lockbox.EFORBIDDEN},
	} {
		if _, err := svc.SendWebhookTest(h.as(tc.by), tc.tenant, tc.id); lockbox.ErrorCode(err) != tc.want {
			t.Errorf("test %s: %v, want %s", tc.name, err, tc.want)
		}
	}
	test, err := svc.SendWebhookTest(admin, "contoso", w.ID)
	if err != nil || test.Type != lockbox.EventTypeWebhookTest || test.Status != lockbox.OutboxPending {
		t.Fatalf("SendWebhookTest = %+v, %v", test, err)
	}
	if _, err := worker.DeliverDue(ctx); err != nil {
		t.Fatal(err)
	}
	r = got.Load()
	var n lockbox.Notice
	if err := json.Unmarshal(r.body, &n); err != nil || r.header.Get("webhook-id") != test.ID || n.Type != lockbox.EventTypeWebhookTest ||
		n.Data.Tenant != "contoso" || n.Data.Actor != "admin@contoso.test" {
		t.Fatalf("the receiver got %s (%v), want the test delivery %s", r.body, err, test.ID)
	}
	if err := verifier.Verify(r.body, r.header); err != nil {
		t.Errorf("the test delivery does not verify: %v", err)
	}
	if list, err := svc.ListWebhookDeliveries(admin, "contoso", w.ID); err != nil || len(list) != 2 || list[0].ID != test.ID ||
		list[0].Status != lockbox.OutboxDelivered {
		t.Errorf("deliveries after the test: %+v, %v", list, err)
	}
	if recs := h.auditOf("contoso", lockbox.OpWebhookTestSent); len(recs) != 1 || recs[0].AuditData["delivery_id"] != test.ID {
		t.Errorf("webhook.test_sent records: %v, want one for %s", recs, test.ID)
	}
}

// received is what a test receiver got.
type received struct {
	header http.Header
	body   []byte
}

// TestWebhookUpdated: an endpoint's URL, events and description change in
// place: its secret stays, new events reach it and dropped ones no longer
// do, the change is audited with what it was; bad input, nothing to
// change, another tenant's endpoint and an audit reader are refused, and
// nothing changes.
func TestWebhookUpdated(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := context.Background()
	admin := h.as("admin@contoso.test")
	w, err := h.svc.CreateWebhook(admin, "contoso", lockbox.NewWebhook{URL: "https://hooks.example.com/a",
		Events: []string{lockbox.OpOperatorAction}, Description: "SIEM"})
	if err != nil {
		t.Fatal(err)
	}
	str := func(s string) *string { return &s }
	events := func(e ...string) *[]string { // never nil: an explicit list, as JSON gives
		e = append([]string{}, e...)
		return &e
	}
	for _, tc := range []struct {
		name, by, tenant, id string
		in                   lockbox.WebhookUpdate
		want                 string
	}{
		{"Nothing", "admin@contoso.test", "contoso", w.ID, lockbox.WebhookUpdate{}, lockbox.EINVALID},
		{"PlainHTTP", "admin@contoso.test", "contoso", w.ID, lockbox.WebhookUpdate{URL: str("http://hooks.example.com/b")}, lockbox.EINVALID},
		{"Loopback", "admin@contoso.test", "contoso", w.ID, lockbox.WebhookUpdate{URL: str("https://127.0.0.1/b")}, lockbox.EINVALID},
		{"NoEvents", "admin@contoso.test", "contoso", w.ID, lockbox.WebhookUpdate{Events: events()}, lockbox.EINVALID},
		{"UnknownEvent", "admin@contoso.test", "contoso", w.ID, lockbox.WebhookUpdate{Events: events("request.exploded")}, lockbox.EINVALID},
		{"LongDescription", "admin@contoso.test", "contoso", w.ID, lockbox.WebhookUpdate{Description: str(strings.Repeat("x", 201))}, lockbox.EINVALID},
		{"Missing", "admin@contoso.test", "contoso", "nope", lockbox.WebhookUpdate{Description: str("x")}, lockbox.ENOTFOUND},
		{"AnotherTenant", "admin@fabrikam.test", "fabrikam", w.ID, lockbox.WebhookUpdate{Description: str("x")}, lockbox.ENOTFOUND},
		{"AuditReader", "auditor@contoso.test", "contoso", w.ID, lockbox.WebhookUpdate{Description: str("x")}, lockbox.EFORBIDDEN},
	} {
		if _, err := h.svc.UpdateWebhook(h.as(tc.by), tc.tenant, tc.id, tc.in); lockbox.ErrorCode(err) != tc.want {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.want)
		}
	}
	if list, _ := h.svc.ListWebhooks(admin, "contoso"); len(list) != 1 || list[0].URL != w.URL || list[0].Description != "SIEM" {
		t.Fatalf("a refused update changed the endpoint: %+v", list)
	}

	u, err := h.svc.UpdateWebhook(admin, "contoso", w.ID, lockbox.WebhookUpdate{URL: str("https://hooks.example.com/b"),
		Events: events(lockbox.EventTypeRequestPending)})
	if err != nil {
		t.Fatal(err)
	}
	if u.URL != "https://hooks.example.com/b" || !slices.Equal(u.Events, []string{lockbox.EventTypeRequestPending}) ||
		u.Description != "SIEM" || u.Secret != "" || u.ID != w.ID {
		t.Errorf("updated: %+v", u)
	}
	got, secrets, err := h.svc.WebhookForDelivery(ctx, "contoso", w.ID)
	if err != nil || got.URL != u.URL || !slices.Equal(secrets, []string{w.Secret}) {
		t.Errorf("delivery after the update: %+v, %d secrets, %v; want the new URL and the same secret", got, len(secrets), err)
	}
	// The new event reaches it, the dropped one no longer does.
	err = h.store.Update(ctx, func(tx lockbox.Tx) error {
		if err := approval.EmitWebhookEvent(ctx, tx, lockbox.OpOperatorAction, lockbox.NoticeData{Tenant: "contoso"}, time.Now()); err != nil {
			return err
		}
		return approval.EmitWebhookEvent(ctx, tx, lockbox.EventTypeRequestPending, lockbox.NoticeData{Tenant: "contoso"}, time.Now())
	})
	if err != nil {
		t.Fatal(err)
	}
	deliveries, err := h.svc.ListWebhookDeliveries(admin, "contoso", w.ID)
	if err != nil || len(deliveries) != 1 || deliveries[0].Type != lockbox.EventTypeRequestPending {
		t.Errorf("deliveries after the update: %+v, %v; want the request.pending only", deliveries, err)
	}
	recs := h.auditOf("contoso", lockbox.OpWebhookUpdated)
	if len(recs) != 1 {
		t.Fatalf("%d webhook.updated records, want 1", len(recs))
	}
	b, _ := json.Marshal(recs[0].AuditData)
	for _, want := range []string{`"target":"https://hooks.example.com"`, `"previous":{`, `"operator.action"`, `"request.pending"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("webhook.updated data %s lacks %s", b, want)
		}
	}
}
