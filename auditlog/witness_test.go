package auditlog

import (
	"crypto/ed25519"
	"crypto/rand"
	"strings"
	"testing"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"
)

// TestCosignatureVerifier checks ours against torchwood's cosignature/v1
// signer (c2sp.org/tlog-cosignature): what it signs verifies, what it did
// not sign does not, and malformed keys are refused.
func TestCosignatureVerifier(t *testing.T) {
	t.Parallel()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, err := torchwood.NewCosignatureSigner("witness.test/w", priv)
	if err != nil {
		t.Fatal(err)
	}
	vkey := signer.Verifier().String()
	v, err := NewCosignatureVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	logSigner, logKey, _ := note.GenerateKey(rand.Reader, "log.test")
	ls, _ := note.NewSigner(logSigner)
	var root [32]byte
	msg, err := SignCheckpoint(ls, "log.test/a", 3, root)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := note.Open(msg, note.VerifierList(mustVerifier(t, logKey)))
	cosigned, err := note.Sign(n, ls, signer)
	if err != nil {
		t.Fatal(err)
	}
	if got := CountCosignatures(cosigned, []note.Verifier{v}); got != 1 {
		t.Errorf("cosigned checkpoint: %d valid cosignatures, want 1", got)
	}
	if got := CountCosignatures(msg, []note.Verifier{v}); got != 0 {
		t.Errorf("checkpoint without cosignature: %d, want 0", got)
	}
	forged := strings.Replace(string(cosigned), "\n3\n", "\n4\n", 1)
	if got := CountCosignatures([]byte(forged), []note.Verifier{v}); got != 0 {
		t.Errorf("altered checkpoint: %d valid cosignatures, want 0", got)
	}

	for _, bad := range []string{
		"", "witness.test/w", logKey, // an Ed25519 note key is not a cosignature key
		strings.Replace(vkey, "witness.test/w+", "witness.test/x+", 1), // hash does not match the name
		vkey[:len(vkey)-4],
	} {
		if _, err := NewCosignatureVerifier(bad); err == nil {
			t.Errorf("NewCosignatureVerifier(%q) accepted", bad)
		}
	}
	for _, bad := range []string{
		"witness.test/w http://127.0.0.1:1", "witness.test/w ftp://x " + vkey,
		"witness.test/other http://127.0.0.1:1 " + vkey,
	} {
		if _, err := ParseWitness(bad); err == nil {
			t.Errorf("ParseWitness(%q) accepted", bad)
		}
	}
	if w, err := ParseWitness("witness.test/w http://127.0.0.1:1/ " + vkey); err != nil || w.URL != "http://127.0.0.1:1" {
		t.Errorf("ParseWitness: %+v, %v", w, err)
	}
}

func mustVerifier(t *testing.T, key string) note.Verifier {
	t.Helper()
	v, err := note.NewVerifier(key)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
