package outbox_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/outbox"
	"github.com/lockboxhq/lockbox/storetest"
)

// recordingStore remembers the ids each transaction recorded results for,
// and holds the first such transaction until release is closed.
type recordingStore struct {
	lockbox.Store
	release chan struct{}

	mu  sync.Mutex
	txs [][]string
}

func (s *recordingStore) Update(ctx context.Context, fn func(lockbox.Tx) error) error {
	return s.Store.Update(ctx, func(tx lockbox.Tx) error { return fn(&recordingTx{Tx: tx, s: s}) })
}

func (s *recordingStore) recorded() [][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]string(nil), s.txs...)
}

type recordingTx struct {
	lockbox.Tx
	s *recordingStore
}

func (tx *recordingTx) FinishOutbox(ctx context.Context, results ...lockbox.OutboxFinish) ([]error, error) {
	tx.s.mu.Lock()
	first := len(tx.s.txs) == 0
	var ids []string
	for _, f := range results {
		ids = append(ids, f.ID)
	}
	tx.s.txs = append(tx.s.txs, ids)
	tx.s.mu.Unlock()
	if first {
		<-tx.s.release
	}
	return tx.Tx.FinishOutbox(ctx, results...)
}

// gated delivers every message at once, except slow's, which waits for
// open to be closed (or for its context to end, which it ignores: it
// delivered just before shutdown).
type gated struct {
	slow string
	open chan struct{}
}

func (g *gated) Deliver(ctx context.Context, m *lockbox.OutboxMessage) error {
	if m.ID == g.slow {
		<-g.open
	}
	return nil
}

// TestResultsRecordedTogether: results of attempts that end while a
// recording transaction runs are recorded together in the next one, not
// one transaction each, and a slow receiver holds back no other message's
// record. There are more of them than are sent at once (Batch): a round's
// results wait for the recorder without holding up the round's sends, so
// under load a commit records dozens, not a batch (docs/benchmarks.md,
// "Eighth session").
func TestResultsRecordedTogether(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		clock := &manualClock{t: storetest.T0.Add(time.Hour)} // every message is due
		e := newEnv(t, clock)
		st := &recordingStore{Store: e.store, release: make(chan struct{})}
		g := &gated{slow: "msg-000000", open: make(chan struct{})}
		w := outbox.New(st, clock, map[string]outbox.Deliverer{lockbox.ChannelEmail: g}, outbox.Options{})
		const n = 40 // > Batch (8), <= Claim (64)
		var msgs []*lockbox.OutboxMessage
		for i := range n {
			msgs = append(msgs, storetest.NewOutboxMessage(i))
		}
		storetest.MustEnqueue(t, e.store, msgs...)

		var done sync.WaitGroup
		done.Go(func() { deliverDue(t, w) })
		synctest.Wait() // the first recording is held; the other fast results wait for it
		close(st.release)
		synctest.Wait() // the slow message is still being sent
		statuses := map[string]string{}
		for _, m := range e.outbox(lockbox.OutboxQuery{}) {
			statuses[m.ID] = m.Status
		}
		for _, m := range msgs[1:] {
			if statuses[m.ID] != lockbox.OutboxDelivered {
				t.Errorf("%s is %s while another message is still being sent; want its result recorded", m.ID, statuses[m.ID])
			}
		}
		// The first transaction took what had arrived (one result or more);
		// everything that arrived while it was held went in one more.
		if fast := st.recorded(); len(fast) > 2 {
			t.Errorf("the %d fast results were recorded in %d transactions %v; want at most 2", n-1, len(fast), fast)
		}

		close(g.open)
		done.Wait()
		txs := st.recorded()
		if diff := cmp.Diff([]string{g.slow}, txs[len(txs)-1]); diff != "" {
			t.Errorf("last transaction (-want +got):\n%s", diff)
		}
		if m := e.outbox(lockbox.OutboxQuery{})[n-1]; m.ID != g.slow || m.Status != lockbox.OutboxDelivered {
			t.Errorf("slow message %s is %s, want delivered", m.ID, m.Status)
		}
		times := map[string]int{}
		for _, ids := range txs {
			for _, id := range ids {
				times[id]++
			}
		}
		for _, m := range msgs {
			if times[m.ID] != 1 {
				t.Errorf("%s was handed to FinishOutbox %d times, want once", m.ID, times[m.ID])
			}
		}
	})
}

// TestResultRecordedAfterShutdown: a message whose send ends after the
// worker's context did (it was delivered just before shutdown) is still
// recorded, so it is not sent again.
func TestResultRecordedAfterShutdown(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		clock := &manualClock{t: storetest.T0.Add(time.Hour)}
		e := newEnv(t, clock)
		g := &gated{slow: "msg-000000", open: make(chan struct{})}
		w := outbox.New(e.store, clock, map[string]outbox.Deliverer{lockbox.ChannelEmail: g}, outbox.Options{})
		storetest.MustEnqueue(t, e.store, storetest.NewOutboxMessage(0))
		ctx, cancel := context.WithCancel(context.Background())
		var done sync.WaitGroup
		done.Go(func() { w.DeliverDue(ctx) })
		synctest.Wait() // sending
		cancel()
		time.Sleep(time.Second)
		close(g.open)
		done.Wait()
		if m := e.outbox(lockbox.OutboxQuery{})[0]; m.Status != lockbox.OutboxDelivered {
			t.Errorf("message is %s after a send that ended after shutdown, want delivered", m.Status)
		}
	})
}
