package outbox

import (
	"errors"
	"sync"
	"time"

	"github.com/lockboxhq/lockbox"
)

// Pausing an endpoint that does not answer. A webhook endpoint that hangs
// costs each delivery to it the sender's whole timeout (10 s), and a round
// waits for its slowest send: one tenant's endpoint, black-holing requests
// while that tenant's events keep coming, would hold every round of the
// webhook lane, and every other tenant's deliveries with it. So after an
// attempt that got no answer at all (no connection, or none before the
// timeout: DeliveryError kind "connect"), the worker sends nothing more to
// that endpoint until a pause ends, the delay of a retry after as many
// failures in a row (Backoff: 30 s, doubling up to 1 h). Its deliveries
// meanwhile fail at once, unsent, and are retried later like any failure,
// counted against their 24 hours; only what a person asks for since (a
// test delivery, a resend) is sent at once. When the pause ends one
// delivery is sent, and its answer ends the pause (any HTTP answer: the
// endpoint is there) or starts a longer one.
//
// The pauses are this worker's, in memory: each replica learns on its own,
// and a restart forgets them, which costs one more timeout.

// errPaused is the failure of a delivery not sent because its endpoint is
// paused.
type errPaused struct{ since, until time.Time }

func (e errPaused) Error() string {
	return "not sent: the endpoint did not answer an attempt at " + e.since.UTC().Format(time.RFC3339) +
		"; nothing is sent to it before " + e.until.UTC().Format(time.RFC3339)
}

type pauses struct {
	mu sync.Mutex
	by map[string]*pause // by webhook id
}

type pause struct {
	failures     int       // attempts in a row with no answer
	since, until time.Time // the last of them; the end of the pause
	probing      bool      // an attempt after the pause is under way
}

// pausedError says why m is not to be sent now (an errPaused), or nil to
// send it. Once a pause has ended, the first caller sends (the probe) and
// the others wait for its answer. A delivery a person asked for since the
// endpoint last failed (a test delivery, or one they resent: most likely
// they have just fixed their receiver) is sent at once all the same.
func (w *Worker) pausedError(m *lockbox.OutboxMessage, now time.Time) error {
	if m.Channel != lockbox.ChannelWebhook {
		return nil
	}
	w.paused.mu.Lock()
	defer w.paused.mu.Unlock()
	p := w.paused.by[m.WebhookID]
	switch {
	case p == nil, askedSince(m, p.since):
		return nil
	case now.Before(p.until) || p.probing:
		return &lockbox.DeliveryError{Kind: "paused", Err: errPaused{since: p.since, until: p.until}}
	}
	p.probing = true
	return nil
}

// answered notes the outcome of an attempt to send m, started at start,
// that ended at now: no answer pauses its endpoint (longer each time in a
// row), any answer ends the pause. Attempts already under way when a pause
// began (sent at once, before the first of them failed) do not lengthen it.
func (w *Worker) answered(m *lockbox.OutboxMessage, err error, start, now time.Time) {
	if m.Channel != lockbox.ChannelWebhook {
		return
	}
	w.paused.mu.Lock()
	defer w.paused.mu.Unlock()
	var de *lockbox.DeliveryError
	if !errors.As(err, &de) || de.Kind != "connect" {
		delete(w.paused.by, m.WebhookID)
		return
	}
	if w.paused.by == nil {
		w.paused.by = map[string]*pause{}
	}
	p := w.paused.by[m.WebhookID]
	if p == nil {
		w.paused.forget(now)
		p = &pause{}
		w.paused.by[m.WebhookID] = p
	} else if !start.After(p.since) {
		return
	}
	p.failures++
	p.since, p.until, p.probing = now, now.Add(w.Backoff(p.failures)), false
	w.opts.Logger.Warn("webhook endpoint did not answer; nothing is sent to it until the pause ends",
		"webhook_id", m.WebhookID, "tenant", m.Tenant, "failures_in_a_row", p.failures, "until", p.until, "err", err)
}

// forgetAfter is how long after its end a pause is kept. An endpoint
// deleted, or never sent to again, would otherwise keep its entry for the
// life of the process; one that fails again after this starts afresh.
const forgetAfter = 24 * time.Hour

// forget drops the pauses that ended more than forgetAfter before now. It
// runs when a new endpoint is paused, so the entries kept are bounded by
// the endpoints that failed within a day.
func (ps *pauses) forget(now time.Time) {
	for id, p := range ps.by {
		if !p.probing && now.Sub(p.until) > forgetAfter {
			delete(ps.by, id)
		}
	}
}

// askedSince reports whether a person asked for m after since: it is a
// test delivery created then, or a delivery resent then.
func askedSince(m *lockbox.OutboxMessage, since time.Time) bool {
	if m.ResentAt != nil {
		return m.ResentAt.After(since)
	}
	return m.Type == lockbox.EventTypeWebhookTest && m.CreatedAt.After(since)
}
