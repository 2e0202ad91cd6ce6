package outbox_test

import (
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/outbox"
	"github.com/lockboxhq/lockbox/storetest"
)

// BenchmarkDeliverDue measures the outbox itself on SQLite: claim under a
// lease, deliver (to a deliverer that accepts at once), record the result.
// Reported as messages per second.
func BenchmarkDeliverDue(b *testing.B) {
	clock := &manualClock{t: storetest.T0.Add(1000 * time.Hour)} // every fixture message is due
	e := newEnv(b, clock)
	c := &counting{seen: map[string]int{}}
	w := outbox.New(e.store, clock, map[string]outbox.Deliverer{lockbox.ChannelEmail: c}, outbox.Options{})
	const perRound = 500
	b.ResetTimer()
	total := 0
	for i := range b.N {
		b.StopTimer()
		var msgs []*lockbox.OutboxMessage
		for j := range perRound {
			msgs = append(msgs, storetest.NewOutboxMessage(i*perRound+j))
		}
		storetest.MustEnqueue(b, e.store, msgs...)
		b.StartTimer()
		n, err := w.DeliverDue(b.Context())
		if err != nil || n != perRound {
			b.Fatalf("delivered %d: %v", n, err)
		}
		total += n
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "msgs/s")
}
