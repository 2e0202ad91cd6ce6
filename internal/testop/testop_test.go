package testop_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/lockboxhq/lockbox/internal/testop"
)

// TestFaults signs in at the provider as each kind of user and checks the
// ID token with go-oidc: correct users verify, each TEST-ONLY fault breaks
// exactly what it says, and a code cannot be exchanged twice.
func TestFaults(t *testing.T) {
	t.Parallel()
	const redirect = "http://127.0.0.1:1/auth/callback"
	s, err := testop.Start("127.0.0.1:0", testop.DefaultConfig(redirect), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()
	p, err := oidc.NewProvider(ctx, s.Issuer("contoso"))
	if err != nil {
		t.Fatal(err)
	}
	conf := oauth2.Config{ClientID: testop.DefaultClientID, ClientSecret: testop.DefaultClientSecret,
		Endpoint: p.Endpoint(), RedirectURL: redirect, Scopes: []string{oidc.ScopeOpenID, "email"}}
	verifier := p.Verifier(&oidc.Config{ClientID: testop.DefaultClientID})

	signIn := func(t *testing.T, email string) (*oidc.IDToken, string, error) {
		t.Helper()
		pkce := oauth2.GenerateVerifier()
		u := conf.AuthCodeURL("st", oidc.Nonce("n0nce"), oauth2.S256ChallengeOption(pkce))
		back, err := testop.SignIn(ctx, nil, u, email, testop.DefaultPassword)
		if err != nil {
			t.Fatal(err)
		}
		q := mustQuery(t, back)
		if q.Get("state") != "st" {
			t.Fatalf("state %q", q.Get("state"))
		}
		tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(pkce))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := tok.Extra("id_token").(string)
		id, err := verifier.Verify(ctx, raw)
		return id, q.Get("code"), err
	}

	tests := []struct {
		email, wantErr       string
		verified, wrongNonce bool
	}{
		{email: "admin@contoso.test", verified: true},
		{email: "unverified@contoso.test"},
		{email: "expired@contoso.test", wantErr: "expired"},
		{email: "audience@contoso.test", wantErr: "audience"},
		{email: "nonce@contoso.test", verified: true, wrongNonce: true},
	}
	for _, tc := range tests {
		t.Run(tc.email, func(t *testing.T) {
			id, code, err := signIn(t, tc.email)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("verify: %v, want an error about %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var c struct {
				Email         string `json:"email"`
				EmailVerified bool   `json:"email_verified"`
			}
			if err := id.Claims(&c); err != nil {
				t.Fatal(err)
			}
			if c.Email != tc.email || c.EmailVerified != tc.verified {
				t.Fatalf("claims %+v", c)
			}
			if (id.Nonce != "n0nce") != tc.wrongNonce {
				t.Fatalf("nonce %q", id.Nonce)
			}
			if _, err := conf.Exchange(ctx, code); err == nil {
				t.Fatal("a code was exchanged twice")
			}
		})
	}
}

func mustQuery(t *testing.T, s string) url.Values {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

// TestDown: a provider that is down fails discovery (what Lockbox must
// turn into a clear page).
func TestDown(t *testing.T) {
	t.Parallel()
	s, err := testop.Start("127.0.0.1:0", testop.DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	s.SetDown(true)
	if _, err := oidc.NewProvider(context.Background(), s.Issuer("provider")); err == nil {
		t.Fatal("discovery worked while down")
	}
	s.SetDown(false)
	if _, err := oidc.NewProvider(context.Background(), s.Issuer("provider")); err != nil {
		t.Fatal(err)
	}
}
