package approval_test

import (
	"context"
	"crypto/ed25519"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
	"github.com/lockboxhq/lockbox/grant"
	"github.com/lockboxhq/lockbox/keys"
)

// newLifecycleHarness is a harness with grant tokens on the test store
// (SQLite, or PostgreSQL with LOCKBOX_TEST_STORE=postgres), the access
// cache on, and the session clock given.
func newLifecycleHarness(t testing.TB, sessions lockbox.Clock) *harness {
	t.Helper()
	ctx := context.Background()
	st := openTestStore(t)
	ring, _, err := keys.Open(ctx, filepath.Join(t.TempDir(), "keys"), st, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ks := &grant.KeySet{Fetch: func(context.Context) (map[string]ed25519.PublicKey, error) {
		return ring.GrantPublicKeys(), nil
	}}
	svc := approval.New(st, lockbox.SystemClock{}, approval.Options{PasswordMemoryKiB: 64, PasswordTime: 1,
		SessionClock: sessions, Grants: grant.NewAuthority(ring.GrantSigner, ks, "https://lockbox.test"),
		GrantIssuer: "https://lockbox.test", AccessCacheTTL: time.Hour})
	if err := svc.SeedDev(ctx); err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, store: st, svc: svc}
}

// signedIn is a context as Authenticate leaves it for a token.
func (h *harness) signedIn(token string) (context.Context, error) {
	ctx := lockbox.NewContextWithCredential(context.Background(), token)
	u, err := h.svc.Authenticate(ctx, token)
	if err != nil {
		return nil, err
	}
	return lockbox.NewContextWithUser(ctx, u), nil
}

func (h *harness) login(email, password string) string {
	h.t.Helper()
	s, err := h.svc.Login(context.Background(), email, password)
	if err != nil {
		h.t.Fatalf("login %s: %v", email, err)
	}
	return s.Token
}

// TestEndedStaffStopAtOnce: disabling or removing an operator ends, by the
// next call, their API token, their web session and their grant token, and
// ends their requests (approved/active revoked, open canceled) by the
// system, audited (SPEC §10.1).
func TestEndedStaffStopAtOnce(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"disable", "remove"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			h := newLifecycleHarness(t, lockbox.SystemClock{})
			w := h.operatorAtWork()
			active, open, filed, web, token, session, check := w.active, w.open, w.filed, w.web, w.token, w.session, w.check

			admin := h.as("admin@provider.test")
			var err error
			if how == "disable" {
				_, err = h.svc.UpdateStaff(admin, "operator@provider.test", lockbox.StaffUpdate{Disabled: ptr(true)})
			} else {
				err = h.svc.RemoveStaff(admin, "operator@provider.test")
			}
			if err != nil {
				t.Fatal(err)
			}

			_, err = h.svc.Authenticate(context.Background(), token)
			wantCode(t, err, lockbox.EUNAUTHENTICATED)
			_, _, err = web.ResumeWebSession(context.Background(), session)
			wantCode(t, err, lockbox.EUNAUTHENTICATED)
			_, err = h.svc.Login(context.Background(), "operator@provider.test", approval.DevPassword)
			wantCode(t, err, lockbox.EUNAUTHENTICATED)
			if d, err := h.svc.CheckAccess(h.service(), check); err != nil || d.Allowed {
				t.Errorf("grant after %s: %+v, %v; want refused", how, d, err)
			}
			for r, want := range map[*lockbox.AccessRequest]lockbox.Status{
				active: lockbox.StatusRevoked, open: lockbox.StatusCanceled, filed: lockbox.StatusCanceled,
			} {
				got := h.stored(r.ID)
				if got.Status != want {
					t.Errorf("request %s is %s, want %s", r.Reference, got.Status, want)
				}
				if got.EndedBy == nil || *got.EndedBy != "system" {
					t.Errorf("request %s ended by %v, want system", r.Reference, got.EndedBy)
				}
			}
			op := lockbox.OpAccountDisabled
			if how == "remove" {
				op = lockbox.OpAccountRemoved
			}
			if n := countOps(h.audit(lockbox.ProviderLog), op); n != 1 {
				t.Errorf("%d %s records in the provider log, want 1", n, op)
			}
			if n := countOps(h.audit("contoso"), lockbox.OpRequestRevoked); n != 1 {
				t.Errorf("%d request.revoked records in contoso's log, want 1", n)
			}
		})
	}
}

// atWork is what the operator has going when an admin changes their
// account: an active request whose grant works (check), a pending one and
// one filed, an API token and a web session.
type atWork struct {
	active, open, filed *lockbox.AccessRequest
	check               lockbox.AccessCheck
	web                 *approval.WebSessions
	token, session      string
}

func (h *harness) operatorAtWork() atWork {
	h.t.Helper()
	w := atWork{active: h.MustActive(validRequest())}
	g := h.MustGrant(w.active)
	w.open, w.filed = h.MustPending(validRequest()), h.MustFile(validRequest())
	w.token = h.login("operator@provider.test", approval.DevPassword)
	w.web = h.svc.WebSessions(approval.WebSessionOptions{})
	var err error
	if w.session, _, err = w.web.SignIn(context.Background(), "operator@provider.test", approval.DevPassword); err != nil {
		h.t.Fatal(err)
	}
	w.check = lockbox.AccessCheck{Token: g.Token, Operation: "Get-MailboxStatistics", Resource: "mailbox:x"}
	if d, err := h.svc.CheckAccess(h.service(), w.check); err != nil || !d.Allowed {
		h.t.Fatalf("grant before: %+v, %v", d, err)
	}
	return w
}

func countOps(recs []*lockbox.AuditRecord, op string) int {
	n := 0
	for _, r := range recs {
		if r.Operation == op {
			n++
		}
	}
	return n
}

// TestRemovedMidRequest: a call that authenticated before its account was
// removed, and writes after, is refused and leaves nothing; calls racing
// the removal either commit first (and the removal ends what they filed)
// or are refused. Either way no request of the removed operator stays
// open (SPEC §10.1).
func TestRemovedMidRequest(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	stale := h.as("operator@provider.test") // authenticated now
	if err := h.svc.RemoveStaff(h.as("admin@provider.test"), "operator@provider.test"); err != nil {
		t.Fatal(err)
	}
	_, err := h.svc.CreateRequest(stale, validRequest())
	wantCode(t, err, lockbox.EUNAUTHENTICATED)

	op2 := h.as("operator2@provider.test")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := h.svc.CreateRequest(op2, validRequest()); err != nil && lockbox.ErrorCode(err) != lockbox.EUNAUTHENTICATED {
				t.Errorf("create racing the removal: %v", err)
			}
		})
	}
	wg.Go(func() {
		if err := h.svc.RemoveStaff(h.as("admin@provider.test"), "operator2@provider.test"); err != nil {
			t.Errorf("remove: %v", err)
		}
	})
	wg.Wait()
	page, err := h.svc.ListRequests(h.as("manager@provider.test"), lockbox.RequestFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range page.Requests {
		if r.Status != lockbox.StatusCanceled {
			t.Errorf("request %s of a removed operator is %s, want canceled", r.Reference, r.Status)
		}
	}
}

// TestPasswordChange: the policy, the current password, and the change
// ending every other token and session but the caller's own.
func TestPasswordChange(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	const email = "approver@contoso.test"
	current := h.login(email, approval.DevPassword)
	other := h.login(email, approval.DevPassword)
	web := h.svc.WebSessions(approval.WebSessionOptions{})
	session, _, err := web.SignIn(context.Background(), email, approval.DevPassword)
	if err != nil {
		t.Fatal(err)
	}
	ctx, err := h.signedIn(current)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, current, new, field string
	}{
		{"TooShort", approval.DevPassword, "short-pass1", "new"},
		{"TheEmail", approval.DevPassword, "Approver@Contoso.test", "new"},
		{"Common", approval.DevPassword, "1qaz2wsx3edc", "new"},
		{"CommonAnyCase", approval.DevPassword, "1QAZ2WSX3EDC", "new"},
		{"Unchanged", "lockbox-dev-long", "lockbox-dev-long", "new"},
		{"WrongCurrent", "not-the-password", "a long enough passphrase", "current"},
	} {
		err := h.svc.ChangePassword(ctx, lockbox.PasswordChange{Current: tc.current, New: tc.new})
		if lockbox.ErrorCode(err) != lockbox.EINVALID || lockbox.ErrorField(err) != tc.field {
			t.Errorf("%s: %v, want invalid on %s", tc.name, err, tc.field)
		}
	}
	if n := countOps(h.audit("contoso"), lockbox.OpPasswordChanged); n != 0 {
		t.Fatalf("refused changes wrote %d records", n)
	}
	if err := h.svc.ChangePassword(ctx, lockbox.PasswordChange{Current: approval.DevPassword, New: "a long enough passphrase"}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.signedIn(current); err != nil {
		t.Errorf("the caller's own token ended: %v", err)
	}
	_, err = h.svc.Authenticate(context.Background(), other)
	wantCode(t, err, lockbox.EUNAUTHENTICATED)
	_, _, err = web.ResumeWebSession(context.Background(), session)
	wantCode(t, err, lockbox.EUNAUTHENTICATED)
	_, err = h.svc.Login(context.Background(), email, approval.DevPassword)
	wantCode(t, err, lockbox.EUNAUTHENTICATED)
	h.login(email, "a long enough passphrase")
	if n := countOps(h.audit("contoso"), lockbox.OpPasswordChanged); n != 1 {
		t.Errorf("%d account.password_changed records in the tenant's log, want 1", n)
	}
}

// TestResets: who may reset whom, and what a one-time password may do.
func TestResets(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	_, err := h.svc.ResetTenantUserPassword(h.as("admin@provider.test"), "contoso", "approver@contoso.test")
	wantCode(t, err, lockbox.EFORBIDDEN) // the provider never resets a tenant's users
	_, err = h.svc.ResetTenantUserPassword(h.as("admin@fabrikam.test"), "contoso", "approver@contoso.test")
	wantCode(t, err, lockbox.ENOTFOUND)
	_, err = h.svc.ResetTenantUserPassword(h.as("admin@contoso.test"), "contoso", "admin@fabrikam.test")
	wantCode(t, err, lockbox.ENOTFOUND) // another tenant's user looks missing
	_, err = h.svc.ResetStaffPassword(h.as("admin@provider.test"), "approver@contoso.test")
	wantCode(t, err, lockbox.ENOTFOUND)
	_, err = h.svc.ResetStaffPassword(h.as("admin@contoso.test"), "operator@provider.test")
	wantCode(t, err, lockbox.EFORBIDDEN)

	old := h.login("approver@contoso.test", approval.DevPassword)
	otp, err := h.svc.ResetTenantUserPassword(h.as("admin@contoso.test"), "contoso", "approver@contoso.test")
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.svc.Authenticate(context.Background(), old)
	wantCode(t, err, lockbox.EUNAUTHENTICATED)
	s, err := h.svc.Login(context.Background(), "approver@contoso.test", otp.Password)
	if err != nil || !s.PasswordChangeRequired {
		t.Fatalf("login with the one-time password: %+v, %v", s, err)
	}
	ctx, err := h.signedIn(s.Token)
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.svc.ListRequests(ctx, lockbox.RequestFilter{})
	wantCode(t, err, lockbox.EPASSWORDCHANGE)
	_, err = h.svc.ListMyTokens(ctx)
	wantCode(t, err, lockbox.EPASSWORDCHANGE)
	if err := h.svc.ChangePassword(ctx, lockbox.PasswordChange{Current: otp.Password, New: "my own long passphrase"}); err != nil {
		t.Fatal(err)
	}
	if ctx, err = h.signedIn(s.Token); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.ListRequests(ctx, lockbox.RequestFilter{}); err != nil {
		t.Errorf("after the change: %v", err)
	}
	recs := h.audit("contoso")
	if countOps(recs, lockbox.OpPasswordReset) != 1 || countOps(recs, lockbox.OpPasswordChanged) != 1 {
		t.Errorf("contoso's log lacks the reset and the change")
	}
}

// TestTokenExpiryAndRotation: sign-in tokens end after the TTL; a rotated
// service account's old token works through the grace period only.
func TestTokenExpiryAndRotation(t *testing.T) {
	t.Parallel()
	clock := lockbox.NewOffsetClock()
	h := newLifecycleHarness(t, clock)
	token := h.login("operator@provider.test", approval.DevPassword)
	admin := h.as("admin@provider.test")
	sa, err := h.svc.RotateServiceAccount(admin, "dev-service", 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(9 * time.Minute)
	for _, tok := range []string{approval.DevServiceToken, sa.Token, token} {
		if _, err := h.svc.Authenticate(context.Background(), tok); err != nil {
			t.Errorf("inside the grace period: %v", err)
		}
	}
	clock.Advance(time.Minute)
	_, err = h.svc.Authenticate(context.Background(), approval.DevServiceToken)
	wantCode(t, err, lockbox.EUNAUTHENTICATED)
	if _, err := h.svc.Authenticate(context.Background(), sa.Token); err != nil {
		t.Errorf("the new token: %v", err)
	}
	clock.Advance(12*time.Hour - 10*time.Minute)
	_, err = h.svc.Authenticate(context.Background(), token)
	wantCode(t, err, lockbox.EUNAUTHENTICATED)
	if err := h.svc.RevokeServiceAccount(admin, "dev-service"); err != nil {
		t.Fatal(err)
	}
	_, err = h.svc.Authenticate(context.Background(), sa.Token)
	wantCode(t, err, lockbox.EUNAUTHENTICATED)
	_, err = h.svc.RotateServiceAccount(admin, "dev-service", 0)
	wantCode(t, err, lockbox.ENOTFOUND)
}
