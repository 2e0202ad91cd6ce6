package postgres

// WaitingUpdates is how many Updates are queued for the writers, not yet
// taken (groupcommit_test.go).
func (s *Store) WaitingUpdates() int { return s.queue.Waiting() }

// LaterSQL is laterSQL, for the guard's test.
var LaterSQL = laterSQL

// GroupsRun is how many write groups the Store's writers have run.
func (s *Store) GroupsRun() int64 { return s.groups.Load() }

// LookupsWaiting is how many FindToken calls no runner has taken yet
// (tokenbatch_test.go).
func (s *Store) LookupsWaiting() int64 { return s.lookupsWaiting.Load() }

// TokenStatements is how many statements the Store has run for FindToken.
func (s *Store) TokenStatements() int64 { return s.tokenStatements.Load() }

// WritersAtOnce is how many write groups the Store runs at once now
// (replicas.go).
func (s *Store) WritersAtOnce() int { return s.gate.getLimit() }

// CountReplicas counts the replicas now, not after the next write group.
func (s *Store) CountReplicas() { s.countReplicas() }

// ConnName is the application_name of the Store's connections.
func (s *Store) ConnName() string { return s.connName }
