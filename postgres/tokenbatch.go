package postgres

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/jackc/pgx/v5/stdlib"

	"github.com/lockboxhq/lockbox"
)

// Every authenticated call but a service account's cached one starts by
// looking its bearer token up: one statement, one round trip of its own,
// before the call's transaction. Under load that was a quarter of a
// workflow step's round trips, and about a tenth of the CPU of both the
// server and PostgreSQL (docs/benchmarks.md, ninth session). FindToken
// lets the lookups waiting at the same moment share one statement: a
// runner takes the first lookup waiting and every other one already
// waiting, and answers each from one query. Nothing is cached: each
// lookup is answered by a statement that starts after the lookup was
// made, with its own clock, so a token revoked or an account disabled
// before the call is refused exactly as with a statement of its own.

// tokensQuery resolves token hashes, each valid at its own now, of users
// who are not disabled: the one statement of the rule for both
// Tx.TokenByHash (one hash) and FindToken (a batch). Row i answers
// hashes[i-1]; a hash with no row is not found. The lateral join keeps
// each hash a primary-key lookup whatever the planner thinks of the
// array.
const tokensQuery = `SELECT q.i, ` + userColumnsU + `, k.hash, k.created_at, k.last_used_at, k.expires_at
	FROM unnest($1::bytea[], $2::timestamptz[]) WITH ORDINALITY AS q (hash, now, i)
	CROSS JOIN LATERAL (SELECT * FROM tokens WHERE tokens.hash = q.hash) k
	JOIN users u ON u.id = k.user_id
	WHERE (k.expires_at IS NULL OR k.expires_at > q.now) AND NOT u.disabled`

// tokenRunners is how many lookups' statements may run at once. Two: one
// batch's statement overlaps the gathering of the next.
const tokenRunners = 2

// maxTokenBatch bounds one statement's lookups.
const maxTokenBatch = 64

// tokenLookup is one FindToken waiting for its answer.
type tokenLookup struct {
	hash []byte
	now  time.Time
	done chan tokenAnswer // buffered: a runner never waits for a caller
}

type tokenAnswer struct {
	k   *lockbox.Token
	u   *lockbox.User
	err error
}

// FindToken resolves a token hash valid at now, of a user who is not
// disabled, to the token and its user (ENOTFOUND otherwise), as
// Tx.TokenByHash does in its own read, with the lookups waiting at the
// same moment in one statement (lockbox.TokenFinder).
func (s *Store) FindToken(ctx context.Context, hash []byte, now time.Time) (*lockbox.Token, *lockbox.User, error) {
	l := &tokenLookup{hash: hash, now: now, done: make(chan tokenAnswer, 1)}
	s.lookupsWaiting.Add(1)
	select {
	case s.lookups <- l:
		s.lookupsWaiting.Add(-1)
	case <-s.lookupsClosed:
		s.lookupsWaiting.Add(-1)
		return nil, nil, errClosed
	case <-ctx.Done():
		s.lookupsWaiting.Add(-1)
		return nil, nil, wrap("token by hash", ctx.Err())
	}
	select {
	case a := <-l.done:
		return a.k, a.u, a.err
	case <-ctx.Done():
		return nil, nil, wrap("token by hash", ctx.Err())
	}
}

// startTokenRunners starts the runners; Close stops them.
func (s *Store) startTokenRunners() {
	s.lookups = make(chan *tokenLookup)
	s.lookupsClosed = make(chan struct{})
	for range tokenRunners {
		s.runners.Go(s.tokenRunner)
	}
}

func (s *Store) stopTokenRunners() {
	s.closeLookups.Do(func() { close(s.lookupsClosed) })
	s.runners.Wait()
}

func (s *Store) tokenRunner() {
	for {
		select {
		case l := <-s.lookups:
			s.answerTokens(s.gatherLookups(l))
		case <-s.lookupsClosed:
			return
		}
	}
}

// gatherLookups returns first and every lookup already waiting, without
// waiting for more.
func (s *Store) gatherLookups(first *tokenLookup) []*tokenLookup {
	batch := []*tokenLookup{first}
	for len(batch) < maxTokenBatch {
		select {
		case l := <-s.lookups:
			batch = append(batch, l)
		default:
			return batch
		}
	}
	return batch
}

// tokenTimeout bounds one batch's statement. It does not follow a
// caller's context: the batch answers the others too, and a caller that
// gives up stops waiting on its own.
const tokenTimeout = 30 * time.Second

// answerTokens answers each lookup of batch from one statement.
func (s *Store) answerTokens(batch []*tokenLookup) {
	s.tokenStatements.Add(1)
	ctx, cancel := context.WithTimeout(context.Background(), tokenTimeout)
	defer cancel()
	hashes, nows := make([][]byte, len(batch)), make([]time.Time, len(batch))
	for i, l := range batch {
		hashes[i], nows[i] = l.hash, ts(l.now)
	}
	found, err := s.queryTokensPgx(ctx, hashes, nows)
	for i, l := range batch {
		a := tokenAnswer{err: err}
		if err == nil {
			a = found[i]
		}
		l.done <- a
	}
}

// queryTokens runs tokensQuery on q and returns one answer per hash:
// ENOTFOUND for a hash with no valid token. The error is the statement's.
func queryTokens(ctx context.Context, q querier, hashes [][]byte, nows []time.Time) ([]tokenAnswer, error) {
	rows, err := q.QueryContext(ctx, tokensQuery, hashes, nows)
	if err != nil {
		return nil, wrap("token by hash", err)
	}
	defer rows.Close()
	return readTokens(rows, len(hashes))
}

// queryTokensPgx is queryTokens for a batch, on a pooled connection
// through pgx itself rather than database/sql, whose rows convert each
// value twice and watch each statement's context with a goroutine: paid
// once a statement, and the runners make one statement for every one or
// two calls the server answers. The runners' CPU for the benchmark's
// 9,600 lookups went from 0.60 s to 0.44 s (docs/benchmarks.md,
// "Twenty-third session").
func (s *Store) queryTokensPgx(ctx context.Context, hashes [][]byte, nows []time.Time) ([]tokenAnswer, error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, wrap("token by hash", err)
	}
	defer conn.Close()
	var out []tokenAnswer
	err = conn.Raw(func(dc any) error {
		rows, err := dc.(*stdlib.Conn).Conn().Query(ctx, tokensQuery, hashes, nows)
		if err != nil {
			return wrap("token by hash", err)
		}
		defer rows.Close()
		out, err = readTokens(rows, len(hashes))
		return err
	})
	return out, err
}

// tokenRows is what readTokens needs of a *sql.Rows or a pgx.Rows.
type tokenRows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// readTokens reads tokensQuery's rows into one answer for each of n
// hashes.
func readTokens(rows tokenRows, n int) ([]tokenAnswer, error) {
	out := make([]tokenAnswer, n)
	for i := range out {
		// The message never says whether the token exists but has expired.
		out[i].err = lockbox.Errorf(lockbox.ENOTFOUND, "Token not found.")
	}
	for rows.Next() {
		var i int
		var k lockbox.Token
		var created time.Time
		var used, expires sql.Null[time.Time]
		u, err := scanUser(prefixScanner{rows, &i}, &k.Hash, &created, &used, &expires)
		if err != nil {
			return nil, wrap("token by hash", err)
		}
		if i < 1 || i > len(out) {
			return nil, wrap("token by hash", errors.New("a row for no hash asked"))
		}
		k.UserID, k.CreatedAt, k.LastUsedAt = u.ID, created.UTC(), timePtr(used)
		if expires.Valid {
			k.ExpiresAt = expires.V.UTC()
		}
		out[i-1] = tokenAnswer{k: &k, u: u}
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("token by hash", err)
	}
	return out, nil
}

// prefixScanner scans its first column into first and the rest into what
// Scan is given: scanUser reads a row whose first column is not a user's.
type prefixScanner struct {
	s     scanner
	first any
}

func (p prefixScanner) Scan(dest ...any) error {
	return p.s.Scan(append([]any{p.first}, dest...)...)
}
