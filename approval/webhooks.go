package approval

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net"
	"net/url"
	"time"

	"github.com/lockboxhq/lockbox"
)

var _ lockbox.WebhookService = (*Service)(nil)

// CreateWebhook registers a tenant's webhook endpoint and returns it with its
// signing secret, which is shown this once. The audit record names the
// target's scheme and host only: webhook URLs often carry a token in their
// path or query, and audit readers need not see it.
func (s *Service) CreateWebhook(ctx context.Context, tenant string, in lockbox.NewWebhook) (*lockbox.Webhook, error) {
	u, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	if err := lockbox.Authorize(u, lockbox.PermManageWebhooks, tenant); err != nil {
		return nil, err
	}
	w, err := s.newWebhook(ctx, u, tenant, in)
	if err != nil {
		return nil, err
	}
	secret := newWebhookSecret()
	sealed, err := s.sealSecret(webhookSecretOf(tenant, w.ID), secret)
	if err != nil {
		return nil, err
	}
	err = s.store.Update(ctx, func(tx lockbox.Tx) error {
		existing, err := tx.ListWebhooks(ctx, tenant)
		if err != nil {
			return err
		}
		if len(existing) >= lockbox.MaxWebhooksPerTenant {
			return lockbox.Errorf(lockbox.EINVALID, "A tenant may have at most %d webhooks; delete one first.", lockbox.MaxWebhooksPerTenant)
		}
		if err := tx.InsertWebhook(ctx, w, sealed); err != nil {
			return err
		}
		return appendAudit(ctx, tx, webhookRecord(ctx, u, w, lockbox.OpWebhookCreated, w.CreatedAt))
	})
	if err != nil {
		return nil, err
	}
	w.Secret = secret
	return w, nil
}

// newWebhook validates in and builds the endpoint u registers.
func (s *Service) newWebhook(ctx context.Context, u *lockbox.User, tenant string, in lockbox.NewWebhook) (*lockbox.Webhook, error) {
	set, err := s.checkWebhook(ctx, lockbox.WebhookUpdate{URL: &in.URL, Events: &in.Events, Description: &in.Description})
	if err != nil {
		return nil, err
	}
	w := &lockbox.Webhook{ID: newID(), Tenant: tenant, CreatedBy: u.Email, CreatedAt: s.now()}
	set.apply(w)
	return w, nil
}

// checkWebhook judges the fields in sets, and returns them as they are
// stored (the events in their canonical order): the one place an
// endpoint's URL, events and description are judged, for registering and
// for changing one.
func (s *Service) checkWebhook(ctx context.Context, in lockbox.WebhookUpdate) (webhookFields, error) {
	if in.URL != nil {
		target, err := lockbox.ValidateWebhookURL(*in.URL, s.opts.AllowPrivateWebhooks)
		if err != nil {
			return webhookFields{}, err
		}
		if err := s.checkWebhookHost(ctx, target); err != nil {
			return webhookFields{}, err
		}
	}
	if in.Events != nil {
		events, err := lockbox.ValidateWebhookEvents(*in.Events)
		if err != nil {
			return webhookFields{}, err
		}
		in.Events = &events
	}
	if in.Description != nil {
		if err := lockbox.ValidText("description", *in.Description, lockbox.MaxWebhookDescription, false); err != nil {
			return webhookFields{}, err
		}
	}
	return webhookFields(in), nil
}

// webhookFields are an endpoint's fields as checkWebhook passed them.
type webhookFields lockbox.WebhookUpdate

// apply sets the fields given on w.
func (f webhookFields) apply(w *lockbox.Webhook) {
	if f.URL != nil {
		w.URL = *f.URL
	}
	if f.Events != nil {
		w.Events = *f.Events
	}
	if f.Description != nil {
		w.Description = *f.Description
	}
}

// UpdateWebhook changes an endpoint's URL, events or description. Its
// secret stays, and so do its undelivered deliveries: they go to the new
// URL. The new URL is checked as at registration, before the change's
// transaction (resolving a name may take seconds); the caller's right is
// checked before that too, so nobody without it has the server resolve a
// name, and again by changeWebhook in the transaction.
func (s *Service) UpdateWebhook(ctx context.Context, tenant, id string, in lockbox.WebhookUpdate) (*lockbox.Webhook, error) {
	u, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	if err := lockbox.Authorize(u, lockbox.PermManageWebhooks, tenant); err != nil {
		return nil, err
	}
	if in.URL == nil && in.Events == nil && in.Description == nil {
		return nil, lockbox.Errorf(lockbox.EINVALID, "Nothing to change: give a new url, events or description.")
	}
	set, err := s.checkWebhook(ctx, in)
	if err != nil {
		return nil, err
	}
	var out *lockbox.Webhook
	err = s.changeWebhook(ctx, tenant, id, func(tx lockbox.Tx, u *lockbox.User, w *lockbox.Webhook, _ lockbox.StoredWebhookSecrets, now time.Time) error {
		before := *w
		set.apply(w)
		if err := tx.UpdateWebhook(ctx, w); err != nil {
			return err
		}
		rec := webhookRecord(ctx, u, w, lockbox.OpWebhookUpdated, now)
		rec.AuditData["previous"] = map[string]any{"target": webhookTarget(before.URL), "events": before.Events, "description": before.Description}
		out = w
		return appendAudit(ctx, tx, rec)
	})
	return out, err
}

// checkWebhookHost resolves a webhook's host name now and refuses it when
// any address it reaches is not public (SPEC §14). A name that does not
// resolve yet is accepted: it reaches nothing, and the delivery dialer
// checks every address again at each connection.
func (s *Service) checkWebhookHost(ctx context.Context, target *lockbox.WebhookURL) error {
	if s.opts.AllowPrivateWebhooks || target.Name == "" {
		return nil
	}
	resolver := s.opts.Resolver
	if resolver == nil {
		resolver = net.DefaultResolver
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := lockbox.WebhookAddrs(ctx, resolver, target.Name, false)
	if lockbox.ErrorCode(err) == lockbox.EINVALID {
		return err
	}
	return nil
}

// WebhookForDelivery is the endpoint a delivery goes to and the secrets it
// is signed with, opened (webhook.Lookup): the current one, then the one a
// rotation replaced while its grace lasts (previousSecretLive). Only the
// outbox's deliveries ask. A current secret that does not open is
// EUNAVAILABLE, so the message waits and is retried (the log says which key
// is missing) rather than sent unsigned; a previous one that does not open
// is left out.
func (s *Service) WebhookForDelivery(ctx context.Context, tenant, id string) (*lockbox.Webhook, []string, error) {
	var w *lockbox.Webhook
	var stored lockbox.StoredWebhookSecrets
	if err := s.store.View(ctx, func(tx lockbox.Tx) (err error) {
		w, stored, err = tx.GetWebhook(ctx, tenant, id)
		return err
	}); err != nil {
		return nil, nil, err
	}
	secret, _, err := s.openSecret(ctx, webhookSecretOf(tenant, id), stored.Current)
	if err != nil {
		return nil, nil, lockbox.Errorf(lockbox.EUNAVAILABLE, "The signing secret of webhook %s cannot be read with this server's keys.", id)
	}
	secrets := []string{secret}
	if previousSecretLive(stored, s.now()) {
		if prev, _, err := s.openSecret(ctx, previousWebhookSecretOf(tenant, id), stored.Previous); err == nil {
			secrets = append(secrets, prev)
		}
	}
	return w, secrets, nil
}

// previousSecretLive says whether a rotation's replaced secret still signs.
func previousSecretLive(s lockbox.StoredWebhookSecrets, now time.Time) bool {
	return s.Previous != "" && graceLasts(s.PreviousUntil, now)
}

// graceLasts is the one rule of a rotation's grace: the replaced secret
// signs until its end, and not at or after it, whether or not anything
// cleared it.
func graceLasts(until, now time.Time) bool { return now.Before(until) }

// RotateWebhookSecret gives an endpoint a new signing secret, shown this
// once. With a grace period the old one keeps signing deliveries beside it
// until the grace ends, so a receiver can switch to the new secret without
// refusing a delivery; any earlier previous secret is dropped. A current
// secret this server cannot open (a database restored without its key
// directory) is replaced with no grace: that is how such an endpoint is
// given a working secret again.
func (s *Service) RotateWebhookSecret(ctx context.Context, tenant, id string, grace time.Duration) (*lockbox.Webhook, error) {
	if err := checkRotationGrace(grace); err != nil {
		return nil, err
	}
	secret := newWebhookSecret()
	var out *lockbox.Webhook
	var next lockbox.StoredWebhookSecrets
	err := s.changeWebhook(ctx, tenant, id, func(tx lockbox.Tx, u *lockbox.User, w *lockbox.Webhook, stored lockbox.StoredWebhookSecrets, now time.Time) error {
		var err error
		next = lockbox.StoredWebhookSecrets{}
		if next.Current, err = s.sealSecret(webhookSecretOf(tenant, id), secret); err != nil {
			return err
		}
		if grace > 0 {
			if old, _, err := s.openSecret(ctx, webhookSecretOf(tenant, id), stored.Current); err == nil {
				if next.Previous, err = s.sealSecret(previousWebhookSecretOf(tenant, id), old); err != nil {
					return err
				}
				next.PreviousUntil = now.Add(grace)
			}
		}
		err = tx.RotateWebhookSecret(ctx, tenant, id, stored.Current, next)
		if lockbox.ErrorCode(err) == lockbox.ENOTFOUND {
			return lockbox.Errorf(lockbox.ECONFLICT, "The secret of webhook %s changed while it was being rotated; rotate it again.", id)
		} else if err != nil {
			return err
		}
		rec := webhookRecord(ctx, u, w, lockbox.OpWebhookSecretRotated, now)
		rec.AuditData["grace_seconds"] = int(grace.Seconds())
		rec.AuditData["previous_kept"] = next.Previous != ""
		out = w
		return appendAudit(ctx, tx, rec)
	})
	if err != nil {
		return nil, err
	}
	out.Secret = secret
	if next.Previous != "" {
		until := next.PreviousUntil
		out.PreviousSecretExpiresAt = &until
	}
	return out, nil
}

// ListWebhookDeliveries returns an endpoint's latest deliveries, so its
// admins can see whether their receiver takes them.
func (s *Service) ListWebhookDeliveries(ctx context.Context, tenant, id string) ([]*lockbox.WebhookDelivery, error) {
	u, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	if err := lockbox.Authorize(u, lockbox.PermManageWebhooks, tenant); err != nil {
		return nil, err
	}
	var msgs []*lockbox.OutboxMessage
	err = s.store.View(ctx, func(tx lockbox.Tx) (err error) {
		if _, _, err = tx.GetWebhook(ctx, tenant, id); err != nil {
			return err
		}
		msgs, err = tx.WebhookDeliveries(ctx, tenant, id, lockbox.MaxWebhookDeliveries)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]*lockbox.WebhookDelivery, len(msgs))
	for i, m := range msgs {
		out[i] = deliveryOf(m)
	}
	return out, nil
}

// deliveryOf is what an endpoint's admins see of one of its messages.
func deliveryOf(m *lockbox.OutboxMessage) *lockbox.WebhookDelivery {
	d := &lockbox.WebhookDelivery{ID: m.ID, Type: m.Type, Status: m.Status, Attempts: m.Attempts, Created: m.CreatedAt,
		FinishedAt: m.FinishedAt, ResentAt: m.ResentAt, LastError: m.LastError}
	if m.Status == lockbox.OutboxPending {
		next := m.NextAttemptAt
		d.NextAttemptAt = &next
	}
	return d
}

// ResendWebhookDelivery sends a finished delivery again: a receiver that
// lost one, or was down longer than the retries last, gets it with the
// same webhook-id (so it can tell a repeat), signed afresh. It is due at
// once; the delivery worker takes it within its poll (a second). If it
// fails, it is retried as a new one would be: for 24 hours from the resend.
func (s *Service) ResendWebhookDelivery(ctx context.Context, tenant, id, delivery string) (*lockbox.WebhookDelivery, error) {
	var out *lockbox.WebhookDelivery
	err := s.changeWebhook(ctx, tenant, id, func(tx lockbox.Tx, u *lockbox.User, w *lockbox.Webhook, _ lockbox.StoredWebhookSecrets, now time.Time) error {
		m, err := tx.ResendWebhookDelivery(ctx, tenant, id, delivery, now)
		if err != nil {
			return err
		}
		rec := webhookRecord(ctx, u, w, lockbox.OpWebhookDeliveryResent, now)
		rec.AuditData["delivery_id"], rec.AuditData["event"] = m.ID, m.Type
		out = deliveryOf(m)
		return appendAudit(ctx, tx, rec)
	})
	return out, err
}

// SendWebhookTest queues a webhook.test delivery to one endpoint, whatever
// its events, so its admins can check that their receiver takes Lockbox's
// deliveries and verifies their signature. It is delivered, retried and
// listed like any other.
func (s *Service) SendWebhookTest(ctx context.Context, tenant, id string) (*lockbox.WebhookDelivery, error) {
	var out *lockbox.WebhookDelivery
	err := s.changeWebhook(ctx, tenant, id, func(tx lockbox.Tx, u *lockbox.User, w *lockbox.Webhook, _ lockbox.StoredWebhookSecrets, now time.Time) error {
		t, err := tx.GetTenant(ctx, tenant)
		if err != nil {
			return err
		}
		payload, err := notice(lockbox.EventTypeWebhookTest, lockbox.NoticeData{Tenant: tenant, TenantName: t.DisplayName, Actor: u.Email,
			Comment: "A test delivery from Lockbox: no request or action is behind it."}, now)
		if err != nil {
			return err
		}
		m := &lockbox.OutboxMessage{ID: newID(), Channel: lockbox.ChannelWebhook, Tenant: tenant, Type: lockbox.EventTypeWebhookTest,
			WebhookID: w.ID, Payload: payload, Status: lockbox.OutboxPending, CreatedAt: now, NextAttemptAt: now}
		if err := tx.EnqueueOutbox(ctx, m); err != nil {
			return err
		}
		rec := webhookRecord(ctx, u, w, lockbox.OpWebhookTestSent, now)
		rec.AuditData["delivery_id"] = m.ID
		out = deliveryOf(m)
		return appendAudit(ctx, tx, rec)
	})
	return out, err
}

// ListWebhooks lists a tenant's endpoints, without their secrets, each
// with the end of its rotation's grace while it lasts.
func (s *Service) ListWebhooks(ctx context.Context, tenant string) ([]*lockbox.Webhook, error) {
	u, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	if err := lockbox.Authorize(u, lockbox.PermManageWebhooks, tenant); err != nil {
		return nil, err
	}
	var out []*lockbox.Webhook
	var waiting map[string]lockbox.WebhookWaiting
	err = s.store.View(ctx, func(tx lockbox.Tx) (err error) {
		if out, err = tx.ListWebhooks(ctx, tenant); err != nil {
			return err
		}
		ids := make([]string, len(out))
		for i, w := range out {
			ids[i] = w.ID
		}
		waiting, err = tx.WaitingDeliveries(ctx, tenant, ids)
		return err
	})
	now := s.now()
	for _, w := range out {
		if w.PreviousSecretExpiresAt != nil && !graceLasts(*w.PreviousSecretExpiresAt, now) {
			w.PreviousSecretExpiresAt = nil
		}
		if b, ok := waiting[w.ID]; ok {
			w.Waiting, w.WaitingSince = b.Count, &b.Since
		}
	}
	return out, err
}

// DeleteWebhook removes an endpoint; its undelivered deliveries go with it.
func (s *Service) DeleteWebhook(ctx context.Context, tenant, id string) error {
	return s.changeWebhook(ctx, tenant, id, func(tx lockbox.Tx, u *lockbox.User, w *lockbox.Webhook, _ lockbox.StoredWebhookSecrets, now time.Time) error {
		if err := tx.DeleteWebhook(ctx, tenant, id); err != nil {
			return err
		}
		return appendAudit(ctx, tx, webhookRecord(ctx, u, w, lockbox.OpWebhookDeleted, now))
	})
}

// changeWebhook is how every change of one endpoint starts: the caller
// must manage tenant's webhooks, and change runs in one write transaction
// with the endpoint as stored (ENOTFOUND when there is none, another
// tenant's included) and the time of the change.
func (s *Service) changeWebhook(ctx context.Context, tenant, id string,
	change func(tx lockbox.Tx, u *lockbox.User, w *lockbox.Webhook, stored lockbox.StoredWebhookSecrets, now time.Time) error) error {
	u, err := actor(ctx)
	if err != nil {
		return err
	}
	if err := lockbox.Authorize(u, lockbox.PermManageWebhooks, tenant); err != nil {
		return err
	}
	return s.store.Update(ctx, func(tx lockbox.Tx) error {
		w, stored, err := tx.GetWebhook(ctx, tenant, id)
		if err != nil {
			return err
		}
		return change(tx, u, w, stored, s.now())
	})
}

func webhookRecord(ctx context.Context, u *lockbox.User, w *lockbox.Webhook, op string, now time.Time) *lockbox.AuditRecord {
	rec := newRecord(ctx, u, w.Tenant, lockbox.RecordTenantAdmin, op, now)
	rec.AuditData = map[string]any{
		"webhook_id": w.ID, "target": webhookTarget(w.URL), "events": w.Events, "description": w.Description,
	}
	return rec
}

// webhookTarget is the scheme and host of an endpoint URL.
func webhookTarget(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// newWebhookSecret returns a Standard Webhooks secret: "whsec_" and the
// base64 of 32 random bytes (the HMAC-SHA256 key).
func newWebhookSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}
