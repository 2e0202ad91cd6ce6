package server_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/lockboxhq/lockbox/internal/lockboxtest"
	"github.com/lockboxhq/lockbox/server"
)

// TestAuditCSVFailureIsNotComplete: over real HTTP, an export whose store
// fails before the first row answers an error, and one whose store fails
// after rows went out is broken off: the client never reads a complete
// file.
func TestAuditCSVFailureIsNotComplete(t *testing.T) {
	h := newAuditHarness(t)
	lockboxtest.AppendAudit(t, h.store, lockboxtest.AuditRecords("contoso", 1500)...)
	flaky := &lockboxtest.FlakyStore{Store: h.store}
	s := &server.Server{Requests: h.svc, Accounts: h.svc, Tenants: h.svc, Catalog: h.svc,
		Audit: newTestAudit(t, flaky), Logger: slog.New(slog.DiscardHandler)}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	lockboxtest.CheckExportFailures(t, flaky, func(t *testing.T) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, ts.URL+"/v1/tenants/contoso/audit.csv", nil)
		req.Header.Set("Authorization", "Bearer "+h.tokens["audit_reader"])
		res, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return res
	})
}
