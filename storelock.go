package lockbox

import "context"

// StoreLocker is implemented by stores that several lockbox processes may
// share (PostgreSQL: any number of `lockbox serve` replicas on one
// database). It is for work that is correct when repeated but should not
// run twice at once, such as seeding an empty database at startup: no
// correctness may depend on it, since a lock held by a process that loses
// its connection is released. Exactly-once guarantees come from row locks
// and conditional updates in the store, never from this lock.
//
// A store used by one process only (SQLite) need not implement it.
type StoreLocker interface {
	// WithLock runs fn while holding the lock called name, which no other
	// caller, in this process or another sharing the database, holds at
	// the same time; it waits for the lock as long as ctx allows
	// (EUNAVAILABLE when the database does not answer). It returns fn's
	// error.
	WithLock(ctx context.Context, name string, fn func(ctx context.Context) error) error
}
