package postgres

import (
	"time"

	"github.com/lockboxhq/lockbox"
)

// maxClockSkew is how far a replica's clock may be from its database
// server's before the replica stops being ready (Ping), unless
// Options.MaxClockSkew says otherwise.
//
// Every replica judges deadlines on its own clock: whether a decision
// comes before its request expires, whether a grant is still valid at an
// access check, when the worker expires or ends a request. Replicas whose
// clocks disagree disagree on those: one whose clock is behind allows an
// operator's action after access has ended, by as much as it is behind.
// The database's clock is the one all replicas share, so a replica that
// keeps within maxClockSkew of it keeps within twice that of every other
// one. NTP keeps clocks within milliseconds; a second apart means a clock
// is not synchronised at all.
const maxClockSkew = time.Second

// inStep is the error of the last Ping that found this process's clock
// out of step with the database server's, or nil. Update, View and ViewOne
// refuse to run while there is one: every entry point (the API, the web
// UI, the CLI against a server, the workers) judges deadlines inside
// them, so a replica out of step acts on none, whether or not a load
// balancer has stopped sending it requests. The workers ping while they
// wait (lockbox.ReadyWatch, each worker poll: a second by default), as
// does /readyz, so the refusal ends soon after the clock is back in step.
func (s *Store) inStep() error {
	if err := s.outOfStep.Load(); err != nil {
		return *err
	}
	return nil
}

// clockOffset is how far this process's clock is ahead of the database's
// (negative: behind) at least, from the database's reading db taken
// between this clock's readings before and after: 0 when db falls between
// them, so the round trip never counts.
func clockOffset(before, db, after time.Time) time.Duration {
	switch {
	case db.Before(before):
		return before.Sub(db)
	case db.After(after):
		return -db.Sub(after)
	}
	return 0
}

// The gauge lockbox serve exports finds ClockOffset by this interface.
var _ lockbox.ClockOffsetter = (*Store)(nil)

// ClockOffset is clockOffset at the last Ping that reached the database
// (0 before the first): lockbox.ClockOffsetter, served as a metric so that
// an operator hears of a drifting clock before the replica stops being
// ready.
func (s *Store) ClockOffset() time.Duration {
	return time.Duration(s.clockOffset.Load())
}

// checkClock judges off, what clockOffset found the clocks differ by at
// least, however slow the round trip: an EUNAVAILABLE error, which says
// which way and by how much, when that is more than bound.
func checkClock(off, bound time.Duration) error {
	if off.Abs() <= bound {
		return nil
	}
	way := "ahead of"
	if off < 0 {
		way = "behind"
	}
	return lockbox.Errorf(lockbox.EUNAVAILABLE,
		"its clock is %s %s its database server's (more than %s), so it would judge deadlines wrongly; synchronise its clock (NTP).",
		off.Abs().Round(time.Millisecond), way, bound)
}
