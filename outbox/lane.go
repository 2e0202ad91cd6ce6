package outbox

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lockboxhq/lockbox"
)

// Lanes. Each channel is delivered by a lane of its own: its own rounds,
// claims (of that channel only: ClaimOutbox, outbox_claim led by the
// channel), handed-over messages and slow flag. A webhook receiver may
// take its whole timeout (10 s) to fail. In one shared lane, a tenant
// whose endpoint hangs held every round for that long: the approvers'
// emails committed meanwhile waited for it, and under load, with its
// retries due in round after round, the emails of every tenant fell
// behind. In lanes, an email waits only for emails.
//
// Webhook endpoints share their lane, each to a share: a round takes at
// most one wave (Batch) of one endpoint's deliveries, claimed or handed
// over, and the rest wait (perEndpoint). Claims were earliest first, so
// one endpoint's backlog — a receiver that answers, but slowly, while its
// tenant's events keep coming — filled claim after claim, and every other
// endpoint's deliveries, due later, waited until it was all sent.
//
// Nor does a running lane wait for a round's sends to end before its next
// claim (sendRound; docs/notifications.md). A round was a barrier: every
// endpoint's deliveries that fell due while one was under way waited for
// its slowest send, so one receiver that took 2 s an answer made every
// other tenant's webhooks 2 s late (docs/benchmarks.md, "Twentieth
// session"). Instead an endpoint with sends under way is skipped by the
// lane's claims (OutboxClaim.Skip), is handed nothing while its share is
// full (Takes), and takes from a hand-over only what its share has room
// for; when its sends end, the lane claims its next share if any is due
// (want, nextWake). So one endpoint never has more than a share in flight
// from a replica, and the others' deliveries go out as they fall due.
// Only the lane's slots (Claim at once for webhooks, Batch for emails,
// which all go to one mail relay) bound what it sends at once in all.

// lane is the delivery of one channel.
type lane struct {
	channel string
	// slow is set after a round whose receivers were too slow for it
	// (sendRound): the lane's next rounds claim only Batch, and nothing is
	// handed over to it.
	slow atomic.Bool
	// handed are the messages handed over as they commit (handoff.go).
	handed handoff
	// slots bound the lane's sends under way at once, across rounds.
	slots chan struct{}

	mu sync.Mutex
	// busy counts each webhook endpoint's deliveries taken for a round
	// and not yet ended (sent, failed or given back).
	busy map[string]int
	// wanted are endpoints that may have more due than a round took: a
	// claim skipped them, gave them a whole share, or a hand-over gave
	// some back. When one's sends have all ended, freed wakes the lane to
	// claim.
	wanted map[string]bool
	freed  chan struct{} // capacity 1
}

// newLanes returns a lane for each channel Lockbox sends, emails first.
func newLanes(opts Options) []*lane {
	var lanes []*lane
	for _, ch := range []string{lockbox.ChannelEmail, lockbox.ChannelWebhook} {
		slots := opts.Batch
		if ch == lockbox.ChannelWebhook {
			slots = opts.Claim
		}
		lanes = append(lanes, &lane{channel: ch, handed: handoff{ready: make(chan struct{}, 1)},
			slots: make(chan struct{}, slots), busy: map[string]int{}, wanted: map[string]bool{},
			freed: make(chan struct{}, 1)})
	}
	return lanes
}

// perEndpoint is how many deliveries of one webhook endpoint a round of
// l takes (0: no bound, for emails): one wave of its sends.
func (w *Worker) perEndpoint(l *lane) int {
	if l.channel != lockbox.ChannelWebhook {
		return 0
	}
	return w.opts.Batch
}

// taken counts msgs, taken for a round, against their endpoints.
func (l *lane) taken(msgs []*lockbox.OutboxMessage) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range msgs {
		if m.WebhookID != "" {
			l.busy[m.WebhookID]++
		}
	}
}

// ended counts m's attempt as ended, and wakes the lane when m's endpoint
// was wanted and has nothing more under way.
func (l *lane) ended(m *lockbox.OutboxMessage) {
	if m.WebhookID == "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.busy[m.WebhookID]--; l.busy[m.WebhookID] > 0 {
		return
	}
	delete(l.busy, m.WebhookID)
	if l.wanted[m.WebhookID] {
		delete(l.wanted, m.WebhookID)
		l.wake()
	}
}

// wake has the lane claim, unless it is woken already.
func (l *lane) wake() {
	select {
	case l.freed <- struct{}{}:
	default:
	}
}

// takeFreed reports whether the lane was woken to claim (wake), and
// takes the wake.
func (l *lane) takeFreed() bool {
	select {
	case <-l.freed:
		return true
	default:
		return false
	}
}

// want marks endpoints whose next deliveries are to be claimed once their
// sends under way end; for one with none under way, the lane claims at
// once.
func (l *lane) want(endpoints ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, id := range endpoints {
		if l.busy[id] > 0 {
			l.wanted[id] = true
		} else {
			l.wake()
		}
	}
}

// sending returns the endpoints with sends under way.
func (l *lane) sending() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	ids := make([]string, 0, len(l.busy))
	for id := range l.busy {
		ids = append(ids, id)
	}
	return ids
}

// room splits msgs, in their order, into those their webhook endpoint's
// share (per, less its sends under way) has room for, and the rest; all
// have room when per is 0.
func (l *lane) room(msgs []*lockbox.OutboxMessage, per int) (in, over []*lockbox.OutboxMessage) {
	if per <= 0 {
		return msgs, nil
	}
	l.mu.Lock()
	n := maps.Clone(l.busy)
	l.mu.Unlock()
	for _, m := range msgs {
		if n[m.WebhookID]++; n[m.WebhookID] > per {
			over = append(over, m)
		} else {
			in = append(in, m)
		}
	}
	return in, over
}

// lane returns the lane of channel, or nil for a channel Lockbox does not
// send.
func (w *Worker) lane(channel string) *lane {
	for _, l := range w.lanes {
		if l.channel == channel {
			return l
		}
	}
	return nil
}

// movingClock is a clock that can jump forward (dev mode).
type movingClock interface {
	Moved() <-chan struct{}
}

// Run delivers until ctx ends, each lane on its own: a round of its due
// messages, then sleep until the lane's next message is due (at most
// Poll), the dev clock moves, or an endpoint whose next deliveries wait
// for its sends to end has none under way. While it runs, messages are
// also handed to it as their transactions commit (Handoff, handoff.go),
// and it sends those at once.
func (w *Worker) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, l := range w.lanes {
		wg.Go(func() { w.runLane(ctx, l) })
	}
	wg.Wait()
}

func (w *Worker) runLane(ctx context.Context, l *lane) {
	l.handed.start()
	// One recorder for all the lane's rounds, handed and claimed, which
	// take turns: a recorder a round, or a turn, would hold each until its
	// results were committed.
	rec := w.startRecorder(ctx)
	r := &rounds{}
	defer func() {
		if left := l.handed.stop(); len(left) > 0 {
			w.release(ctx, left, slog.LevelWarn, "the worker stopped before sending them")
		}
		r.sends.Wait()
		rec.stop()
	}()
	timer := time.NewTimer(0)
	defer timer.Stop()
	// Readiness is checked at most once a poll while ready: under load a
	// lane claims each time an endpoint's sends end, and a Ping each time
	// would be a round trip more per claim. The store itself refuses
	// transactions once any Ping (the workers', /readyz) found its clock
	// out of step.
	ready := lockbox.ReadyWatch{Store: w.store, Logger: w.opts.Logger.With("channel", l.channel),
		What: "claiming notifications", Every: w.opts.Poll}
	for {
		var moved <-chan struct{}
		if mc, ok := w.clock.(movingClock); ok {
			moved = mc.Moved()
		}
		// An endpoint whose sends ended (freed) may have deliveries waiting
		// in the store: they are claimed before what was handed over
		// meanwhile (deliverDue sends that after its claim), which would
		// make the endpoint busy again, and skipped by the claim.
		if !l.takeFreed() {
			select {
			case <-ctx.Done():
				return
			case <-l.handed.ready:
				w.sendHanded(ctx, l, rec, r)
				continue
			case <-timer.C:
			case <-moved:
			case <-l.freed:
			}
		}
		// No claims while the store is not ready (lockbox.ReadyWatch): a
		// replica whose clock is out of step would skip emails as too late,
		// or lease messages for the wrong time. What was handed over is
		// sent: only requests served here hand messages over.
		if !ready.Ready(ctx) {
			timer.Reset(w.opts.Poll)
			continue
		}
		if _, err := w.deliverDue(ctx, l, rec, r); err != nil && ctx.Err() == nil {
			w.opts.Logger.Error("notification delivery round failed; retrying", "channel", l.channel, "err", err)
		}
		w.purge(ctx)
		timer.Reset(w.nextWake(ctx, l))
	}
}

// rounds are the sends a caller of sendRound started.
type rounds struct {
	sends sync.WaitGroup
	// waits is set for DeliverDue, which waits for each round's sends to
	// end before its next claim, so that it returns with nothing due.
	waits bool
}

// DeliverDue claims and delivers due messages of every channel, a lane
// after another, until none is due; it returns how many attempts it made,
// once all their results are recorded.
func (w *Worker) DeliverDue(ctx context.Context) (int, error) {
	rec := w.startRecorder(ctx)
	defer rec.stop()
	total := 0
	var errs []error
	for _, l := range w.lanes {
		n, err := w.deliverDue(ctx, l, rec, &rounds{waits: true})
		total += n
		if err != nil {
			errs = append(errs, err)
		}
	}
	return total, errors.Join(errs...)
}

// deliverDue claims and delivers a lane's due messages, a round at a time,
// until none is due that it may take. A round claims up to Claim messages
// in one transaction and sends them as the lane's slots free; a slow
// receiver delays only its own endpoint's next share, and never the
// recording of another message's result.
//
// Claims are few and large because each waits for a commit, as does each
// recording of results (recorder.go): under load, claims of 8 whose
// results were taken 8 at a time delivered a sixth of the notifications
// while the workflow ran; claims of 64 with a recorder that takes a whole
// round's results keep up with it (docs/benchmarks.md, "Eighth
// session"). How many are sent at once to one receiver is what receivers
// see, and stays Batch.
//
// Receivers too slow for a round (sendRound) make the lane's rounds after
// it claim only Batch, one wave that starts at once, until a round is
// quick again: a large claim would give most of its messages back unsent,
// round after round, a transaction each time.
func (w *Worker) deliverDue(ctx context.Context, l *lane, rec *recorder, r *rounds) (int, error) {
	total := 0
	for ctx.Err() == nil {
		// A claim, then a round of the messages handed over meanwhile: the
		// two take turns. The claim goes first, so that an endpoint whose
		// sends just ended, with deliveries waiting in the store, is not
		// busy again with what was handed over, and skipped again, while
		// a stream of hand-overs lasts.
		c := lockbox.OutboxClaim{Channel: l.channel, Limit: w.opts.Claim, PerEndpoint: w.perEndpoint(l)}
		if l.slow.Load() {
			// One wave, spread over the endpoints: a share of a whole
			// wave would let one endpoint's backlog fill it.
			c.Limit = w.opts.Batch
			c.PerEndpoint = min(c.PerEndpoint, 1)
		}
		if c.PerEndpoint > 0 {
			c.Skip = l.sending()
		}
		var msgs []*lockbox.OutboxMessage
		c.Now = w.now()
		c.LeaseUntil = c.Now.Add(w.opts.Lease)
		err := w.store.Update(ctx, func(tx lockbox.Tx) (err error) {
			msgs, err = tx.ClaimOutbox(ctx, c)
			return err
		})
		if err != nil {
			return total, err
		}
		started := w.sendRound(ctx, l, rec, r, msgs, c.Now)
		total += started + w.sendHanded(ctx, l, rec, r)
		// Endpoints that had a whole share may have more due: the lane
		// claims again when their sends end. (Skipped ones are wanted only
		// when something is left due: nextWake.)
		shared := full(msgs, c.PerEndpoint)
		l.want(shared...)
		// A short claim took every due message it could, unless the round
		// gave some back (they are due again now), or, for DeliverDue,
		// an endpoint had its share (its next ones may be due).
		if len(msgs) < c.Limit && started == len(msgs) && (!r.waits || len(shared) == 0) {
			break
		}
	}
	return total, ctx.Err()
}

// nextWake is how long a lane sleeps: until its next message is
// claimable, at most Poll. A message due already, after a claim that took
// all it could, is one of the endpoints skipped for their sends under way:
// the lane wants them, and waits for their sends to end (freed), or Poll,
// rather than claim again and again. Wanting every skipped endpoint
// instead, due or not, made each end of a send a claim while hand-overs
// kept endpoints busy.
func (w *Worker) nextWake(ctx context.Context, l *lane) time.Duration {
	var next time.Time
	err := w.store.View(ctx, func(tx lockbox.Tx) (err error) {
		next, err = tx.NextOutboxWake(ctx, l.channel)
		return err
	})
	if err != nil || next.IsZero() {
		return w.opts.Poll
	}
	d := min(max(next.Sub(w.now()), 0), w.opts.Poll)
	if busy := l.sending(); d == 0 && len(busy) > 0 {
		l.want(busy...)
		return w.opts.Poll
	}
	return d
}
