package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
	"github.com/lockboxhq/lockbox/internal/passkeytest"
	"github.com/lockboxhq/lockbox/passkey"
	"github.com/lockboxhq/lockbox/server"
)

const (
	testRPOrigin = "http://localhost:8080"
	testRPID     = "localhost"
)

func testRP(tb testing.TB) *passkey.RelyingParty {
	tb.Helper()
	rp, err := passkey.New(testRPOrigin, "")
	if err != nil {
		tb.Fatal(err)
	}
	return rp
}

// personOnly: every signed-in person, on their own account; a service
// account has no passkeys.
func personOnly(p principal, _ string) outcome {
	if p.is("service_account") {
		return forbidden
	}
	return allowed
}

// register gives the account of email a passkey through the service.
func (m *matrix) register(email string) *passkeytest.Authenticator {
	a := passkeytest.New(testRPID, testRPOrigin)
	ctx := m.ctxOf(email)
	b, err := m.svc.BeginPasskey(ctx)
	if err != nil {
		m.t.Fatal(err)
	}
	resp, err := a.Register(b.Options)
	if err != nil {
		m.t.Fatal(err)
	}
	if _, err := m.svc.FinishPasskey(ctx, "key", resp); err != nil {
		m.t.Fatal(err)
	}
	return a
}

// passkeyCall prepares p's call of a passkey route: a ceremony of p's own
// to finish, a passkey of p's own to remove, a passkey to sign with.
func (m *matrix) passkeyCall(p principal, route server.Route, path string, body any) (string, any) {
	key := route.Method + " " + route.Pattern
	person := p.email != "" && !p.is("service_account")
	switch {
	case key == "POST /v1/me/passkeys" || key == "POST /v1/me/passkeys/finish":
		if !person {
			return path, map[string]any{"name": "x", "credential": map[string]any{}}
		}
		a := passkeytest.New(testRPID, testRPOrigin)
		b, err := m.svc.BeginPasskey(m.ctxOf(p.email))
		if err != nil {
			m.t.Fatal(err)
		}
		resp, err := a.Register(b.Options)
		if err != nil {
			m.t.Fatal(err)
		}
		return path, map[string]any{"name": "laptop", "credential": json.RawMessage(resp)}
	case key == "DELETE /v1/me/passkeys/{credential}":
		id := "AAAA"
		if person {
			id = m.register(p.email).CredentialID()
		}
		return strings.ReplaceAll(path, "{credential}", id), body
	case key == "POST /v1/requests/{id}/decision-challenge":
		if person && p.tenant != "" {
			m.register(p.email)
		}
		return path, map[string]any{"decision": "approve"}
	}
	return path, body
}

// TestPasskeyNotOfAnotherAccount: the provider admin (or anyone) cannot
// remove a tenant user's passkey; the credential id answers 404.
func TestPasskeyNotOfAnotherAccount(t *testing.T) {
	t.Parallel()
	m := newMatrix(t)
	a := m.register("approver@contoso.test")
	for _, who := range []string{"provider_admin", "global_admin"} {
		req := httptest.NewRequest("DELETE", "/v1/me/passkeys/"+a.CredentialID(), nil)
		req.Header.Set("Authorization", "Bearer "+m.tokens[who])
		rec := httptest.NewRecorder()
		m.handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusNotFound {
			t.Errorf("%s removing another's passkey: %d %s", who, rec.Code, rec.Body)
		}
	}
	keys, err := m.svc.ListPasskeys(m.ctxOf("approver@contoso.test"))
	if err != nil || len(keys) != 1 {
		t.Errorf("the approver's passkeys: %v, %v", keys, err)
	}
}

// TestSignedApprovalOverHTTP: a require_signed_decisions tenant's
// approval over the API, with a decision challenge and the assertion in
// the body; without it, 403 signed_decision_required.
func TestSignedApprovalOverHTTP(t *testing.T) {
	t.Parallel()
	m := newMatrix(t)
	a := m.register("approver@contoso.test")
	on := true
	if _, err := m.svc.UpdateSettings(m.ctxOf("admin@contoso.test"), "contoso", lockbox.SettingsPatch{RequireSignedDecisions: &on}); err != nil {
		t.Fatal(err)
	}
	r := m.request("contoso", lockbox.StatusPending)
	do := func(path string, body any) (int, map[string]any) {
		b, _ := json.Marshal(body)
		req := httptest.NewRequest("POST", path, strings.NewReader(string(b)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+m.tokens["lockbox_approver"])
		rec := httptest.NewRecorder()
		m.handler.ServeHTTP(rec, req)
		var out map[string]any
		json.Unmarshal(rec.Body.Bytes(), &out)
		return rec.Code, out
	}
	code, out := do("/v1/requests/"+r.ID+"/approve", map[string]any{"comment": "ok"})
	if code != http.StatusForbidden || out["code"] != lockbox.ESIGNATUREREQUIRED {
		t.Fatalf("unsigned approval: %d %v", code, out)
	}
	code, out = do("/v1/requests/"+r.ID+"/decision-challenge", map[string]any{"decision": "approve"})
	if code != http.StatusOK {
		t.Fatalf("challenge: %d %v", code, out)
	}
	stmt, _ := out["statement"].(string)
	raw := lockbox.StatementChallenge(stmt)
	as := a.Assert(raw)
	code, out = do("/v1/requests/"+r.ID+"/approve", map[string]any{"comment": "ok", "passkey": map[string]string{
		"credential_id": as.CredentialID, "authenticator_data": as.AuthenticatorData,
		"client_data_json": as.ClientDataJSON, "signature": as.Signature}})
	if code != http.StatusOK || out["status"] != string(lockbox.StatusActive) {
		t.Fatalf("signed approval: %d %v", code, out)
	}
	// Strict input: an unknown key inside passkey is 400.
	r2 := m.request("contoso", lockbox.StatusPending)
	code, out = do("/v1/requests/"+r2.ID+"/approve", map[string]any{"passkey": map[string]string{"credential_id": "x", "Signature": "y"}})
	if code != http.StatusBadRequest {
		t.Errorf("unknown passkey field: %d %v", code, out)
	}
	_ = context.Background
}

// passkeys walks the passkey routes through the OpenAPI document: a
// registration each way, a signed approval, a removal, and refusals.
func (c *conformance) passkeys(t *testing.T) {
	register := func(name, path string) *passkeytest.Authenticator {
		a := passkeytest.New(testRPID, testRPOrigin)
		b := decode[lockbox.PasskeyBegin](t, c.run(t, step{name: name + ": begin", as: approver, method: "POST", path: "/v1/me/passkeys/begin", want: 200}))
		resp, err := a.Register(b.Options)
		if err != nil {
			t.Fatal(err)
		}
		c.run(t, step{name: name, as: approver, method: "POST", path: path,
			body: map[string]any{"name": "laptop", "credential": json.RawMessage(resp)}, want: 201})
		return a
	}
	a := register("register", "/v1/me/passkeys")
	b := register("register with finish", "/v1/me/passkeys/finish")
	c.run(t, step{name: "finish with nothing begun", as: approver, method: "POST", path: "/v1/me/passkeys/finish",
		body: map[string]any{"credential": map[string]any{"id": "x"}}, want: 409})
	c.run(t, step{name: "service account passkeys", as: "service:dev-service", method: "GET", path: "/v1/me/passkeys", want: 403})
	c.run(t, step{name: "list passkeys", as: approver, method: "GET", path: "/v1/me/passkeys", want: 200})
	c.run(t, step{name: "remove another's passkey", as: "admin@provider.test", method: "DELETE", path: "/v1/me/passkeys/" + b.CredentialID(), want: 404})
	c.run(t, step{name: "remove passkey", as: approver, method: "DELETE", path: "/v1/me/passkeys/" + b.CredentialID(), want: 204})
	c.signInWithPasskey(t, a)

	r := c.file(t, "signed")
	c.act(t, "signed: review", manager, r, "review", map[string]string{"decision": "approve"}, 200)
	c.run(t, step{name: "challenge: bad decision", as: approver, method: "POST", path: "/v1/requests/" + r.ID + "/decision-challenge",
		body: map[string]any{"decision": "cancel"}, want: 400, invalid: true})
	ch := decode[lockbox.DecisionChallenge](t, c.run(t, step{name: "decision challenge", as: approver, method: "POST",
		path: "/v1/requests/" + r.ID + "/decision-challenge", body: map[string]any{"decision": "approve", "duration_minutes": 60}, want: 200}))
	as := a.Assert(lockbox.StatementChallenge(ch.Statement))
	passkey := map[string]string{"credential_id": as.CredentialID, "authenticator_data": as.AuthenticatorData,
		"client_data_json": as.ClientDataJSON, "signature": as.Signature}
	c.act(t, "signed approval, other changes", approver, r, "approve", map[string]any{"passkey": passkey}, 400)
	c.act(t, "signed approval", approver, r, "approve", map[string]any{"comment": "ok", "duration_minutes": 60, "passkey": passkey}, 200)
}

// signInProblem is the answer to a right password of an account with a
// passkey.
type signInProblem struct {
	Code    string                   `json:"code"`
	Passkey *lockbox.SignInChallenge `json:"passkey"`
}

// signInWithPasskey: the approver has a passkey now, so the password alone
// gives no token but the passkey step (SPEC §10.3).
func (c *conformance) signInWithPasskey(t *testing.T, a *passkeytest.Authenticator) {
	password := map[string]string{"email": approver, "password": approval.DevPassword}
	step1 := func(name string) (string, lockbox.PasskeyAssertion) {
		p := decode[signInProblem](t, c.run(t, step{name: name, method: "POST", path: "/v1/auth/token", body: password, want: 401}))
		if p.Code != lockbox.EPASSKEYREQUIRED || p.Passkey == nil {
			t.Fatalf("%s: code %q, passkey %v; want passkey_required with a challenge", name, p.Code, p.Passkey)
		}
		var o struct {
			PublicKey struct {
				Challenge string `json:"challenge"`
			} `json:"publicKey"`
		}
		if err := json.Unmarshal(p.Passkey.Options, &o); err != nil {
			t.Fatal(err)
		}
		raw, err := lockbox.DecodeB64(o.PublicKey.Challenge)
		if err != nil {
			t.Fatal(err)
		}
		return p.Passkey.Challenge, a.Assert(raw)
	}
	ch, as := step1("password alone, account with a passkey")
	body := map[string]any{"challenge": ch, "assertion": as}
	sess := decode[lockbox.Session](t, c.run(t, step{name: "sign in with passkey", method: "POST", path: "/v1/auth/token/passkey", body: body, want: 200}))
	if sess.Token == "" {
		t.Fatal("no token from the passkey step")
	}
	c.run(t, step{name: "replayed sign-in challenge", method: "POST", path: "/v1/auth/token/passkey", body: body, want: 401})
	other := passkeytest.New(testRPID, testRPOrigin)
	ch, _ = step1("password again")
	_, bad := step1("and again")
	c.run(t, step{name: "sign-in assertion over another challenge", method: "POST", path: "/v1/auth/token/passkey",
		body: map[string]any{"challenge": ch, "assertion": bad}, want: 401})
	ch, _ = step1("password, another key")
	wrong := other.Assert([]byte("0123456789abcdef0123456789abcdef"))
	wrong.CredentialID = other.CredentialID()
	c.run(t, step{name: "sign-in assertion by an unknown passkey", method: "POST", path: "/v1/auth/token/passkey",
		body: map[string]any{"challenge": ch, "assertion": wrong}, want: 401})
	c.run(t, step{name: "sign-in passkey step, unknown field", method: "POST", path: "/v1/auth/token/passkey",
		body: `{"challenge":"x","assertion":{},"otp":"1"}`, want: 400, invalid: true})
}
