package postgres_test

import (
	"testing"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/postgres/pgtest"
	"github.com/lockboxhq/lockbox/storetest"
)

// Run: LOCKBOX_TEST_POSTGRES=… go test ./postgres -run '^$' -bench ClaimWebhooks -benchtime 20x
func BenchmarkClaimWebhooks(b *testing.B) {
	storetest.BenchmarkClaimWebhooks(b, func(tb testing.TB) lockbox.Store {
		return mustOpen(tb, pgtest.Migrated(tb, pgtest.DSN(tb)))
	})
}
