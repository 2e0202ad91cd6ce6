// Package web is Lockbox's admin center (SPEC §8): server-rendered HTML pages
// for tenant approvers, auditors and admins, and for the provider's
// operators, support managers and admins. It works without JavaScript (one
// small self-hosted script only sets the time-zone preference), signs people
// in with browser sessions (a cookie whose token is stored hashed), and
// refuses cross-origin state changes.
//
// It decides nothing itself: every page calls the same root service
// interfaces as the JSON API, with the signed-in user in the context, so
// authorization stays in the root package's one place. The pages only hide
// buttons a user cannot use. Templates and assets are embedded and parsed
// by New, so a broken template fails at start-up and in tests.
//
// It imports the root package, the standard library, golang.org/x (Merkle
// hashing), auditlog (to open signed checkpoints as the CLI's verifier
// does) and internal packages (httpcode, middleware, ratelimit); cmd/lockbox
// wires the services in.
package web

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/auditlog"
)

// Config is what the admin center serves. The four services and Sessions
// are required; the optional ones turn pages on.
type Config struct {
	Requests lockbox.RequestService
	Accounts lockbox.AccountService
	Tenants  lockbox.TenantService
	Catalog  lockbox.CatalogService
	Sessions lockbox.WebSessionService
	// SSO is single sign-on (sso.go); nil offers passwords only.
	SSO lockbox.SSOService
	// Audit serves the "Audit log" page; nil shows a notice instead.
	Audit lockbox.AuditService
	// Policies serves the tenant's "Policy" page (rules in CEL); nil:
	// no such page.
	Policies lockbox.PolicyService
	// Webhooks serves the tenant's "Webhooks" page; nil: no such page.
	Webhooks lockbox.WebhookService
	// Witnesses are those the server sends its checkpoints to (serve
	// --witness), WitnessQuorum how many must cosign (0: all): the audit
	// page shows which cosigned the latest checkpoint, and whether the
	// quorum is met.
	Witnesses     []auditlog.Witness
	WitnessQuorum int
	// Grants issues grant tokens for "Get token"; nil shows a notice.
	Grants GrantIssuer
	// Passkeys registers passkeys on the Account page and signs decisions
	// (passkey.go); nil shows a notice.
	Passkeys lockbox.PasskeyService
	// DevMail is the mail captured in --dev, shown at /dev/mail; nil shows
	// a notice. Only consulted when Dev is set.
	DevMail lockbox.DevMailbox
	// Dev enables /dev/mail (404 otherwise).
	Dev bool
	// Clock is the workflow's clock, for "expires in 3 h" (in --dev it is
	// the adjustable clock). Default: the system clock.
	Clock lockbox.Clock
	// ExternalURL is the address people reach the server at. When it is
	// https, cookies are Secure and __Host- prefixed even if TLS ends at a
	// proxy in front of Lockbox (a request over TLS always gets them).
	ExternalURL string
	// Sign-in throttling, per account and per client address, is the
	// service's (approval.Options), shared with the API.
	Logger *slog.Logger
}

// GrantIssuer issues the grant token of the caller's own active request
// (SPEC §6): the IssueGrant of lockbox.EnforcementService.
type GrantIssuer interface {
	IssueGrant(ctx context.Context, idOrRef string) (*lockbox.Grant, error)
}

// Handler is the admin center's HTTP handler.
type Handler struct {
	cfg    Config
	pages  *pages
	secure bool // ExternalURL is https
	mux    *http.ServeMux
	h      http.Handler
}

// New parses the templates and returns the admin center. An error means a
// template is broken: the server must not start with it.
func New(cfg Config) (*Handler, error) {
	if cfg.Clock == nil {
		cfg.Clock = lockbox.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	p, err := parsePages()
	if err != nil {
		return nil, err
	}
	h := &Handler{cfg: cfg, pages: p, mux: http.NewServeMux()}
	if u, err := url.Parse(cfg.ExternalURL); err == nil && u.Scheme == "https" {
		h.secure = true
	}
	h.routes()
	h.h = h.securityHeaders(h.recoverPanics(h.crossOrigin(h.loadSession(h.mux))))
	return h, nil
}

// ServeHTTP serves the admin center.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.h.ServeHTTP(w, r) }

// routes registers every page. Pages that need a signed-in user are wrapped
// in authed; what each user may do there is still the services' decision.
func (h *Handler) routes() {
	m := h.mux
	m.Handle("GET /static/", http.StripPrefix("/static/", staticHandler()))
	m.HandleFunc("GET /signin", h.signInPage)
	m.HandleFunc("POST /signin", h.signIn)
	m.HandleFunc("POST /signin/passkey", h.signInPasskey)
	m.HandleFunc("POST /signout", h.signOut)
	m.HandleFunc("POST /auth/sso", h.startSSO)
	m.HandleFunc("GET /auth/callback", h.ssoCallback)
	m.HandleFunc("GET /preferences", h.preferencesPage)
	m.HandleFunc("POST /preferences", h.savePreferences)

	m.HandleFunc("GET /account", h.signedIn(h.accountPage))
	m.HandleFunc("POST /account/password", h.signedIn(h.changePassword))
	m.HandleFunc("POST /account/tokens/{id}/end", h.authed(h.endToken))
	m.HandleFunc("POST /account/passkeys/begin", h.allows(lockbox.PasskeyCall, h.beginPasskey))
	m.HandleFunc("POST /account/passkeys", h.allows(lockbox.PasskeyCall, h.addPasskey))
	m.HandleFunc("POST /account/passkeys/{credential}/remove", h.authed(h.removePasskey))
	m.HandleFunc("POST /requests/{id}/decision-challenge", h.authed(h.decisionChallenge))
	m.HandleFunc("GET /cli-login", h.authed(h.cliLoginPage)) // clilogin.go
	m.HandleFunc("POST /cli-login", h.authed(h.cliLogin))

	m.HandleFunc("GET /{$}", h.authed(h.home))
	m.HandleFunc("GET /requests", h.authed(h.requestList))
	m.HandleFunc("GET /requests/find", h.authed(h.findRequest))
	m.HandleFunc("GET /requests/new", h.authed(h.newRequestPage))
	m.HandleFunc("POST /requests", h.authed(h.createRequest))
	m.HandleFunc("GET /requests/{id}", h.authed(h.requestDetail))
	m.HandleFunc("GET /requests/{id}/{action}", h.authed(h.confirmPage))
	m.HandleFunc("POST /requests/{id}/{action}", h.authed(h.act))
	m.HandleFunc("GET /review", h.authed(h.reviewQueue))

	m.HandleFunc("GET /settings", h.authed(h.settingsPage))
	m.HandleFunc("POST /settings", h.authed(h.saveSettings))
	m.HandleFunc("GET /policy", h.authed(h.policyPage))
	m.HandleFunc("POST /policy", h.authed(h.savePolicy))
	m.HandleFunc("POST /policy/simulate", h.authed(h.simulatePolicy))
	m.HandleFunc("GET /users", h.authed(h.usersPage))
	m.HandleFunc("POST /users", h.authed(h.addUser))
	m.HandleFunc("POST /users/{email}/roles", h.authed(h.setUserRoles))
	m.HandleFunc("GET /users/{email}/remove", h.authed(h.removeUserPage))
	m.HandleFunc("POST /users/{email}/remove", h.authed(h.removeUser))
	m.HandleFunc("POST /users/{email}/reset-password", h.authed(h.resetUserPassword))
	m.HandleFunc("GET /sso", h.authed(h.ssoPage))
	m.HandleFunc("POST /sso", h.authed(h.saveSSO))
	m.HandleFunc("POST /sso/remove", h.authed(h.removeSSO))
	m.HandleFunc("GET /webhooks", h.authed(h.webhooksPage))
	m.HandleFunc("POST /webhooks", h.authed(h.createWebhook))
	m.HandleFunc("GET /webhooks/{id}/{action}", h.authed(h.webhookPage))
	m.HandleFunc("POST /webhooks/{id}/{action}", h.authed(h.webhookAction))
	m.HandleFunc("POST /webhooks/{id}/deliveries/{delivery}/resend", h.authed(h.resendWebhookDelivery))
	m.HandleFunc("POST /webhooks/{id}/test", h.authed(h.sendWebhookTest))
	m.HandleFunc("GET /audit", h.authed(h.auditPage))
	m.HandleFunc("GET /audit.csv", h.authed(h.auditCSV))

	m.HandleFunc("GET /tenants", h.authed(h.tenantsPage))
	m.HandleFunc("POST /tenants", h.authed(h.createTenant))
	m.HandleFunc("GET /staff", h.authed(h.staffPage))
	m.HandleFunc("POST /staff", h.authed(h.addStaff))
	m.HandleFunc("GET /staff/{email}/remove", h.authed(h.removeStaffPage))
	m.HandleFunc("POST /staff/{email}/{action}", h.authed(h.staffAction))
	m.HandleFunc("GET /service-accounts", h.authed(h.serviceAccountsPage))
	m.HandleFunc("GET /service-accounts/{name}/{action}", h.authed(h.serviceAccountConfirmPage))
	m.HandleFunc("POST /service-accounts/{name}/{action}", h.authed(h.serviceAccountAction))
	m.HandleFunc("GET /services", h.authed(h.servicesPage))
	m.HandleFunc("POST /services", h.authed(h.putService))

	m.HandleFunc("GET /dev/mail", h.authed(h.devMail))
	m.HandleFunc("/", h.notFoundPage)
}

// home sends each person to the page they most likely came for.
func (h *Handler) home(w http.ResponseWriter, r *http.Request) {
	u := lockbox.UserFromContext(r.Context())
	target := "/requests"
	if lockbox.Can(u, lockbox.PermReviewRequests, "") {
		target = "/review"
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// localPath returns p if it is a path on this site, else "/": the sign-in
// page's "next" must never send anyone elsewhere.
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") ||
		strings.ContainsAny(p, "\r\n") {
		return "/"
	}
	return p
}
