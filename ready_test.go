package lockbox_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/lockboxhq/lockbox"
)

// pingStore is a store whose Ping returns err, and nothing else.
type pingStore struct {
	lockbox.Store
	err   error
	pings int
}

func (s *pingStore) Ping(context.Context) error {
	s.pings++
	return s.err
}

// TestReadyWatch: Ready follows Ping, and the log says each change once,
// not every time the worker looks.
func TestReadyWatch(t *testing.T) {
	t.Parallel()
	var log bytes.Buffer
	st := &pingStore{}
	w := lockbox.ReadyWatch{Store: st, Logger: slog.New(slog.NewTextHandler(&log, nil)), What: "settling deadlines"}
	notReady := lockbox.Errorf(lockbox.EUNAVAILABLE, "its clock is 5s behind its database server's.")
	for i, step := range []struct {
		err  error
		want bool
		says string // what the step logs, "" for nothing
	}{
		{nil, true, ""},
		{notReady, false, "not settling deadlines until the database is ready"},
		{notReady, false, ""},
		{nil, true, "the database is ready again; settling deadlines"},
		{nil, true, ""},
	} {
		log.Reset()
		st.err = step.err
		if got := w.Ready(t.Context()); got != step.want {
			t.Errorf("step %d: Ready = %v, want %v", i, got, step.want)
		}
		if got := log.String(); (step.says == "") != (got == "") || !strings.Contains(got, step.says) {
			t.Errorf("step %d logged %q, want %q", i, got, step.says)
		}
	}
}

// TestReadyWatchEvery: with Every, a ready store is pinged at most once per
// Every (the last answer stands meanwhile), and a store that is not ready
// at each look, so the worker resumes as soon as it is.
func TestReadyWatchEvery(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		st := &pingStore{}
		w := lockbox.ReadyWatch{Store: st, Logger: slog.New(slog.DiscardHandler), What: "claiming", Every: time.Second}
		notReady := lockbox.Errorf(lockbox.EUNAVAILABLE, "its clock is 5s behind its database server's.")
		for i, step := range []struct {
			wait      time.Duration // before the look
			err       error
			want      bool
			wantPings int // in all, after the look
		}{
			{0, nil, true, 1},
			{500 * time.Millisecond, notReady, true, 1}, // within Every: the last answer stands
			{500 * time.Millisecond, notReady, false, 2},
			{time.Millisecond, notReady, false, 3}, // not ready: each look pings
			{time.Millisecond, nil, true, 4},
			{time.Millisecond, notReady, true, 4},
		} {
			time.Sleep(step.wait)
			st.err = step.err
			if got := w.Ready(t.Context()); got != step.want || st.pings != step.wantPings {
				t.Errorf("step %d: Ready = %v after %d pings, want %v after %d", i, got, st.pings, step.want, step.wantPings)
			}
		}
	})
}
