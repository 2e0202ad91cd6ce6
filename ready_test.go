package lockbox_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/lockboxhq/lockbox"
)

// pingStore is a store whose Ping returns err, and nothing else.
type pingStore struct {
	lockbox.Store
	err error
}

func (s *pingStore) Ping(context.Context) error { return s.err }

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
