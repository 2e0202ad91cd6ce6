package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
	"github.com/lockboxhq/lockbox/internal/lockboxtest"
	"github.com/lockboxhq/lockbox/internal/testop"
	"github.com/lockboxhq/lockbox/server"
	"github.com/lockboxhq/lockbox/sqlite"
	"github.com/lockboxhq/lockbox/sqlite/sqlitetest"
)

// This file is the authorization matrix of SPEC §2: every route the server
// serves (read from server.Routes, so a new route cannot be forgotten) ×
// every kind of principal × a target in the principal's own tenant and in
// another tenant. Each cell states what SPEC says must happen.

// outcome is what a principal gets from a route, as the client sees it.
type outcome string

const (
	allowed   outcome = "allowed"   // 2xx
	forbidden outcome = "forbidden" // 403: may see it, may not do it
	notFound  outcome = "not_found" // 404: may not even know it exists
	unauth    outcome = "unauthenticated"
)

// principal is one signed-in (or anonymous) caller.
type principal struct {
	name   string
	email  string // "" = anonymous
	tenant string // tenant users only
	roles  []lockbox.Role
}

var principals = []principal{
	{name: "anonymous"},
	{name: "requester", email: "operator@provider.test", roles: []lockbox.Role{lockbox.RoleOperator}},
	{name: "other_operator", email: "operator2@provider.test", roles: []lockbox.Role{lockbox.RoleOperator}},
	{name: "support_manager", email: "manager@provider.test", roles: []lockbox.Role{lockbox.RoleSupportManager}},
	{name: "provider_admin", email: "admin@provider.test", roles: []lockbox.Role{lockbox.RoleProviderAdmin}},
	{name: "service_account", email: "service:dev-service", roles: []lockbox.Role{lockbox.RoleServiceAccount}},
	{name: "global_admin", email: "admin@contoso.test", tenant: "contoso", roles: []lockbox.Role{lockbox.RoleGlobalAdmin}},
	{name: "lockbox_approver", email: "approver@contoso.test", tenant: "contoso", roles: []lockbox.Role{lockbox.RoleLockboxApprover}},
	{name: "audit_reader", email: "auditor@contoso.test", tenant: "contoso", roles: []lockbox.Role{lockbox.RoleAuditReader}},
}

func (p principal) is(names ...string) bool {
	for _, n := range names {
		if p.name == n {
			return true
		}
	}
	return false
}

func (p principal) provider() bool { return p.email != "" && p.tenant == "" }

// tenantRole answers for a tenant-scoped resource of target: members of
// another tenant get 404, the named tenant roles succeed, everyone else
// signed in gets 403.
func tenantRole(p principal, target string, roles ...string) outcome {
	switch {
	case p.tenant != "" && p.tenant != target:
		return notFound
	case p.tenant == target && p.is(roles...):
		return allowed
	}
	return forbidden
}

// onRequest answers for a decision on a request of target in the state the
// route needs: who can't see it gets 404; who can see it but has the wrong
// role gets 403.
func onRequest(p principal, target string, visibleToTenant bool, may ...string) outcome {
	sees := p.is("requester", "support_manager", "provider_admin") ||
		(p.tenant != "" && p.tenant == target && visibleToTenant)
	switch {
	case !sees:
		return notFound
	case p.is(may...):
		return allowed
	}
	return forbidden
}

var tenantApprovers = []string{"global_admin", "lockbox_approver"}

// rule is SPEC's answer for a route, a principal and the target tenant.
type rule func(p principal, target string) outcome

func anyone(principal, string) outcome { return allowed }

func providerOnly(roles ...string) rule {
	return func(p principal, _ string) outcome {
		if p.provider() && p.is(roles...) {
			return allowed
		}
		return forbidden
	}
}

// expectations holds one rule per route. A route missing here fails
// TestAuthorizationMatrix: decide who may call it, per SPEC §2 and §8.
var expectations = map[string]rule{
	"GET /healthz":         anyone,
	"GET /readyz":          anyone,
	"GET /v1/openapi.json": anyone,
	"POST /v1/auth/token":  anyone,
	"GET /v1/me":           anyone,
	"POST /v1/dev/clock":   anyone,
	"GET /v1/requests":     anyone, // filtered to what the caller may see
	"POST /v1/requests":    providerOnly("requester", "other_operator"),
	"GET /v1/requests/{id}": func(p principal, t string) outcome {
		return onRequest(p, t, true, "requester", "support_manager", "provider_admin", "global_admin", "lockbox_approver", "audit_reader")
	},
	"POST /v1/requests/{id}/review": func(p principal, t string) outcome {
		return onRequest(p, t, false, "support_manager")
	},
	"POST /v1/requests/{id}/approve": func(p principal, t string) outcome { return onRequest(p, t, true, tenantApprovers...) },
	"POST /v1/requests/{id}/deny":    func(p principal, t string) outcome { return onRequest(p, t, true, tenantApprovers...) },
	"POST /v1/requests/{id}/revoke":  func(p principal, t string) outcome { return onRequest(p, t, true, tenantApprovers...) },
	"POST /v1/requests/{id}/cancel": func(p principal, t string) outcome {
		return onRequest(p, t, true, "requester", "global_admin", "lockbox_approver")
	},
	"POST /v1/requests/{id}/complete": func(p principal, t string) outcome { return onRequest(p, t, true, "requester") },
	"POST /v1/requests/{id}/token":    func(p principal, t string) outcome { return onRequest(p, t, true, "requester") },
	"POST /v1/requests/{id}/extend":   func(p principal, t string) outcome { return onRequest(p, t, true, "requester") },
	"POST /v1/requests/{id}/extension/approve": func(p principal, t string) outcome {
		return onRequest(p, t, true, tenantApprovers...)
	},
	"POST /v1/requests/{id}/extension/deny": func(p principal, t string) outcome {
		return onRequest(p, t, true, tenantApprovers...)
	},
	// SPEC §11: a break-glass request is acknowledged by the tenant's
	// approvers; an access report is read by whoever may read the request.
	"POST /v1/requests/{id}/acknowledge": func(p principal, t string) outcome {
		return onRequest(p, t, true, tenantApprovers...)
	},
	"GET /v1/requests/{id}/report": func(p principal, t string) outcome {
		return onRequest(p, t, true, "requester", "support_manager", "provider_admin", "global_admin", "lockbox_approver", "audit_reader")
	},
	"POST /v1/access/check":      providerOnly("service_account"),
	"POST /v1/operator-actions":  providerOnly("service_account"),
	"GET /.well-known/jwks.json": anyone,

	"POST /v1/tenants": providerOnly("provider_admin"),
	"GET /v1/tenants":  providerOnly("provider_admin"),
	"GET /v1/tenants/{tenant}/settings": func(p principal, t string) outcome {
		return tenantRole(p, t, tenantApprovers...)
	},
	"PATCH /v1/tenants/{tenant}/settings": func(p principal, t string) outcome {
		return tenantRole(p, t, tenantApprovers...)
	},
	// SPEC §11: the tenant's approvers own its policy; the provider never.
	"GET /v1/tenants/{tenant}/policy": func(p principal, t string) outcome {
		return tenantRole(p, t, tenantApprovers...)
	},
	"PUT /v1/tenants/{tenant}/policy": func(p principal, t string) outcome {
		return tenantRole(p, t, tenantApprovers...)
	},
	"POST /v1/tenants/{tenant}/policy/simulate": func(p principal, t string) outcome {
		return tenantRole(p, t, tenantApprovers...)
	},
	"GET /v1/tenants/{tenant}/users": func(p principal, t string) outcome {
		return tenantRole(p, t, tenantApprovers...)
	},
	// Only the tenant's global admin manages its users and roles; never the provider.
	"POST /v1/tenants/{tenant}/users":           func(p principal, t string) outcome { return tenantRole(p, t, "global_admin") },
	"PATCH /v1/tenants/{tenant}/users/{email}":  func(p principal, t string) outcome { return tenantRole(p, t, "global_admin") },
	"DELETE /v1/tenants/{tenant}/users/{email}": func(p principal, t string) outcome { return tenantRole(p, t, "global_admin") },

	// SPEC §10.1: one's own account. A service account has no password
	// and, in the matrix, no token of its own to end but the one it calls with.
	"POST /v1/auth/logout": anyone,
	"POST /v1/me/password": func(p principal, _ string) outcome {
		if p.is("service_account") {
			return forbidden
		}
		return allowed
	},
	"GET /v1/me/tokens": anyone,
	// SPEC §10.3: one's own passkeys, and no route to anyone else's; a
	// service account has none.
	"GET /v1/me/passkeys":                 personOnly,
	"POST /v1/me/passkeys":                personOnly,
	"POST /v1/me/passkeys/begin":          personOnly,
	"POST /v1/me/passkeys/finish":         personOnly,
	"DELETE /v1/me/passkeys/{credential}": personOnly,
	"POST /v1/requests/{id}/decision-challenge": func(p principal, t string) outcome {
		return onRequest(p, t, true, tenantApprovers...)
	},
	"DELETE /v1/me/tokens/{id}": func(p principal, _ string) outcome {
		if p.is("service_account") {
			return notFound
		}
		return allowed
	},
	// Resets: the tenant's global admin for its users (never the provider),
	// a provider admin for staff.
	"POST /v1/tenants/{tenant}/users/{email}/reset-password": func(p principal, t string) outcome {
		return tenantRole(p, t, "global_admin")
	},

	"GET /v1/staff":                           providerOnly("provider_admin"),
	"POST /v1/staff":                          providerOnly("provider_admin"),
	"PATCH /v1/staff/{email}":                 providerOnly("provider_admin"),
	"DELETE /v1/staff/{email}":                providerOnly("provider_admin"),
	"POST /v1/staff/{email}/reset-password":   providerOnly("provider_admin"),
	"POST /v1/service-accounts":               providerOnly("provider_admin"),
	"GET /v1/service-accounts":                providerOnly("provider_admin"),
	"DELETE /v1/service-accounts/{name}":      providerOnly("provider_admin"),
	"POST /v1/service-accounts/{name}/rotate": providerOnly("provider_admin"),
	"GET /v1/services":                        providerOnly("requester", "other_operator", "support_manager", "provider_admin"),
	"GET /v1/services/{service}":              providerOnly("requester", "other_operator", "support_manager", "provider_admin"),
	"PUT /v1/services/{service}":              providerOnly("provider_admin"),

	// SPEC §10.2: a tenant's IdP is its global admin's alone; the provider
	// can neither read nor change it. The CLI's sign-in routes are public
	// (the one-time code is the credential; the matrix's is made up).
	"GET /v1/tenants/{tenant}/sso":    func(p principal, t string) outcome { return tenantRole(p, t, "global_admin") },
	"PUT /v1/tenants/{tenant}/sso":    func(p principal, t string) outcome { return tenantRole(p, t, "global_admin") },
	"DELETE /v1/tenants/{tenant}/sso": func(p principal, t string) outcome { return tenantRole(p, t, "global_admin") },
	"POST /v1/auth/sso/start":         anyone,
	"POST /v1/auth/sso/token":         func(principal, string) outcome { return unauth },
	// The passkey step of a sign-in is public: its challenge is the
	// credential (the matrix's is made up).
	"POST /v1/auth/token/passkey": func(principal, string) outcome { return unauth },
}

// matrix is a real server (real workflow service, real SQLite) plus a
// signed-in token for every principal.
type matrix struct {
	t       *testing.T
	handler http.Handler
	svc     *approval.Service
	store   *sqlite.Store
	tokens  map[string]string
	seq     atomic.Int64
	op      *testop.Server // sso_test.go
	sso     lockbox.SSOService
}

func newMatrix(t *testing.T) *matrix {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, sqlitetest.Path(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	clock := lockbox.NewOffsetClock()
	grants, jwks := newTestGrants(t, store)
	op := newTestOP(t) // sso_test.go
	svc := approval.New(store, clock, approval.Options{PasswordMemoryKiB: 64, PasswordTime: 1, LoginBurst: 1000, Grants: grants,
		Passkeys: testRP(t), SSO: testSSOOptions(op), Secrets: lockboxtest.SecretBox(t)}) // passkeys_test.go
	if err := svc.SeedDev(ctx); err != nil {
		t.Fatal(err)
	}
	s := &server.Server{Requests: svc, Accounts: svc, Tenants: svc, Catalog: svc, Policies: svc, Ready: store.Ping,
		DevClock: clock, Logger: slog.New(slog.DiscardHandler), Enforcement: svc, JWKS: jwks, Passkeys: svc}
	s.Audit = newTestAudit(t, store) // audit_test.go
	s.SSO = svc.SSO(svc.WebSessions(approval.WebSessionOptions{}), testRedirect)
	// Notification routes: notify_test.go.
	newTestNotify(t, s, svc, store, clock)
	m := &matrix{t: t, handler: s.Handler(), svc: svc, store: store, tokens: map[string]string{}, op: op, sso: s.SSO}
	for _, p := range principals {
		switch {
		case p.email == "":
		case p.is("service_account"):
			m.tokens[p.name] = approval.DevServiceToken
		default:
			sess, err := svc.Login(ctx, p.email, approval.DevPassword)
			if err != nil {
				t.Fatalf("login %s: %v", p.email, err)
			}
			m.tokens[p.name] = sess.Token
		}
	}
	return m
}

// ctxOf acts as the account with email, to build fixtures.
func (m *matrix) ctxOf(email string) context.Context {
	var u *lockbox.User
	err := m.store.View(context.Background(), func(tx lockbox.Tx) error {
		var err error
		// Test accounts have one account per address.
		var users []*lockbox.User
		users, _, err = tx.UsersByEmail(context.Background(), email)
		if err == nil && len(users) != 1 {
			err = lockbox.Errorf(lockbox.ENOTFOUND, "%d accounts with %s", len(users), email)
		}
		if err == nil {
			u = users[0]
		}
		return err
	})
	if err != nil {
		m.t.Fatalf("%s: %v", email, err)
	}
	return lockbox.NewContextWithUser(context.Background(), u)
}

// request files a request in target tenant and brings it to status.
func (m *matrix) request(target string, status lockbox.Status) *lockbox.AccessRequest {
	r, err := m.svc.CreateRequest(m.ctxOf("operator@provider.test"), lockbox.NewRequest{Tenant: target, Service: "exchange",
		ServiceRequest: "SR-1", Reason: "authz matrix", DurationMinutes: 60})
	if err != nil {
		m.t.Fatal(err)
	}
	steps := map[lockbox.Status][]struct {
		as string
		ev lockbox.Event
	}{
		lockbox.StatusPending: {{"manager@provider.test", lockbox.EventReviewApprove}},
		lockbox.StatusActive:  {{"manager@provider.test", lockbox.EventReviewApprove}, {"admin@" + target + ".test", lockbox.EventApprove}},
	}
	for _, s := range steps[status] {
		if r, err = m.svc.Act(m.ctxOf(s.as), r.ID, s.ev, lockbox.Decision{}); err != nil {
			m.t.Fatal(err)
		}
	}
	return r
}

// fixture makes what a route acts on, fresh for each call, and returns the
// concrete path and body.
func (m *matrix) fixture(route server.Route, target string) (path string, body any) {
	n := m.seq.Add(1)
	path = route.Pattern
	replace := func(name, value string) { path = strings.ReplaceAll(path, "{"+name+"}", value) }
	replace("tenant", target)
	replace("path...", "entries/000.p/1") // the first record's entry bundle
	replace("service", "exchange")
	path += auditRouteQuery[route.Method+" "+route.Pattern] // audit_test.go
	// Webhook and dev mail fixtures: notify_test.go.
	path = m.notifyFixture(route, target, path)
	path = m.accountFixture(path, n) // accounts_test.go
	m.ssoFixture(route, target)      // sso_test.go
	if strings.Contains(path, "{email}") {
		email := fmt.Sprintf("user%d@%s.test", n, target)
		_, err := m.svc.AddTenantUser(m.ctxOf("admin@"+target+".test"), target, lockbox.NewUser{Email: email, Roles: []lockbox.Role{lockbox.RoleAuditReader}})
		if err != nil {
			m.t.Fatal(err)
		}
		replace("email", email)
	}
	if strings.Contains(path, "{id}") {
		status := lockbox.StatusPending
		switch {
		case strings.HasSuffix(path, "/review"):
			status = lockbox.StatusPendingReview
		case strings.HasSuffix(path, "/revoke"), strings.HasSuffix(path, "/complete"), strings.HasSuffix(path, "/token"),
			strings.HasSuffix(path, "/extend"), strings.HasSuffix(path, "/report"):
			status = lockbox.StatusActive
		}
		r := m.request(target, status)
		if strings.Contains(path, "/extension/") { // an active request with an extension to decide
			r = m.request(target, lockbox.StatusActive)
			_, err := m.svc.Act(m.ctxOf("operator@provider.test"), r.ID, lockbox.EventExtend,
				lockbox.Decision{Extend: &lockbox.ExtensionAsk{Minutes: 30, Reason: "authz matrix"}})
			if err != nil {
				m.t.Fatal(err)
			}
		}
		if strings.HasSuffix(path, "/acknowledge") { // a break-glass request that ended
			r = m.breakGlassEnded(target)
		}
		replace("id", r.ID)
	}
	return path, m.body(route, target, n)
}

// body is a valid body for the route, so that an allowed call succeeds.
func (m *matrix) body(route server.Route, target string, n int64) any {
	if b := notifyBody(route); b != nil { // notify_test.go
		return b
	}
	if b := m.ssoBody(route, target); b != nil { // sso_test.go
		return b
	}
	switch route.Method + " " + route.Pattern {
	case "POST /v1/auth/token":
		return map[string]string{"email": "operator@provider.test", "password": approval.DevPassword}
	case "POST /v1/auth/token/passkey":
		return map[string]any{"challenge": "made-up.challenge", "assertion": map[string]string{"credential_id": "AAAA"}}
	case "POST /v1/dev/clock":
		return map[string]string{"advance": "1s"}
	case "POST /v1/requests":
		return map[string]any{"tenant": target, "service": "exchange", "service_request": "SR-1", "reason": "x", "duration_minutes": 30}
	case "POST /v1/requests/{id}/review":
		return map[string]string{"decision": "approve"}
	case "POST /v1/requests/{id}/extend":
		return map[string]any{"minutes": 30, "reason": "not done yet"}
	case "POST /v1/tenants":
		return map[string]any{"name": fmt.Sprintf("tenant%d", n), "admin": map[string]string{"email": fmt.Sprintf("admin@t%d.test", n)}}
	case "PATCH /v1/tenants/{tenant}/settings":
		return map[string]any{"reminder_minutes_before_expiry": 60}
	case "PUT /v1/tenants/{tenant}/policy":
		return map[string]any{"rules": []map[string]any{{"id": fmt.Sprintf("r%d", n), "when": `request.service == "x"`, "action": "deny"}}}
	case "POST /v1/tenants/{tenant}/policy/simulate":
		return map[string]any{"request": map[string]any{"service": "exchange"}}
	case "POST /v1/tenants/{tenant}/users":
		return map[string]any{"email": fmt.Sprintf("new%d@%s.test", n, target), "roles": []string{"audit_reader"}}
	case "PATCH /v1/tenants/{tenant}/users/{email}":
		return map[string]any{"roles": []string{"lockbox_approver"}}
	case "POST /v1/staff":
		return map[string]any{"email": fmt.Sprintf("staff%d@provider.test", n), "roles": []string{"operator"}}
	case "POST /v1/service-accounts":
		return map[string]any{"name": fmt.Sprintf("svc%d", n)}
	case "PATCH /v1/staff/{email}":
		return map[string]any{"disabled": true}
	case "POST /v1/service-accounts/{name}/rotate":
		return map[string]any{"grace": "10m"}
	case "POST /v1/me/password":
		return map[string]any{"current": approval.DevPassword, "new": "a new and long passphrase"}
	case "PUT /v1/services/{service}":
		return map[string]any{"operations": []string{"Get-Mailbox", "Get-MailboxStatistics"}}
	case "POST /v1/access/check", "POST /v1/operator-actions":
		return map[string]any{"token": m.grant(target), "operation": "Get-Mailbox", "resource": "mailbox:x"}
	}
	return nil
}

func (m *matrix) call(p principal, route server.Route, target string) (int, string) {
	path, body := m.fixture(route, target)
	token := m.tokenFor(p, route) // accounts_test.go
	path = m.ownTokenPath(p, route, path)
	path, body = m.passkeyCall(p, route, path, body) // passkeys_test.go
	var rd *strings.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	} else {
		rd = strings.NewReader("")
	}
	req := httptest.NewRequest(route.Method, path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	m.handler.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

func classify(code int) outcome {
	switch {
	case code >= 200 && code < 300:
		return allowed
	case code == http.StatusUnauthorized:
		return unauth
	case code == http.StatusForbidden:
		return forbidden
	case code == http.StatusNotFound:
		return notFound
	}
	return outcome(fmt.Sprint(code))
}

func TestAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	m := newMatrix(t)
	cells := 0
	for _, route := range server.Routes(true) {
		key := route.Method + " " + route.Pattern
		rule, ok := expectations[key]
		if !ok {
			t.Errorf("route %s has no authorization expectation: add a rule for it to expectations in server/authz_test.go", key)
			continue
		}
		for _, target := range []string{"contoso", "fabrikam"} {
			for _, p := range principals {
				want := rule(p, target)
				if p.email == "" && !route.Public {
					want = unauth
				}
				t.Run(fmt.Sprintf("%s/%s/%s", key, target, p.name), func(t *testing.T) {
					code, body := m.call(p, route, target)
					if got := classify(code); got != want {
						t.Errorf("got %d %s, want %s\n%s", code, got, want, body)
					}
				})
				cells++
			}
		}
	}
	for key := range expectations {
		found := false
		for _, r := range server.Routes(true) {
			found = found || r.Method+" "+r.Pattern == key
		}
		if !found {
			t.Errorf("expectation for %s, which is not a route", key)
		}
	}
	t.Logf("%d cells", cells)
}

// breakGlassEnded is a break-glass request of target, active at once after
// review (the tenant enabled break-glass) and revoked: it needs review.
func (m *matrix) breakGlassEnded(target string) *lockbox.AccessRequest {
	admin := m.ctxOf("admin@" + target + ".test")
	if _, err := m.svc.UpdateSettings(admin, target, lockbox.SettingsPatch{BreakGlass: &lockbox.BreakGlassPatch{Enabled: ptrTo(true)}}); err != nil {
		m.t.Fatal(err)
	}
	r, err := m.svc.CreateRequest(m.ctxOf("operator@provider.test"), lockbox.NewRequest{Tenant: target, Service: "exchange",
		ServiceRequest: "SR-1", Reason: "authz matrix", DurationMinutes: 60, BreakGlass: true, Incident: "INC-1"})
	if err != nil {
		m.t.Fatal(err)
	}
	if r, err = m.svc.Act(m.ctxOf("manager@provider.test"), r.ID, lockbox.EventReviewApprove, lockbox.Decision{}); err != nil {
		m.t.Fatal(err)
	}
	if r, err = m.svc.Act(admin, r.ID, lockbox.EventRevoke, lockbox.Decision{}); err != nil || !r.NeedsReview {
		m.t.Fatalf("break-glass fixture: %+v, %v", r, err)
	}
	return r
}

func ptrTo[T any](v T) *T { return &v }
