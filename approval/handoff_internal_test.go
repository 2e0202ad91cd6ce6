package approval

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
)

// fakeHandoff is a worker with unlimited room that records the calls.
type fakeHandoff struct {
	room    int // leased and not yet handed over or freed
	handed  []string
	refused bool
}

func (h *fakeHandoff) Lease(n int) (time.Time, bool) {
	if h.refused {
		return time.Time{}, false
	}
	h.room += n
	return time.Unix(1000, 0), true
}

func (h *fakeHandoff) Handoff(msgs []*lockbox.OutboxMessage) {
	h.room -= len(msgs)
	for _, m := range msgs {
		h.handed = append(h.handed, m.ID)
	}
}

func (h *fakeHandoff) Unlease(n int) { h.room -= n }

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
// transaction that fails, is freed; a worker without room leases nothing.
func TestHandoffStore(t *testing.T) {
	t.Parallel()
	failed := errors.New("commit failed")
	for _, tc := range []struct {
		name       string
		runs       []error
		refused    bool
		wantErr    bool
		wantHanded []string
		wantLeased bool
	}{
		{"Commits", []error{nil}, false, false, []string{"m1", "m2"}, true},
		{"RetriedThenCommits", []error{failed, nil}, false, false, []string{"m1", "m2"}, true},
		{"Fails", []error{nil, failed}, false, true, nil, true},
		{"NoRoom", []error{nil}, true, false, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := &fakeHandoff{refused: tc.refused}
			st := &runsStore{runs: tc.runs}
			err := handoffStore{st, h}.Update(t.Context(), func(tx lockbox.Tx) error {
				for _, id := range []string{"m1", "m2"} {
					if err := tx.EnqueueOutbox(t.Context(), &lockbox.OutboxMessage{ID: id}); err != nil {
						return err
					}
				}
				return nil
			})
			if (err != nil) != tc.wantErr {
				t.Errorf("Update = %v, want an error: %v", err, tc.wantErr)
			}
			if !slices.Equal(h.handed, tc.wantHanded) || h.room != 0 {
				t.Errorf("handed over %v with room %d left leased; want %v and 0", h.handed, h.room, tc.wantHanded)
			}
			for _, m := range st.stored {
				if leased := m.LeaseUntil != nil && m.Attempts == 1; leased != tc.wantLeased {
					t.Errorf("%s stored with attempts %d, lease %v; want leased %v", m.ID, m.Attempts, m.LeaseUntil, tc.wantLeased)
				}
			}
		})
	}
}
