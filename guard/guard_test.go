package guard_test

import (
	"context"
	"errors"
	"net/http"
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
	_, err = g.Verify(context.Background(), "eyJhbGciOiJFZERTQSIsImtpZCI6IngiLCJ0eXAiOiJsb2NrYm94LWdyYW50K2p3dCJ9.e30.AAAA")
	if err == nil || lockbox.ErrorCode(err) == lockbox.EUNAUTHENTICATED || errors.Is(err, context.Canceled) {
		t.Fatalf("unreachable key server: %v, want an infrastructure error", err)
	}
}
