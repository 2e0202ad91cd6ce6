package grant_test

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/grant"
)

var t0 = time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)

type fixture struct {
	kid  string
	priv ed25519.PrivateKey
	v    *grant.Verifier
}

type staticKeys map[string]ed25519.PublicKey

func (s staticKeys) Key(_ context.Context, kid string) (ed25519.PublicKey, error) {
	if k, ok := s[kid]; ok {
		return k, nil
	}
	return nil, grant.ErrUnknownKey
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	kid := "019a0000-0000-7000-8000-000000000001"
	return &fixture{kid: kid, priv: priv, v: &grant.Verifier{Keys: staticKeys{kid: pub}, Issuer: "lockbox"}}
}

func claims() *lockbox.GrantClaims {
	return &lockbox.GrantClaims{Issuer: "lockbox", Subject: "operator@provider.test", Audience: "exchange",
		Tenant: "contoso", RequestID: "0193f4c2-8a1e-7c3b-9d2f-5b7a1c9e4d10", Operations: []string{"Get-MailboxStatistics"},
		IssuedAt: t0, NotBefore: t0, ExpiresAt: t0.Add(15 * time.Minute)}
}

func (f *fixture) sign(tb testing.TB, c *lockbox.GrantClaims) string {
	tb.Helper()
	tok, err := grant.Sign(c, f.kid, f.priv)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

func TestSignVerifyRoundTrip(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	got, err := f.v.Verify(context.Background(), f.sign(t, claims()), t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(claims(), got); diff != "" {
		t.Errorf("claims (-want +got):\n%s", diff)
	}
}

func TestSignRefusesIncompleteClaims(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for name, mut := range map[string]func(c *lockbox.GrantClaims){
		"NoTenant":   func(c *lockbox.GrantClaims) { c.Tenant = "" },
		"NoOps":      func(c *lockbox.GrantClaims) { c.Operations = nil },
		"TooLong":    func(c *lockbox.GrantClaims) { c.ExpiresAt = c.IssuedAt.Add(16 * time.Minute) },
		"ExpBeforeN": func(c *lockbox.GrantClaims) { c.ExpiresAt = c.NotBefore },
	} {
		c := claims()
		mut(c)
		if _, err := grant.Sign(c, f.kid, f.priv); err == nil {
			t.Errorf("%s: signed", name)
		}
	}
}

// b64 helpers build hand-made tokens, as an attacker would.
func b64(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestVerifyRejects(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	good := f.sign(t, claims())
	parts := strings.Split(good, ".")
	var payload map[string]any
	raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
	json.Unmarshal(raw, &payload)
	withPayload := func(mut func(map[string]any)) string {
		p := map[string]any{}
		for k, v := range payload {
			p[k] = v
		}
		mut(p)
		return parts[0] + "." + b64(p) + "." + parts[2]
	}
	signedWith := func(c *lockbox.GrantClaims, kid string, priv ed25519.PrivateKey) string {
		tok, err := grant.Sign(c, kid, priv)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	_, otherPriv, _ := ed25519.GenerateKey(rand.Reader)
	hs := func() string { // HS256 keyed with the public key: the classic confusion attack
		h := b64(map[string]string{"alg": "HS256", "kid": f.kid, "typ": grant.Type})
		mac := hmac.New(sha256.New, f.priv.Public().(ed25519.PublicKey))
		mac.Write([]byte(h + "." + parts[1]))
		return h + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	}
	otherIss := claims()
	otherIss.Issuer = "evil"
	tests := map[string]struct {
		token string
		at    time.Time
	}{
		"AlgNone":        {b64(map[string]string{"alg": "none", "kid": f.kid, "typ": grant.Type}) + "." + parts[1] + ".", t0},
		"AlgHS256":       {hs(), t0},
		"WrongTyp":       {b64(map[string]string{"alg": "EdDSA", "kid": f.kid, "typ": "JWT"}) + "." + parts[1] + "." + parts[2], t0},
		"UnknownKid":     {signedWith(claims(), "019a0000-0000-7000-8000-00000000dead", otherPriv), t0},
		"WrongKey":       {signedWith(claims(), f.kid, otherPriv), t0},
		"TamperedOps":    {withPayload(func(p map[string]any) { p["ops"] = []string{"Repair-Mailbox"} }), t0},
		"TamperedTenant": {withPayload(func(p map[string]any) { p["tenant"] = "fabrikam" }), t0},
		"TamperedExp":    {withPayload(func(p map[string]any) { p["exp"] = t0.Add(24 * time.Hour).Unix() }), t0},
		"WrongIssuer":    {signedWith(otherIss, f.kid, f.priv), t0},
		"Expired":        {good, t0.Add(15 * time.Minute)},
		"NotYetValid":    {good, t0.Add(-time.Second)},
		"Empty":          {"", t0},
		"Garbage":        {"a.b.c", t0},
		"JSONSerialized": {`{"payload":"` + parts[1] + `","signatures":[]}`, t0},
		"Huge":           {strings.Repeat("a", lockbox.MaxGrantLen+1), t0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c, err := f.v.Verify(context.Background(), tc.token, tc.at)
			if code := lockbox.ErrorCode(err); code != lockbox.EUNAUTHENTICATED {
				t.Fatalf("Verify = %+v, %v; want %s", c, err, lockbox.EUNAUTHENTICATED)
			}
			t.Log(lockbox.ErrorMessage(err))
		})
	}
}

// A cached token still expires on time, and a token that failed is never
// cached.
func TestCacheHonoursTimes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.v.Cache = grant.NewCache(2)
	tok := f.sign(t, claims())
	for i := range 3 {
		if _, err := f.v.Verify(context.Background(), tok, t0.Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	if f.v.Cache.Len() != 1 {
		t.Errorf("cache holds %d tokens, want 1", f.v.Cache.Len())
	}
	if _, err := f.v.Verify(context.Background(), tok, t0.Add(15*time.Minute)); err == nil {
		t.Error("a cached token was accepted at its exp")
	}
	// Filling the cache past its bound keeps it bounded.
	for i := range 5 {
		c := claims()
		c.RequestID = strings.Repeat("x", i+1)
		f.v.Verify(context.Background(), f.sign(t, c), t0)
	}
	if n := f.v.Cache.Len(); n > 2 {
		t.Errorf("cache holds %d tokens, bound 2", n)
	}
}

func TestJWKSRoundTrip(t *testing.T) {
	t.Parallel()
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	doc, err := grant.JWKS(map[string]ed25519.PublicKey{"k1": pub})
	if err != nil {
		t.Fatal(err)
	}
	got, err := grant.ParseJWKS(doc)
	if err != nil {
		t.Fatal(err)
	}
	if !got["k1"].Equal(pub) || len(got) != 1 {
		t.Errorf("ParseJWKS = %v", got)
	}
}

func BenchmarkVerify(b *testing.B) {
	f := newFixture(b)
	tok := f.sign(b, claims())
	b.Run("Uncached", func(b *testing.B) {
		for b.Loop() {
			if _, err := f.v.Verify(context.Background(), tok, t0); err != nil {
				b.Fatal(err)
			}
		}
	})
	f.v.Cache = grant.NewCache(0)
	b.Run("Cached", func(b *testing.B) {
		for b.Loop() {
			if _, err := f.v.Verify(context.Background(), tok, t0); err != nil {
				b.Fatal(err)
			}
		}
	})
}
