package approval

import (
	"context"
	"time"

	"github.com/lockboxhq/lockbox"
)

// handoffStore stores the notifications of every write transaction leased
// to this process's delivery worker (Options.Handoff), and hands them to
// it once the transaction commits, so they are sent at once, without a
// round or a claim of the worker's (outbox/handoff.go). A worker lane with
// no room leases nothing of its channel, and those wait for a round, as
// without one.
type handoffStore struct {
	lockbox.Store
	h lockbox.OutboxHandoff
}

// Update runs fn with a Tx whose EnqueueOutbox leases, then hands over
// what the committed run of fn leased, or frees its room. What the worker
// declined (Takes) is handed over too, unleased, so that it claims them
// once their endpoint's sends end, even when they ended before this
// commit.
func (s handoffStore) Update(ctx context.Context, fn func(lockbox.Tx) error) error {
	if s.h == nil {
		return s.Store.Update(ctx, fn)
	}
	tx := &handoffTx{h: s.h}
	err := s.Store.Update(ctx, func(inner lockbox.Tx) error {
		// A store may run fn more than once (postgres: a group that
		// split): only the last run's messages are stored.
		tx.reset(inner)
		return fn(tx)
	})
	if err != nil {
		tx.reset(nil)
		return err
	}
	if committed := append(tx.leased, tx.declined...); len(committed) > 0 {
		s.h.Handoff(committed)
	}
	return nil
}

// handoffTx is a Tx whose notifications are leased to h when it has room.
type handoffTx struct {
	lockbox.Tx
	h      lockbox.OutboxHandoff
	leased []*lockbox.OutboxMessage
	// declined are stored unclaimed because the worker would not take them
	// (Takes); it is told once they are committed, to claim them.
	declined []*lockbox.OutboxMessage
}

func (t *handoffTx) reset(inner lockbox.Tx) {
	for ch, n := range countByChannel(t.leased) {
		t.h.Unlease(ch, n)
	}
	t.Tx, t.leased, t.declined = inner, nil, nil
}

// EnqueueOutbox stores msgs leased to the worker (attempt 1 under way),
// those it takes (Takes) of each channel whose lane has room, and the
// others as they are.
func (t *handoffTx) EnqueueOutbox(ctx context.Context, msgs ...*lockbox.OutboxMessage) error {
	takes := make([]bool, len(msgs))
	var taken, declined []*lockbox.OutboxMessage
	for i, m := range msgs {
		if takes[i] = t.h.Takes(m); takes[i] {
			taken = append(taken, m)
		} else {
			declined = append(declined, m)
		}
	}
	counts := countByChannel(taken)
	leases := make(map[string]time.Time, len(counts))
	for ch, n := range counts {
		if until, ok := t.h.Lease(ch, n); ok {
			leases[ch] = until
		}
	}
	if len(leases) == 0 {
		if err := t.Tx.EnqueueOutbox(ctx, msgs...); err != nil {
			return err
		}
		t.declined = append(t.declined, declined...)
		return nil
	}
	stored := make([]*lockbox.OutboxMessage, len(msgs))
	var leased []*lockbox.OutboxMessage
	for i, m := range msgs {
		stored[i] = m
		if until, ok := leases[m.Channel]; ok && takes[i] {
			c := *m
			c.Attempts, c.LeaseUntil = 1, &until
			stored[i] = &c
			leased = append(leased, &c)
		}
	}
	if err := t.Tx.EnqueueOutbox(ctx, stored...); err != nil {
		for ch := range leases {
			t.h.Unlease(ch, counts[ch])
		}
		return err
	}
	t.leased = append(t.leased, leased...)
	t.declined = append(t.declined, declined...)
	return nil
}

// countByChannel counts msgs by channel.
func countByChannel(msgs []*lockbox.OutboxMessage) map[string]int {
	counts := map[string]int{}
	for _, m := range msgs {
		counts[m.Channel]++
	}
	return counts
}
