package approval

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
)

// fakeHandoff is a worker with unlimited room for the channels it does
// not refuse that records the calls.
type fakeHandoff struct {
	room     map[string]int // leased and not yet handed over or freed, by channel
	handed   []string
	told     []string // handed over unleased: declined, committed
	refused  []string // channels
	declined []string // message ids it does not take
}

func (h *fakeHandoff) Takes(m *lockbox.OutboxMessage) bool { return !slices.Contains(h.declined, m.ID) }

func (h *fakeHandoff) Lease(channel string, n int) (time.Time, bool) {
	if slices.Contains(h.refused, channel) {
		return time.Time{}, false
	}
	h.room[channel] += n
	return time.Unix(1000, 0), true
}

func (h *fakeHandoff) Handoff(msgs []*lockbox.OutboxMessage) {
	for _, m := range msgs {
		if m.LeaseUntil == nil {
			h.told = append(h.told, m.ID)
			continue
		}
		h.room[m.Channel]--
		h.handed = append(h.handed, m.ID)
	}
}

func (h *fakeHandoff) Unlease(channel string, n int) { h.room[channel] -= n }

// runsStore runs an Update's fn once per error of runs (nil: the run
// succeeds), as a store that retries a group does, and returns the last.
type runsStore struct {
	lockbox.Store
	runs   []error
	stored []*lockbox.OutboxMessage // what the last run enqueued
}

func (s *runsStore) Update(ctx context.Context, fn func(lockbox.Tx) error) error {
	var err error
	for _, want := range s.runs {
		tx := &enqueueTx{}
		if err = fn(tx); err == nil {
			err = want
		}
		s.stored = tx.msgs
	}
	return err
}

type enqueueTx struct {
	lockbox.Tx
	msgs []*lockbox.OutboxMessage
}

func (tx *enqueueTx) EnqueueOutbox(_ context.Context, msgs ...*lockbox.OutboxMessage) error {
	tx.msgs = append(tx.msgs, msgs...)
	return nil
}

// TestHandoffStore: only a committed run's messages are handed over, each
// stored leased as attempt 1; the room of every other run, and of a
// transaction that fails, is freed; a worker without room for a channel
// (its lane is slow or full) leases nothing of it, and the other channel's
// messages all the same.
func TestHandoffStore(t *testing.T) {
	t.Parallel()
	failed := errors.New("commit failed")
	for _, tc := range []struct {
		name       string
		runs       []error
		refused    []string
		declined   []string
		wantErr    bool
		wantHanded []string
		wantLeased []string
		wantTold   []string
	}{
		{"Commits", []error{nil}, nil, nil, false, []string{"m1", "m2", "w1", "w2"}, []string{"m1", "m2", "w1", "w2"}, nil},
		{"RetriedThenCommits", []error{failed, nil}, nil, nil, false, []string{"m1", "m2", "w1", "w2"}, []string{"m1", "m2", "w1", "w2"}, nil},
		{"Fails", []error{nil, failed}, nil, nil, true, nil, []string{"m1", "m2", "w1", "w2"}, nil},
		{"NoRoom", []error{nil}, []string{lockbox.ChannelEmail, lockbox.ChannelWebhook}, nil, false, nil, nil, nil},
		{"NoRoomForWebhooks", []error{nil}, []string{lockbox.ChannelWebhook}, nil, false, []string{"m1", "m2"}, []string{"m1", "m2"}, nil},
		// A delivery the worker would give back (its endpoint's share is
		// under way) is stored unclaimed, and its room not leased; the
		// worker is told of it once it commits, and only then, with room
		// for its channel or not.
		{"Declined", []error{nil}, nil, []string{"w1"}, false, []string{"m1", "m2", "w2"}, []string{"m1", "m2", "w2"}, []string{"w1"}},
		{"DeclinedNoRoom", []error{nil}, []string{lockbox.ChannelEmail, lockbox.ChannelWebhook}, []string{"w1"}, false, nil, nil, []string{"w1"}},
		{"DeclinedFails", []error{nil, failed}, nil, []string{"w1"}, true, nil, []string{"m1", "m2", "w2"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := &fakeHandoff{room: map[string]int{}, refused: tc.refused, declined: tc.declined}
			st := &runsStore{runs: tc.runs}
			err := handoffStore{st, h}.Update(t.Context(), func(tx lockbox.Tx) error {
				// One call with both channels, then another.
				if err := tx.EnqueueOutbox(t.Context(), &lockbox.OutboxMessage{ID: "m1", Channel: lockbox.ChannelEmail},
					&lockbox.OutboxMessage{ID: "w1", Channel: lockbox.ChannelWebhook},
					&lockbox.OutboxMessage{ID: "w2", Channel: lockbox.ChannelWebhook}); err != nil {
					return err
				}
				return tx.EnqueueOutbox(t.Context(), &lockbox.OutboxMessage{ID: "m2", Channel: lockbox.ChannelEmail})
			})
			if (err != nil) != tc.wantErr {
				t.Errorf("Update = %v, want an error: %v", err, tc.wantErr)
			}
			slices.Sort(h.handed)
			if !slices.Equal(h.handed, tc.wantHanded) {
				t.Errorf("handed over %v, want %v", h.handed, tc.wantHanded)
			}
			if !slices.Equal(h.told, tc.wantTold) {
				t.Errorf("told of %v declined and committed, want %v", h.told, tc.wantTold)
			}
			for ch, n := range h.room {
				if n != 0 {
					t.Errorf("room %d of %s left leased, want 0", n, ch)
				}
			}
			if len(st.stored) != 4 {
				t.Errorf("stored %d messages, want 4", len(st.stored))
			}
			for _, m := range st.stored {
				want := slices.Contains(tc.wantLeased, m.ID)
				if leased := m.LeaseUntil != nil && m.Attempts == 1; leased != want {
					t.Errorf("%s stored with attempts %d, lease %v; want leased %v", m.ID, m.Attempts, m.LeaseUntil, want)
				}
			}
		})
	}
}
