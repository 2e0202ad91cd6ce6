package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
)

// BenchmarkClaimWebhooks times one claim of 64 webhook deliveries from a
// backlog of due ones: earliest first (PerEndpoint 0), and at most 8 of
// each endpoint (the webhook lane's claim). The backlog is one
// endpoint's, with seven others a hundredth of it, or spread besides
// over a thousand endpoints more. Each claim is rolled back, so every one
// meets the same backlog; open gives a fresh store for each backlog.
// docs/benchmarks.md, "Nineteenth session", has the figures.
func BenchmarkClaimWebhooks(b *testing.B, open func(testing.TB) lockbox.Store) {
	for _, spread := range []int{8, 1008} {
		for _, due := range []int{1_000, 100_000} {
			s := open(b)
			counts := fillWebhooks(b, s, due, spread)
			for _, per := range []int{0, 8} {
				b.Run(fmt.Sprintf("endpoints=%d/due=%d/per-endpoint=%d", spread, due, per), func(b *testing.B) {
					c := lockbox.OutboxClaim{Channel: lockbox.ChannelWebhook, Limit: 64, PerEndpoint: per}
					want := claimable(counts, c)
					c.Now = T0.Add(48 * time.Hour)
					c.LeaseUntil = c.Now.Add(time.Minute)
					for b.Loop() {
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

// fillWebhooks enqueues due webhook deliveries to s: one in a hundred to
// seven small endpoints, and, when spread is above 8, half of them to
// spread-8 endpoints more; the rest to one endpoint. It returns how many
// each endpoint got.
func fillWebhooks(b *testing.B, s lockbox.Store, due, spread int) map[string]int {
	b.Helper()
	counts := map[string]int{}
	var batch []*lockbox.OutboxMessage
	for n := range due {
		hook := "wh-big"
		switch {
		case n%100 == 0:
			hook = fmt.Sprintf("wh-%d", n%7)
		case spread > 8 && n%2 == 0:
			hook = fmt.Sprintf("wh-many-%d", n%(spread-8))
		}
		counts[hook]++
		m := NewWebhookMessage(n, hook)
		m.CreatedAt, m.NextAttemptAt = T0, T0.Add(time.Duration(n)*time.Millisecond)
		if batch = append(batch, m); len(batch) == 1000 || n == due-1 {
			MustEnqueue(b, s, batch...)
			batch = nil
		}
	}
	return counts
}

// claimable is how many deliveries c takes from endpoints with counts.
func claimable(counts map[string]int, c lockbox.OutboxClaim) int {
	n := 0
	for _, k := range counts {
		if c.PerEndpoint > 0 {
			k = min(k, c.PerEndpoint)
		}
		n += k
	}
	return min(n, c.Limit)
}
