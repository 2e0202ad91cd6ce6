// Package lockboxtest starts a real Lockbox server in-process for tests of
// the data-plane side (package guard, examples, the enforcement
// benchmark): the real workflow service on a real SQLite database, real
// signing keys, the real HTTP API on a loopback listener, seeded with the
// dev accounts of SPEC §9. Stalled and CancelWhileReading (stall.go) stand
// in for a Lockbox that stops answering halfway, for the tests of callers
// that give up (client, guard).
//
// It is test support: imported only by tests and benchmark tools.
package lockboxtest

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
	"github.com/lockboxhq/lockbox/grant"
	"github.com/lockboxhq/lockbox/keys"
	"github.com/lockboxhq/lockbox/server"
	"github.com/lockboxhq/lockbox/sqlite"
	"github.com/lockboxhq/lockbox/sqlite/sqlitetest"
)

// Server is a running in-process Lockbox.
type Server struct {
	URL     string
	Store   lockbox.Store
	Service *approval.Service
}

// Start starts a server for the test; it stops when the test ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	dir := tb.TempDir()
	if err := sqlitetest.Write(filepath.Join(dir, "lockbox.db")); err != nil { // migrated already: faster
		tb.Fatal(err)
	}
	s, closeFn, err := StartIn(dir, io.Discard)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(closeFn)
	return s
}

// StartIn starts a server with its database and keys in dir, logging
// warnings to logs, and returns a function that stops it.
func StartIn(dir string, logs io.Writer) (*Server, func(), error) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "lockbox.db"))
	if err != nil {
		return nil, nil, err
	}
	ring, _, err := keys.Open(ctx, filepath.Join(dir, "keys"), st, time.Now())
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	fetch := grant.PublishedKeys(st)
	svc := approval.New(st, lockbox.SystemClock{}, approval.Options{PasswordMemoryKiB: 64, PasswordTime: 1, Resolver: DNS,
		AccessCacheTTL: 10 * time.Second, Secrets: ring.SecretBox(),
		Grants: grant.NewAuthority(ring.GrantSigner, &grant.KeySet{Fetch: fetch}, lockbox.DefaultGrantIssuer)})
	if err := svc.SeedDev(ctx); err != nil {
		st.Close()
		return nil, nil, err
	}
	if logs == nil {
		logs = io.Discard
	}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	h := (&server.Server{Requests: svc, Accounts: svc, Tenants: svc, Catalog: svc, Ready: st.Ping,
		Enforcement: svc, JWKS: grant.JWKSFunc(fetch), Logger: logger}).Handler()
	ts := httptest.NewServer(h)
	return &Server{URL: ts.URL, Store: st, Service: svc}, func() { ts.Close(); st.Close() }, nil
}

// As returns a context acting as the account with email.
func (s *Server) As(email string) context.Context {
	var u *lockbox.User
	err := s.Store.View(context.Background(), func(tx lockbox.Tx) error {
		var err error
		// Test accounts have one account per address.
		var users []*lockbox.User
		users, _, err = tx.UsersByEmail(context.Background(), email)
		if err == nil && len(users) != 1 {
			err = lockbox.Errorf(lockbox.ENOTFOUND, "%d accounts with %s", len(users), email)
		}
		if err == nil {
			u = users[0]
		}
		return err
	})
	if err != nil {
		panic("lockboxtest: unknown account " + email)
	}
	return lockbox.NewContextWithUser(context.Background(), u)
}

// ActiveGrant files a request of operator@provider.test for ops on
// exchange in contoso, has it reviewed and approved, and returns it with a
// grant token.
func (s *Server) ActiveGrant(minutes int, ops ...string) (*lockbox.AccessRequest, *lockbox.Grant, error) {
	r, err := s.Service.CreateRequest(s.As("operator@provider.test"), lockbox.NewRequest{Tenant: "contoso",
		Service: "exchange", ServiceRequest: "SR-1", Reason: "test", Operations: ops, DurationMinutes: minutes})
	if err != nil {
		return nil, nil, err
	}
	if r, err = s.Service.Act(s.As("manager@provider.test"), r.ID, lockbox.EventReviewApprove, lockbox.Decision{}); err != nil {
		return nil, nil, err
	}
	if r, err = s.Service.Act(s.As("approver@contoso.test"), r.ID, lockbox.EventApprove, lockbox.Decision{}); err != nil {
		return nil, nil, err
	}
	g, err := s.Service.IssueGrant(s.As("operator@provider.test"), r.ID)
	return r, g, err
}

// Audit returns the records of a tenant's log, oldest first.
func (s *Server) Audit(tenant string) []*lockbox.AuditRecord {
	var out []*lockbox.AuditRecord
	err := s.Store.View(context.Background(), func(tx lockbox.Tx) error {
		n, err := tx.AuditSize(context.Background(), tenant)
		if err != nil {
			return err
		}
		out, err = tx.AuditRecords(context.Background(), tenant, 0, n)
		return err
	})
	if err != nil {
		panic(err)
	}
	return out
}

// SecretBox seals secrets with the keys of a new key directory, as
// `lockbox serve` does with its own (approval.SSOOptions.Secrets).
func SecretBox(tb testing.TB) lockbox.SecretBox {
	tb.Helper()
	ring, err := keys.Generate(filepath.Join(tb.TempDir(), "keys"))
	if err != nil {
		tb.Fatal(err)
	}
	return ring.SecretBox()
}
