package outbox_test

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/outbox"
	"github.com/lockboxhq/lockbox/storetest"
)

// gate is a deliverer that holds each send until want sends are in flight
// at once, and fails a send that waited in vain: a worker that sends fewer
// at once than want never fills it. It records the most it saw in flight;
// each send stays in flight a moment after the gate opens, so that a
// worker sending more at once than want shows it.
type gate struct {
	want int
	mu   sync.Mutex
	in   int
	most int
	full chan struct{} // closed when in first reaches want
	sent int
}

func newGate(want int) *gate { return &gate{want: want, full: make(chan struct{})} }

func (g *gate) Deliver(ctx context.Context, _ *lockbox.OutboxMessage) error {
	g.mu.Lock()
	g.in++
	g.most = max(g.most, g.in)
	if g.in == g.want {
		select {
		case <-g.full:
		default:
			close(g.full)
		}
	}
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.in--
		g.sent++
		g.mu.Unlock()
	}()
	select {
	case <-g.full:
		time.Sleep(20 * time.Millisecond)
		return nil
	case <-time.After(time.Second):
		return &lockbox.DeliveryError{Kind: "test", Err: context.DeadlineExceeded}
	}
}

// enqueueDue stores n due messages, msg-000000 on, and returns them.
func enqueueDue(t *testing.T, e *env, n int) []*lockbox.OutboxMessage {
	t.Helper()
	var msgs []*lockbox.OutboxMessage
	for i := range n {
		msgs = append(msgs, storetest.NewOutboxMessage(i))
	}
	storetest.MustEnqueue(t, e.store, msgs...)
	return msgs
}

// TestRoundSendsBatchAtOnce: a round claims up to Claim messages and sends
// them Batch at a time: never more at once, and Batch at once when there
// are that many.
func TestRoundSendsBatchAtOnce(t *testing.T) {
	t.Parallel()
	clock := &manualClock{t: storetest.T0.Add(time.Hour)}
	e := newEnv(t, clock)
	msgs := enqueueDue(t, e, 20)
	g := newGate(4)
	w := outbox.New(e.store, clock, map[string]outbox.Deliverer{lockbox.ChannelEmail: g}, outbox.Options{Batch: 4, Claim: 12})
	if n := deliverDue(t, w); n != len(msgs) {
		t.Errorf("DeliverDue attempted %d, want %d", n, len(msgs))
	}
	if g.most != 4 {
		t.Errorf("at most %d sends at once, want Batch = 4", g.most)
	}
	for _, m := range e.outbox(lockbox.OutboxQuery{}) {
		if m.Status != lockbox.OutboxDelivered || m.Attempts != 1 {
			t.Errorf("%s: %s after %d attempts (%s), want delivered after 1", m.ID, m.Status, m.Attempts, m.LastError)
		}
	}
}

// slowSends is a deliverer whose sends take by on the worker's clock:
// the first only, or every one (each).
type slowSends struct {
	clock *manualClock
	by    time.Duration
	each  bool
	mu    sync.Mutex
	sent  []string
}

func (s *slowSends) Deliver(_ context.Context, m *lockbox.OutboxMessage) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.each || len(s.sent) == 0 {
		s.clock.Advance(s.by)
	}
	s.sent = append(s.sent, m.ID)
	return nil
}

// TestRoundStartsNothingThatCouldOutlastItsLease: a message whose send
// would start more than Lease/4 after its claim could still be sending
// when its lease ends and another worker retries it. It is not sent but
// given back at once: the next round sends it (well before its lease
// would have ended), once, as its first attempt.
func TestRoundStartsNothingThatCouldOutlastItsLease(t *testing.T) {
	t.Parallel()
	const lease = 4 * time.Minute
	clock := &manualClock{t: storetest.T0.Add(time.Hour)}
	e := newEnv(t, clock)
	// Fewer than Claim: the round's claim is short, and DeliverDue must
	// not take that for "nothing more is due" when it gave some back.
	enqueueDue(t, e, 3)
	d := &slowSends{clock: clock, by: lease/4 + time.Second}
	w := outbox.New(e.store, clock, map[string]outbox.Deliverer{lockbox.ChannelEmail: d},
		outbox.Options{Batch: 1, Claim: 4, Lease: lease})
	start := clock.Now()
	if n := deliverDue(t, w); n != 3 || len(d.sent) != 3 {
		t.Fatalf("DeliverDue attempted %d and sent %v; want all 3", n, d.sent)
	}
	if waited := clock.Now().Sub(start); waited >= lease {
		t.Errorf("the messages left by the slow send were sent %v after their claim; want before their lease (%v) ended", waited, lease)
	}
	seen := map[string]int{}
	for _, id := range d.sent {
		seen[id]++
	}
	for _, m := range e.outbox(lockbox.OutboxQuery{}) {
		if m.Status != lockbox.OutboxDelivered || seen[m.ID] != 1 || m.Attempts != 1 {
			t.Errorf("%s: %s after %d attempts, sent %d times; want delivered after 1, sent once", m.ID, m.Status, m.Attempts, seen[m.ID])
		}
	}
}

// TestSlowRoundsClaimOneWave: after a round whose receivers were too slow
// for it, the next rounds claim only Batch (a wave that starts at once),
// so they give nothing more back. With every claim at Claim, each round
// would send one message and give the rest back, round after round.
func TestSlowRoundsClaimOneWave(t *testing.T) {
	t.Parallel()
	const lease = 4 * time.Minute
	clock := &manualClock{t: storetest.T0.Add(time.Hour)}
	e := newEnv(t, clock)
	msgs := enqueueDue(t, e, 6)
	d := &slowSends{clock: clock, by: lease/4 + time.Second, each: true}
	var log countingHandler
	w := outbox.New(e.store, clock, map[string]outbox.Deliverer{lockbox.ChannelEmail: d},
		outbox.Options{Batch: 1, Claim: 3, Lease: lease, Logger: slog.New(&log)})
	deliverDue(t, w)
	seen := map[string]int{}
	for _, id := range d.sent {
		seen[id]++
	}
	if len(seen) != len(msgs) {
		t.Errorf("one DeliverDue sent %v; want all %d messages", d.sent, len(msgs))
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s sent %d times, want once", id, n)
		}
	}
	if n := log.count(givenBack); n != 1 {
		t.Errorf("%d rounds gave messages back unsent; want only the first", n)
	}
}

// givenBack is the start of the worker's warning for a round that gave
// messages back unsent.
const givenBack = "notifications given back unsent"

// countingHandler is a slog.Handler that keeps the messages logged.
type countingHandler struct {
	mu   sync.Mutex
	msgs []string
}

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *countingHandler) WithGroup(string) slog.Handler            { return h }

func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.msgs = append(h.msgs, r.Message)
	return nil
}

// count returns how many messages logged start with prefix.
func (h *countingHandler) count(prefix string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, m := range h.msgs {
		if strings.HasPrefix(m, prefix) {
			n++
		}
	}
	return n
}

// TestSlowRoundsSpreadOverEndpoints: a slow lane's one-wave claims take a
// delivery of each endpoint, not a whole wave of the one with a backlog:
// another endpoint's delivery that falls due meanwhile is sent before the
// backlog's end. With a whole wave an endpoint, the backlog, due earlier,
// filled every slow claim.
func TestSlowRoundsSpreadOverEndpoints(t *testing.T) {
	t.Parallel()
	const lease = 4 * time.Minute
	clock := &manualClock{t: storetest.T0.Add(time.Hour)}
	e := newEnv(t, clock)
	var msgs []*lockbox.OutboxMessage
	for n := range 8 {
		msgs = append(msgs, storetest.NewWebhookMessage(n, "wh-big"))
	}
	other := storetest.NewWebhookMessage(8, "wh-other")
	other.NextAttemptAt = clock.Now().Add(3 * time.Minute) // due during the backlog
	storetest.MustEnqueue(t, e.store, append(msgs, other)...)
	d := &slowSends{clock: clock, by: lease/4 + time.Second, each: true}
	w := outbox.New(e.store, clock, map[string]outbox.Deliverer{lockbox.ChannelWebhook: d},
		outbox.Options{Batch: 2, Claim: 4, Lease: lease})
	deliverDue(t, w)
	if i := slices.Index(d.sent, other.ID); i < 0 || i == len(d.sent)-1 {
		t.Errorf("sent %v; want %s before the backlog's last", d.sent, other.ID)
	}
}
