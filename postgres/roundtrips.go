package postgres

import (
	"context"
	"net"
	"sync/atomic"
)

// countingConn counts the writes to the database server on one connection.
// pgx sends everything a round trip carries (a statement, a batch, the
// appends pipelined with COMMIT) in one write and then waits for the
// answer, so the count is the store's round trips, whatever sent them:
// the benchmarks report it per workflow step (docs/benchmarks.md, issue
// 16), where pg_stat_statements counts statements, not waits, and does not
// list the utility statements of a pipeline.
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Write(p []byte) (int, error) {
	c.n.Add(1)
	return c.Conn.Write(p)
}

// countRoundTrips wraps dial so that every connection it makes counts its
// writes in n.
func countRoundTrips(dial func(ctx context.Context, network, addr string) (net.Conn, error), n *atomic.Int64) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countingConn{Conn: c, n: n}, nil
	}
}

// RoundTrips is how many requests this Store has sent to the server so
// far, each one wait for an answer (connecting and signing in included).
func (s *Store) RoundTrips() int64 { return s.roundTrips.Load() }
