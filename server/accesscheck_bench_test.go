package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
	"github.com/lockboxhq/lockbox/server"
	"github.com/lockboxhq/lockbox/sqlite"
	"github.com/lockboxhq/lockbox/sqlite/sqlitetest"
)

// BenchmarkAccessCheck is the handler path of POST /v1/access/check as
// lockbox serve runs it (the whole middleware chain, a JSON access log to
// io.Discard, the access cache warm), without the network: its
// allocations per request are the figure docs/benchmarks.md reports.
//
//	go test -run XXX -bench AccessCheck -benchmem ./server
func BenchmarkAccessCheck(b *testing.B) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, sqlitetest.Path(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	grants, jwks := newTestGrants(b, store)
	svc := approval.New(store, lockbox.SystemClock{}, approval.Options{PasswordMemoryKiB: 64, PasswordTime: 1, Grants: grants,
		AccessCacheTTL: time.Second}) // as lockbox serve runs it
	if err := svc.SeedDev(ctx); err != nil {
		b.Fatal(err)
	}
	as := func(email string) context.Context {
		var users []*lockbox.User
		err := store.View(ctx, func(tx lockbox.Tx) (err error) {
			users, _, err = tx.UsersByEmail(ctx, email)
			return err
		})
		if err != nil || len(users) != 1 {
			b.Fatalf("%s: %v (%d accounts)", email, err, len(users))
		}
		return lockbox.NewContextWithUser(ctx, users[0])
	}
	r, err := svc.CreateRequest(as("operator@provider.test"), lockbox.NewRequest{Tenant: "contoso", Service: "exchange",
		ServiceRequest: "SR-B", Reason: "benchmark", DurationMinutes: 240})
	if err == nil {
		r, err = svc.Act(as("manager@provider.test"), r.ID, lockbox.EventReviewApprove, lockbox.Decision{})
	}
	if err == nil {
		r, err = svc.Act(as("approver@contoso.test"), r.ID, lockbox.EventApprove, lockbox.Decision{})
	}
	if err != nil {
		b.Fatal(err)
	}
	g, err := svc.IssueGrant(as("operator@provider.test"), r.ID)
	if err != nil {
		b.Fatal(err)
	}
	h := (&server.Server{Requests: svc, Accounts: svc, Tenants: svc, Catalog: svc, Enforcement: svc, JWKS: jwks,
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))}).Handler()
	body := `{"token":"` + g.Token + `","operation":"Get-MailboxStatistics","resource":"mailbox:alice"}`
	do := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/v1/access/check", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+approval.DevServiceToken)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	if rec := do(); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"allowed":true`) {
		b.Fatalf("check: %d %s", rec.Code, rec.Body)
	}
	b.ReportAllocs()
	for b.Loop() {
		do()
	}
}
