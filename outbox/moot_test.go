package outbox_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/outbox"
	"github.com/lockboxhq/lockbox/storetest"
)

// recorder is a deliverer that accepts everything and remembers what.
type recorder struct {
	mu   sync.Mutex
	sent []*lockbox.OutboxMessage
}

func (r *recorder) Deliver(_ context.Context, m *lockbox.OutboxMessage) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, m)
	return nil
}

// TestDecisionEmailAfterTheDeadlineIsSkipped: mail was down until after the
// request's decision deadline. The "please decide" emails are then skipped
// (recorded, not sent), because they would ask approvers to decide an
// expired request; the requester's outcome email is still sent.
func TestDecisionEmailAfterTheDeadlineIsSkipped(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		late     time.Duration // delivery time after the request became pending
		wantSent bool
	}{
		{"BeforeTheDeadline", 12*time.Hour - time.Second, true},
		{"AtTheDeadline", 12 * time.Hour, false},
		{"LongAfter", 20 * time.Hour, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := &manualClock{t: storetest.T0}
			e := newEnv(t, clock)
			r := e.pending("Mailbox fails to load.")
			clock.Advance(tc.late)
			// The deadline takes effect (as any read or the worker would
			// make it), which enqueues the requester's "expired" email.
			if err := e.svc.SettleDue(context.Background()); err != nil {
				t.Fatal(err)
			}
			rec := &recorder{}
			w := outbox.New(e.store, clock, map[string]outbox.Deliverer{lockbox.ChannelEmail: rec}, outbox.Options{})
			deliverDue(t, w)
			var asks []*lockbox.OutboxMessage
			expiredSent := 0
			for _, m := range e.outbox(lockbox.OutboxQuery{}) {
				switch {
				case m.Type == lockbox.NoticePending:
					asks = append(asks, m)
				case m.Type == lockbox.NoticeExpired && m.Status == lockbox.OutboxDelivered:
					expiredSent++
				}
			}
			if wantExpired := map[bool]int{true: 0, false: 1}[tc.wantSent]; expiredSent != wantExpired {
				t.Errorf("requester's expired email delivered %d times, want %d", expiredSent, wantExpired)
			}
			if len(asks) == 0 {
				t.Fatal("no pending-request email was enqueued")
			}
			for _, m := range asks {
				sent := m.Status == lockbox.OutboxDelivered
				if sent != tc.wantSent || (!sent && (m.Status != lockbox.OutboxSkipped || !strings.Contains(m.LastError, r.ExpiresAt.Format(time.RFC3339)))) {
					t.Errorf("to %s: status %s (%q), want sent=%v", m.To, m.Status, m.LastError, tc.wantSent)
				}
			}
			for _, m := range rec.sent {
				if m.Type == lockbox.NoticePending && !tc.wantSent {
					t.Errorf("sent %s to %s after the deadline", m.Type, m.To)
				}
			}
		})
	}
}
