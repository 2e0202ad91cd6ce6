package outbox

import (
	"errors"
	"slices"
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

// TestPausesForgotten: a pause that ended more than a day ago is dropped
// when another endpoint is paused (a deleted endpoint would otherwise stay
// in memory for good); a recent one is kept.
func TestPausesForgotten(t *testing.T) {
	t.Parallel()
	w := New(nil, nil, nil, Options{Jitter: func() float64 { return 0 }})
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	noAnswer := &lockbox.DeliveryError{Kind: "connect", Err: errors.New("timeout")}
	hook := func(id string) *lockbox.OutboxMessage {
		return &lockbox.OutboxMessage{Channel: lockbox.ChannelWebhook, WebhookID: id}
	}
	w.answered(hook("wh-old"), noAnswer, t0, t0)
	w.answered(hook("wh-recent"), noAnswer, t0.Add(24*time.Hour), t0.Add(24*time.Hour))
	w.answered(hook("wh-new"), noAnswer, t0.Add(25*time.Hour), t0.Add(25*time.Hour))
	if _, ok := w.paused.by["wh-old"]; ok {
		t.Error("a pause that ended a day ago is still kept")
	}
	for _, id := range []string{"wh-recent", "wh-new"} {
		if _, ok := w.paused.by[id]; !ok {
			t.Errorf("%s's pause was dropped", id)
		}
	}
}

// TestInTurn: a round's webhook endpoints take turns, each endpoint's
// deliveries in their order; emails keep theirs.
func TestInTurn(t *testing.T) {
	t.Parallel()
	msg := func(id, hook string) *lockbox.OutboxMessage { return &lockbox.OutboxMessage{ID: id, WebhookID: hook} }
	ids := func(msgs []*lockbox.OutboxMessage) (out []string) {
		for _, m := range msgs {
			out = append(out, m.ID)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		in   []*lockbox.OutboxMessage
		want []string
	}{
		{"BurstThenOthers", []*lockbox.OutboxMessage{msg("a1", "A"), msg("a2", "A"), msg("a3", "A"), msg("b1", "B"), msg("c1", "C"), msg("b2", "B")},
			[]string{"a1", "b1", "c1", "a2", "b2", "a3"}},
		{"OneEndpoint", []*lockbox.OutboxMessage{msg("a1", "A"), msg("a2", "A")}, []string{"a1", "a2"}},
		{"Emails", []*lockbox.OutboxMessage{msg("e2", ""), msg("e1", ""), msg("e3", "")}, []string{"e2", "e1", "e3"}},
		{"None", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ids(inTurn(tc.in)); !slices.Equal(got, tc.want) {
				t.Errorf("inTurn = %v, want %v", got, tc.want)
			}
		})
	}
}
