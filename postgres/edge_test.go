package postgres_test

import (
	"fmt"
	"testing"

	"github.com/lockboxhq/lockbox/postgres/pgtest"
	"github.com/lockboxhq/lockbox/storetest"
)

// TestAuditEdgeFilledForOldLogs: a log whose head row has no edge (written
// before migration 00006, or damaged) gets it from the records at its next
// append, and every append after that stores tlog's hashes.
func TestAuditEdgeFilledForOldLogs(t *testing.T) {
	t.Parallel()
	dsn := pgtestSchema(t)
	s := mustOpen(t, dsn)
	for _, cut := range []int{1, 13, 16, 21} {
		log := fmt.Sprintf("log-%d", cut)
		for i := range cut {
			storetest.MustAppendAudit(t, s, storetest.NewAuditRecord(log, fmt.Sprintf("%s-a%d", log, i)))
		}
		pgtest.Exec(t, dsn, `UPDATE audit_logs SET edge = '\x' WHERE log = $1`, log)
		for i := range 19 {
			storetest.MustAppendAudit(t, s, storetest.NewAuditRecord(log, fmt.Sprintf("%s-b%d", log, i)))
		}
		storetest.CheckAuditHashes(t, s, log)
	}
}
