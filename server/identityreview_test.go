package server_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestTenantSSONewClientNeedsSecret: over the API, PUT …/sso naming
// another issuer or client id without client_secret answers 400 invalid on
// client_secret and leaves the stored configuration as it was.
func TestTenantSSONewClientNeedsSecret(t *testing.T) {
	t.Parallel()
	m := newMatrix(t)
	admin := m.tokens["global_admin"]
	const path = "/v1/tenants/contoso/sso"
	in := ssoInput(m.op, "contoso")
	if code, _, body := m.apiCall(admin, "PUT", path, in); code != http.StatusOK {
		t.Fatalf("first PUT: %d %s", code, body)
	}
	for _, tc := range []struct{ name, issuer, clientID string }{
		{"NewIssuer", m.op.Issuer("provider"), in.ClientID},
		{"NewClientID", in.Issuer, "another-client"},
	} {
		b := in
		b.Issuer, b.ClientID, b.ClientSecret = tc.issuer, tc.clientID, ""
		code, out, body := m.apiCall(admin, "PUT", path, b)
		if code != http.StatusBadRequest || out["code"] != "invalid" || out["field"] != "client_secret" ||
			!strings.Contains(body, "client_secret is required when the issuer or client_id changes") {
			t.Errorf("%s: %d %s, want 400 invalid on client_secret", tc.name, code, body)
		}
	}
	code, out, body := m.apiCall(admin, "GET", path, nil)
	if code != http.StatusOK || out["issuer"] != in.Issuer || out["client_id"] != in.ClientID {
		t.Errorf("after the refused PUTs: %d %s", code, body)
	}
}

// TestCreateTenantAdminPasswordAPI: POST /v1/tenants refuses a chosen
// admin.password; the generated one answers password_change_required to
// everything but the change.
func TestCreateTenantAdminPasswordAPI(t *testing.T) {
	t.Parallel()
	m := newMatrix(t)
	pa := m.tokens["provider_admin"]
	withPassword := map[string]any{"name": "northwind", "admin": map[string]any{"email": "admin@northwind.test", "password": "the-provider-knows-it"}}
	code, out, body := m.apiCall(pa, "POST", "/v1/tenants", withPassword)
	if code != http.StatusBadRequest || out["code"] != "invalid" || out["field"] != "admin.password" {
		t.Fatalf("admin.password given: %d %s, want 400 invalid on admin.password", code, body)
	}
	code, out, body = m.apiCall(pa, "POST", "/v1/tenants", map[string]any{"name": "northwind", "admin": map[string]any{"email": "admin@northwind.test"}})
	admin, _ := out["admin"].(map[string]any)
	otp, _ := admin["initial_password"].(string)
	if code != http.StatusCreated || otp == "" || admin["password_change_required"] != true {
		t.Fatalf("create: %d %s", code, body)
	}
	code, out, body = m.apiCall("", "POST", "/v1/auth/token", map[string]string{"email": "admin@northwind.test", "password": otp})
	token, _ := out["token"].(string)
	if code != http.StatusOK || out["password_change_required"] != true {
		t.Fatalf("first sign-in: %d %s", code, body)
	}
	for _, call := range []struct{ method, path string }{
		{"GET", "/v1/tenants/northwind/settings"}, {"GET", "/v1/tenants/northwind/users"}, {"GET", "/v1/tenants/northwind/audit"},
	} {
		if code, out, body := m.apiCall(token, call.method, call.path, nil); code != http.StatusForbidden || out["code"] != "password_change_required" {
			t.Errorf("%s %s with the one-time password: %d %s", call.method, call.path, code, body)
		}
	}
	if code, _, body := m.apiCall(token, "POST", "/v1/me/password", map[string]string{"current": otp, "new": "northwind admin's own"}); code/100 != 2 {
		t.Fatalf("change: %d %s", code, body)
	}
	if code, _, body := m.apiCall(token, "GET", "/v1/tenants/northwind/settings", nil); code != http.StatusOK {
		t.Errorf("after the change: %d %s", code, body)
	}
}
