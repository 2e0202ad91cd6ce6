package passkey_test

import (
	"crypto/sha256"
	"testing"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/internal/passkeytest"
	"github.com/lockboxhq/lockbox/passkey"
)

func register(t *testing.T, rp *passkey.RelyingParty, a *passkeytest.Authenticator, u *lockbox.User) *lockbox.Passkey {
	t.Helper()
	opts, state, err := rp.BeginRegistration(u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := a.Register(opts)
	if err != nil {
		t.Fatal(err)
	}
	p, err := rp.FinishRegistration(u, state, resp)
	if err != nil {
		t.Fatalf("FinishRegistration: %v", err)
	}
	return p
}

func TestRegisterAndAssert(t *testing.T) {
	t.Parallel()
	rp, err := passkey.New("https://lockbox.example:8443", "")
	if err != nil {
		t.Fatal(err)
	}
	u := &lockbox.User{ID: "u1", Email: "ann@contoso.test"}
	a := passkeytest.New("lockbox.example", "https://lockbox.example:8443")
	p := register(t, rp, a, u)
	if p.ID != a.CredentialID() {
		t.Errorf("credential id = %q, want %q", p.ID, a.CredentialID())
	}
	ch := sha256.Sum256([]byte("statement"))
	good := a.Assert(ch[:])
	if _, err := rp.VerifyAssertion(p, ch[:], good); err != nil {
		t.Fatalf("VerifyAssertion: %v", err)
	}
	if err := passkey.VerifyOffline(p.PublicKey, "lockbox.example", ch[:], good); err != nil {
		t.Fatalf("VerifyOffline: %v", err)
	}
	other := sha256.Sum256([]byte("another statement"))
	phish := passkeytest.New("lockbox.example", "https://evil.example")
	cases := map[string]struct {
		challenge []byte
		a         lockbox.PasskeyAssertion
		key       *lockbox.Passkey
	}{
		"OtherChallenge": {other[:], a.Assert(ch[:]), p},
		"OtherOrigin":    {ch[:], a.AssertAt("https://evil.example", ch[:]), p},
		"OtherKey":       {ch[:], phish.Assert(ch[:]), &lockbox.Passkey{ID: phish.CredentialID(), PublicKey: p.PublicKey}},
		"Tampered": {ch[:], func() lockbox.PasskeyAssertion {
			x := a.Assert(ch[:])
			x.Signature = good.Signature
			return x
		}(), p},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := rp.VerifyAssertion(tc.key, tc.challenge, tc.a); lockbox.ErrorCode(err) != lockbox.EINVALID {
				t.Errorf("VerifyAssertion = %v, want invalid", err)
			}
		})
	}
	// A repeated counter is a cloned authenticator.
	p.SignCount = 100
	if _, err := rp.VerifyAssertion(p, ch[:], a.Assert(ch[:])); lockbox.ErrorCode(err) != lockbox.EINVALID {
		t.Errorf("a counter behind the stored one verified: %v", err)
	}
}

func TestRegistrationNeedsUserVerification(t *testing.T) {
	t.Parallel()
	rp, err := passkey.New("http://localhost:8080", "")
	if err != nil {
		t.Fatal(err)
	}
	a := passkeytest.New("localhost", "http://localhost:8080")
	a.NoUV = true
	u := &lockbox.User{ID: "u1", Email: "ann@contoso.test"}
	opts, state, _ := rp.BeginRegistration(u, nil)
	resp, _ := a.Register(opts)
	if _, err := rp.FinishRegistration(u, state, resp); lockbox.ErrorCode(err) != lockbox.EINVALID {
		t.Errorf("registration without user verification = %v, want invalid", err)
	}
}
