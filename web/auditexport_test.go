package web_test

import (
	"context"
	"encoding/csv"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
	"github.com/lockboxhq/lockbox/auditlog"
	"github.com/lockboxhq/lockbox/internal/lockboxtest"
	"github.com/lockboxhq/lockbox/server"
	"github.com/lockboxhq/lockbox/web"
)

// TestAuditCSVMatchesTheAPI: the admin center's Download CSV is byte for
// byte the API's export of the same records, and each row's AuditData is
// the record's entry in the verifiable log.
func TestAuditCSVMatchesTheAPI(t *testing.T) {
	e := newEnv(t)
	r := e.pending()
	if _, err := e.svc.Act(e.as("approver@contoso.test"), r.ID, lockbox.EventApprove,
		lockbox.Decision{Comment: "=HYPERLINK(\"x\") <b>&</b> é, \"quoted\"\nsecond line"}); err != nil {
		t.Fatal(err)
	}
	lockboxtest.AppendAudit(t, e.store, &lockbox.AuditRecord{ID: "tricky", Time: time.Date(2030, 1, 2, 3, 4, 5, 678_901_234, time.UTC),
		Tenant: "contoso", RecordType: lockbox.RecordOperatorAction, Operation: lockbox.OpOperatorAction,
		UserID: "+Provider Operator", ActorType: lockbox.ActorProviderOperator, Result: lockbox.ResultFailed,
		AuditData: map[string]any{"resource": "<script>&</script>", "ratio": 1.5, "nested": map[string]any{"z": 1, "a": []any{"-x", nil}}}})

	api := (&server.Server{Requests: e.svc, Accounts: e.svc, Tenants: e.svc, Catalog: e.svc, Audit: e.cfg.Audit,
		Logger: slog.New(slog.DiscardHandler)}).Handler()
	sess, err := e.svc.Login(context.Background(), "auditor@contoso.test", approval.DevPassword)
	if err != nil {
		t.Fatal(err)
	}
	// Signed in on the web before either export: a sign-in is a record.
	auditor := e.signIn("auditor@contoso.test")
	req := httptest.NewRequest(http.MethodGet, "/v1/tenants/contoso/audit.csv", nil)
	req.Header.Set("Authorization", "Bearer "+sess.Token)
	fromAPI := httptest.NewRecorder()
	api.ServeHTTP(fromAPI, req)
	fromWeb := auditor.get("/audit.csv")

	wantStatus(t, fromWeb, http.StatusOK)
	if fromAPI.Code != http.StatusOK {
		t.Fatalf("API export: %d %s", fromAPI.Code, fromAPI.Body)
	}
	for _, h := range []string{"Content-Type", "Content-Disposition"} {
		if a, w := fromAPI.Header().Get(h), fromWeb.Header.Get(h); a != w {
			t.Errorf("%s: API %q, web %q", h, a, w)
		}
	}
	if diff := cmp.Diff(fromAPI.Body.String(), fromWeb.body); diff != "" {
		t.Fatalf("the web export differs from the API's (-API +web):\n%s", diff)
	}
	e.wantRowsAreTheLog(fromWeb.body)
}

// wantRowsAreTheLog checks each row's AuditData is, byte for byte, the
// log entry of that record.
func (e *env) wantRowsAreTheLog(export string) {
	e.t.Helper()
	rows, err := csv.NewReader(strings.NewReader(export)).ReadAll()
	if err != nil {
		e.t.Fatal(err)
	}
	ctx := e.as("auditor@contoso.test")
	entries, err := e.cfg.Audit.LogEntries(ctx, "contoso", 0, lockbox.MaxLogEntriesPage)
	if err != nil {
		e.t.Fatal(err)
	}
	logged := map[string]bool{}
	for _, en := range entries {
		logged[string(en.Data)] = true
	}
	for _, row := range rows[1:] {
		data := strings.TrimPrefix(row[5], "'") // a defused cell; canonical JSON starts with {
		if !logged[data] {
			e.t.Errorf("record %s: AuditData is not its log entry:\n%s", row[0], data)
		}
	}
	if len(rows) != len(entries)+1 {
		e.t.Errorf("%d rows for %d log entries", len(rows)-1, len(entries))
	}
}

// TestAuditCSVFailureIsNotComplete: over real HTTP, a download whose store
// fails before the first row shows an error, and one whose store fails
// after rows went out is broken off, so the browser reports a failed
// download instead of saving a truncated file as complete.
func TestAuditCSVFailureIsNotComplete(t *testing.T) {
	signer, vkey := lockboxtest.LogSigner(t)
	flaky := &lockboxtest.FlakyStore{}
	e := newEnv(t, func(c *web.Config) { c.Audit = auditlog.New(flaky, signer, vkey, "lockbox-test") })
	flaky.Store = e.store
	lockboxtest.AppendAudit(t, e.store, lockboxtest.AuditRecords("contoso", 1500)...)
	ts := httptest.NewServer(e.h)
	t.Cleanup(ts.Close)
	session := e.signIn("auditor@contoso.test")
	lockboxtest.CheckExportFailures(t, flaky, func(t *testing.T) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, ts.URL+"/audit.csv", nil)
		for _, c := range session.cookies {
			req.AddCookie(c)
		}
		res, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return res
	})
}
