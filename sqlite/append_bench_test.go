package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/sqlite"
)

// BenchmarkAppend64 is durable audit appends from 64 concurrent writers,
// one Update each: what group commit and the statement cache are for.
func BenchmarkAppend64(b *testing.B) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "lb.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ResetTimer()
	var wg sync.WaitGroup
	per := b.N/64 + 1
	for w := range 64 {
		wg.Go(func() {
			for range per {
				rec := &lockbox.AuditRecord{ID: uuid.Must(uuid.NewV7()).String(), Time: time.Unix(1700000000, 0).UTC(), Tenant: fmt.Sprintf("t%02d", w%8),
					RecordType: "OperatorAction", Operation: "operator.action", UserID: "Provider Operator", ActorType: "provider_operator",
					ClientIP: "203.0.113.7", RequestID: "0193f4c2-8a1e-7c3b-9d2f-5b7a1c9e4d10", Result: "Succeeded",
					AuditData: map[string]any{"operation": "Get-MailboxStatistics", "resource": "mailbox:alice", "reference": "LB-7K3Q9MXA"}}
				if err := s.Update(ctx, func(tx lockbox.Tx) error { return tx.AppendAudit(ctx, rec) }); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}
