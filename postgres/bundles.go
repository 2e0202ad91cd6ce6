package postgres

import (
	"context"

	"github.com/lockboxhq/lockbox/internal/sqlrows"
)

// AppendAuditBundles appends the run of stored bundles from from on; see
// lockbox.AuditTx. One range scan of audit_bundles' primary key.
func (t *tx) AppendAuditBundles(ctx context.Context, dst []byte, log string, from, to int64) ([]byte, []int, error) {
	if err := t.seeEarlierIn(log); err != nil {
		return dst, nil, err
	}
	rows, err := t.tx.QueryContext(ctx, `SELECT b.n, b.data FROM audit_bundles b JOIN audit_logs l ON l.log = b.log
		WHERE b.log = $1 AND b.n >= $2 AND b.n < $3 AND l.size >= (b.n + 1) * 256 ORDER BY b.n`, log, from, to)
	if err != nil {
		return dst, nil, wrap("audit bundles", err)
	}
	dst, lens, err := sqlrows.AppendBundles(rows, dst, from)
	return dst, lens, wrap("audit bundles", err)
}
