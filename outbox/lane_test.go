package outbox_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/outbox"
	"github.com/lockboxhq/lockbox/storetest"
)

// hangs is a deliverer whose sends hang until the test ends, as a webhook
// endpoint that accepts the connection and never answers; entered gets
// each message as its send starts.
type hangs struct {
	entered chan string
	release chan struct{}
}

func (h *hangs) Deliver(ctx context.Context, m *lockbox.OutboxMessage) error {
	h.entered <- m.ID
	select {
	case <-h.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// notes is a deliverer that delivers at once and says so on sent.
type notes struct{ sent chan string }

func (n *notes) Deliver(_ context.Context, m *lockbox.OutboxMessage) error {
	n.sent <- m.ID
	return nil
}

// TestWebhookThatHangsHoldsNoEmail: while a webhook endpoint hangs (its
// send takes the whole timeout, here as long as the test), emails are
// still sent at once, both an email claimed by a round and one handed over
// as its transaction commits, behind another webhook. In one lane for both channels, the hanging
// send held its round, and every email after it waited for the timeout.
func TestWebhookThatHangsHoldsNoEmail(t *testing.T) {
	t.Parallel()
	clock := &manualClock{t: storetest.T0.Add(time.Hour)}
	e := newEnv(t, clock)
	hook := &hangs{entered: make(chan string, 8), release: make(chan struct{})}
	mail := &notes{sent: make(chan string, 8)}
	w := outbox.New(e.store, clock, map[string]outbox.Deliverer{lockbox.ChannelWebhook: hook, lockbox.ChannelEmail: mail},
		outbox.Options{Poll: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	var run sync.WaitGroup
	run.Go(func() { w.Run(ctx) })
	t.Cleanup(func() { close(hook.release); cancel(); run.Wait() })

	webhookMsg := func(n int) *lockbox.OutboxMessage {
		m := storetest.NewOutboxMessage(n)
		m.Channel, m.To, m.WebhookID = lockbox.ChannelWebhook, "", "wh-1"
		return m
	}
	// handed leases m to the worker, stores it and hands it over, as a
	// workflow transaction does (approval's handoffStore).
	handed := func(m *lockbox.OutboxMessage) {
		t.Helper()
		var until time.Time
		for ok := false; !ok; { // the lane runs once Lease grants room
			until, ok = w.Lease(m.Channel, 1)
			time.Sleep(time.Millisecond)
		}
		m.Attempts, m.LeaseUntil = 1, &until
		storetest.MustEnqueue(t, e.store, m)
		w.Handoff([]*lockbox.OutboxMessage{m})
	}
	waitFor := func(ch <-chan string, want, what string) {
		t.Helper()
		select {
		case id := <-ch:
			if id != want {
				t.Fatalf("%s: got %s, want %s", what, id, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: %s not sent within 10 s while a webhook hangs", what, want)
		}
	}

	// A round's webhook hangs; then an email falls due.
	storetest.MustEnqueue(t, e.store, webhookMsg(1))
	waitFor(hook.entered, "msg-000001", "the claimed webhook")
	storetest.MustEnqueue(t, e.store, storetest.NewOutboxMessage(2))
	waitFor(mail.sent, "msg-000002", "the claimed email")

	// A webhook handed over waits behind the one hanging (endpoints share
	// their lane); an email handed over after it does not.
	handed(webhookMsg(3))
	handed(storetest.NewOutboxMessage(4))
	waitFor(mail.sent, "msg-000004", "the handed email")
}
