// Package outbox is the delivery worker of Lockbox's notifications (SPEC
// §5). The workflow records every notification in the store's outbox in the
// transaction of the change that causes it; this worker claims due messages
// under a lease (one delivery attempt at a time per message, whichever
// replica runs it), hands each to its channel's Deliverer (package mail,
// package webhook), and records the result: delivered, retried later with
// exponential backoff and jitter, or — after at least RetryFor of failures,
// or a permanent failure — dead, which stays stored and counted. Results of
// attempts that end close together are recorded in one transaction
// (recorder.go). The workflow of this process hands its notifications to
// this worker already leased as their transaction commits, and they are
// sent at once (handoff.go); rounds take the rest. Each channel has a lane
// of its own (lane.go): a webhook receiver that hangs never holds back an
// approver's email.
//
// Delivery is at least once: a worker that crashes after sending but before
// recording the result leaves the message to be sent again when its lease
// ends, with the same id (the email's Message-ID, the webhook-id), so the
// receiver can tell it is the same notification.
//
// It imports the root lockbox package, the Prometheus client,
// go-json-experiment and the standard library; cmd/lockbox wires in the
// deliverers.
package outbox

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/lockboxhq/lockbox"
)

// Deliverer sends one message of its channel. Failures should be
// *lockbox.DeliveryError (Permanent: retrying cannot help); any other error
// counts as temporary.
type Deliverer interface {
	Deliver(ctx context.Context, m *lockbox.OutboxMessage) error
}

// Options tune a Worker. Zero values mean the defaults.
type Options struct {
	Batch      int           // messages sent at once: emails in all, webhooks to one endpoint (8)
	Claim      int           // messages claimed per round (64), and webhooks sent at once in all
	Lease      time.Duration // how long one attempt may take before another worker may retry it (2m)
	Poll       time.Duration // longest sleep, so other replicas' new messages are seen (1s)
	RetryFor   time.Duration // keep retrying at least this long after the message was created or resent (24h)
	BaseDelay  time.Duration // delay after the first failure (30s), doubling per attempt
	MaxDelay   time.Duration // cap on the delay between attempts (1h)
	Retention  time.Duration // delivered and dead messages are purged after this (7 days)
	Logger     *slog.Logger
	Metrics    *Metrics       // nil: no metrics
	Jitter     func() float64 // uniform in [0, 1); tests fix it (default math/rand/v2)
	purgeEvery time.Duration
}

func (o Options) withDefaults() Options {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if o.Batch == 0 {
		o.Batch = 8
	}
	if o.Claim == 0 {
		o.Claim = 64
	}
	o.Claim = max(o.Claim, o.Batch)
	def(&o.Lease, 2*time.Minute)
	def(&o.Poll, time.Second)
	def(&o.RetryFor, 24*time.Hour)
	def(&o.BaseDelay, 30*time.Second)
	def(&o.MaxDelay, time.Hour)
	def(&o.Retention, 7*24*time.Hour)
	def(&o.purgeEvery, time.Hour)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Jitter == nil {
		o.Jitter = rand.Float64
	}
	return o
}

// Worker delivers the outbox of one store, a lane per channel (lane.go).
type Worker struct {
	store      lockbox.Store
	clock      lockbox.Clock
	deliverers map[string]Deliverer
	opts       Options
	lanes      []*lane
	paused     pauses // webhook endpoints that did not answer (pause.go)

	purgeMu   sync.Mutex
	lastPurge time.Time
}

// New returns a worker for store that reads time from clock and delivers
// each channel (lockbox.ChannelEmail, lockbox.ChannelWebhook) with its
// Deliverer. A message of a channel without one fails temporarily, so it
// waits (and is counted) rather than vanishing.
func New(store lockbox.Store, clock lockbox.Clock, deliverers map[string]Deliverer, opts Options) *Worker {
	opts = opts.withDefaults()
	return &Worker{store: store, clock: clock, deliverers: deliverers, opts: opts, lanes: newLanes(opts)}
}

func (w *Worker) now() time.Time { return w.clock.Now().UTC().Truncate(time.Microsecond) }

// sendRound attempts the messages claimed at claimed, in turn across
// endpoints, each as a slot of the lane frees, hands each outcome to rec,
// and returns how many it attempted. It returns once the last has started
// (r.waits: ended); the sends go on meanwhile, counted by r.sends and
// against their endpoints (lane.taken).
//
// An attempt may take Lease*3/4 (attempt), so one that starts later than
// Lease/4 after the claim could outlast the lease while another worker
// retries the message: those are not started but given back at once
// (release), for the next round or another replica to claim; so are
// those not started when the worker stops. The round is slow, and the
// lane's next claims small (deliverDue), when it gave any back, or when
// its sends took longer than Lease/8 to start (r.waits: to end).
func (w *Worker) sendRound(ctx context.Context, l *lane, rec *recorder, r *rounds, msgs []*lockbox.OutboxMessage, claimed time.Time) (started int) {
	msgs = inTurn(msgs)
	l.taken(msgs)
	latest := claimed.Add(w.opts.Lease / 4)
	var round sync.WaitGroup
	gaveBack := false
	for i, m := range msgs {
		l.slots <- struct{}{}
		why := ""
		switch {
		case ctx.Err() != nil:
			why = "the worker stopped before sending them"
		case w.now().After(latest):
			why = "their round's receivers were too slow"
		}
		if why != "" {
			<-l.slots
			w.release(ctx, msgs[i:], slog.LevelWarn, why)
			for _, m := range msgs[i:] {
				l.ended(m)
			}
			gaveBack = true
			break
		}
		started++
		r.sends.Add(1)
		round.Go(func() {
			defer r.sends.Done()
			defer l.ended(m)
			defer func() { <-l.slots }()
			rec.add(w.attempt(ctx, m))
		})
	}
	if r.waits {
		round.Wait()
	}
	l.slow.Store(gaveBack || w.now().Sub(claimed) > w.opts.Lease/8)
	return started
}

// inTurn orders a round's messages so that webhook endpoints take turns:
// each endpoint's first, then each one's second, and so on, each
// endpoint's in the order given. A burst to one slow endpoint then does
// not keep the other endpoints' deliveries for the round's later waves.
// Emails (no endpoint) keep their order.
func inTurn(msgs []*lockbox.OutboxMessage) []*lockbox.OutboxMessage {
	var endpoints []string
	queues := map[string][]*lockbox.OutboxMessage{}
	for _, m := range msgs {
		if _, ok := queues[m.WebhookID]; !ok {
			endpoints = append(endpoints, m.WebhookID)
		}
		queues[m.WebhookID] = append(queues[m.WebhookID], m)
	}
	if len(endpoints) < 2 {
		return msgs
	}
	out := make([]*lockbox.OutboxMessage, 0, len(msgs))
	for len(out) < len(msgs) {
		for _, id := range endpoints {
			if q := queues[id]; len(q) > 0 {
				out, queues[id] = append(out, q[0]), q[1:]
			}
		}
	}
	return out
}

// full returns the webhook endpoints of which msgs hold a whole share
// (per).
func full(msgs []*lockbox.OutboxMessage, per int) []string {
	if per <= 0 {
		return nil
	}
	var ids []string
	n := map[string]int{}
	for _, m := range msgs {
		if n[m.WebhookID]++; n[m.WebhookID] == per {
			ids = append(ids, m.WebhookID)
		}
	}
	return ids
}

// release gives back claimed messages that were never attempted, so they
// need not wait for their lease (up to Lease) to be sent; why says why,
// for the log, at level. Like a result, it does not follow the worker's
// context, and a release that fails leaves them to their lease.
func (w *Worker) release(ctx context.Context, msgs []*lockbox.OutboxMessage, level slog.Level, why string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	held := make([]lockbox.OutboxAttempt, len(msgs))
	for i, m := range msgs {
		held[i] = lockbox.OutboxAttempt{ID: m.ID, Attempt: m.Attempts}
	}
	var n int
	err := w.store.Update(ctx, func(tx lockbox.Tx) (err error) {
		n, err = tx.ReleaseOutbox(ctx, held...)
		return err
	})
	if err != nil {
		w.opts.Logger.Warn("notifications left to their lease: giving them back failed",
			"why", why, "left", len(msgs), "lease", w.opts.Lease, "err", err)
		return
	}
	w.opts.Logger.Log(ctx, level, "notifications given back unsent", "why", why, "left", len(msgs), "released", n)
}

// attempt delivers one claimed message and returns the outcome, for the
// recorder to record.
func (w *Worker) attempt(ctx context.Context, m *lockbox.OutboxMessage) outcome {
	// The attempt must end well within the lease, or another worker could
	// start a second one while this one still runs.
	if why := moot(m, w.now()); why != "" {
		r := lockbox.OutboxResult{Status: lockbox.OutboxSkipped, At: w.now(), LastError: why}
		w.opts.Metrics.observe(m.Channel, r.Status, nil)
		return outcome{m: m, r: r}
	}
	start := w.now()
	if err := w.pausedError(m, start); err != nil {
		r := w.result(m, err, start)
		w.opts.Metrics.observe(m.Channel, r.Status, err)
		return outcome{m: m, r: r, err: err}
	}
	sendCtx, cancel := context.WithTimeout(ctx, w.opts.Lease*3/4)
	err := w.send(sendCtx, m)
	cancel()
	end := w.now()
	w.answered(m, err, start, end)
	r := w.result(m, err, end)
	w.opts.Metrics.observe(m.Channel, r.Status, err)
	return outcome{m: m, r: r, err: err}
}

// moot says why m should not be sent at all, or "" to send it. After a long
// mail outage, an email asking approvers to decide (or reminding them to)
// may only become deliverable after the request's decision deadline: it
// would ask people to act on a request that has expired, so it is skipped.
// Everything else is still sent late: webhooks are a record of what
// happened, and the requester's outcome emails stay true.
func moot(m *lockbox.OutboxMessage, now time.Time) string {
	if m.Channel != lockbox.ChannelEmail || (m.Type != lockbox.NoticePending && m.Type != lockbox.NoticeReminder) {
		return ""
	}
	deadline, ok := decisionDeadline(m.Payload)
	if ok && !now.Before(deadline) {
		return "not sent: the decision deadline " + deadline.UTC().Format(time.RFC3339) + " passed before the email could be delivered"
	}
	return ""
}

// decisionDeadline reads a notice's data.request.expires_at, and reads no
// further: decoding the whole notice, or even scanning all of it, cost as
// much as rendering the email does (issue 16), and the members before
// expires_at are a third of the notice. False when the notice has no
// request, or is not JSON up to the deadline (the email will not render
// either, and fails there).
func decisionDeadline(payload []byte) (time.Time, bool) {
	d := deadlineDecoders.Get().(*deadlineDecoder)
	defer deadlineDecoders.Put(d)
	d.r.Reset(payload)
	d.Reset(&d.r)
	defer d.r.Reset(nil) // the pooled reader keeps no reference to the payload
	if !member(&d.Decoder, `"data"`) || !member(&d.Decoder, `"request"`) || !member(&d.Decoder, `"expires_at"`) {
		return time.Time{}, false
	}
	var deadline time.Time
	if err := json.UnmarshalDecode(&d.Decoder, &deadline); err != nil {
		return time.Time{}, false
	}
	return deadline, true
}

// deadlineDecoder is a decoder with its reader, kept for the next notice.
type deadlineDecoder struct {
	jsontext.Decoder
	r bytes.Reader
}

var deadlineDecoders = sync.Pool{New: func() any { return new(deadlineDecoder) }}

// member reads d's next value, which must be an object, up to its member
// quoted (a name as written, with its quotes: the names sought have
// nothing to escape), so that d's next value is that member's; false when
// the value is not an object or has no such member, or d meets anything
// but JSON.
func member(d *jsontext.Decoder, quoted string) bool {
	if tok, err := d.ReadToken(); err != nil || tok.Kind() != '{' {
		return false
	}
	for d.PeekKind() == '"' {
		name, err := d.ReadValue()
		if err != nil {
			return false
		}
		if string(name) == quoted {
			return true
		}
		if err := d.SkipValue(); err != nil {
			return false
		}
	}
	return false // '}': the object has no such member; or not JSON
}

func (w *Worker) send(ctx context.Context, m *lockbox.OutboxMessage) error {
	d := w.deliverers[m.Channel]
	if d == nil {
		return &lockbox.DeliveryError{Kind: "not_configured", Err: errors.New("no deliverer is configured for channel " + m.Channel)}
	}
	return d.Deliver(ctx, m)
}

// result is the outcome of an attempt that ended at now with err.
func (w *Worker) result(m *lockbox.OutboxMessage, err error, now time.Time) lockbox.OutboxResult {
	switch {
	case err == nil:
		return lockbox.OutboxResult{Status: lockbox.OutboxDelivered, At: now}
	case lockbox.PermanentDelivery(err) || !now.Before(m.RetriedSince().Add(w.opts.RetryFor)):
		return lockbox.OutboxResult{Status: lockbox.OutboxDead, At: now, LastError: errorText(err)}
	}
	return lockbox.OutboxResult{Status: lockbox.OutboxPending, At: now, LastError: errorText(err),
		NextAttemptAt: now.Add(w.Backoff(m.Attempts))}
}

// Backoff is the delay after failed attempt number attempt (1 = the
// first): BaseDelay doubling per attempt up to MaxDelay, with equal jitter
// (between half and all of it), so that replicas and messages that failed
// together do not retry together.
func (w *Worker) Backoff(attempt int) time.Duration {
	d := min(w.opts.BaseDelay, w.opts.MaxDelay)
	for i := 1; i < attempt && d < w.opts.MaxDelay; i++ { // doubling, never overflowing
		d = min(2*d, w.opts.MaxDelay)
	}
	half := d / 2
	return (half + time.Duration(w.opts.Jitter()*float64(half))).Truncate(time.Microsecond)
}

// maxErrorText bounds the stored error, which a receiver partly controls.
const maxErrorText = 500

// errorText is what is stored of a failed attempt, for people: the
// provider's operators, and a webhook's tenant admins (its deliveries). A
// failure to read Lockbox's own store says only what its lockbox.Error says
// ("Internal error." for anything else): database addresses and driver
// errors are for the log, which has the whole error.
func errorText(err error) string {
	s := err.Error()
	if de, ok := errors.AsType[*lockbox.DeliveryError](err); ok && de.Kind == "store" {
		s = de.Kind + ": " + lockbox.ErrorMessage(de.Err)
	}
	if len(s) > maxErrorText {
		s = s[:maxErrorText]
	}
	return s
}

func (w *Worker) log(m *lockbox.OutboxMessage, r lockbox.OutboxResult, err, ferr error) {
	attrs := []any{"id", m.ID, "channel", m.Channel, "type", m.Type, "tenant", m.Tenant, "attempt", m.Attempts}
	switch {
	case lockbox.ErrorCode(ferr) == lockbox.ECONFLICT:
		w.opts.Logger.Warn("notification attempt outlived its lease; another worker owns it now", attrs...)
	case ferr != nil:
		w.opts.Logger.Error("recording a notification attempt failed; it will be retried after its lease", append(attrs, "err", ferr)...)
	case r.Status == lockbox.OutboxDead:
		w.opts.Logger.Error("notification is dead: delivery gave up", append(attrs, "kind", lockbox.DeliveryErrorKind(err), "err", err)...)
	case r.Status == lockbox.OutboxSkipped:
		w.opts.Logger.Info("notification skipped", append(attrs, "why", r.LastError)...)
	case r.Status == lockbox.OutboxPending && lockbox.DeliveryErrorKind(err) == "paused":
		// Said once per pause (pause.go), not once per delivery.
		w.opts.Logger.Debug("notification not sent: its endpoint is paused", append(attrs, "next_attempt_at", r.NextAttemptAt)...)
	case r.Status == lockbox.OutboxPending:
		w.opts.Logger.Warn("notification delivery failed; will retry", append(attrs, "kind", lockbox.DeliveryErrorKind(err), "next_attempt_at", r.NextAttemptAt, "err", err)...)
	default:
		w.opts.Logger.Debug("notification delivered", attrs...)
	}
}

// purge deletes finished messages older than Retention, at most once per
// hour of the worker's clock and a bounded number at a time. Every lane
// calls it after its rounds; one of them purges.
func (w *Worker) purge(ctx context.Context) {
	if !w.purgeMu.TryLock() {
		return
	}
	defer w.purgeMu.Unlock()
	now := w.now()
	if now.Sub(w.lastPurge) < w.opts.purgeEvery {
		return
	}
	w.lastPurge = now
	err := w.store.Update(ctx, func(tx lockbox.Tx) error {
		_, err := tx.PurgeOutbox(ctx, now.Add(-w.opts.Retention), 1000)
		return err
	})
	if err != nil && ctx.Err() == nil {
		w.opts.Logger.Error("purging delivered notifications failed", "err", err)
	}
}
