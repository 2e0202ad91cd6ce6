package postgres

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/postgres/pgtest"
)

// BenchmarkClaimWebhooks times one claim of 64 webhook deliveries from a
// backlog of due ones: earliest first (PerEndpoint 0), and at most 8 of
// each endpoint (the webhook lane's claim, claimPerEndpointQuery). The
// backlog is one endpoint's, with seven others a hundredth of it, or
// spread besides over a thousand endpoints more. Each claim is rolled
// back, so every one meets the same backlog.
//
// Run: LOCKBOX_TEST_POSTGRES=… go test ./postgres -run '^$' -bench ClaimWebhooks -benchtime 20x
// (docs/benchmarks.md, "Nineteenth session").
func BenchmarkClaimWebhooks(b *testing.B) {
	s, err := Open(b.Context(), pgtest.Migrated(b, pgtest.DSN(b)))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for _, spread := range []int{8, 1008} {
		for _, due := range []int{1_000, 100_000} {
			fill(b, s, due, spread)
			for _, per := range []int{0, 8} {
				want := claimable(b, s, per, 64)
				b.Run(fmt.Sprintf("endpoints=%d/due=%d/per-endpoint=%d", spread, due, per), func(b *testing.B) {
					c := lockbox.OutboxClaim{Channel: lockbox.ChannelWebhook, Limit: 64, PerEndpoint: per}
					for b.Loop() {
						c.Now = time.Now()
						c.LeaseUntil = c.Now.Add(time.Minute)
						err := s.Update(b.Context(), func(tx lockbox.Tx) error {
							got, err := tx.ClaimOutbox(b.Context(), c)
							if err == nil && len(got) != want {
								err = fmt.Errorf("claimed %d, want %d", len(got), want)
							}
							if err != nil {
								return err
							}
							return errRolledBack
						})
						if !errors.Is(err, errRolledBack) {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}

var errRolledBack = errors.New("rolled back")

// fill replaces the outbox with due pending webhook deliveries: one in a
// hundred to seven small endpoints, and, when spread is above 8, half of
// them to spread-8 endpoints more; the rest to one endpoint.
func fill(b *testing.B, s *Store, due, spread int) {
	b.Helper()
	if _, err := s.db.ExecContext(b.Context(), `TRUNCATE outbox`); err != nil {
		b.Fatal(err)
	}
	if _, err := s.db.ExecContext(b.Context(), `INSERT INTO outbox (id, channel, tenant, type, recipient,
		webhook_id, payload, status, attempts, created_at, next_attempt_at, lease_until, last_error, finished_at)
		SELECT 'hook-' || g, 'webhook', 'contoso', 't', '', CASE WHEN g % 100 = 0 THEN 'wh-' || (g % 7)
				WHEN $2 > 8 AND g % 2 = 0 THEN 'wh-many-' || (g % ($2 - 8)) ELSE 'wh-big' END, '\x00',
			'pending', 0, now() - interval '1 hour' + g * interval '1 ms', now() - interval '1 hour' + g * interval '1 ms', NULL, '', NULL
		FROM generate_series(0, $1 - 1) g`, due, spread); err != nil {
		b.Fatal(err)
	}
	if _, err := s.db.ExecContext(b.Context(), `ANALYZE outbox`); err != nil {
		b.Fatal(err)
	}
}

// claimable is how many deliveries a claim of limit, per of one endpoint
// (0: any), takes from the outbox fill left.
func claimable(b *testing.B, s *Store, per, limit int) int {
	b.Helper()
	var n int
	err := s.db.QueryRowContext(b.Context(), `SELECT LEAST($1, sum(CASE WHEN $2 > 0 AND n > $2 THEN $2 ELSE n END))::int
		FROM (SELECT count(*) AS n FROM outbox GROUP BY webhook_id) e`, limit, per).Scan(&n)
	if err != nil {
		b.Fatal(err)
	}
	return n
}
