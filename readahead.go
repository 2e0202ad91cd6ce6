package lockbox

import "context"

// ReadAhead names the rows a function given to Store.Update reads first,
// after the caller's account (Tx.LockUser): a request by id or reference
// (read as Tx.GetRequest reads it, locked), the tenant of that request or
// the tenant named, and a catalog service. It is a hint, never a rule: a
// store that reads a step's rows one round trip at a time may send them
// with the account's lock instead (the PostgreSQL store does: one round
// trip where there were four), and must answer each later read exactly
// as if it were made then. A store may ignore it (SQLite does, reading in
// process), and nothing may depend on it.
type ReadAhead struct {
	Request string // an id or reference
	Tenant  string // ignored when Request is set: the request's tenant is read
	// ShareTenant reads the tenant as Tx.LockSettings(…, false) does,
	// holding its row shared, for a step that will (one that makes a
	// request pending: the event table's rule).
	ShareTenant bool
	Service     string
}

type readAheadKey struct{}

// WithReadAhead returns ctx carrying ra, for the Store.Update it is passed
// to.
func WithReadAhead(ctx context.Context, ra ReadAhead) context.Context {
	return context.WithValue(ctx, readAheadKey{}, ra)
}

// ReadAheadFrom returns the ReadAhead ctx carries, if any.
func ReadAheadFrom(ctx context.Context) (ReadAhead, bool) {
	ra, ok := ctx.Value(readAheadKey{}).(ReadAhead)
	return ra, ok
}
