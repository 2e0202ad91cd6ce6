package outbox

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lockboxhq/lockbox"
)

// Lanes. Each channel is delivered by a lane of its own: its own rounds,
// claims (of that channel only: ClaimOutbox, outbox_claim led by the
// channel), handed-over messages and slow flag. A round waits for the
// slowest of its sends, and a webhook receiver may take its whole timeout
// (10 s) to fail. In one shared lane, a tenant whose endpoint hangs held
// every round for that long: the approvers' emails committed meanwhile
// waited for it, and under load, with its retries due in round after
// round, the emails of every tenant fell behind. In lanes, an email waits
// only for emails.
//
// Webhook endpoints share their lane, each to a round's share: a round
// takes at most one wave (Batch) of one endpoint's deliveries, claimed or
// handed over, and the rest wait for later rounds (perEndpoint). Claims
// were earliest first, so one endpoint's backlog — a receiver that answers,
// but slowly, while its tenant's events keep coming — filled claim after
// claim, and every other endpoint's deliveries, due later, waited until it
// was all sent. Now another endpoint's delivery waits at most for the
// rounds under way: each as long as its slowest send.

// lane is the delivery of one channel.
type lane struct {
	channel string
	// slow is set after a round whose receivers were too slow for it
	// (sendRound): the lane's next rounds claim only Batch, and nothing is
	// handed over to it.
	slow atomic.Bool
	// handed are the messages handed over as they commit (handoff.go).
	handed handoff
}

// newLanes returns a lane for each channel Lockbox sends, emails first.
func newLanes() []*lane {
	var lanes []*lane
	for _, ch := range []string{lockbox.ChannelEmail, lockbox.ChannelWebhook} {
		lanes = append(lanes, &lane{channel: ch, handed: handoff{ready: make(chan struct{}, 1)}})
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

// Run delivers until ctx ends, each lane on its own: a round of DeliverDue,
// then sleep until the lane's next message is due (at most Poll), or until
// the dev clock moves. While it runs, messages are also handed to it as
// their transactions commit (Handoff, handoff.go), and it sends those at
// once.
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
	defer func() {
		if left := l.handed.stop(); len(left) > 0 {
			w.release(ctx, left, slog.LevelWarn, "the worker stopped before sending them")
		}
		rec.stop()
	}()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		var moved <-chan struct{}
		if mc, ok := w.clock.(movingClock); ok {
			moved = mc.Moved()
		}
		select {
		case <-ctx.Done():
			return
		case <-l.handed.ready:
			w.sendHanded(ctx, l, rec)
			continue
		case <-timer.C:
		case <-moved:
		}
		if _, err := w.deliverDue(ctx, l, rec); err != nil && ctx.Err() == nil {
			w.opts.Logger.Error("notification delivery round failed; retrying", "channel", l.channel, "err", err)
		}
		w.purge(ctx)
		timer.Reset(w.nextWake(ctx, l))
	}
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
		n, err := w.deliverDue(ctx, l, rec)
		total += n
		if err != nil {
			errs = append(errs, err)
		}
	}
	return total, errors.Join(errs...)
}

// deliverDue claims and delivers a lane's due messages, a round at a time,
// until none is due. A round claims up to Claim messages in one
// transaction and sends them Batch at a time; a slow receiver delays only
// the round's sends, and never the recording of another message's result.
//
// Claims are few and large because each waits for a commit, as does each
// recording of results (recorder.go): under load, claims of 8 whose
// results were taken 8 at a time delivered a sixth of the notifications
// while the workflow ran; claims of 64, sent 8 at a time, with a recorder
// that takes a whole round's results, keep up with it (docs/benchmarks.md,
// "Eighth session"). How many are sent at once is what receivers see, and
// stays Batch.
//
// Receivers too slow for a round (sendRound) make the lane's rounds after
// it claim only Batch, one wave that starts at once, until a round is
// quick again: a large claim would give most of its messages back unsent,
// round after round, a transaction each time.
func (w *Worker) deliverDue(ctx context.Context, l *lane, rec *recorder) (int, error) {
	total := 0
	for ctx.Err() == nil {
		// A round of the messages handed over meanwhile goes first (their
		// leases run), then a claim: the two take turns.
		total += w.sendHanded(ctx, l, rec)
		c := lockbox.OutboxClaim{Channel: l.channel, Limit: w.opts.Claim, PerEndpoint: w.perEndpoint(l)}
		if l.slow.Load() {
			// One wave, spread over the endpoints: a share of a whole
			// wave would let one endpoint's backlog fill it.
			c.Limit = w.opts.Batch
			c.PerEndpoint = min(c.PerEndpoint, 1)
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
		started, slow := w.sendRound(ctx, rec, msgs, c.Now)
		total += started
		l.slow.Store(slow)
		// A short claim took every due message, unless the round gave
		// some back (they are due again now) or an endpoint had its
		// share (its next ones may be due).
		if len(msgs) < c.Limit && started == len(msgs) && !hadShare(msgs, c.PerEndpoint) {
			break
		}
	}
	return total, ctx.Err()
}

// nextWake is how long a lane sleeps: until its next message is
// claimable, at most Poll.
func (w *Worker) nextWake(ctx context.Context, l *lane) time.Duration {
	var next time.Time
	err := w.store.View(ctx, func(tx lockbox.Tx) (err error) {
		next, err = tx.NextOutboxWake(ctx, l.channel)
		return err
	})
	if err != nil || next.IsZero() {
		return w.opts.Poll
	}
	return min(max(next.Sub(w.now()), 0), w.opts.Poll)
}
