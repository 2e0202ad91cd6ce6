package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
	"github.com/lockboxhq/lockbox/internal/passkeytest"
	"github.com/lockboxhq/lockbox/server"
)

// TestPasskeySetupSessionRegistersOnly: in a require_mfa tenant, a user
// without a passkey signs in with the password to a session that can list
// and register passkeys (and sign out, change the password) and nothing
// else: every other route answers 403 mfa_required. Once a passkey is
// registered the session does everything, and the next password sign-in
// asks for the passkey.
func TestPasskeySetupSessionRegistersOnly(t *testing.T) {
	t.Parallel()
	m := newMatrix(t)
	on := true
	if _, err := m.svc.UpdateSettings(m.ctxOf("admin@contoso.test"), "contoso", lockbox.SettingsPatch{RequireMFA: &on}); err != nil {
		t.Fatal(err)
	}
	call := func(method, path, token string, body any) *httptest.ResponseRecorder {
		t.Helper()
		var r io.Reader = strings.NewReader("{}")
		if body != nil {
			b, err := json.Marshal(body)
			if err != nil {
				t.Fatal(err)
			}
			r = bytes.NewReader(b)
		}
		req := httptest.NewRequest(method, path, r)
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		m.handler.ServeHTTP(rec, req)
		return rec
	}
	password := map[string]string{"email": "approver@contoso.test", "password": approval.DevPassword}
	rec := call("POST", "/v1/auth/token", "", password)
	if rec.Code != http.StatusOK {
		t.Fatalf("require_mfa, no passkey, right password: %d %s, want 200 with a setup session", rec.Code, rec.Body)
	}
	sess := decode[lockbox.Session](t, rec.Body.Bytes())
	if !sess.PasskeySetupRequired || sess.PasswordChangeRequired {
		t.Fatalf("session = %+v, want passkey_setup_required only", sess)
	}
	for _, route := range server.Routes(true) {
		if route.Public || route.OneTime || route.PasskeySetup {
			continue
		}
		t.Run(route.Method+" "+route.Pattern, func(t *testing.T) {
			path := strings.NewReplacer("{id}", "x", "{tenant}", "contoso", "{email}", "a@b.test", "{credential}", "AAAA",
				"{name}", "svc", "{service}", "exchange", "{file}", "x").Replace(route.Pattern)
			rec := call(route.Method, path, sess.Token, nil)
			if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), `"mfa_required"`) {
				t.Errorf("got %d %s, want 403 mfa_required", rec.Code, rec.Body)
			}
		})
	}
	// What it can do: list (none yet), then register one.
	if rec := call("GET", "/v1/me/passkeys", sess.Token, nil); rec.Code != http.StatusOK {
		t.Fatalf("list passkeys: %d %s", rec.Code, rec.Body)
	}
	rec = call("POST", "/v1/me/passkeys/begin", sess.Token, nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("begin: %d %s", rec.Code, rec.Body)
	}
	a := passkeytest.New(testRPID, testRPOrigin)
	resp, err := a.Register(decode[lockbox.PasskeyBegin](t, rec.Body.Bytes()).Options)
	if err != nil {
		t.Fatal(err)
	}
	rec = call("POST", "/v1/me/passkeys/finish", sess.Token, map[string]any{"name": "laptop", "credential": json.RawMessage(resp)})
	if rec.Code != http.StatusCreated {
		t.Fatalf("finish: %d %s", rec.Code, rec.Body)
	}
	// With a passkey the same session does everything.
	if rec := call("GET", "/v1/me", sess.Token, nil); rec.Code != http.StatusOK {
		t.Errorf("GET /v1/me after registering: %d %s", rec.Code, rec.Body)
	}
	// And the password alone no longer signs in: the passkey step does.
	rec = call("POST", "/v1/auth/token", "", password)
	if p := decode[signInProblem](t, rec.Body.Bytes()); rec.Code != http.StatusUnauthorized || p.Code != lockbox.EPASSKEYREQUIRED || p.Passkey == nil {
		t.Fatalf("password after registering: %d %s, want 401 passkey_required", rec.Code, rec.Body)
	}
	if rec := call("POST", "/v1/auth/logout", sess.Token, nil); rec.Code != http.StatusNoContent {
		t.Errorf("logout: %d %s", rec.Code, rec.Body)
	}
}

// TestPasskeySetupAfterOneTimePassword: a reset account in a require_mfa
// tenant first changes its one-time password (nothing else, passkeys
// included), then registers a passkey with the same token.
func TestPasskeySetupAfterOneTimePassword(t *testing.T) {
	t.Parallel()
	m := newMatrix(t)
	on := true
	admin := m.ctxOf("admin@contoso.test")
	if _, err := m.svc.UpdateSettings(admin, "contoso", lockbox.SettingsPatch{RequireMFA: &on}); err != nil {
		t.Fatal(err)
	}
	otp, err := m.svc.ResetTenantUserPassword(admin, "contoso", "approver@contoso.test")
	if err != nil {
		t.Fatal(err)
	}
	sess, err := m.svc.Login(context.Background(), "approver@contoso.test", otp.Password)
	if err != nil || !sess.PasswordChangeRequired || !sess.PasskeySetupRequired {
		t.Fatalf("one-time password, require_mfa: %+v, %v; want both steps", sess, err)
	}
	ctx := lockbox.NewContextWithCredential(context.Background(), sess.Token)
	u, err := m.svc.Authenticate(ctx, sess.Token)
	if err != nil {
		t.Fatal(err)
	}
	ctx = lockbox.NewContextWithUser(ctx, u)
	if _, err := m.svc.BeginPasskey(ctx); lockbox.ErrorCode(err) != lockbox.EPASSWORDCHANGE {
		t.Fatalf("passkey before the password change: %v, want password_change_required", err)
	}
	if err := m.svc.ChangePassword(ctx, lockbox.PasswordChange{Current: otp.Password, New: "correct horse battery staple"}); err != nil {
		t.Fatal(err)
	}
	if u, err = m.svc.Authenticate(ctx, sess.Token); err != nil || u.PasswordChangeRequired || !u.PasskeySetupRequired {
		t.Fatalf("after the change: %+v, %v; want the passkey step left", u, err)
	}
	ctx = lockbox.NewContextWithUser(ctx, u)
	if _, err := m.svc.ListRequests(ctx, lockbox.RequestFilter{}); lockbox.ErrorCode(err) != lockbox.EMFAREQUIRED {
		t.Fatalf("list requests before a passkey: %v, want mfa_required", err)
	}
	if _, err := m.svc.BeginPasskey(ctx); err != nil {
		t.Fatalf("begin a passkey after the change: %v", err)
	}
}
