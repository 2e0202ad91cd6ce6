package postgres

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"time"
)

// Replicas that notice each other. Each write group of a tenant's
// transactions ends at the tenant's log head, which its COMMIT holds until
// the commit is flushed, so a tenant's groups commit in turn whoever runs
// them. Alone, a replica wants three writers, so that one group's
// statements overlap another's commit. Three replicas of three writers put
// nine small groups in that queue: each its own transaction, append call
// and flush, and PostgreSQL's CPU a step rose by half or more. One writer
// each made three replicas of one busy tenant 18–36 % faster on one
// machine and 9–45 % on another; sixteen tenants were 7–9 % faster on the
// second and about 10 % slower on the first (one run; docs/benchmarks.md,
// eleventh and twelfth sessions). So, unless told a number
// (Options.Writers), a Store runs its three writers while it is the only
// replica of its database and schema, and one while others share them.
//
// A replica is seen by its connections: each Store names them
// lockbox/<schema>/<instance> in application_name, <schema> a digest of
// the search_path it was given, <instance> its own random id, and while it
// writes it counts the other instances of its schema in pg_stat_activity
// (which any role may read) at most every replicasEvery. A Store given its
// own application_name, or a tool's (Options.Tool), cannot be seen, nor
// see, and keeps three writers.

// A Store's writers alone and with other replicas.
const (
	writersAlone  = 3
	writersShared = 1
)

// replicasEvery is how often a busy Store counts the replicas it shares
// its database with. A replica that starts or stops changes the others'
// writers within this; nothing but speed depends on it.
const replicasEvery = 2 * time.Second

// connName returns the application_name of a Store's connections and the
// LIKE pattern that matches every replica of the same schema.
func connName(searchPath string) (name, pattern string) {
	sum := sha256.Sum256([]byte(searchPath))
	schema := hex.EncodeToString(sum[:4])
	id := make([]byte, 4)
	_, _ = rand.Read(id) // never fails (crypto/rand)
	prefix := "lockbox/" + schema + "/"
	return prefix + hex.EncodeToString(id), prefix + "%"
}

// gate bounds how many writers run groups at once; the bound may change
// while they run.
type gate struct {
	mu     sync.Mutex
	cond   *sync.Cond
	limit  int
	active int
	closed bool
}

func newGate(limit int) *gate {
	g := &gate{limit: limit}
	g.cond = sync.NewCond(&g.mu)
	return g
}

// enter waits for room under the bound; false once the gate is closed.
func (g *gate) enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for !g.closed && g.active >= g.limit {
		g.cond.Wait()
	}
	if g.closed {
		return false
	}
	g.active++
	return true
}

func (g *gate) leave() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.active--
	g.cond.Broadcast()
}

// setLimit changes the bound and reports whether it changed. Writers over
// a lowered bound finish their groups first.
func (g *gate) setLimit(n int) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.limit == n {
		return false
	}
	g.limit = n
	g.cond.Broadcast()
	return true
}

func (g *gate) getLimit() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.limit
}

func (g *gate) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	g.cond.Broadcast()
}

// recountReplicas counts the replicas again, in the background, when the
// last count is older than replicasEvery. The writers call it after each
// group: a busy replica follows the others within replicasEvery, and an
// idle one asks nothing of the database (nor of a test's fake clock).
func (s *Store) recountReplicas() {
	if !s.autoWriters {
		return
	}
	now := time.Now().UnixNano()
	if now-s.replicasCounted.Load() < int64(replicasEvery) || !s.counting.CompareAndSwap(false, true) {
		return
	}
	s.replicasCounted.Store(now)
	s.counters.Add(1) // before the writers end: stopWriters waits for them first
	go func() {
		defer s.counters.Done()
		defer s.counting.Store(false)
		s.countReplicas()
	}()
}

// countReplicas counts the other replicas of the Store's schema and sets
// the writers' bound; on an error it leaves the bound as it is.
func (s *Store) countReplicas() {
	if !s.autoWriters {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), replicasEvery)
	defer cancel()
	var others int
	err := s.db.QueryRowContext(ctx, `SELECT count(DISTINCT application_name) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name LIKE $1 AND application_name <> $2`,
		s.replicaPattern, s.connName).Scan(&others)
	if err != nil {
		return
	}
	n := writersAlone
	if others > 0 {
		n = writersShared
	}
	if s.gate.setLimit(n) {
		s.log.Info("postgres: write groups this replica runs at once", "writers", n, "other_replicas", others)
	}
}
