package approval_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
	"github.com/lockboxhq/lockbox/grant"
	"github.com/lockboxhq/lockbox/keys"
	"github.com/lockboxhq/lockbox/sqlite"
	"github.com/lockboxhq/lockbox/sqlite/sqlitetest"
)

// newGrantHarness is newHarness with grant tokens: real keys in a
// temporary key directory, published to the real store, and the real
// go-jose authority.
func newGrantHarness(t testing.TB) *harness {
	t.Helper()
	h, _ := newGrantHarnessWith(t)
	return h
}

// newGrantHarnessWith also returns the authority, to read tokens back.
func newGrantHarnessWith(t testing.TB) (*harness, *grant.Authority) {
	t.Helper()
	return newGrantHarnessOn(t, lockbox.SystemClock{}, nil)
}

// newGrantHarnessOn is newGrantHarnessWith with the workflow clock and the
// token clock given (nil: the workflow clock), as serve --dev sets them.
func newGrantHarnessOn(t testing.TB, clock, tokenClock lockbox.Clock) (*harness, *grant.Authority) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, sqlitetest.Path(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ring, _, err := keys.Open(ctx, filepath.Join(t.TempDir(), "keys"), st, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ks := &grant.KeySet{Fetch: func(context.Context) (map[string]ed25519.PublicKey, error) {
		return ring.GrantPublicKeys(), nil
	}}
	auth := grant.NewAuthority(ring.GrantSigner, ks, "https://lockbox.test")
	svc := approval.New(st, clock, approval.Options{PasswordMemoryKiB: 64, PasswordTime: 1, SessionClock: tokenClock,
		Grants: auth, GrantIssuer: "https://lockbox.test", AccessCacheTTL: time.Hour, AllowPrivateWebhooks: true,
		Secrets: ring.SecretBox()})
	if err := svc.SeedDev(ctx); err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, store: st, svc: svc}, auth
}

// service is the dev service account's context.
func (h *harness) service() context.Context {
	h.t.Helper()
	u, err := h.svc.Authenticate(context.Background(), approval.DevServiceToken)
	if err != nil {
		h.t.Fatal(err)
	}
	return lockbox.NewContextWithUser(context.Background(), u)
}

// MustActive files a request for in and has it reviewed and approved.
func (h *harness) MustActive(in lockbox.NewRequest) *lockbox.AccessRequest {
	h.t.Helper()
	r := h.MustAct("approver@contoso.test", h.MustPending(in), lockbox.EventApprove)
	if r.Status != lockbox.StatusActive {
		h.t.Fatalf("approved request is %s, want active", r.Status)
	}
	return r
}

func (h *harness) MustGrant(r *lockbox.AccessRequest) *lockbox.Grant {
	h.t.Helper()
	g, err := h.svc.IssueGrant(h.as("operator@provider.test"), r.Reference)
	if err != nil {
		h.t.Fatalf("IssueGrant: %v", err)
	}
	return g
}

func (h *harness) check(token, op string) *lockbox.AccessDecision {
	h.t.Helper()
	d, err := h.svc.CheckAccess(h.service(), lockbox.AccessCheck{Token: token, Operation: op, Resource: "mailbox:alice"})
	if err != nil {
		h.t.Fatalf("CheckAccess: %v", err)
	}
	return d
}

func TestIssueGrantClaims(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h, auth := newGrantHarnessWith(t)
		in := validRequest()
		in.Operations = []string{"Get-Mailbox", "Get-MailboxStatistics"}
		r := h.MustActive(in)
		g := h.MustGrant(r)
		c, err := auth.Verify(context.Background(), g.Token, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC()
		want := &lockbox.GrantClaims{Issuer: "https://lockbox.test", Subject: "operator@provider.test",
			Audience: "exchange", Tenant: "contoso", RequestID: r.ID, Operations: in.Operations,
			IssuedAt: now, NotBefore: now, ExpiresAt: now.Add(15 * time.Minute)}
		if diff := cmp.Diff(want, c); diff != "" {
			t.Errorf("claims (-want +got):\n%s", diff)
		}
		if g.RequestID != r.ID || !g.ExpiresAt.Equal(want.ExpiresAt) || g.KID == "" {
			t.Errorf("grant = %+v", g)
		}
	})
}

// The two caps of SPEC §6 under fake time: exp is at most 15 minutes ahead
// and never after access_ends_at, and no grant is issued once access has
// ended, even when no worker has run.
func TestGrantLifetimeCaps(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := newGrantHarness(t)
		in := validRequest()
		in.DurationMinutes = 20
		r := h.MustActive(in)
		end := *r.AccessEndsAt

		if g := h.MustGrant(r); !g.ExpiresAt.Equal(time.Now().UTC().Add(15 * time.Minute)) {
			t.Errorf("with 20 minutes left: exp %v, want now+15m", g.ExpiresAt)
		}
		time.Sleep(10 * time.Minute)
		if g := h.MustGrant(r); !g.ExpiresAt.Equal(end.Truncate(time.Second)) || g.ExpiresAt.After(end) {
			t.Errorf("with 10 minutes left: exp %v, want access_ends_at %v", g.ExpiresAt, end)
		}
		time.Sleep(time.Until(end))
		_, err := h.svc.IssueGrant(h.as("operator@provider.test"), r.ID)
		wantCode(t, err, lockbox.ECONFLICT)
		if s := h.stored(r.ID); s.Status != lockbox.StatusCompleted {
			t.Errorf("after access_ends_at the request is %s, want completed", s.Status)
		}
	})
}

// In --dev the workflow clock can be moved ahead while tokens stay on the
// wall clock (serve.go). A grant's own times are on the token clock, so a
// data-plane service on the wall clock accepts it, while the request's
// window is still judged on the workflow clock: the token lives only for
// the access time left, and the online check refuses once access has
// ended on the workflow clock, even with the token unexpired.
func TestGrantTimesFollowTheTokenClock(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		dev := lockbox.NewOffsetClock()
		h, auth := newGrantHarnessOn(t, dev, lockbox.SystemClock{})
		dev.Advance(13 * time.Hour)
		r := h.MustActive(validRequest()) // 120 minutes
		g := h.MustGrant(r)
		wall := time.Now().UTC()
		c, err := auth.Verify(context.Background(), g.Token, wall)
		if err != nil {
			t.Fatalf("a service on the wall clock refuses the grant: %v", err)
		}
		if !c.IssuedAt.Equal(wall) || !c.ExpiresAt.Equal(wall.Add(lockbox.MaxGrantTTL)) {
			t.Errorf("grant times iat %v exp %v, want %v and +%v", c.IssuedAt, c.ExpiresAt, wall, lockbox.MaxGrantTTL)
		}
		if d := h.check(g.Token, "Get-MailboxStatistics"); !d.Allowed {
			t.Errorf("online check refused a fresh grant: %s", d.Reason)
		}

		dev.Advance(115 * time.Minute) // five minutes of access left
		g = h.MustGrant(r)
		if want := time.Now().UTC().Add(5 * time.Minute); !g.ExpiresAt.Equal(want) {
			t.Errorf("with 5 minutes left the grant expires at %v, want %v", g.ExpiresAt, want)
		}
		dev.Advance(6 * time.Minute) // access over on the workflow clock
		if d := h.check(g.Token, "Get-MailboxStatistics"); d.Allowed {
			t.Error("online check allowed an unexpired token after access ended on the workflow clock")
		}
	})
}

func TestIssueGrantRefusals(t *testing.T) {
	t.Parallel()
	h := newGrantHarness(t)
	active := h.MustActive(validRequest())
	pending := h.MustPending(validRequest())
	tests := []struct {
		name string
		ctx  context.Context
		r    *lockbox.AccessRequest
		code string
	}{
		{"OtherOperator", h.as("operator2@provider.test"), active, lockbox.ENOTFOUND},
		{"Manager", h.as("manager@provider.test"), active, lockbox.EFORBIDDEN},
		{"TenantApprover", h.as("approver@contoso.test"), active, lockbox.EFORBIDDEN},
		{"OtherTenant", h.as("admin@fabrikam.test"), active, lockbox.ENOTFOUND},
		{"ServiceAccount", h.service(), active, lockbox.ENOTFOUND},
		{"Anonymous", context.Background(), active, lockbox.EUNAUTHENTICATED},
		{"NotActive", h.as("operator@provider.test"), pending, lockbox.ECONFLICT},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, err := h.svc.IssueGrant(tc.ctx, tc.r.ID)
			wantCode(t, err, tc.code)
			if g != nil {
				t.Errorf("a grant was issued: %+v", g)
			}
		})
	}
	// Without an authority, grants are unavailable rather than unsigned.
	bare := newHarness(t)
	r := bare.MustAct("approver@contoso.test", bare.MustPending(validRequest()), lockbox.EventApprove)
	_, err := bare.svc.IssueGrant(bare.as("operator@provider.test"), r.ID)
	wantCode(t, err, lockbox.EUNAVAILABLE)
}

func TestCheckAccessOnlineTruth(t *testing.T) {
	t.Parallel()
	h := newGrantHarness(t)
	r := h.MustActive(validRequest()) // approves Get-MailboxStatistics only
	g := h.MustGrant(r)

	if d := h.check(g.Token, "Get-MailboxStatistics"); !d.Allowed || d.RequestID != r.ID || !d.AccessEndsAt.Equal(*r.AccessEndsAt) {
		t.Fatalf("approved operation: %+v", d)
	}
	if d := h.check(g.Token, "Repair-Mailbox"); d.Allowed {
		t.Fatalf("unapproved operation allowed: %+v", d)
	}
	d, err := h.svc.CheckAccess(h.service(), lockbox.AccessCheck{Token: g.Token, Operation: "Get-MailboxStatistics", Service: "sharepoint"})
	if err != nil || d.Allowed {
		t.Fatalf("token for exchange at sharepoint: %+v, %v", d, err)
	}
	for _, bad := range []string{"garbage", g.Token + "x", g.Token[:len(g.Token)-2]} {
		if d := h.check(bad, "Get-MailboxStatistics"); d.Allowed || d.RequestID != "" {
			t.Fatalf("bad token %q: %+v", bad, d)
		}
	}

	// Revocation is seen by the very next check, long before exp.
	h.MustAct("approver@contoso.test", r, lockbox.EventRevoke)
	if d := h.check(g.Token, "Get-MailboxStatistics"); d.Allowed {
		t.Fatalf("allowed after revocation: %+v", d)
	}
}

func TestCheckAccessAfterCompletion(t *testing.T) {
	t.Parallel()
	h := newGrantHarness(t)
	r := h.MustActive(validRequest())
	g := h.MustGrant(r)
	h.MustAct("operator@provider.test", r, lockbox.EventComplete)
	if d := h.check(g.Token, "Get-MailboxStatistics"); d.Allowed {
		t.Fatalf("allowed after completion: %+v", d)
	}
}

func TestCheckAccessDeadlinesWithoutWorker(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := newGrantHarness(t)
		in := validRequest()
		in.DurationMinutes = 10
		r := h.MustActive(in)
		g := h.MustGrant(r) // exp = access_ends_at (10 minutes)
		time.Sleep(10*time.Minute - time.Second)
		if d := h.check(g.Token, "Get-MailboxStatistics"); !d.Allowed {
			t.Fatalf("a second before the end: %+v", d)
		}
		time.Sleep(time.Second)
		if d := h.check(g.Token, "Get-MailboxStatistics"); d.Allowed {
			t.Fatalf("at access_ends_at: %+v", d)
		}

		// A long window: the token's own 15 minutes run out first.
		r2 := h.MustActive(validRequest())
		g2 := h.MustGrant(r2)
		time.Sleep(15 * time.Minute)
		if d := h.check(g2.Token, "Get-MailboxStatistics"); d.Allowed {
			t.Fatalf("15 minutes after issue: %+v", d)
		}
		if d := h.check(h.MustGrant(r2).Token, "Get-MailboxStatistics"); !d.Allowed {
			t.Fatalf("a refreshed grant: %+v", d)
		}
	})
}

func TestCheckAccessCallerAndInput(t *testing.T) {
	t.Parallel()
	h := newGrantHarness(t)
	r := h.MustActive(validRequest())
	g := h.MustGrant(r)
	tests := []struct {
		name string
		ctx  context.Context
		in   lockbox.AccessCheck
		code string
	}{
		{"Operator", h.as("operator@provider.test"), lockbox.AccessCheck{Token: g.Token, Operation: "Get-Mailbox"}, lockbox.EFORBIDDEN},
		{"ProviderAdmin", h.as("admin@provider.test"), lockbox.AccessCheck{Token: g.Token, Operation: "Get-Mailbox"}, lockbox.EFORBIDDEN},
		{"TenantAdmin", h.as("admin@contoso.test"), lockbox.AccessCheck{Token: g.Token, Operation: "Get-Mailbox"}, lockbox.EFORBIDDEN},
		{"Anonymous", context.Background(), lockbox.AccessCheck{Token: g.Token, Operation: "Get-Mailbox"}, lockbox.EUNAUTHENTICATED},
		{"NoToken", h.service(), lockbox.AccessCheck{Operation: "Get-Mailbox"}, lockbox.EINVALID},
		{"NoOperation", h.service(), lockbox.AccessCheck{Token: g.Token}, lockbox.EINVALID},
		{"BadClientIP", h.service(), lockbox.AccessCheck{Token: g.Token, Operation: "Get-Mailbox", ClientIP: "not-an-ip"}, lockbox.EINVALID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.svc.CheckAccess(tc.ctx, tc.in)
			wantCode(t, err, tc.code)
			_, err = h.svc.RecordOperatorAction(tc.ctx, tc.in)
			wantCode(t, err, tc.code)
		})
	}
	if n := h.ops(r); n[lockbox.OpOperatorAction]+n[lockbox.OpOperatorActionBlocked] != 0 {
		t.Errorf("refused calls left audit records: %v", n)
	}
}

func TestRecordOperatorAction(t *testing.T) {
	t.Parallel()
	h := newGrantHarness(t)
	r := h.MustActive(validRequest())
	g := h.MustGrant(r)
	record := func(op string) *lockbox.AccessDecision {
		t.Helper()
		d, err := h.svc.RecordOperatorAction(h.service(), lockbox.AccessCheck{Token: g.Token, Operation: op,
			Resource: "mailbox:alice@contoso.test", ClientIP: "198.51.100.7"})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if d := record("Get-MailboxStatistics"); !d.Allowed {
		t.Fatalf("allowed action refused: %+v", d)
	}
	blocked := record("Repair-Mailbox")
	if blocked.Allowed {
		t.Fatalf("unapproved action allowed: %+v", blocked)
	}
	// An unverifiable token is answered but never written to a tenant log.
	if d, err := h.svc.RecordOperatorAction(h.service(), lockbox.AccessCheck{Token: "x.y.z", Operation: "Get-Mailbox"}); err != nil || d.Allowed {
		t.Fatalf("garbage token: %+v, %v", d, err)
	}

	recs := actionRecords(h, r)
	if len(recs) != 2 {
		t.Fatalf("operator records = %d, want 2", len(recs))
	}
	approved := stored(h, r.ID)
	wantData := func(op, reason string) map[string]any {
		m := map[string]any{
			"operator_staff_id": approved.RequesterID, "operator": "operator@provider.test",
			"request_id": r.ID, "reference": r.Reference, "service": "exchange",
			"approver": "approver@contoso.test", "approved_at": approved.DecidedAt.Format(time.RFC3339),
			"approved_duration_minutes": json.Number("120"), "access_ends_at": approved.AccessEndsAt.Format(time.RFC3339),
			"operation": op, "resource": "mailbox:alice@contoso.test",
			"reported_by": "service:dev-service", "grant_expires_at": g.ExpiresAt.Format(time.RFC3339),
		}
		if reason != "" {
			m["reason"] = reason
		}
		return m
	}
	want := []*lockbox.AuditRecord{
		{Tenant: "contoso", RecordType: lockbox.RecordOperatorAction, Operation: lockbox.OpOperatorAction,
			UserID: "Provider Operator", ActorType: lockbox.ActorProviderOperator, ClientIP: "198.51.100.7",
			RequestID: r.ID, Result: lockbox.ResultSucceeded, AuditData: wantData("Get-MailboxStatistics", "")},
		{Tenant: "contoso", RecordType: lockbox.RecordOperatorAction, Operation: lockbox.OpOperatorActionBlocked,
			UserID: "Provider Operator", ActorType: lockbox.ActorProviderOperator, ClientIP: "198.51.100.7",
			RequestID: r.ID, Result: lockbox.ResultFailed, AuditData: wantData("Repair-Mailbox", blocked.Reason)},
	}
	opts := cmpopts.IgnoreFields(lockbox.AuditRecord{}, "ID", "Index", "Time")
	if diff := cmp.Diff(want, recs, opts); diff != "" {
		t.Errorf("operator records (-want +got):\n%s", diff)
	}
}

// An action reported after access ended is blocked, and the log shows the
// end of access first, even though no worker ran.
func TestOperatorActionAfterAccessEnd(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := newGrantHarness(t)
		in := validRequest()
		in.DurationMinutes = 5
		r := h.MustActive(in)
		g := h.MustGrant(r)
		time.Sleep(5 * time.Minute)
		d, err := h.svc.RecordOperatorAction(h.service(), lockbox.AccessCheck{Token: g.Token, Operation: "Get-MailboxStatistics"})
		if err != nil || d.Allowed {
			t.Fatalf("after the end: %+v, %v", d, err)
		}
		var ops []string
		for _, rec := range h.audit("contoso") {
			if rec.RequestID == r.ID {
				ops = append(ops, rec.Operation)
			}
		}
		if n := len(ops); n < 3 || ops[n-3] != lockbox.OpRequestCompleted || ops[n-2] != lockbox.OpRequestAccessReport || ops[n-1] != lockbox.OpOperatorActionBlocked {
			t.Errorf("log tail = %v, want request.completed, its access report, then operator.action_blocked", ops)
		}
	})
}

func actionRecords(h *harness, r *lockbox.AccessRequest) []*lockbox.AuditRecord {
	var out []*lockbox.AuditRecord
	for _, rec := range h.audit(r.Tenant) {
		if rec.RecordType == lockbox.RecordOperatorAction && rec.RequestID == r.ID {
			out = append(out, rec)
		}
	}
	return out
}

func stored(h *harness, id string) *lockbox.AccessRequest { return h.stored(id) }

// Operator actions reach the tenant's webhooks (SPEC §5 events
// operator.action and operator.action_blocked) in the same transaction as
// their audit record.
func TestOperatorActionWebhooks(t *testing.T) {
	t.Parallel()
	h := newGrantHarness(t)
	if _, err := h.svc.CreateWebhook(h.as("admin@contoso.test"), "contoso", lockbox.NewWebhook{
		URL:    "https://203.0.113.10/lockbox",
		Events: []string{lockbox.OpOperatorAction, lockbox.OpOperatorActionBlocked}}); err != nil {
		t.Fatal(err)
	}
	r := h.MustActive(validRequest())
	g := h.MustGrant(r)
	for _, op := range []string{"Get-MailboxStatistics", "Repair-Mailbox"} {
		if _, err := h.svc.RecordOperatorAction(h.service(), lockbox.AccessCheck{Token: g.Token, Operation: op}); err != nil {
			t.Fatal(err)
		}
	}
	var msgs []*lockbox.OutboxMessage
	err := h.store.View(context.Background(), func(tx lockbox.Tx) (err error) {
		msgs, err = tx.ListOutbox(context.Background(), lockbox.OutboxQuery{Channel: lockbox.ChannelWebhook, Tenant: "contoso", Limit: 100})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, m := range msgs {
		n[m.Type]++
	}
	if n[lockbox.OpOperatorAction] != 1 || n[lockbox.OpOperatorActionBlocked] != 1 {
		t.Errorf("webhook deliveries by type = %v, want one operator.action and one operator.action_blocked", n)
	}
}

// The access cache is exact for changes made through the same server and
// bounded by its TTL for changes made by another server on the same
// database (which is why lockbox serve turns it off on PostgreSQL).
func TestAccessCacheAcrossServers(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h, auth := newGrantHarnessWith(t) // h.svc: "the other server"
		cached := approval.New(h.store, lockbox.SystemClock{}, approval.Options{PasswordMemoryKiB: 64, PasswordTime: 1,
			Grants: auth, AccessCacheTTL: time.Minute})
		r := h.MustActive(validRequest())
		g := h.MustGrant(r)
		check := func() *lockbox.AccessDecision {
			t.Helper()
			d, err := cached.CheckAccess(h.service(), lockbox.AccessCheck{Token: g.Token, Operation: "Get-MailboxStatistics"})
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
		if d := check(); !d.Allowed {
			t.Fatalf("before: %+v", d)
		}
		h.MustAct("approver@contoso.test", r, lockbox.EventRevoke) // through the other server
		if d := check(); !d.Allowed {
			t.Fatalf("expected the documented staleness right after another server's write; got %+v", d)
		}
		time.Sleep(time.Minute)
		if d := check(); d.Allowed {
			t.Fatalf("cached server a TTL after another server's revoke: %+v", d)
		}
		// A write through the caching server itself invalidates at once.
		r2 := h.MustActive(validRequest())
		g2 := h.MustGrant(r2)
		if d, _ := cached.CheckAccess(h.service(), lockbox.AccessCheck{Token: g2.Token, Operation: "Get-MailboxStatistics"}); !d.Allowed {
			t.Fatalf("second request: %+v", d)
		}
		if _, err := cached.Act(h.as("approver@contoso.test"), r2.ID, lockbox.EventRevoke, lockbox.Decision{}); err != nil {
			t.Fatal(err)
		}
		if d, _ := cached.CheckAccess(h.service(), lockbox.AccessCheck{Token: g2.Token, Operation: "Get-MailboxStatistics"}); d.Allowed {
			t.Fatalf("revoked through the caching server, still allowed: %+v", d)
		}
	})
}
