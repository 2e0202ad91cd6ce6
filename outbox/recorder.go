package outbox

import (
	"context"
	"time"

	"github.com/lockboxhq/lockbox"
)

// Group commit of results. Recording each attempt's result in its own
// transaction costs a commit (on PostgreSQL: three round trips and a WAL
// flush) per message, as much as the step that enqueued it. Instead one
// recorder per running lane (or per DeliverDue) takes every result
// waiting when it is free and records them in one Update with one
// FinishOutbox call; results that arrive meanwhile wait for the next one.
// Nothing waits for a result that has not arrived, so a slow receiver
// never holds back another message's record, and each result is handed
// over once and written once.

// maxRecord bounds the results of one transaction.
const maxRecord = 64

// recordTimeout bounds one recording transaction. It does not follow the
// worker's context: a message delivered just before shutdown must still be
// recorded, or it would be sent again. A result waits for at most the
// transaction under way and then its own, so with the send bounded by 3/4
// of the lease it is recorded within the default lease (90 s + 2 × 10 s of
// 2 min); one recorded later is refused if another claimer took it.
const recordTimeout = 10 * time.Second

// outcome is a finished attempt waiting to be recorded.
type outcome struct {
	m   *lockbox.OutboxMessage
	r   lockbox.OutboxResult
	err error // the send's, for the log
}

type recorder struct {
	w    *Worker
	in   chan outcome
	done chan struct{}
}

// startRecorder starts a recorder; stop ends it once everything added is
// recorded.
func (w *Worker) startRecorder(ctx context.Context) *recorder {
	// Room for a whole round: a send that finished hands its result over
	// and frees its slot at once. With room for only Batch, the sends
	// waited for each recording commit, and under load a commit recorded
	// about a batch: the outbox fell behind the workflow (issue 16).
	rc := &recorder{w: w, in: make(chan outcome, w.opts.Claim), done: make(chan struct{})}
	go rc.run(context.WithoutCancel(ctx))
	return rc
}

// add hands an outcome over. It must not be called after stop.
func (rc *recorder) add(o outcome) { rc.in <- o }

func (rc *recorder) stop() {
	close(rc.in)
	<-rc.done
}

func (rc *recorder) run(ctx context.Context) {
	defer close(rc.done)
	for o := range rc.in {
		rc.write(ctx, rc.gather(o))
	}
}

// gather returns first and every outcome already waiting, without waiting
// for more.
func (rc *recorder) gather(first outcome) []outcome {
	batch := []outcome{first}
	for len(batch) < maxRecord {
		select {
		case o, ok := <-rc.in:
			if !ok {
				return batch
			}
			batch = append(batch, o)
		default:
			return batch
		}
	}
	return batch
}

// write records batch in one transaction and logs each result. A result
// that lost its lease is refused on its own (ECONFLICT) and the others
// commit; a failed transaction records none, and their leases run out.
func (rc *recorder) write(ctx context.Context, batch []outcome) {
	ctx, cancel := context.WithTimeout(ctx, recordTimeout)
	defer cancel()
	results := make([]lockbox.OutboxFinish, len(batch))
	for i, o := range batch {
		results[i] = lockbox.OutboxFinish{ID: o.m.ID, Attempt: o.m.Attempts, Result: o.r}
	}
	var errs []error
	err := rc.w.store.Update(ctx, func(tx lockbox.Tx) (err error) {
		errs, err = tx.FinishOutbox(ctx, results...)
		return err
	})
	for i, o := range batch {
		ferr := err
		if err == nil {
			ferr = errs[i]
		}
		rc.w.log(o.m, o.r, o.err, ferr)
	}
}
