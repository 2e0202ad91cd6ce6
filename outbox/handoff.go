package outbox

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/lockboxhq/lockbox"
)

// Handing over at commit (lockbox.OutboxHandoff). A notification waited
// for the worker's next round (up to Poll when idle) and was then claimed
// by a statement that rewrote its row and every index of it: under load
// that claim was a tenth of PostgreSQL's time a step, inside the writers'
// groups (issue 16). Instead the transaction that enqueues it stores it
// already leased to this worker (Attempts 1), and hands it over once it
// commits; the worker sends it at once, through the same rounds, limits
// and recorder as a claimed one.
//
// The lease is what keeps it safe. A message handed over is in no one
// else's hands until its lease ends. One the worker cannot start within
// Lease/4 is given back at once (sendRound), so nothing is sent after its
// lease could have run out. One whose replica died or stopped before
// sending it waits for its lease to end and is claimed by another
// replica, as after a crash mid-send.

// maxHanded bounds the messages reserved and queued, in multiples of
// Claim: beyond it new messages are stored unclaimed, for any replica's
// next round.
const maxHanded = 4

type handoff struct {
	mu      sync.Mutex
	running bool // Run is taking handed messages
	room    int  // reserved or queued, not yet taken for a round
	queue   []*lockbox.OutboxMessage
	ready   chan struct{} // a message was queued (capacity 1)
}

var _ lockbox.OutboxHandoff = (*Worker)(nil)

// Lease reserves room for n messages of channel while its lane runs and
// its receivers are quick; see lockbox.OutboxHandoff.
func (w *Worker) Lease(channel string, n int) (time.Time, bool) {
	l := w.lane(channel)
	if l == nil {
		return time.Time{}, false
	}
	h := &l.handed
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.running || l.slow.Load() || h.room+n > maxHanded*w.opts.Claim {
		return time.Time{}, false
	}
	h.room += n
	return w.now().Add(w.opts.Lease), true
}

// Takes reports whether m would be sent if handed over now; see
// lockbox.OutboxHandoff. A webhook delivery to an endpoint whose share of
// sends is under way would be given back at once (sendHanded), a
// transaction of its own: it is stored unclaimed instead, and the lane
// claims it when the endpoint's sends end.
func (w *Worker) Takes(m *lockbox.OutboxMessage) bool {
	l := w.lane(m.Channel)
	if l == nil || w.perEndpoint(l) == 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.busy[m.WebhookID] < w.perEndpoint(l) {
		return true
	}
	l.wanted[m.WebhookID] = true
	return false
}

// Unlease frees the room of n leased messages of channel that did not
// commit.
func (w *Worker) Unlease(channel string, n int) {
	l := w.lane(channel)
	if l == nil || n == 0 {
		return
	}
	h := &l.handed
	h.mu.Lock()
	defer h.mu.Unlock()
	h.room -= n
}

// Handoff queues committed messages for their lanes to send at once. A
// lane that stopped gives them back instead (they were leased before it
// did). A message without a lease is not the worker's: it is left to be
// claimed, and its endpoint wanted. Takes, declining it, wanted the
// endpoint already, but the endpoint's sends may have ended, and the lane
// claimed, before the message was committed: then it would wait for Poll.
func (w *Worker) Handoff(msgs []*lockbox.OutboxMessage) {
	byLane := make([][]*lockbox.OutboxMessage, len(w.lanes))
	for _, m := range msgs {
		if m.LeaseUntil == nil {
			if l := w.lane(m.Channel); l != nil && m.WebhookID != "" && w.perEndpoint(l) > 0 {
				l.want(m.WebhookID)
			}
			continue
		}
		if i := slices.IndexFunc(w.lanes, func(l *lane) bool { return l.channel == m.Channel }); i >= 0 {
			byLane[i] = append(byLane[i], m)
		}
	}
	for i, l := range w.lanes {
		w.handOver(l, byLane[i])
	}
}

func (w *Worker) handOver(l *lane, msgs []*lockbox.OutboxMessage) {
	if len(msgs) == 0 {
		return
	}
	h := &l.handed
	h.mu.Lock()
	if !h.running {
		h.room -= len(msgs)
		h.mu.Unlock()
		w.release(context.Background(), msgs, slog.LevelWarn, "the worker stopped before sending them")
		return
	}
	h.queue = append(h.queue, msgs...)
	h.mu.Unlock()
	h.signal()
}

// signal wakes the lane to take handed messages, unless it is woken
// already.
func (h *handoff) signal() {
	select {
	case h.ready <- struct{}{}:
	default:
	}
}

// take removes at most limit queued messages, and returns them with the
// start of the earliest one's lease: the claim time of their round. When
// more are queued it signals the lane again.
func (h *handoff) take(limit int, lease time.Duration) ([]*lockbox.OutboxMessage, time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := min(limit, len(h.queue))
	if n == 0 {
		return nil, time.Time{}
	}
	msgs := h.queue[:n:n]
	h.queue = h.queue[n:]
	h.room -= n
	if len(h.queue) > 0 {
		h.signal() // the rest are for the lane's next turn
	}
	claimed := *msgs[0].LeaseUntil
	for _, m := range msgs[1:] {
		if m.LeaseUntil.Before(claimed) {
			claimed = *m.LeaseUntil
		}
	}
	return msgs, claimed.Add(-lease)
}

// start lets Lease reserve room: Run is about to take handed messages.
func (h *handoff) start() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.running = true
}

// stop ends reservations and returns what was queued and never taken.
func (h *handoff) stop() []*lockbox.OutboxMessage {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.running = false
	left := h.queue
	h.room -= len(left)
	h.queue = nil
	return left
}

// sendHanded sends one round (at most Claim) of the messages handed over
// to a lane, and returns how many it attempted. One round, not until the
// queue is empty: under a steady stream of handed messages, each round
// as long as its slowest receiver, a lane that emptied its queue first
// never got to its claims, and what waited in the store (deliveries past
// an endpoint's share, messages stored while the lane had no room) waited
// until the stream stopped (docs/benchmarks.md, "Nineteenth session"). So
// when more are queued it signals the lane again, and the lane takes the
// next round when its turn comes (runLane, deliverDue).
func (w *Worker) sendHanded(ctx context.Context, l *lane, rec *recorder, r *rounds) int {
	if ctx.Err() != nil {
		return 0
	}
	msgs, claimed := l.handed.take(w.opts.Claim, w.opts.Lease)
	if len(msgs) == 0 {
		return 0
	}
	// Deliveries past what their endpoint's share has room for, beside
	// its sends under way, go back to the store, and the lane claims them
	// when those end (lane.go).
	msgs, over := l.room(msgs, w.perEndpoint(l))
	if len(over) > 0 {
		w.release(ctx, over, slog.LevelDebug, "their endpoint had its share under way")
		ids := make([]string, len(over))
		for i, m := range over {
			ids[i] = m.WebhookID
		}
		l.want(ids...)
	}
	return w.sendRound(ctx, l, rec, r, msgs, claimed)
}
