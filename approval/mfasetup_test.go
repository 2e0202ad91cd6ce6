package approval_test

import (
	"context"
	"strings"
	"testing"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
	"github.com/lockboxhq/lockbox/internal/passkeytest"
)

// TestPasskeySetupWebSession: in a require_mfa tenant, a user without a
// passkey gets a web session that may register one and nothing else; once
// registered the session is a full one and the next sign-in asks for the
// passkey. The mark is part of the secret: dropping it from the token
// leaves no session at all.
func TestPasskeySetupWebSession(t *testing.T) {
	t.Parallel()
	h := newPasskeyHarness(t)
	ctx := context.Background()
	on := true
	if _, err := h.svc.UpdateSettings(h.as("admin@contoso.test"), "contoso", lockbox.SettingsPatch{RequireMFA: &on}); err != nil {
		t.Fatal(err)
	}
	web := h.svc.WebSessions(approval.WebSessionOptions{})
	token, _, err := web.SignIn(ctx, "approver@contoso.test", approval.DevPassword)
	if err != nil {
		t.Fatalf("require_mfa, no passkey: %v", err)
	}
	u, _, err := web.ResumeWebSession(ctx, token)
	if err != nil || !u.PasskeySetupRequired {
		t.Fatalf("session user %+v, %v: want a passkey setup session", u, err)
	}
	if _, _, err := web.ResumeWebSession(ctx, strings.Replace(token, "m_", "_", 1)); lockbox.ErrorCode(err) != lockbox.EUNAUTHENTICATED {
		t.Fatalf("the token without its mark: %v, want unauthenticated", err)
	}
	as := lockbox.NewContextWithUser(ctx, u)
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"list requests", func() error { _, err := h.svc.ListRequests(as, lockbox.RequestFilter{}); return err }, lockbox.EMFAREQUIRED},
		{"read settings", func() error { _, err := h.svc.GetSettings(as, "contoso"); return err }, lockbox.EMFAREQUIRED},
		{"my tokens", func() error { _, err := h.svc.ListMyTokens(as); return err }, lockbox.EMFAREQUIRED},
		{"remove a passkey", func() error { return h.svc.RemovePasskey(as, "AAAA") }, lockbox.EMFAREQUIRED},
		{"list passkeys", func() error { _, err := h.svc.ListPasskeys(as); return err }, ""},
	}
	for _, tt := range tests {
		if got := lockbox.ErrorCode(tt.call()); got != tt.want {
			t.Errorf("%s: code %q, want %q", tt.name, got, tt.want)
		}
	}
	a := passkeytest.New(pkRPID, pkOrigin)
	b, err := h.svc.BeginPasskey(as)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := a.Register(b.Options)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.FinishPasskey(as, "laptop", resp); err != nil {
		t.Fatal(err)
	}
	if u, _, err := web.ResumeWebSession(ctx, token); err != nil || u.PasskeySetupRequired {
		t.Fatalf("after registering: %+v, %v; want a full session", u, err)
	}
	if _, _, err := web.SignIn(ctx, "approver@contoso.test", approval.DevPassword); lockbox.ErrorCode(err) != lockbox.EPASSKEYREQUIRED {
		t.Fatalf("sign-in after registering: %v, want passkey_required", err)
	}
	// Without the requirement nobody gets a setup session.
	if sess, err := h.svc.Login(ctx, "operator@provider.test", approval.DevPassword); err != nil || sess.PasskeySetupRequired || strings.HasPrefix(sess.Token, "lbtm_") {
		t.Fatalf("staff, no --require-mfa: %+v, %v", sess, err)
	}
}
