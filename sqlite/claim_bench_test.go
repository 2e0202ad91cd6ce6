package sqlite

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
)

// BenchmarkClaimWebhooks is postgres's BenchmarkClaimWebhooks on SQLite:
// one claim of 64 webhook deliveries from a backlog of due ones, earliest
// first (PerEndpoint 0) or at most 8 of each endpoint, each rolled back.
//
// Run: go test ./sqlite -run '^$' -bench ClaimWebhooks -benchtime 20x
// (docs/benchmarks.md, "Nineteenth session").
func BenchmarkClaimWebhooks(b *testing.B) {
	s, err := Open(b.Context(), filepath.Join(b.TempDir(), "lockbox.db"))
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
	start := time.Now().Add(-time.Hour).UnixMicro()
	for _, q := range []string{`DELETE FROM outbox`, fmt.Sprintf(`WITH RECURSIVE g(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM g WHERE n + 1 < %d)
		INSERT INTO outbox (id, channel, tenant, type, recipient, webhook_id, payload, status, attempts, created_at, next_attempt_at, last_error)
		SELECT 'hook-' || n, 'webhook', 'contoso', 't', '', CASE WHEN n %% 100 = 0 THEN 'wh-' || (n %% 7)
				WHEN %d > 8 AND n %% 2 = 0 THEN 'wh-many-' || (n %% (%d - 8)) ELSE 'wh-big' END, x'00',
			'pending', 0, %d + n * 1000, %d + n * 1000, '' FROM g`, due, spread, spread, start, start), `ANALYZE`} {
		if _, err := s.writer.ExecContext(b.Context(), q); err != nil {
			b.Fatal(err)
		}
	}
}

// claimable is how many deliveries a claim of limit, per of one endpoint
// (0: any), takes from the outbox fill left.
func claimable(b *testing.B, s *Store, per, limit int) int {
	b.Helper()
	var n int
	err := s.writer.QueryRowContext(b.Context(), `SELECT min(?1, sum(CASE WHEN ?2 > 0 AND n > ?2 THEN ?2 ELSE n END))
		FROM (SELECT count(*) AS n FROM outbox GROUP BY webhook_id) e`, limit, per).Scan(&n)
	if err != nil {
		b.Fatal(err)
	}
	return n
}
