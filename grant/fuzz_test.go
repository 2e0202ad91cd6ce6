package grant_test

import (
	"context"
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/grant"
)

// fuzzSeed is a fixed key, so the committed corpus (testdata/fuzz) holds
// tokens that are genuinely signed by the key the fuzz target verifies with.
var fuzzSeed = []byte("lockbox-grant-fuzz-seed-32-bytes")

// FuzzVerifyMutations feeds altered grant tokens to the verifier. The one
// valid token is the seed itself: any other input that verifies must carry
// exactly the signed claims (a re-encoding of the same signed bytes), so no
// mutation can grant anything the key did not sign.
//
//	go test ./grant/ -run '^$' -fuzz FuzzVerifyMutations -fuzztime 200000x
func FuzzVerifyMutations(f *testing.F) {
	priv := ed25519.NewKeyFromSeed(fuzzSeed)
	const kid = "019a0000-0000-7000-8000-000000000001"
	v := &grant.Verifier{Keys: staticKeys{kid: priv.Public().(ed25519.PublicKey)}, Issuer: "lockbox"}
	valid, err := grant.Sign(claims(), kid, priv)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add(valid + "=")
	f.Add(valid[:len(valid)-4])
	f.Fuzz(func(t *testing.T, token string) {
		c, err := v.Verify(context.Background(), token, t0.Add(time.Minute))
		if err != nil {
			if c != nil && lockbox.ErrorCode(err) != lockbox.EUNAUTHENTICATED {
				t.Fatalf("claims returned with a non-authentication error: %v", err)
			}
			return
		}
		if token == valid {
			return
		}
		// Accepted something other than the signed token: it must say
		// exactly what was signed, or the signature check is broken.
		want := claims()
		if c.Tenant != want.Tenant || c.RequestID != want.RequestID || c.Audience != want.Audience ||
			c.Subject != want.Subject || len(c.Operations) != 1 || c.Operations[0] != want.Operations[0] ||
			!c.ExpiresAt.Equal(want.ExpiresAt) {
			t.Fatalf("accepted an altered token %q with claims %+v", token, c)
		}
		t.Fatalf("accepted an altered encoding of the signed token: %q", token)
	})
}

// TestEverySingleCharacterChangeRejected is the deterministic part of the
// mutation test, run on every `go test`: each character of a valid token
// replaced by each of a set of others (base64url letters, separators,
// padding) must be refused.
func TestEverySingleCharacterChangeRejected(t *testing.T) {
	t.Parallel()
	priv := ed25519.NewKeyFromSeed(fuzzSeed)
	const kid = "019a0000-0000-7000-8000-000000000001"
	v := &grant.Verifier{Keys: staticKeys{kid: priv.Public().(ed25519.PublicKey)}, Issuer: "lockbox"}
	valid, err := grant.Sign(claims(), kid, priv)
	if err != nil {
		t.Fatal(err)
	}
	tried := 0
	for i := range len(valid) {
		for _, c := range []byte("AQgw_-.=x9 ") {
			if valid[i] == c {
				continue
			}
			mutated := valid[:i] + string(c) + valid[i+1:]
			tried++
			if _, err := v.Verify(context.Background(), mutated, t0.Add(time.Minute)); err == nil {
				t.Errorf("accepted the token with byte %d changed to %q", i, c)
			}
		}
	}
	t.Logf("%d mutations, none accepted", tried)
}
