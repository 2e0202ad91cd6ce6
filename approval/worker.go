package approval

import (
	"context"
	"time"

	"github.com/lockboxhq/lockbox"
)

// movingClock is a clock that can jump forward (dev mode), waking the worker.
type movingClock interface {
	Moved() <-chan struct{}
}

// RunWorker applies deadlines until ctx ends: it settles everything due, then
// sleeps until the next stored deadline or reminder time (at most poll, so
// deadlines created by other replicas are seen too). Correctness never
// depends on it running — readers apply a passed deadline in memory and
// every decision settles its request first — it only makes the audit log
// and notifications timely.
//
// It settles nothing while the store is not ready (lockbox.ReadyWatch).
func (s *Service) RunWorker(ctx context.Context, poll time.Duration) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	var moved <-chan struct{}
	ready := lockbox.ReadyWatch{Store: s.store, Logger: s.opts.Logger, What: "settling deadlines"}
	for {
		if mc, ok := s.clock.(movingClock); ok {
			moved = mc.Moved()
		}
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-moved:
		}
		if !ready.Ready(ctx) {
			timer.Reset(poll)
			continue
		}
		if err := s.SettleDue(ctx); err != nil && ctx.Err() == nil {
			s.opts.Logger.Error("settling deadlines failed; retrying", "err", err)
		}
		s.remindDue(ctx) // expiry reminders (notify.go)
		timer.Reset(s.nextWake(ctx, poll))
	}
}

// nextWake is how long to sleep: until the earliest stored deadline or
// reminder time, at most poll.
func (s *Service) nextWake(ctx context.Context, poll time.Duration) time.Duration {
	var next time.Time
	now := s.now()
	err := s.store.View(ctx, func(tx lockbox.Tx) error {
		var err error
		if next, err = tx.NextDue(ctx, now); err != nil {
			return err
		}
		next, err = nextWakeWithReminders(ctx, tx, now, next) // notify.go
		return err
	})
	if err != nil || next.IsZero() {
		return poll
	}
	return min(max(next.Sub(now), 0), poll)
}
