package approval_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
	"github.com/lockboxhq/lockbox/internal/lockboxtest"
	"github.com/lockboxhq/lockbox/internal/testop"
	"github.com/lockboxhq/lockbox/keys"
)

// replicaWith is another Lockbox process on the same database whose key
// directory gives box.
func (h *ssoHarness) replicaWith(box lockbox.SecretBox) (*approval.Service, *approval.SSO) {
	opts := h.opts
	opts.Secrets = box
	svc := approval.New(h.store, lockbox.SystemClock{}, opts)
	return svc, svc.SSO(svc.WebSessions(approval.WebSessionOptions{}), ssoRedirect)
}

// putRaw stores contoso-style configuration for tenant as a store call,
// the way a version before sealing (or someone with database access) left
// it.
func (h *ssoHarness) putRaw(tenant, issuer, secret string) {
	h.t.Helper()
	if err := h.store.Update(context.Background(), func(tx lockbox.Tx) error {
		return tx.PutTenantSSO(context.Background(), &lockbox.TenantSSO{Tenant: tenant, Issuer: issuer,
			ClientID: testop.DefaultClientID, ClientSecret: secret, AllowedDomains: []string{tenant + ".test"}})
	}); err != nil {
		h.t.Fatal(err)
	}
}

// TestSSOSealsClearSecrets: a client secret stored in clear (by a version
// before sealing) still signs people in, and the start-up pass seals it
// once, even when two replicas run it together.
func TestSSOSealsClearSecrets(t *testing.T) {
	t.Parallel()
	h := newSSOHarness(t, false, false)
	ctx := context.Background()
	h.putRaw("contoso", h.op.Issuer("contoso"), testop.DefaultClientSecret)
	if _, err := h.signIn("approver@contoso.test", "approver@contoso.test"); err != nil {
		t.Fatalf("sign-in with a secret stored in clear: %v", err)
	}
	if n, err := h.svc.SealSecrets(ctx); err != nil || n != 1 {
		t.Fatalf("SealSecrets = %d, %v; want 1 sealed", n, err)
	}
	sealed := h.rawSSO("contoso").ClientSecret
	if c := h.storedSSO("contoso"); c.ClientSecret != testop.DefaultClientSecret {
		t.Errorf("sealed secret opens to %q", c.ClientSecret)
	}
	if n, err := h.svc.SealSecrets(ctx); err != nil || n != 0 || h.rawSSO("contoso").ClientSecret != sealed {
		t.Errorf("second SealSecrets = %d, %v; want nothing sealed, nothing changed", n, err)
	}
	if _, err := h.signIn("approver@contoso.test", "approver@contoso.test"); err != nil {
		t.Fatalf("sign-in with the sealed secret: %v", err)
	}

	// Two replicas starting together seal it once. Whether their passes
	// interleave is up to the scheduler; the compare-and-set that makes
	// this hold is checked deterministically by the stores' conformance
	// suite (ListAndReplaceSecret).
	h.putRaw("contoso", h.op.Issuer("contoso"), testop.DefaultClientSecret)
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for range 2 {
		svc, _ := h.replicaWith(h.opts.Secrets)
		wg.Go(func() {
			n, err := svc.SealSecrets(ctx)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			total += n
			mu.Unlock()
		})
	}
	wg.Wait()
	if total != 1 || h.storedSSO("contoso").ClientSecret != testop.DefaultClientSecret {
		t.Errorf("two replicas sealed %d times, want 1", total)
	}
}

// TestSSOSecretOpensOnlyWhereItBelongs: a sealed secret copied to another
// tenant's row, or left behind when the issuer is changed in the database,
// does not open, so it is never sent to another IdP; nor does it open on a
// replica with another key directory, which says who can fix it.
func TestSSOSecretOpensOnlyWhereItBelongs(t *testing.T) {
	t.Parallel()
	h := newSSOHarness(t, false, false)
	ctx := context.Background()
	in := h.contosoIdP()
	sealed := h.rawSSO("contoso").ClientSecret

	h.putRaw("fabrikam", h.op.Issuer("contoso"), sealed)
	if _, err := h.signIn("admin@fabrikam.test", "admin@contoso.test"); lockbox.ErrorCode(err) != lockbox.EUNAVAILABLE {
		t.Errorf("sign-in with a secret copied from another tenant: %v, want unavailable", err)
	}
	if n, err := h.svc.SealSecrets(ctx); err != nil || n != 0 || h.rawSSO("fabrikam").ClientSecret != sealed {
		t.Errorf("SealSecrets = %d, %v; want a secret that does not open left as it is", n, err)
	}
	h.putRaw("contoso", h.op.Issuer("provider"), sealed)
	if _, err := h.signIn("approver@contoso.test", "approver@contoso.test"); lockbox.ErrorCode(err) != lockbox.EUNAVAILABLE {
		t.Errorf("sign-in after the issuer was changed in the database: %v, want unavailable", err)
	}

	h.contosoIdP()
	_, other := h.replicaWith(lockboxtest.SecretBox(t))
	_, err := h.signInAt(other, "approver@contoso.test", "approver@contoso.test")
	if lockbox.ErrorCode(err) != lockbox.EUNAVAILABLE || !strings.Contains(lockbox.ErrorMessage(err), "global admin can set the secret again") {
		t.Errorf("sign-in on a replica with other keys: %v, want unavailable, saying who can fix it", err)
	}
	admin := h.as("admin@contoso.test")
	keep := in
	keep.ClientSecret = ""
	if _, err := other.PutTenantSSO(admin, "contoso", keep); lockbox.ErrorCode(err) != lockbox.EINVALID || lockbox.ErrorField(err) != "client_secret" {
		t.Errorf("PUT keeping a secret this replica cannot open: %v, want invalid on client_secret", err)
	}
	if _, err := other.PutTenantSSO(admin, "contoso", in); err != nil {
		t.Fatalf("PUT giving the secret again: %v", err)
	}
	if _, err := h.signInAt(other, "approver@contoso.test", "approver@contoso.test"); err != nil {
		t.Errorf("sign-in after the secret was given again: %v", err)
	}
}

// TestSSOSecretsResealedAfterRotation: after a grant key rotation the
// start-up pass seals every secret again under the new key, so the old
// key is no longer needed for them.
func TestSSOSecretsResealedAfterRotation(t *testing.T) {
	t.Parallel()
	h := newSSOHarness(t, false, false)
	dir := t.TempDir()
	ring, err := keys.Generate(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, before := h.replicaWith(ring.SecretBox())
	if _, err := before.PutTenantSSO(h.as("admin@contoso.test"), "contoso", h.contosoInput()); err != nil {
		t.Fatal(err)
	}
	oldKID, _ := ring.GrantSigner()
	if raw := h.rawSSO("contoso").ClientSecret; !strings.HasPrefix(raw, lockbox.SealedPrefix+oldKID+".") {
		t.Fatalf("stored %q, want sealed with grant key %s", raw, oldKID)
	}
	if ring, err = keys.Rotate(dir, keys.KindGrant); err != nil {
		t.Fatal(err)
	}
	afterSvc, after := h.replicaWith(ring.SecretBox())
	if n, err := afterSvc.SealSecrets(context.Background()); err != nil || n != 1 {
		t.Fatalf("SealSecrets after a rotation = %d, %v; want 1", n, err)
	}
	newKID, _ := ring.GrantSigner()
	if raw := h.rawSSO("contoso").ClientSecret; !strings.HasPrefix(raw, lockbox.SealedPrefix+newKID+".") {
		t.Errorf("stored %q, want sealed with the new grant key %s", raw, newKID)
	}
	if _, err := h.signInAt(after, "approver@contoso.test", "approver@contoso.test"); err != nil {
		t.Errorf("sign-in after the rotation: %v", err)
	}
}
