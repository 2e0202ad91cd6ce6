package outbox_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/outbox"
	"github.com/lockboxhq/lockbox/storetest"
)

// TestHandedOverSentAtOnce: the workflow's notifications are handed to the
// running worker as their transaction commits and sent at that instant,
// as attempt 1, without waiting for the worker's next round (an hour
// away here) or a claim. Without the handoff they would wait the hour.
func TestHandedOverSentAtOnce(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		var w *outbox.Worker
		e := newEnvHanded(t, lockbox.SystemClock{}, func(st lockbox.Store) *outbox.Worker {
			w = outbox.New(st, lockbox.SystemClock{}, map[string]outbox.Deliverer{lockbox.ChannelEmail: rec},
				outbox.Options{Poll: time.Hour})
			return w
		})
		ctx, cancel := context.WithCancel(context.Background())
		var run sync.WaitGroup
		run.Go(func() { w.Run(ctx) })
		defer func() { cancel(); run.Wait() }()
		synctest.Wait() // the first round found nothing; the next is an hour away

		start := time.Now()
		r := e.pending("Handed over")
		synctest.Wait()
		if waited := time.Since(start); waited != 0 {
			t.Fatalf("the workflow waited %v", waited)
		}
		msgs := e.outbox(lockbox.OutboxQuery{})
		if len(msgs) == 0 || len(rec.sent) != len(msgs) {
			t.Fatalf("sent %d of the %d notifications of %s at once, want all", len(rec.sent), len(msgs), r.Reference)
		}
		for _, m := range msgs {
			if m.Status != lockbox.OutboxDelivered || m.Attempts != 1 {
				t.Errorf("%s: %s after %d attempts, want delivered at the first", m.ID, m.Status, m.Attempts)
			}
		}
	})
}

// TestHandoffAfterStopGivesBack: a message leased to a worker that stopped
// before it was handed over is given back at once, claimable by any
// worker as its first attempt, rather than left to its lease.
func TestHandoffAfterStopGivesBack(t *testing.T) {
	t.Parallel()
	clock := &manualClock{t: storetest.T0}
	e := newEnv(t, clock)
	w := outbox.New(e.store, clock, map[string]outbox.Deliverer{lockbox.ChannelEmail: &recorder{}}, outbox.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	var run sync.WaitGroup
	run.Go(func() { w.Run(ctx) })
	var until time.Time
	for ok := false; !ok; { // Run has started once Lease grants room
		until, ok = w.Lease(lockbox.ChannelEmail, 1)
		time.Sleep(time.Millisecond)
	}
	cancel()
	run.Wait()

	m := storetest.NewOutboxMessage(1)
	m.Attempts, m.LeaseUntil = 1, &until
	storetest.MustEnqueue(t, e.store, m)
	w.Handoff([]*lockbox.OutboxMessage{m})
	got := storetest.MustClaim(t, e.store, storetest.T0.Add(time.Minute), time.Minute, 10)
	if len(got) != 1 || got[0].Attempts != 1 {
		t.Fatalf("claimed %d messages after the handoff to a stopped worker, want msg-000001 at attempt 1", len(got))
	}
}

// TestLeaseRoom: a worker leases only while it runs, and at most four
// claims' worth of messages not yet taken for a round.
func TestLeaseRoom(t *testing.T) {
	t.Parallel()
	clock := &manualClock{t: storetest.T0}
	e := newEnv(t, clock)
	w := outbox.New(e.store, clock, map[string]outbox.Deliverer{lockbox.ChannelEmail: &recorder{}}, outbox.Options{Claim: 8})
	if _, ok := w.Lease(lockbox.ChannelEmail, 1); ok {
		t.Fatal("a worker that is not running leased")
	}
	ctx, cancel := context.WithCancel(context.Background())
	var run sync.WaitGroup
	run.Go(func() { w.Run(ctx) })
	defer func() { cancel(); run.Wait() }()
	for _, ok := w.Lease(lockbox.ChannelEmail, 8); !ok; _, ok = w.Lease(lockbox.ChannelEmail, 8) {
		time.Sleep(time.Millisecond)
	}
	until, ok := w.Lease(lockbox.ChannelEmail, 24)
	if !ok || !until.Equal(storetest.T0.Add(2*time.Minute)) {
		t.Fatalf("Lease(24) with 8 reserved = %v, %v; want the default 2-minute lease", until, ok)
	}
	if _, ok := w.Lease(lockbox.ChannelEmail, 1); ok {
		t.Fatal("leased beyond four claims (32) of room")
	}
	w.Unlease(lockbox.ChannelEmail, 1)
	if _, ok := w.Lease(lockbox.ChannelEmail, 1); !ok {
		t.Fatal("the room Unlease freed was not leased again")
	}
}

// TestClaimsTakeTurnsWithHandedRounds: while messages keep being handed
// over, each round waiting for a slow receiver, a message waiting in the
// store is still claimed and sent. The lane sent handed rounds until its
// queue was empty, and under a steady stream it never was: stored
// messages waited until the stream stopped.
func TestClaimsTakeTurnsWithHandedRounds(t *testing.T) {
	t.Parallel()
	clock := &manualClock{t: storetest.T0.Add(time.Hour)}
	e := newEnv(t, clock)
	// Sends to the approver wait until the test lets one go.
	d := &holding{holds: func(m *lockbox.OutboxMessage) bool { return m.To == "approver@contoso.test" },
		letGo: make(chan struct{}), sent: make(chan string, 8)}
	w := outbox.New(e.store, clock, map[string]outbox.Deliverer{lockbox.ChannelEmail: d},
		outbox.Options{Batch: 1, Poll: time.Millisecond})
	runWorker(t, w)
	n := 0
	hand := func() { handOver(t, e, w, storetest.NewOutboxMessage(n)); n++ }
	hand()
	hand()
	stored := storetest.NewOutboxMessage(1000)
	stored.To = "other@contoso.test"
	storetest.MustEnqueue(t, e.store, stored)
	for range 200 { // each turn: one slow send let go, one more handed over
		select {
		case id := <-d.sent:
			if id != stored.ID {
				t.Fatalf("sent %s, want %s", id, stored.ID)
			}
			return
		case d.letGo <- struct{}{}:
			hand()
		case <-time.After(10 * time.Second):
			t.Fatal("no send in 10 s")
		}
	}
	t.Fatalf("the stored email was not sent in 200 handed rounds")
}

// TestHandedBeyondARoundSentNext: more messages handed over at once than
// one round takes (Claim) are all sent at once, a round after another,
// without waiting for the lane's next claim (an hour away here) or
// another hand-over.
func TestHandedBeyondARoundSentNext(t *testing.T) {
	t.Parallel()
	clock := &manualClock{t: storetest.T0.Add(time.Hour)}
	e := newEnv(t, clock)
	d := &notes{sent: make(chan string, 8)}
	w := outbox.New(e.store, clock, map[string]outbox.Deliverer{lockbox.ChannelEmail: d},
		outbox.Options{Batch: 1, Claim: 2, Poll: time.Hour})
	runWorker(t, w)
	handOver(t, e, w, storetest.NewOutboxMessage(0), storetest.NewOutboxMessage(1), storetest.NewOutboxMessage(2))
	for n := range 3 {
		waitSent(t, d.sent, fmt.Sprintf("msg-%06d", n), "a message handed over with two others")
	}
}

// TestStopGivesBackWhatIsNotStarted: messages of a round still waiting for
// a send slot when the worker stops are given back unsent, claimable at
// once at their first attempt, not attempted with the stopped context and
// retried only after a backoff.
func TestStopGivesBackWhatIsNotStarted(t *testing.T) {
	t.Parallel()
	clock := &manualClock{t: storetest.T0.Add(time.Hour)}
	e := newEnv(t, clock)
	d := &holding{holds: func(m *lockbox.OutboxMessage) bool { return true }, entered: make(chan string, 4), letGo: make(chan struct{})}
	w := outbox.New(e.store, clock, map[string]outbox.Deliverer{lockbox.ChannelEmail: d}, outbox.Options{Batch: 1})
	enqueueDue(t, e, 3)
	ctx, cancel := context.WithCancel(context.Background())
	var run sync.WaitGroup
	run.Go(func() { w.Run(ctx) })
	waitSent(t, d.entered, "msg-000000", "the round's first")
	cancel() // the first send ends with the context; the others wait for its slot
	run.Wait()
	for _, m := range e.outbox(lockbox.OutboxQuery{}) {
		if m.ID == "msg-000000" {
			continue
		}
		if m.Status != lockbox.OutboxPending || m.Attempts != 0 || m.LastError != "" {
			t.Errorf("%s after the stop: %s, %d attempts, error %q; want given back unsent (pending, 0 attempts)", m.ID, m.Status, m.Attempts, m.LastError)
		}
	}
}
