package approval_test

import (
	"context"
	"strings"
	"testing"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
	"github.com/lockboxhq/lockbox/internal/lockboxtest"
)

// TestWebhookSecretSealed: a webhook's signing secret, shown once at
// creation, is stored sealed; deliveries get it opened; a replica with
// other keys cannot open it (deliveries wait, nothing goes out unsigned);
// a secret stored in clear by an older version is sealed by SealSecrets;
// a sealed value moved to another endpoint, or an IdP's sealed secret put
// in a webhook's row, does not open.
func TestWebhookSecretSealed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openTestStore(t)
	opts := approval.Options{PasswordMemoryKiB: 64, PasswordTime: 1, Resolver: lockboxtest.DNS, Secrets: lockboxtest.SecretBox(t)}
	svc := approval.New(st, lockbox.SystemClock{}, opts)
	if err := svc.SeedDev(ctx); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, store: st, svc: svc}
	admin := h.as("admin@contoso.test")
	w, err := svc.CreateWebhook(admin, "contoso", lockbox.NewWebhook{URL: "https://hooks.example.com/x"})
	if err != nil {
		t.Fatal(err)
	}
	stored := func(id string) string {
		t.Helper()
		var secret string
		if err := st.View(ctx, func(tx lockbox.Tx) (err error) { _, secret, err = tx.GetWebhook(ctx, "contoso", id); return err }); err != nil {
			t.Fatal(err)
		}
		return secret
	}
	raw := stored(w.ID)
	if !strings.HasPrefix(raw, lockbox.SealedPrefix) || strings.Contains(raw, strings.TrimPrefix(w.Secret, "whsec_")) {
		t.Fatalf("stored secret %q: want it sealed", raw)
	}
	if _, secret, err := svc.WebhookForDelivery(ctx, "contoso", w.ID); err != nil || secret != w.Secret {
		t.Fatalf("WebhookForDelivery = %q, %v; want the secret shown at creation", secret, err)
	}
	other := opts
	other.Secrets = lockboxtest.SecretBox(t)
	if _, _, err := approval.New(st, lockbox.SystemClock{}, other).WebhookForDelivery(ctx, "contoso", w.ID); lockbox.ErrorCode(err) != lockbox.EUNAVAILABLE {
		t.Errorf("delivery on a replica with other keys: %v, want unavailable", err)
	}

	// Stored in clear by an older version: delivered as is, then sealed.
	legacy := &lockbox.Webhook{ID: "wh-legacy", Tenant: "contoso", URL: "https://hooks.example.com/y", Events: []string{}, CreatedBy: "admin@contoso.test"}
	moved := &lockbox.Webhook{ID: "wh-moved", Tenant: "contoso", URL: "https://hooks.example.com/z", Events: []string{}, CreatedBy: "admin@contoso.test"}
	if err := st.Update(ctx, func(tx lockbox.Tx) error {
		if err := tx.InsertWebhook(ctx, legacy, "whsec_c2VjcmV0LWluLWNsZWFy"); err != nil {
			return err
		}
		return tx.InsertWebhook(ctx, moved, raw) // w's sealed secret, in another row
	}); err != nil {
		t.Fatal(err)
	}
	if _, secret, err := svc.WebhookForDelivery(ctx, "contoso", legacy.ID); err != nil || secret != "whsec_c2VjcmV0LWluLWNsZWFy" {
		t.Errorf("delivery with a secret stored in clear = %q, %v", secret, err)
	}
	if _, _, err := svc.WebhookForDelivery(ctx, "contoso", moved.ID); lockbox.ErrorCode(err) != lockbox.EUNAVAILABLE {
		t.Errorf("delivery with a secret moved from another endpoint: %v, want unavailable", err)
	}
	if n, err := svc.SealSecrets(ctx); err != nil || n != 1 {
		t.Fatalf("SealSecrets = %d, %v; want the clear one sealed", n, err)
	}
	if raw := stored(legacy.ID); !strings.HasPrefix(raw, lockbox.SealedPrefix) {
		t.Errorf("after SealSecrets: %q, want sealed", raw)
	}
	if stored(moved.ID) != raw {
		t.Error("SealSecrets changed a secret that does not open")
	}
	if _, secret, err := svc.WebhookForDelivery(ctx, "contoso", legacy.ID); err != nil || secret != "whsec_c2VjcmV0LWluLWNsZWFy" {
		t.Errorf("delivery after sealing = %q, %v", secret, err)
	}
}
