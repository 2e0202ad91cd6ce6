package approval

import (
	"context"

	"github.com/lockboxhq/lockbox"
)

// handoffStore stores the notifications of every write transaction leased
// to this process's delivery worker (Options.Handoff), and hands them to
// it once the transaction commits, so they are sent at once, without a
// round or a claim of the worker's (outbox/handoff.go). A worker with no
// room leases nothing, and those wait for a round, as without one.
type handoffStore struct {
	lockbox.Store
	h lockbox.OutboxHandoff
}

// Update runs fn with a Tx whose EnqueueOutbox leases, then hands over
// what the committed run of fn leased, or frees its room.
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
	if len(tx.leased) > 0 {
		s.h.Handoff(tx.leased)
	}
	return nil
}

// handoffTx is a Tx whose notifications are leased to h when it has room.
type handoffTx struct {
	lockbox.Tx
	h      lockbox.OutboxHandoff
	leased []*lockbox.OutboxMessage
}

func (t *handoffTx) reset(inner lockbox.Tx) {
	t.h.Unlease(len(t.leased))
	t.Tx, t.leased = inner, nil
}

// EnqueueOutbox stores msgs leased to the worker (attempt 1 under way), or
// as they are when it has no room.
func (t *handoffTx) EnqueueOutbox(ctx context.Context, msgs ...*lockbox.OutboxMessage) error {
	until, ok := t.h.Lease(len(msgs))
	if !ok {
		return t.Tx.EnqueueOutbox(ctx, msgs...)
	}
	leased := make([]*lockbox.OutboxMessage, len(msgs))
	for i, m := range msgs {
		c := *m
		c.Attempts, c.LeaseUntil = 1, &until
		leased[i] = &c
	}
	if err := t.Tx.EnqueueOutbox(ctx, leased...); err != nil {
		t.h.Unlease(len(msgs))
		return err
	}
	t.leased = append(t.leased, leased...)
	return nil
}
