package approval

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/lockboxhq/lockbox"
)

// Notifications are recorded here, in the transaction of the change that
// causes them (SPEC §5): the outbox commits or rolls back with the
// request's new state and its audit record, and the delivery worker (package
// outbox) sends them later. Recipients are resolved now, inside the
// transaction, so a notification goes to whoever held the role when the
// event happened.

// emit records the notifications that rule's row gives r's change (r
// already holds the new status): emails to the tenant's approvers, to the
// requester, and a webhook delivery to each of the tenant's endpoints
// subscribed to the event, once the tenant can see the request.
func (s *Service) emit(ctx context.Context, tx lockbox.Tx, u *lockbox.User, r *lockbox.AccessRequest, rule lockbox.EventRule, comment string, settings *lockbox.Settings, now time.Time) error {
	data := lockbox.NoticeData{Tenant: r.Tenant, Actor: u.Email, Comment: comment, Request: r.Clone()}
	if tn, err := tx.GetTenant(ctx, r.Tenant); err == nil {
		data.TenantName = tn.DisplayName
	} else if lockbox.ErrorCode(err) != lockbox.ENOTFOUND {
		return err
	}
	for _, kind := range approverNotices(rule, r, settings) {
		if err := enqueueApproverEmails(ctx, tx, kind, data, now); err != nil {
			return err
		}
	}
	if kind := rule.TellEscalation; kind != "" {
		if err := enqueueEmails(ctx, tx, settings.Escalation.Notify, kind, data, now); err != nil {
			return err
		}
	}
	if kind := rule.TellRequester; kind != "" {
		msg, err := emailMessage(r.Tenant, r.RequestedBy, kind, data, now)
		if err != nil {
			return err
		}
		if err := tx.EnqueueOutbox(ctx, msg); err != nil {
			return fmt.Errorf("enqueue %s email: %w", kind, err)
		}
	}
	if !r.TenantVisible || rule.Webhook == "" {
		return nil // provider-internal steps reach the tenant through its audit log only
	}
	return EmitWebhookEvent(ctx, tx, rule.Webhook, data, now)
}

// approverNotices are the emails rule's event, which left r as it is, sends
// the tenant's approvers. They are not asked to decide a request the
// system or a policy rule decides at once (decidedAtOnce: a tenant that
// does not require approval, break-glass, a rule's deny or auto_approve,
// unless the tenant requires signed decisions): that decision follows in
// the same transaction, so there is nothing to decide.
func approverNotices(rule lockbox.EventRule, r *lockbox.AccessRequest, settings *lockbox.Settings) []string {
	var kinds []string
	if ev, _ := decidedAtOnce(r, settings); rule.AskApprovers != "" && ev == "" {
		kinds = append(kinds, rule.AskApprovers)
	}
	if rule.TellApprovers != "" {
		kinds = append(kinds, rule.TellApprovers)
	}
	return kinds
}

// EmitWebhookEvent records, in tx, a delivery of event typ (one of
// lockbox.WebhookEvents) to each of data.Tenant's webhook endpoints that
// subscribed to it. Call it from any code that changes state in a store
// transaction — for example an operator action being audited:
//
//	approval.EmitWebhookEvent(ctx, tx, lockbox.OpOperatorAction,
//		lockbox.NoticeData{Tenant: tenant, Actor: "Provider Operator", Action: rec.AuditData}, now)
//
// The deliveries commit or roll back with tx. A tenant without endpoints
// costs one query.
func EmitWebhookEvent(ctx context.Context, tx lockbox.Tx, typ string, data lockbox.NoticeData, now time.Time) error {
	if !slices.Contains(lockbox.WebhookEvents, typ) {
		return fmt.Errorf("emit webhook event: unknown event type %q", typ)
	}
	hooks, err := tx.ListWebhooks(ctx, data.Tenant)
	if err != nil {
		return fmt.Errorf("emit %s: list webhooks: %w", typ, err)
	}
	var msgs []*lockbox.OutboxMessage
	for _, w := range hooks {
		if !w.Subscribed(typ) {
			continue
		}
		payload, err := notice(typ, data, now)
		if err != nil {
			return err
		}
		msgs = append(msgs, &lockbox.OutboxMessage{
			ID: newID(), Channel: lockbox.ChannelWebhook, Tenant: data.Tenant, Type: typ, WebhookID: w.ID,
			Payload: payload, Status: lockbox.OutboxPending, CreatedAt: now, NextAttemptAt: now,
		})
	}
	if len(msgs) == 0 {
		return nil
	}
	if err := tx.EnqueueOutbox(ctx, msgs...); err != nil {
		return fmt.Errorf("enqueue %s webhooks: %w", typ, err)
	}
	return nil
}

// enqueueApproverEmails records one email of kind to each of the tenant's
// global admins, lockbox approvers and notify_emails addresses: one message
// per address, so no recipient sees another's address and one bouncing
// address does not hold up the rest.
func enqueueApproverEmails(ctx context.Context, tx lockbox.Tx, kind string, data lockbox.NoticeData, now time.Time) error {
	to, err := approverAddresses(ctx, tx, data.Tenant)
	if err != nil {
		return err
	}
	return enqueueEmails(ctx, tx, to, kind, data, now)
}

// enqueueEmails records one email of kind to each address of to.
func enqueueEmails(ctx context.Context, tx lockbox.Tx, to []string, kind string, data lockbox.NoticeData, now time.Time) error {
	if len(to) == 0 {
		return nil
	}
	payload, err := notice(kind, data, now) // one notice, whoever it goes to
	if err != nil {
		return err
	}
	msgs := make([]*lockbox.OutboxMessage, 0, len(to))
	for _, addr := range to {
		msgs = append(msgs, emailTo(data.Tenant, addr, kind, payload, now))
	}
	if err := tx.EnqueueOutbox(ctx, msgs...); err != nil {
		return fmt.Errorf("enqueue %s emails: %w", kind, err)
	}
	return nil
}

// approverAddresses are the tenant's global admins and lockbox approvers,
// then its notify_emails, each address once.
func approverAddresses(ctx context.Context, tx lockbox.Tx, tenant string) ([]string, error) {
	users, err := tx.ListUsers(ctx, tenant)
	if err != nil {
		return nil, fmt.Errorf("list approvers of %s: %w", tenant, err)
	}
	settings, err := tx.GetSettings(ctx, tenant)
	if err != nil {
		return nil, fmt.Errorf("settings of %s: %w", tenant, err)
	}
	var out []string
	add := func(addr string) {
		addr = lockbox.NormalizeEmail(addr)
		if lockbox.ValidEmail(addr) && !slices.Contains(out, addr) {
			out = append(out, addr)
		}
	}
	for _, u := range users {
		if u.IsTenantApprover(tenant) {
			add(u.Email)
		}
	}
	for _, addr := range settings.NotifyEmails {
		add(addr)
	}
	return out, nil
}

func emailMessage(tenant, to, kind string, data lockbox.NoticeData, now time.Time) (*lockbox.OutboxMessage, error) {
	payload, err := notice(kind, data, now)
	if err != nil {
		return nil, err
	}
	return emailTo(tenant, to, kind, payload, now), nil
}

// emailTo is the outbox message that emails the notice payload to to.
func emailTo(tenant, to, kind string, payload []byte, now time.Time) *lockbox.OutboxMessage {
	return &lockbox.OutboxMessage{
		ID: newID(), Channel: lockbox.ChannelEmail, Tenant: tenant, Type: kind, To: to,
		Payload: payload, Status: lockbox.OutboxPending, CreatedAt: now, NextAttemptAt: now,
	}
}

func notice(typ string, data lockbox.NoticeData, now time.Time) ([]byte, error) {
	b, err := json.Marshal(lockbox.Notice{Type: typ, Timestamp: now, Data: data})
	if err != nil {
		return nil, fmt.Errorf("encode %s notice: %w", typ, err)
	}
	return b, nil
}

// reminderBatch is how many due reminders one sweep reads at a time.
const (
	reminderBatch     = 100
	maxReminderRounds = 100
)

// EnqueueReminders records the expiry reminder of every pending request
// whose tenant's reminder time has come (reminder_minutes_before_expiry
// before expires_at). Each request is handled in its own transaction under
// its row lock and recorded with MarkReminded, so any number of workers and
// replicas may run this at once and each request is reminded at most once.
func (s *Service) EnqueueReminders(ctx context.Context) error {
	// Bounded: a request the sweep reads but does not remind (its settings
	// changed meanwhile) must not keep one sweep going forever.
	for range maxReminderRounds {
		var ids []string
		err := s.store.View(ctx, func(tx lockbox.Tx) (err error) {
			ids, err = tx.DueReminders(ctx, s.now(), reminderBatch)
			return err
		})
		if err != nil {
			return fmt.Errorf("find due reminders: %w", err)
		}
		for _, id := range ids {
			if err := s.remindOne(ctx, id); err != nil {
				return fmt.Errorf("remind %s: %w", id, err)
			}
		}
		if len(ids) < reminderBatch {
			return nil
		}
	}
	return nil
}

// remindOne enqueues one request's reminder if it is still due: the request
// may have been decided, or its reminder sent by another replica, since the
// sweep read it. A request found past its deadline is settled instead, and
// one whose stored reminder time no longer follows the rule (the tenant's
// settings changed meanwhile) gets the right time instead.
func (s *Service) remindOne(ctx context.Context, id string) error {
	return s.store.Update(ctx, func(tx lockbox.Tx) error {
		now := s.now()
		r, err := tx.GetRequest(ctx, id)
		if err != nil {
			return err
		}
		if err := s.settle(ctx, tx, r, now); err != nil {
			return err
		}
		settings, err := tx.GetSettings(ctx, r.Tenant)
		if err != nil {
			return err
		}
		if at := lockbox.RemindAt(r, *settings); at == nil || at.After(now) {
			return reschedule(ctx, tx, r, settings)
		}
		if first, err := tx.MarkReminded(ctx, r.ID, now); err != nil || !first {
			return err
		}
		data := lockbox.NoticeData{Tenant: r.Tenant, Actor: lockbox.System.Email, Request: r.Clone()}
		if tn, err := tx.GetTenant(ctx, r.Tenant); err == nil {
			data.TenantName = tn.DisplayName
		}
		return enqueueApproverEmails(ctx, tx, lockbox.NoticeReminder, data, now)
	})
}

// remindDue runs EnqueueReminders for the worker, logging a failure; the
// next round retries.
func (s *Service) remindDue(ctx context.Context) {
	if err := s.EnqueueReminders(ctx); err != nil && ctx.Err() == nil {
		s.opts.Logger.Error("enqueueing reminders failed; retrying", "err", err)
	}
}

// nextWakeWithReminders is next, or the next reminder time when earlier.
func nextWakeWithReminders(ctx context.Context, tx lockbox.Tx, now, next time.Time) (time.Time, error) {
	r, err := tx.NextReminder(ctx, now)
	if err != nil {
		return next, err
	}
	if !r.IsZero() && (next.IsZero() || r.Before(next)) {
		return r, nil
	}
	return next, nil
}
