package web_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/web"
)

// alteringAudit serves the log with one record's entry rewritten, as a
// provider quietly editing history would.
type alteringAudit struct{ lockbox.AuditService }

func (a alteringAudit) LogEntries(ctx context.Context, log string, start, end int64) ([]lockbox.LogEntry, error) {
	es, err := a.AuditService.LogEntries(ctx, log, start, end)
	for i := range es {
		es[i].Data = bytes.Replace(es[i].Data, []byte(`"comment":"ok"`), []byte(`"comment":"OK for 4h"`), 1)
	}
	return es, err
}

// TestAuditLogPageCheckpoint: the page verifies the latest checkpoint
// against the log's entries (auditlog.Verify), and says plainly when they
// do not match.
func TestAuditLogPageCheckpoint(t *testing.T) {
	for _, tc := range []struct {
		name  string
		alter bool
		want  []string
	}{
		{"log as written", false, []string{`id="checkpoint-status">Verified`,
			"Signature valid (key lockbox-test-log), and the root hash recomputed from all 7 entries matches."}},
		{"an entry rewritten", true, []string{`id="checkpoint-status">Not verified`,
			"The entries do not hash to the signed checkpoint (size 7): record 5 is the first that differs"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(c *web.Config) {
				if tc.alter {
					c.Audit = alteringAudit{c.Audit}
				}
			})
			if _, err := e.svc.Act(e.as("approver@contoso.test"), e.pending().ID, lockbox.EventApprove, lockbox.Decision{Comment: "ok"}); err != nil {
				t.Fatal(err)
			}
			res := e.signIn("auditor@contoso.test").get("/audit")
			wantStatus(t, res, 200)
			wantBody(t, res, tc.want...)
		})
	}
}
