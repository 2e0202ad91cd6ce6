package server

import (
	"net/http"

	"github.com/lockboxhq/lockbox"
)

// Route describes one route of the API, for tests that must cover every route.
type Route struct {
	Method  string
	Pattern string // a ServeMux path pattern, e.g. "/v1/requests/{id}"
	// Public routes are served without a bearer token.
	Public bool
	// OneTime routes also serve a caller signed in with a one-time
	// password (SPEC §10.1: changing it and signing out); every other
	// route answers them 403 password_change_required.
	OneTime bool
	// PasskeySetup routes (listing and registering one's own passkeys)
	// also serve a session that must register a passkey first, as OneTime
	// routes do; every other route answers it 403 mfa_required
	// (lockbox.CheckActiveFor).
	PasskeySetup bool
}

type route struct {
	Route
	dev     bool // registered only in --dev mode
	handler http.HandlerFunc
}

// routes is the one table of every route the API serves. Handler registers
// it and Routes lists it, so a route cannot be served without being listed.
func (s *Server) routes() []route {
	public := func(method, pattern string, h http.HandlerFunc) route {
		return route{Route: Route{Method: method, Pattern: pattern, Public: true}, handler: h}
	}
	authed := func(method, pattern string, h http.HandlerFunc) route {
		return route{Route: Route{Method: method, Pattern: pattern}, handler: h}
	}
	oneTime := func(method, pattern string, h http.HandlerFunc) route {
		return route{Route: Route{Method: method, Pattern: pattern, OneTime: true}, handler: h}
	}
	passkeySetup := func(method, pattern string, h http.HandlerFunc) route {
		return route{Route: Route{Method: method, Pattern: pattern, PasskeySetup: true}, handler: h}
	}
	dev := func(method, pattern string, h http.HandlerFunc) route {
		return route{Route: Route{Method: method, Pattern: pattern}, dev: true, handler: h}
	}
	return []route{
		public("GET", "/healthz", s.healthz),
		public("GET", "/readyz", s.readyz),
		public("GET", "/metrics", s.metrics),
		public("GET", "/v1/openapi.json", s.openAPI),
		public("POST", "/v1/auth/token", s.login),
		public("POST", "/v1/auth/token/passkey", s.loginPasskey),
		oneTime("POST", "/v1/auth/logout", s.logout),
		public("POST", "/v1/auth/sso/start", s.ssoStart),
		public("POST", "/v1/auth/sso/token", s.ssoToken),
		authed("GET", "/v1/me", s.me),
		oneTime("POST", "/v1/me/password", s.changePassword),
		authed("GET", "/v1/me/tokens", s.listMyTokens),
		authed("DELETE", "/v1/me/tokens/{id}", s.revokeMyToken),
		passkeySetup("GET", "/v1/me/passkeys", s.listPasskeys),
		passkeySetup("POST", "/v1/me/passkeys", s.finishPasskey),
		passkeySetup("POST", "/v1/me/passkeys/begin", s.beginPasskey),
		passkeySetup("POST", "/v1/me/passkeys/finish", s.finishPasskey),
		authed("DELETE", "/v1/me/passkeys/{credential}", s.removePasskey),

		authed("POST", "/v1/requests", s.createRequest),
		authed("GET", "/v1/requests", s.listRequests),
		authed("GET", "/v1/requests/{id}", s.getRequest),
		authed("POST", "/v1/requests/{id}/review", s.review),
		authed("POST", "/v1/requests/{id}/approve", s.decide(lockbox.EventApprove)),
		authed("POST", "/v1/requests/{id}/deny", s.decide(lockbox.EventDeny)),
		authed("POST", "/v1/requests/{id}/cancel", s.decide(lockbox.EventCancel)),
		authed("POST", "/v1/requests/{id}/revoke", s.decide(lockbox.EventRevoke)),
		authed("POST", "/v1/requests/{id}/complete", s.decide(lockbox.EventComplete)),
		authed("POST", "/v1/requests/{id}/token", s.issueGrant),
		authed("POST", "/v1/requests/{id}/decision-challenge", s.decisionChallenge),
		authed("POST", "/v1/requests/{id}/extend", s.extend),
		authed("POST", "/v1/requests/{id}/extension/approve", s.decide(lockbox.EventExtensionApprove)),
		authed("POST", "/v1/requests/{id}/extension/deny", s.decide(lockbox.EventExtensionDeny)),
		authed("POST", "/v1/requests/{id}/acknowledge", s.decide(lockbox.EventAcknowledge)),
		authed("GET", "/v1/requests/{id}/report", s.accessReport),
		authed("POST", "/v1/access/check", s.checkAccess),
		authed("POST", "/v1/operator-actions", s.recordOperatorAction),
		public("GET", "/.well-known/jwks.json", s.jwks),

		authed("POST", "/v1/tenants", s.createTenant),
		authed("GET", "/v1/tenants", s.listTenants),
		authed("GET", "/v1/tenants/{tenant}/settings", s.getSettings),
		authed("PATCH", "/v1/tenants/{tenant}/settings", s.updateSettings),
		authed("GET", "/v1/tenants/{tenant}/policy", s.getPolicy),
		authed("PUT", "/v1/tenants/{tenant}/policy", s.putPolicy),
		authed("POST", "/v1/tenants/{tenant}/policy/simulate", s.simulatePolicy),
		authed("GET", "/v1/tenants/{tenant}/users", s.listTenantUsers),
		authed("POST", "/v1/tenants/{tenant}/users", s.addTenantUser),
		authed("PATCH", "/v1/tenants/{tenant}/users/{email}", s.updateTenantUser),
		authed("DELETE", "/v1/tenants/{tenant}/users/{email}", s.removeTenantUser),
		authed("POST", "/v1/tenants/{tenant}/users/{email}/reset-password", s.resetTenantUserPassword),
		authed("POST", "/v1/tenants/{tenant}/webhooks", s.createWebhook),
		authed("GET", "/v1/tenants/{tenant}/webhooks", s.listWebhooks),
		authed("PATCH", "/v1/tenants/{tenant}/webhooks/{id}", s.updateWebhook),
		authed("DELETE", "/v1/tenants/{tenant}/webhooks/{id}", s.deleteWebhook),
		authed("POST", "/v1/tenants/{tenant}/webhooks/{id}/rotate-secret", s.rotateWebhookSecret),
		authed("GET", "/v1/tenants/{tenant}/webhooks/{id}/deliveries", s.listWebhookDeliveries),
		authed("POST", "/v1/tenants/{tenant}/webhooks/{id}/deliveries/{delivery}/resend", s.resendWebhookDelivery),
		authed("POST", "/v1/tenants/{tenant}/webhooks/{id}/test", s.sendWebhookTest),
		authed("GET", "/v1/tenants/{tenant}/sso", s.getTenantSSO),
		authed("PUT", "/v1/tenants/{tenant}/sso", s.putTenantSSO),
		authed("DELETE", "/v1/tenants/{tenant}/sso", s.deleteTenantSSO),

		authed("GET", "/v1/tenants/{tenant}/audit", s.searchAudit),
		authed("GET", "/v1/tenants/{tenant}/audit.csv", s.exportAudit),
		authed("GET", "/v1/tenants/{tenant}/log/checkpoint", s.logCheckpoint),
		authed("GET", "/v1/tenants/{tenant}/log/entries", s.logEntries),
		authed("GET", "/v1/tenants/{tenant}/log/proof/inclusion", s.inclusionProof),
		authed("GET", "/v1/tenants/{tenant}/log/proof/consistency", s.consistencyProof),
		authed("GET", "/v1/tenants/{tenant}/log/tiles/checkpoint", s.logCheckpoint),
		authed("GET", "/v1/tenants/{tenant}/log/tiles/tile/{path...}", s.logTile),
		authed("GET", "/v1/tenants/{tenant}/log/bundles", s.logBundles),
		public("GET", "/v1/log/key", s.logKey),

		authed("GET", "/v1/staff", s.listStaff),
		authed("POST", "/v1/staff", s.addStaff),
		authed("PATCH", "/v1/staff/{email}", s.updateStaff),
		authed("DELETE", "/v1/staff/{email}", s.removeStaff),
		authed("POST", "/v1/staff/{email}/reset-password", s.resetStaffPassword),
		authed("POST", "/v1/service-accounts", s.createServiceAccount),
		authed("GET", "/v1/service-accounts", s.listServiceAccounts),
		authed("DELETE", "/v1/service-accounts/{name}", s.revokeServiceAccount),
		authed("POST", "/v1/service-accounts/{name}/rotate", s.rotateServiceAccount),

		authed("GET", "/v1/services", s.listServices),
		authed("GET", "/v1/services/{service}", s.getService),
		authed("PUT", "/v1/services/{service}", s.putService),

		dev("POST", "/v1/dev/clock", s.advanceClock),
		dev("GET", "/v1/dev/mail", s.listDevMail),
		dev("GET", "/v1/dev/mail/{file}", s.devMailFile),
	}
}

// Routes lists every route the API serves; dev includes the --dev routes.
func Routes(dev bool) []Route {
	var out []Route
	for _, rt := range (&Server{}).routes() {
		if rt.dev && !dev {
			continue
		}
		out = append(out, rt.Route)
	}
	return out
}
