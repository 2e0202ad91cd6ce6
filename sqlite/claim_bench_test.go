package sqlite_test

import (
	"testing"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/sqlite"
	"github.com/lockboxhq/lockbox/sqlite/sqlitetest"
	"github.com/lockboxhq/lockbox/storetest"
)

// Run: go test ./sqlite -run '^$' -bench ClaimWebhooks -benchtime 20x
func BenchmarkClaimWebhooks(b *testing.B) {
	storetest.BenchmarkClaimWebhooks(b, func(tb testing.TB) lockbox.Store {
		s, err := sqlite.Open(tb.Context(), sqlitetest.Path(tb))
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { s.Close() })
		return s
	})
}
