package lockbox

import (
	"context"
	"log/slog"
	"time"
)

// ReadyWatch is how a background worker follows its store's readiness
// (Store.Ping). A worker acts only while its store is ready: on a database
// that replicas share, Ping also fails while this replica's clock is out
// of step with the database server's, and a worker acting then would
// expire requests, or skip notifications as too late, by a clock the
// other replicas do not share. It logs each change once. Its Pings are
// also what tells a store whose clock was out of step that it is in step
// again (postgres: the store refuses transactions meanwhile).
type ReadyWatch struct {
	Store  Store
	Logger *slog.Logger
	// What is what the worker stops doing, for the log ("settling
	// deadlines").
	What string
	// Every, when set, spaces the Pings of a ready store at least that far
	// apart, for a worker that looks for work far more often than its
	// poll under load (an outbox lane claims each time an endpoint's sends
	// end): the answer of the last Ping stands meanwhile. A store that is
	// not ready is pinged each time, so the worker resumes at once.
	Every    time.Duration
	notReady bool
	pinged   time.Time // of the last Ping, when Every is set
}

// Ready pings the store and reports whether the worker may act now.
func (r *ReadyWatch) Ready(ctx context.Context) bool {
	if r.Every > 0 {
		if !r.notReady && !r.pinged.IsZero() && time.Since(r.pinged) < r.Every {
			return true
		}
		r.pinged = time.Now()
	}
	err := r.Store.Ping(ctx)
	switch {
	case err != nil && !r.notReady && ctx.Err() == nil:
		r.Logger.Error("not "+r.What+" until the database is ready", "err", err)
	case err == nil && r.notReady:
		r.Logger.Info("the database is ready again; " + r.What)
	}
	r.notReady = err != nil
	return err == nil
}

// ClockOffsetter is a store whose database server keeps a clock of its own
// that Ping compares with this process's (PostgreSQL, which replicas
// share). ClockOffset is how far this process's clock was ahead of it
// (negative: behind) at the last Ping that reached it, not counting the
// round trip. A store without one (SQLite, in this process) has none to
// differ from.
type ClockOffsetter interface {
	ClockOffset() time.Duration
}
