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
	What     string
	notReady bool
}

// Ready pings the store and reports whether the worker may act now.
func (r *ReadyWatch) Ready(ctx context.Context) bool {
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
