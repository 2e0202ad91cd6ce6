package postgres

// WaitingUpdates is how many Updates are queued for the writers, not yet
// taken (groupcommit_test.go).
func (s *Store) WaitingUpdates() int { return s.queue.Waiting() }

// LaterSQL is laterSQL, for the guard's test.
var LaterSQL = laterSQL
