package guard_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/guard"
	"github.com/lockboxhq/lockbox/internal/lockboxtest"
	"github.com/lockboxhq/lockbox/keys"
)

// countingTransport counts the JWKS fetches a guard makes.
type countingTransport struct{ jwks atomic.Int64 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Path == "/.well-known/jwks.json" {
		c.jwks.Add(1)
	}
	return http.DefaultTransport.RoundTrip(r)
}

func newGuard(t *testing.T, lb *lockboxtest.Server, service string) (*guard.Guard, *countingTransport) {
	t.Helper()
	ct := &countingTransport{}
	g, err := guard.New(guard.Config{Server: lb.URL, ServiceToken: "dev-service-token", Service: service,
		HTTPClient: &http.Client{Transport: ct, Timeout: 10 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	return g, ct
}

func TestVerifyOffline(t *testing.T) {
	t.Parallel()
	lb := lockboxtest.Start(t)
	g, ct := newGuard(t, lb, "exchange")
	r, gr, err := lb.ActiveGrant(60, "Get-MailboxStatistics")
	if err != nil {
		t.Fatal(err)
	}
	c, err := g.Verify(context.Background(), gr.Token)
	if err != nil {
		t.Fatal(err)
	}
	if c.RequestID != r.ID || c.Tenant != "contoso" || !guard.Allows(c, "Get-MailboxStatistics") || guard.Allows(c, "Repair-Mailbox") {
		t.Errorf("claims = %+v", c)
	}
	for range 100 { // cached: no refetch, no re-verification
		if _, err := g.Verify(context.Background(), gr.Token); err != nil {
			t.Fatal(err)
		}
	}
	if n := ct.jwks.Load(); n != 1 {
		t.Errorf("JWKS fetched %d times, want once", n)
	}
	// Another service's guard refuses the grant.
	other, _ := newGuard(t, lb, "sharepoint")
	if _, err := other.Verify(context.Background(), gr.Token); lockbox.ErrorCode(err) != lockbox.EUNAUTHENTICATED {
		t.Errorf("sharepoint accepted an exchange grant: %v", err)
	}
}

// After a rotation on the server, a guard learns the new key by fetching
// the JWKS again when it meets the new kid, and old grants still verify.
func TestVerifyAfterRotation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	lb, stop, err := lockboxtest.StartIn(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, oldGrant, err := lb.ActiveGrant(60)
	if err != nil {
		t.Fatal(err)
	}
	stop()
	if _, err := keys.Rotate(dir+"/keys", keys.KindGrant); err != nil {
		t.Fatal(err)
	}
	lb, stop, err = lockboxtest.StartIn(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	g, ct := newGuard(t, lb, "exchange")
	if _, err := g.Verify(context.Background(), oldGrant.Token); err != nil {
		t.Fatalf("grant signed before the rotation: %v", err)
	}
	_, newGrant, err := lb.ActiveGrant(60)
	if err != nil {
		t.Fatal(err)
	}
	if newGrant.KID == oldGrant.KID {
		t.Fatal("the restarted server still signs with the old key")
	}
	if _, err := g.Verify(context.Background(), newGrant.Token); err != nil {
		t.Fatalf("grant signed with the new key: %v", err)
	}
	if n := ct.jwks.Load(); n != 1 {
		t.Errorf("JWKS fetched %d times, want 1 (the set has both keys)", n)
	}
}

func TestCheckAndReportOnline(t *testing.T) {
	t.Parallel()
	lb := lockboxtest.Start(t)
	g, _ := newGuard(t, lb, "exchange")
	r, gr, err := lb.ActiveGrant(60, "Get-MailboxStatistics")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if d, err := g.Check(ctx, gr.Token, "Get-MailboxStatistics", "mailbox:alice"); err != nil || !d.Allowed || d.RequestID != r.ID {
		t.Fatalf("check: %+v, %v", d, err)
	}
	if d, err := g.Report(ctx, gr.Token, "Get-MailboxStatistics", "mailbox:alice", "203.0.113.9"); err != nil || !d.Allowed {
		t.Fatalf("report: %+v, %v", d, err)
	}
	if _, err := lb.Service.Act(lb.As("approver@contoso.test"), r.ID, lockbox.EventRevoke, lockbox.Decision{}); err != nil {
		t.Fatal(err)
	}
	// Offline the token still looks fine; online it is refused at once.
	if _, err := g.Verify(ctx, gr.Token); err != nil {
		t.Fatalf("offline verify after revocation: %v", err)
	}
	if d, err := g.Check(ctx, gr.Token, "Get-MailboxStatistics", "mailbox:alice"); err != nil || d.Allowed {
		t.Fatalf("check after revocation: %+v, %v", d, err)
	}
	var ops []string
	for _, rec := range lb.Audit("contoso") {
		if rec.RecordType == lockbox.RecordOperatorAction {
			ops = append(ops, rec.Operation+" "+rec.ClientIP)
		}
	}
	if len(ops) != 1 || ops[0] != "operator.action 203.0.113.9" {
		t.Errorf("operator records = %v", ops)
	}
}

func TestServerUnreachable(t *testing.T) {
	t.Parallel()
	g, err := guard.New(guard.Config{Server: "http://127.0.0.1:1", ServiceToken: "x", Service: "exchange",
		HTTPClient: &http.Client{Timeout: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = g.Verify(context.Background(), unknownKidGrant)
	if err == nil || lockbox.ErrorCode(err) == lockbox.EUNAUTHENTICATED || errors.Is(err, context.Canceled) {
		t.Fatalf("unreachable key server: %v, want an infrastructure error", err)
	}
}

// unknownKidGrant is a grant-shaped token naming a key the guard does not
// know, so verifying it fetches the JWKS.
const unknownKidGrant = "eyJhbGciOiJFZERTQSIsImtpZCI6IngiLCJ0eXAiOiJsb2NrYm94LWdyYW50K2p3dCJ9.e30.AAAA"

// TestCanceledContext: a service that gives up on a call (its own request
// ended, or it timed out) gets an error errors.Is recognises as
// context.Canceled from every guard call, whether Lockbox had not answered
// yet or was halfway through its answer.
func TestCanceledContext(t *testing.T) {
	calls := map[string]func(context.Context, *guard.Guard) error{
		"Verify": func(ctx context.Context, g *guard.Guard) error { _, err := g.Verify(ctx, unknownKidGrant); return err },
		"Check": func(ctx context.Context, g *guard.Guard) error {
			_, err := g.Check(ctx, "grant", "Get-Mailbox", "mailbox:alice")
			return err
		},
		"Report": func(ctx context.Context, g *guard.Guard) error {
			_, err := g.Report(ctx, "grant", "Get-Mailbox", "mailbox:alice", "203.0.113.9")
			return err
		},
	}
	for name, call := range calls {
		for _, partial := range []string{"", `{"allowed":tr`} {
			stage := map[string]string{"": "AwaitingAnswer", `{"allowed":tr`: "ReadingAnswer"}[partial]
			t.Run(name+"/"+stage, func(t *testing.T) {
				url, arrived := lockboxtest.Stalled(t, partial)
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				hc := &http.Client{}
				if partial != "" {
					hc.Transport = lockboxtest.CancelWhileReading{Cancel: cancel}
				} else {
					go func() { <-arrived; cancel() }()
				}
				g, err := guard.New(guard.Config{Server: url, ServiceToken: "x", Service: "exchange", HTTPClient: hc})
				if err != nil {
					t.Fatal(err)
				}
				if err := call(ctx, g); !errors.Is(err, context.Canceled) {
					t.Errorf("error %v (%T), want one that is context.Canceled", err, err)
				}
			})
		}
	}
}

// TestProtectLogsToConfiguredLogger: what Protect cannot tell the operator
// goes to Config.Logger, not to the process's default logger.
func TestProtectLogsToConfiguredLogger(t *testing.T) {
	var global, own bytes.Buffer
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.NewTextHandler(&global, nil)))

	g, err := guard.New(guard.Config{Server: "http://127.0.0.1:1", ServiceToken: "x", Service: "exchange",
		Logger: slog.New(slog.NewTextHandler(&own, nil))})
	if err != nil {
		t.Fatal(err)
	}
	h := g.Protect(guard.Operation("Get-Mailbox", "mailbox"), http.NotFoundHandler())
	req := httptest.NewRequest(http.MethodGet, "/mailboxes/alice", nil)
	req.Header.Set("Authorization", "Bearer "+unknownKidGrant)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("status %d, want 503 (fail closed)", rec.Code)
	}
	if !strings.Contains(own.String(), "cannot verify grants") {
		t.Errorf("configured logger got %q, want the verify failure", own.String())
	}
	if global.Len() != 0 {
		t.Errorf("default logger got %q, want nothing", global.String())
	}
}
