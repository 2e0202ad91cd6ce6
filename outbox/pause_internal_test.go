package outbox

import (
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
)

// TestAskedSince: what a person asked for after an endpoint's last failure
// (a test delivery created, or any delivery resent, after it) is sent
// through its pause; what the workflow queued is not.
func TestAskedSince(t *testing.T) {
	t.Parallel()
	since := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	before, after := since.Add(-time.Second), since.Add(time.Second)
	for _, tc := range []struct {
		name    string
		typ     string
		created time.Time
		resent  *time.Time
		want    bool
	}{
		{"EventQueuedAfter", lockbox.OpRequestApproved, after, nil, false},
		{"TestAfter", lockbox.EventTypeWebhookTest, after, nil, true},
		{"TestBefore", lockbox.EventTypeWebhookTest, before, nil, false},
		{"ResentAfter", lockbox.OpRequestApproved, before, &after, true},
		{"ResentBefore", lockbox.OpRequestApproved, before, &before, false},
		{"TestResentBefore", lockbox.EventTypeWebhookTest, after, &before, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &lockbox.OutboxMessage{Channel: lockbox.ChannelWebhook, Type: tc.typ, CreatedAt: tc.created, ResentAt: tc.resent}
			if got := askedSince(m, since); got != tc.want {
				t.Errorf("askedSince = %v, want %v", got, tc.want)
			}
		})
	}
}
