package keys

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lockboxhq/lockbox"
)

func TestSecretBoxSealsAndOpens(t *testing.T) {
	t.Parallel()
	r := mustGenerate(t)
	box := r.SecretBox()
	aad := []byte("contoso\x00https://idp.contoso.test\x00lockbox")
	sealed, err := box.Seal("s3cret-value", aad)
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := r.GrantSigner()
	if !strings.HasPrefix(sealed, lockbox.SealedPrefix+kid+".") || !strings.HasPrefix(sealed, box.Current()) || strings.Contains(sealed, "s3cret") {
		t.Fatalf("sealed = %q, want %s%s.<ciphertext> without the secret", sealed, lockbox.SealedPrefix, kid)
	}
	again, _ := box.Seal("s3cret-value", aad)
	if again == sealed {
		t.Error("two seals of one secret are equal: the nonce is not random")
	}
	got, stale, err := box.Open(sealed, aad)
	if err != nil || got != "s3cret-value" || stale {
		t.Fatalf("Open = %q, stale %v, %v; want the secret, not stale", got, stale, err)
	}
	// Another directory's keys do not open it.
	if _, _, err := mustGenerate(t).SecretBox().Open(sealed, aad); err == nil || !strings.Contains(err.Error(), "not in the key directory") {
		t.Errorf("Open with other keys: %v, want the missing key named", err)
	}
}

func TestSecretBoxRefusesChangedValues(t *testing.T) {
	t.Parallel()
	box := mustGenerate(t).SecretBox()
	aad := []byte("contoso\x00https://idp.contoso.test\x00lockbox")
	sealed, err := box.Seal("s3cret-value", aad)
	if err != nil {
		t.Fatal(err)
	}
	flipped := []byte(sealed)
	flipped[len(flipped)-3] ^= 'A' ^ 'B'
	if flipped[len(flipped)-3] == sealed[len(sealed)-3] {
		flipped[len(flipped)-3] = 'C'
	}
	for _, tt := range []struct {
		name, value string
		aad         []byte
	}{
		{"another record", sealed, []byte("fabrikam\x00https://idp.contoso.test\x00lockbox")},
		{"another issuer", sealed, []byte("contoso\x00https://evil.test\x00lockbox")},
		{"changed ciphertext", string(flipped), aad},
		{"cut", sealed[:len(lockbox.SealedPrefix)+40], aad},
		{"no kid", lockbox.SealedPrefix + "abc", aad},
		{"not base64", sealed + "!", aad},
	} {
		if got, _, err := box.Open(tt.value, tt.aad); err == nil {
			t.Errorf("%s: Open = %q, want an error", tt.name, got)
		}
	}
}

func TestSecretBoxStaleAfterRotationAndClear(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r, err := Generate(dir)
	if err != nil {
		t.Fatal(err)
	}
	aad := []byte("contoso")
	old, err := r.SecretBox().Seal("s3cret-value", aad)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := Rotate(dir, KindGrant)
	if err != nil {
		t.Fatal(err)
	}
	box := r2.SecretBox()
	if got, stale, err := box.Open(old, aad); err != nil || got != "s3cret-value" || !stale {
		t.Errorf("Open of a value of the old key = %q, stale %v, %v; want the secret, stale", got, stale, err)
	}
	resealed, _ := box.Seal("s3cret-value", aad)
	if got, stale, err := box.Open(resealed, aad); err != nil || got != "s3cret-value" || stale {
		t.Errorf("Open of a value of the new key = %q, stale %v, %v; want the secret, not stale", got, stale, err)
	}
	// A value stored in clear, before sealing existed.
	if got, stale, err := box.Open("clear-secret", aad); err != nil || got != "clear-secret" || !stale {
		t.Errorf("Open of a clear value = %q, stale %v, %v; want it as is, stale", got, stale, err)
	}
	// The old grant key removed: the old value names it.
	oldKID := r.Keys(KindGrant)[0].KID
	if err := os.Remove(filepath.Join(dir, "grant-"+oldKID+".pem")); err != nil {
		t.Fatal(err)
	}
	r3, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := r3.SecretBox().Open(old, aad); err == nil || !strings.Contains(err.Error(), oldKID) {
		t.Errorf("Open without the old key: %v, want an error naming %s", err, oldKID)
	}
}

// TestSecretBoxOpensAKeyRotatedElsewhere: during a rolling rotation a
// replica still running with the old ring opens a value another replica
// sealed under the new key, once the directory holding it was copied here.
func TestSecretBoxOpensAKeyRotatedElsewhere(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	running, err := Generate(dir)
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := Rotate(dir, KindGrant)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := rotated.SecretBox().Seal("s3cret-value", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, stale, err := running.SecretBox().Open(sealed, nil); err != nil || got != "s3cret-value" || stale {
		t.Errorf("Open on the replica not yet restarted = %q, stale %v, %v; want the secret", got, stale, err)
	}
}
