package approval_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
	"github.com/lockboxhq/lockbox/auditlog"
	"github.com/lockboxhq/lockbox/grant"
	"github.com/lockboxhq/lockbox/internal/passkeytest"
	"github.com/lockboxhq/lockbox/keys"
	"github.com/lockboxhq/lockbox/passkey"
	"github.com/lockboxhq/lockbox/storetest"
)

const (
	pkOrigin = "http://localhost:8080"
	pkRPID   = "localhost"
)

// newPasskeyHarness is a service with a relying party and grants, on the
// test store (SQLite, or PostgreSQL with LOCKBOX_TEST_STORE=postgres).
func newPasskeyHarness(t testing.TB) *harness {
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
	rp, err := passkey.New(pkOrigin, "")
	if err != nil {
		t.Fatal(err)
	}
	svc := approval.New(st, lockbox.SystemClock{}, approval.Options{PasswordMemoryKiB: 64, PasswordTime: 1,
		Grants: grant.NewAuthority(ring.GrantSigner, ks, "https://lockbox.test"), Passkeys: rp})
	if err := svc.SeedDev(ctx); err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, store: st, svc: svc}
}

// mustRegister registers a software authenticator's passkey for email.
func (h *harness) mustRegister(email string) *passkeytest.Authenticator {
	h.t.Helper()
	a := passkeytest.New(pkRPID, pkOrigin)
	ctx := h.as(email)
	b, err := h.svc.BeginPasskey(ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	resp, err := a.Register(b.Options)
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := h.svc.FinishPasskey(ctx, "laptop", resp); err != nil {
		h.t.Fatalf("FinishPasskey: %v", err)
	}
	return a
}

func (h *harness) requireSigned(on bool) {
	h.t.Helper()
	if _, err := h.svc.UpdateSettings(h.as("admin@contoso.test"), "contoso", lockbox.SettingsPatch{RequireSignedDecisions: &on}); err != nil {
		h.t.Fatal(err)
	}
}

// signed is a decision by email on r with a's assertion over a fresh challenge.
func (h *harness) signed(email string, a *passkeytest.Authenticator, r *lockbox.AccessRequest, ev lockbox.Event, c lockbox.Changes) lockbox.Decision {
	h.t.Helper()
	ch, err := h.svc.DecisionChallenge(h.as(email), r.ID, lockbox.DecisionIntent{Decision: string(ev), Changes: c})
	if err != nil {
		h.t.Fatalf("DecisionChallenge: %v", err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(ch.Challenge)
	as := a.Assert(raw)
	return lockbox.Decision{Changes: c, Passkey: &as}
}

func TestPasskeyRegistration(t *testing.T) {
	t.Parallel()
	h := newPasskeyHarness(t)
	a := h.mustRegister("approver@contoso.test")
	keys, err := h.svc.ListPasskeys(h.as("approver@contoso.test"))
	if err != nil || len(keys) != 1 || keys[0].ID != a.CredentialID() || keys[0].Name != "laptop" {
		t.Fatalf("ListPasskeys = %+v, %v", keys, err)
	}
	// Audited in the tenant's log with the COSE key, and the global admin
	// emailed.
	var rec *lockbox.AuditRecord
	for _, r := range h.audit("contoso") {
		if r.Operation == lockbox.OpPasskeyRegistered {
			rec = r
		}
	}
	if rec == nil || rec.AuditData["credential_id"] != a.CredentialID() ||
		rec.AuditData["public_key"] != base64.StdEncoding.EncodeToString(a.COSEKey()) || rec.UserID != "approver@contoso.test" {
		t.Fatalf("passkey.registered record = %+v", rec)
	}
	if sent := h.sent(); !slices.Contains(sent, "email "+lockbox.NoticePasskeyAdded+" admin@contoso.test") {
		t.Errorf("emails = %v, want the global admin told", sent)
	}
	// Nobody else sees or removes it; the owner does, audited.
	if other, _ := h.svc.ListPasskeys(h.as("admin@contoso.test")); len(other) != 0 {
		t.Errorf("the admin lists another user's passkeys: %v", other)
	}
	wantCode(t, h.svc.RemovePasskey(h.as("admin@provider.test"), a.CredentialID()), lockbox.ENOTFOUND)
	if err := h.svc.RemovePasskey(h.as("approver@contoso.test"), a.CredentialID()); err != nil {
		t.Fatal(err)
	}
	if countOps(h.audit("contoso"), lockbox.OpPasskeyRemoved) != 1 {
		t.Error("no passkey.removed record")
	}
	// Staff passkeys go to the provider log.
	h.mustRegister("operator@provider.test")
	if countOps(h.audit(lockbox.ProviderLog), lockbox.OpPasskeyRegistered) != 1 {
		t.Error("a staff passkey is not in the provider log")
	}
	// A service account has none.
	_, err = h.svc.BeginPasskey(h.service())
	wantCode(t, err, lockbox.EFORBIDDEN)
}

func TestPasskeyRegistrationRefused(t *testing.T) {
	t.Parallel()
	h := newPasskeyHarness(t)
	ctx := h.as("approver@contoso.test")
	a := passkeytest.New(pkRPID, pkOrigin)
	// No ceremony under way.
	resp, _ := a.Register([]byte(`{"publicKey":{"challenge":"AAAA"}}`))
	_, err := h.svc.FinishPasskey(ctx, "x", resp)
	wantCode(t, err, lockbox.ECONFLICT)
	b, err := h.svc.BeginPasskey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]*passkeytest.Authenticator{
		"OtherOrigin": passkeytest.New(pkRPID, "http://evil.localhost:8080"),
		"OtherRPID":   passkeytest.New("evil.example", pkOrigin),
		"NoUV":        func() *passkeytest.Authenticator { x := passkeytest.New(pkRPID, pkOrigin); x.NoUV = true; return x }(),
	} {
		resp, _ := tc.Register(b.Options)
		_, err := h.svc.FinishPasskey(ctx, "x", resp)
		if lockbox.ErrorCode(err) != lockbox.EINVALID {
			t.Errorf("%s: %v, want invalid", name, err)
		}
	}
	_, err = h.svc.FinishPasskey(ctx, "bad\x00name", []byte(`{}`))
	wantCode(t, err, lockbox.EINVALID)
	if n := countOps(h.audit("contoso"), lockbox.OpPasskeyRegistered); n != 0 {
		t.Errorf("refused registrations wrote %d records", n)
	}
}

func TestSignedDecisions(t *testing.T) {
	t.Parallel()
	h := newPasskeyHarness(t)
	a := h.mustRegister("approver@contoso.test")
	h.requireSigned(true)
	r := h.MustPending(validRequest())
	ctx := h.as("approver@contoso.test")

	// Unsigned: refused with a stable code, nothing changes.
	_, err := h.svc.Act(ctx, r.ID, lockbox.EventApprove, lockbox.Decision{})
	wantCode(t, err, lockbox.ESIGNATUREREQUIRED)

	// Signed for a deny, sent as an approval: the statement differs.
	d := h.signed("approver@contoso.test", a, r, lockbox.EventDeny, lockbox.Changes{})
	_, err = h.svc.Act(ctx, r.ID, lockbox.EventApprove, d)
	wantCode(t, err, lockbox.EINVALID)
	// Signed with narrowing, sent without: differs too.
	d = h.signed("approver@contoso.test", a, r, lockbox.EventApprove, lockbox.Changes{DurationMinutes: ptr(30)})
	_, err = h.svc.Act(ctx, r.ID, lockbox.EventApprove, lockbox.Decision{Passkey: d.Passkey})
	wantCode(t, err, lockbox.EINVALID)
	// Another user's authenticator with this user's challenge.
	other := h.mustRegister("admin@contoso.test")
	ch, _ := h.svc.DecisionChallenge(ctx, r.ID, lockbox.DecisionIntent{Decision: "approve"})
	raw, _ := base64.RawURLEncoding.DecodeString(ch.Challenge)
	forged := other.Assert(raw)
	_, err = h.svc.Act(ctx, r.ID, lockbox.EventApprove, lockbox.Decision{Passkey: &forged})
	wantCode(t, err, lockbox.EINVALID)
	if st := h.stored(r.ID); st.Status != lockbox.StatusPending {
		t.Fatalf("refused decisions changed the request: %s", st.Status)
	}

	// Signed: approved, the record carries statement and assertion.
	d = h.signed("approver@contoso.test", a, r, lockbox.EventApprove, lockbox.Changes{})
	got, err := h.svc.Act(ctx, r.ID, lockbox.EventApprove, d)
	if err != nil {
		t.Fatalf("signed approval: %v", err)
	}
	var rec *lockbox.AuditRecord
	for _, x := range h.audit("contoso") {
		if x.Operation == lockbox.OpRequestApproved {
			rec = x
		}
	}
	sd, _ := rec.AuditData["signed_decision"].(map[string]any)
	stmt, _ := sd["statement"].(string)
	if !strings.HasPrefix(stmt, `{"v":1,"tenant":"contoso","request_id":"`+r.ID+`","reference":"`+r.Reference+`","decision":"approve","operations":["Get-MailboxStatistics"],"duration_minutes":120,"start_time":null,"decided_by":"approver@contoso.test","nonce":"`) {
		t.Errorf("statement = %s", stmt)
	}
	if got.Status != lockbox.StatusActive {
		t.Fatalf("status %s", got.Status)
	}
	h.MustGrant(got)
}

func TestSignedDecisionReplay(t *testing.T) {
	t.Parallel()
	h := newPasskeyHarness(t)
	a := h.mustRegister("approver@contoso.test")
	h.mustRegister("admin@contoso.test")
	h.requireSigned(true)
	h.setQuorum(2)
	r := h.MustPending(validRequest())
	d := h.signed("approver@contoso.test", a, r, lockbox.EventApprove, lockbox.Changes{})
	if _, err := h.svc.Act(h.as("approver@contoso.test"), r.ID, lockbox.EventApprove, d); err != nil {
		t.Fatal(err)
	}
	// The same signed approval sent by the admin: not theirs.
	_, err := h.svc.Act(h.as("admin@contoso.test"), r.ID, lockbox.EventApprove, d)
	wantCode(t, err, lockbox.EINVALID)
}

func TestChallengeRefused(t *testing.T) {
	t.Parallel()
	h := newPasskeyHarness(t)
	r := h.MustPending(validRequest())
	_, err := h.svc.DecisionChallenge(h.as("approver@contoso.test"), r.ID, lockbox.DecisionIntent{Decision: "approve"})
	wantCode(t, err, lockbox.ECONFLICT) // no passkey yet
	h.mustRegister("approver@contoso.test")
	for name, tc := range map[string]struct {
		email string
		in    lockbox.DecisionIntent
		code  string
	}{
		"BadDecision":    {"approver@contoso.test", lockbox.DecisionIntent{Decision: "cancel"}, lockbox.EINVALID},
		"ChangesOnDeny":  {"approver@contoso.test", lockbox.DecisionIntent{Decision: "deny", Changes: lockbox.Changes{DurationMinutes: ptr(5)}}, lockbox.EINVALID},
		"OtherTenant":    {"admin@fabrikam.test", lockbox.DecisionIntent{Decision: "approve"}, lockbox.ENOTFOUND},
		"Provider":       {"admin@provider.test", lockbox.DecisionIntent{Decision: "approve"}, lockbox.EFORBIDDEN},
		"NoExtensionYet": {"approver@contoso.test", lockbox.DecisionIntent{Decision: "extension_approve"}, lockbox.ECONFLICT},
	} {
		_, err := h.svc.DecisionChallenge(h.as(tc.email), r.ID, tc.in)
		if lockbox.ErrorCode(err) != tc.code {
			t.Errorf("%s: %v, want %s", name, err, tc.code)
		}
	}
}

// TestForgedApprovalGetsNoGrant writes an approval straight into the
// database, as a provider with database access could, and shows that no
// grant is issued for it.
func TestForgedApprovalGetsNoGrant(t *testing.T) {
	t.Parallel()
	h := newPasskeyHarness(t)
	h.mustRegister("approver@contoso.test")
	h.requireSigned(true)
	r := forgeApproval(t, h.store, h.MustPending(validRequest()), "approver@contoso.test")
	_, err := h.svc.IssueGrant(h.as("operator@provider.test"), r.ID)
	wantCode(t, err, lockbox.ECONFLICT)
	if err == nil || !strings.Contains(err.Error(), "signed") {
		t.Errorf("refusal = %v", err)
	}
}

// forgeApproval marks r active with an approval by email that carries no
// assertion, and appends the request.approved record a forger would, to
// make the log look complete.
func forgeApproval(t *testing.T, st lockbox.Store, r *lockbox.AccessRequest, email string) *lockbox.AccessRequest {
	t.Helper()
	return forgeApprovalAs(t, st, r, email, lockbox.ActorTenantUser, email)
}

// forgeApprovalAs is forgeApproval with the record's actor type and
// user_id as the forger chose them.
func forgeApprovalAs(t *testing.T, st lockbox.Store, r *lockbox.AccessRequest, email, actorType, userID string) *lockbox.AccessRequest {
	t.Helper()
	return storetest.ForgeApproval(t, st, r.ID, email, actorType, userID)
}

// verifyLog runs the offline verifier over the tenant's log.
func (h *harness) verifyLog(tenant string) *auditlog.Report {
	h.t.Helper()
	skey, vkey, err := note.GenerateKey(nil, "lockbox-log")
	if err != nil {
		h.t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		h.t.Fatal(err)
	}
	rep, err := auditlog.Verify(h.as("auditor@contoso.test"), auditlog.New(h.store, signer, vkey, "lockbox.test"), tenant, nil, auditlog.Options{})
	if err != nil {
		h.t.Fatal(err)
	}
	return rep
}

// TestAuditVerifySignedDecisions: the offline check accepts signed
// decisions, and names a forged (unsigned) approval, a signature by a key
// registered by another user, and one by a removed key.
func TestAuditVerifySignedDecisions(t *testing.T) {
	t.Parallel()
	h := newPasskeyHarness(t)
	a := h.mustRegister("approver@contoso.test")
	// Before the tenant requires signatures, unsigned decisions are fine.
	h.MustAct("approver@contoso.test", h.MustPending(validRequest()), lockbox.EventApprove)
	h.requireSigned(true)
	r := h.MustPending(validRequest())
	if _, err := h.svc.Act(h.as("approver@contoso.test"), r.ID, lockbox.EventApprove, h.signed("approver@contoso.test", a, r, lockbox.EventApprove, lockbox.Changes{})); err != nil {
		t.Fatal(err)
	}
	r2 := h.MustPending(validRequest())
	if _, err := h.svc.Act(h.as("approver@contoso.test"), r2.ID, lockbox.EventDeny, h.signed("approver@contoso.test", a, r2, lockbox.EventDeny, lockbox.Changes{})); err != nil {
		t.Fatal(err)
	}
	if rep := h.verifyLog("contoso"); !rep.OK() {
		t.Fatalf("a log of signed decisions: %+v", rep.Problems)
	}

	forged := forgeApproval(t, h.store, h.MustPending(validRequest()), "approver@contoso.test")
	rep := h.verifyLog("contoso")
	if len(rep.Problems) != 1 || rep.Problems[0].Kind != auditlog.ProblemUnsignedDecision || !strings.Contains(rep.Problems[0].Message, forged.ID) {
		t.Fatalf("problems = %+v, want the forged approval of %s named", rep.Problems, forged.ID)
	}
}

// TestAuditVerifyRemovedKey: a decision signed with a key removed before
// it (the database still holding it, say) does not verify offline.
func TestAuditVerifyRemovedKey(t *testing.T) {
	t.Parallel()
	h := newPasskeyHarness(t)
	a := h.mustRegister("approver@contoso.test")
	h.requireSigned(true)
	r := h.MustPending(validRequest())
	d := h.signed("approver@contoso.test", a, r, lockbox.EventApprove, lockbox.Changes{})
	// The key's removal is logged; a forger puts the row back and decides.
	ctx := context.Background()
	var keys []*lockbox.Passkey
	h.store.View(ctx, func(tx lockbox.Tx) (err error) {
		u := lockbox.UserFromContext(h.as("approver@contoso.test"))
		keys, err = tx.ListPasskeys(ctx, u.ID)
		return err
	})
	if err := h.svc.RemovePasskey(h.as("approver@contoso.test"), a.CredentialID()); err != nil {
		t.Fatal(err)
	}
	if err := h.store.Update(ctx, func(tx lockbox.Tx) error { return tx.InsertPasskey(ctx, keys[0]) }); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.Act(h.as("approver@contoso.test"), r.ID, lockbox.EventApprove, d); err != nil {
		t.Fatal(err)
	}
	rep := h.verifyLog("contoso")
	if len(rep.Problems) != 1 || rep.Problems[0].Kind != auditlog.ProblemBadSignedDecision || !strings.Contains(rep.Problems[0].Message, "removed") {
		t.Fatalf("problems = %+v, want the decision by a removed key", rep.Problems)
	}
}

// TestSignedExtension: an extension's approval follows the same signing
// rule, its statement naming the extension's minutes; the grant after it
// needs it signed too.
func TestSignedExtension(t *testing.T) {
	t.Parallel()
	h := newPasskeyHarness(t)
	a := h.mustRegister("approver@contoso.test")
	h.requireSigned(true)
	r := h.MustPending(validRequest())
	r, err := h.svc.Act(h.as("approver@contoso.test"), r.ID, lockbox.EventApprove, h.signed("approver@contoso.test", a, r, lockbox.EventApprove, lockbox.Changes{}))
	if err != nil {
		t.Fatal(err)
	}
	r = h.extend(r, 30)
	_, err = h.svc.Act(h.as("approver@contoso.test"), r.ID, lockbox.EventExtensionApprove, lockbox.Decision{})
	wantCode(t, err, lockbox.ESIGNATUREREQUIRED)
	ch, err := h.svc.DecisionChallenge(h.as("approver@contoso.test"), r.ID, lockbox.DecisionIntent{Decision: "extension_approve"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ch.Statement, `"decision":"extension_approve"`) || !strings.Contains(ch.Statement, `"duration_minutes":30,`) {
		t.Errorf("extension statement = %s", ch.Statement)
	}
	as := a.Assert(lockbox.StatementChallenge(ch.Statement))
	if _, err := h.svc.Act(h.as("approver@contoso.test"), r.ID, lockbox.EventExtensionApprove, lockbox.Decision{Passkey: &as}); err != nil {
		t.Fatalf("signed extension approval: %v", err)
	}
	h.MustGrant(r)
	// The same assertion again: its nonce is used up.
	r = h.extend(r, 30)
	_, err = h.svc.Act(h.as("approver@contoso.test"), r.ID, lockbox.EventExtensionApprove, lockbox.Decision{Passkey: &as})
	wantCode(t, err, lockbox.EINVALID)
	if rep := h.verifyLog("contoso"); !rep.OK() {
		t.Errorf("audit verify: %+v", rep.Problems)
	}
}
