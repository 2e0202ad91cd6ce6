package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
	"github.com/lockboxhq/lockbox/internal/lockboxtest"
	"github.com/lockboxhq/lockbox/internal/testop"
	"github.com/lockboxhq/lockbox/server"
	"github.com/lockboxhq/lockbox/sqlite"
	"github.com/lockboxhq/lockbox/sqlite/sqlitetest"
)

// realServer is the API on the real workflow service and a real SQLite
// database in a temporary directory, seeded with SPEC §9's dev data, in
// --dev mode.
type realServer struct {
	handler http.Handler
	logs    *bytes.Buffer
	notify  *testNotify // notify_test.go
	op      *testop.Server
	sso     *approval.SSO
}

func newRealServer(tb testing.TB) *realServer {
	tb.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, sqlitetest.Path(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { store.Close() })
	clock := lockbox.NewOffsetClock()
	// Cheap password hashing: the test signs in many times. Sessions outlive
	// the dev clock advancing past the request deadlines.
	grants, jwks := newTestGrants(tb, store)
	op := newTestOP(tb) // sso_test.go
	svc := approval.New(store, clock, approval.Options{PasswordMemoryKiB: 64, PasswordTime: 1, SessionTTL: 30 * 24 * time.Hour, Grants: grants, Resolver: lockboxtest.DNS,
		Passkeys: testRP(tb), SSO: testSSOOptions(op), Secrets: lockboxtest.SecretBox(tb)}) // passkeys_test.go
	if err := svc.SeedDev(ctx); err != nil {
		tb.Fatal(err)
	}
	logs := &bytes.Buffer{}
	s := &server.Server{
		Requests: svc, Accounts: svc, Tenants: svc, Catalog: svc, Policies: svc,
		Ready: store.Ping, DevClock: clock, Enforcement: svc, JWKS: jwks, Passkeys: svc,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	s.Audit = newTestAudit(tb, store) // audit_test.go
	sso := svc.SSO(svc.WebSessions(approval.WebSessionOptions{}), testRedirect)
	s.SSO = sso
	// Notification routes: notify_test.go.
	notify := newTestNotify(tb, s, svc, store, clock)
	return &realServer{handler: s.Handler(), logs: logs, notify: notify, op: op, sso: sso}
}

// conformance drives the API and checks every request and response
// against the OpenAPI document.
type conformance struct {
	srv     *realServer
	doc     *openapi3.T
	router  routers.Router
	opts    *openapi3filter.Options
	covered map[string]bool // route patterns answered with a success status
	tokens  map[string]string
}

func newConformance(t *testing.T) *conformance {
	doc := mustLoadOpenAPI(t)
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &conformance{
		srv: newRealServer(t), doc: doc, router: router, covered: map[string]bool{}, tokens: map[string]string{},
		opts: &openapi3filter.Options{
			MultiError:          true,
			SkipSettingDefaults: true,
			AuthenticationFunc: func(_ context.Context, in *openapi3filter.AuthenticationInput) error {
				if !strings.HasPrefix(in.RequestValidationInput.Request.Header.Get("Authorization"), "Bearer ") {
					return errors.New("no bearer token")
				}
				return nil
			},
		},
	}
}

// step is one API call. as names the account whose token is sent ("" sends
// none, "!bad" an unknown token). invalid marks a request that is
// deliberately outside the document: only its response is validated.
type step struct {
	name         string
	as           string
	method, path string
	body         any // a string is sent as is; anything else as JSON
	header       map[string]string
	want         int
	invalid      bool
}

func (c *conformance) newRequest(t *testing.T, s step) *http.Request {
	t.Helper()
	var body []byte
	switch b := s.body.(type) {
	case nil:
	case string:
		body = []byte(b)
	default:
		var err error
		if body, err = json.Marshal(b); err != nil {
			t.Fatal(err)
		}
	}
	req := httptest.NewRequest(s.method, s.path, bytes.NewReader(body))
	if s.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	switch {
	case s.as == "!bad":
		req.Header.Set("Authorization", "Bearer not-a-token")
	case s.as != "":
		tok, ok := c.tokens[s.as]
		if !ok {
			t.Fatalf("no token for %s", s.as)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for k, v := range s.header {
		req.Header.Set(k, v)
	}
	return req
}

// findable is the request for the document's router, which does not match
// a path parameter across segments: a tile path ({path...}, one parameter
// of several segments) is looked up as one escaped segment.
func (c *conformance) findable(t *testing.T, s step) *http.Request {
	if prefix, rest, ok := strings.Cut(s.path, "/log/tiles/tile/"); ok {
		s.path = prefix + "/log/tiles/tile/" + url.PathEscape(rest)
	}
	return c.newRequest(t, s)
}

// run makes the call, checks its status and validates it; it returns the
// response body.
func (c *conformance) run(t *testing.T, s step) []byte {
	t.Helper()
	var route *routers.Route
	var params map[string]string
	if r, p, err := c.router.FindRoute(c.findable(t, s)); err == nil {
		route, params = r, p
	}
	if !s.invalid {
		if route == nil {
			t.Fatalf("%s: %s %s is not in the document", s.name, s.method, s.path)
		}
		in := &openapi3filter.RequestValidationInput{Request: c.newRequest(t, s), PathParams: params, Route: route, Options: c.opts}
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			t.Errorf("%s: request does not match the document: %v", s.name, err)
		}
	}
	req := c.newRequest(t, s)
	rec := httptest.NewRecorder()
	c.srv.handler.ServeHTTP(rec, req)
	body := rec.Body.Bytes()
	if rec.Code != s.want {
		t.Errorf("%s: %s %s answered %d, want %d: %s", s.name, s.method, s.path, rec.Code, s.want, body)
	}
	if rec.Code < 300 {
		c.covered[req.Pattern] = true
	}
	c.validateResponse(t, s, route, params, rec)
	return body
}

func (c *conformance) validateResponse(t *testing.T, s step, route *routers.Route, params map[string]string, rec *httptest.ResponseRecorder) {
	t.Helper()
	if route == nil || route.Operation == nil {
		// An unknown route or method: the answer must still be a problem.
		c.validateProblem(t, s, rec)
		return
	}
	if rec.Code != http.StatusInternalServerError && route.Operation.Responses.Status(rec.Code) == nil {
		t.Errorf("%s: status %d of %s %s is not documented", s.name, rec.Code, s.method, route.Path)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: c.newRequest(t, s), PathParams: params, Route: route},
		Status:                 rec.Code,
		Header:                 rec.Header(),
		Body:                   io.NopCloser(bytes.NewReader(rec.Body.Bytes())),
		Options:                c.opts,
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("%s: response %d does not match the document: %v\nbody: %s", s.name, rec.Code, err, rec.Body)
	}
}

func (c *conformance) validateProblem(t *testing.T, s step, rec *httptest.ResponseRecorder) {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("%s: Content-Type %q, want application/problem+json", s.name, ct)
	}
	var v any
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("%s: %v", s.name, err)
	}
	if err := c.doc.Components.Schemas["Problem"].Value.VisitJSON(v); err != nil {
		t.Errorf("%s: not a problem document: %v", s.name, err)
	}
}

// decode unmarshals a step's response body.
func decode[T any](t *testing.T, body []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("decoding %T from %s: %v", v, body, err)
	}
	return v
}

var devAccounts = []string{
	"admin@provider.test", "operator@provider.test", "operator2@provider.test", "manager@provider.test",
	"admin@contoso.test", "approver@contoso.test", "auditor@contoso.test", "admin@fabrikam.test",
}

// TestOpenAPIConformance drives every route through the real service and
// validates every request and response, errors included, against the
// OpenAPI document. A route the walk does not reach with a success fails it.
func TestOpenAPIConformance(t *testing.T) {
	t.Parallel()
	c := newConformance(t)
	c.meta(t)
	c.signIn(t)
	c.requestLifecycle(t)
	c.requestErrors(t)
	c.quorum(t)
	c.policy(t)
	c.breakGlass(t)
	c.enforcement(t)
	c.tenants(t)
	c.users(t)
	c.staffAndServices(t)
	c.routingErrors(t)
	c.accounts(t) // accounts_test.go
	c.audit(t)    // audit_test.go
	c.passkeys(t) // passkeys_test.go
	// Webhooks, dev mail, metrics: notify_test.go.
	c.notifications(t)
	c.singleSignOn(t) // sso_test.go

	for _, rt := range server.Routes(true) {
		if key := rt.Method + " " + rt.Pattern; !c.covered[key] {
			t.Errorf("route %s was not exercised with a success: add it to this test", key)
		}
	}
	if strings.Contains(c.srv.logs.String(), "level=ERROR") {
		t.Errorf("the server logged errors:\n%s", c.srv.logs)
	}
}

func (c *conformance) meta(t *testing.T) {
	c.run(t, step{name: "healthz", method: "GET", path: "/healthz", want: 200})
	c.run(t, step{name: "readyz", method: "GET", path: "/readyz", want: 200})
	c.run(t, step{name: "openapi", method: "GET", path: "/v1/openapi.json", want: 200})
}

func (c *conformance) signIn(t *testing.T) {
	for _, email := range devAccounts {
		body := c.run(t, step{name: "login " + email, method: "POST", path: "/v1/auth/token",
			body: map[string]string{"email": email, "password": approval.DevPassword}, want: 200})
		c.tokens[email] = decode[lockbox.Session](t, body).Token
	}
	c.run(t, step{name: "login wrong password", method: "POST", path: "/v1/auth/token",
		body: map[string]string{"email": "operator@provider.test", "password": "nope-nope"}, want: 401})
	c.run(t, step{name: "login unknown field", method: "POST", path: "/v1/auth/token",
		body: `{"email":"operator@provider.test","password":"x","otp":"1"}`, want: 400, invalid: true})
	c.run(t, step{name: "me", as: "operator@provider.test", method: "GET", path: "/v1/me", want: 200})
	c.run(t, step{name: "me without token", method: "GET", path: "/v1/me", want: 401, invalid: true})
	c.run(t, step{name: "me with unknown token", as: "!bad", method: "GET", path: "/v1/me", want: 401})
}

func newRequestBody(service string) map[string]any {
	return map[string]any{
		"tenant": "contoso", "service": service, "service_request": "SR-2026-004211",
		"reason": "Mailbox fails to load.", "operations": []string{"Get-MailboxStatistics"}, "duration_minutes": 120,
	}
}

// file creates a request as the operator and returns it.
func (c *conformance) file(t *testing.T, name string) *lockbox.AccessRequest {
	body := c.run(t, step{name: name + ": create", as: "operator@provider.test", method: "POST", path: "/v1/requests",
		body: newRequestBody("exchange"), want: 201})
	return decode[*lockbox.AccessRequest](t, body)
}

func (c *conformance) act(t *testing.T, name, as string, r *lockbox.AccessRequest, action string, body any, want int) *lockbox.AccessRequest {
	out := c.run(t, step{name: name, as: as, method: "POST", path: "/v1/requests/" + r.ID + "/" + action, body: body, want: want})
	if want != 200 {
		return nil
	}
	return decode[*lockbox.AccessRequest](t, out)
}

const (
	operator = "operator@provider.test"
	manager  = "manager@provider.test"
	approver = "approver@contoso.test"
)

func (c *conformance) requestLifecycle(t *testing.T) {
	reviewOK := map[string]string{"decision": "approve", "comment": "Ticket checked."}

	r := c.file(t, "completed")
	c.run(t, step{name: "list", as: operator, method: "GET", path: "/v1/requests?status=pending_review,pending&status=active&limit=10&tenant=contoso&service=exchange&created_after=2000-01-01T00:00:00Z", want: 200})
	c.run(t, step{name: "get by reference", as: operator, method: "GET", path: "/v1/requests/" + r.Reference, want: 200})
	c.run(t, step{name: "review with If-Match", as: manager, method: "POST", path: "/v1/requests/" + r.ID + "/review",
		body: reviewOK, header: map[string]string{"If-Match": `"v` + strconv.Itoa(r.Version) + `"`}, want: 200})
	r = c.act(t, "approve without body", approver, r, "approve", nil, 200)
	if r.Status != lockbox.StatusActive {
		t.Fatalf("approved request is %s, want active", r.Status)
	}
	c.act(t, "complete", operator, r, "complete", map[string]string{"comment": "Fixed."}, 200)

	denied := c.file(t, "denied")
	c.act(t, "review", manager, denied, "review", reviewOK, 200)
	c.act(t, "deny", approver, denied, "deny", map[string]string{"comment": "Not now."}, 200)

	reviewDenied := c.file(t, "review denied")
	c.act(t, "review deny", manager, reviewDenied, "review", map[string]string{"decision": "deny"}, 200)

	canceled := c.file(t, "canceled")
	c.act(t, "cancel with empty body", operator, canceled, "cancel", nil, 200)

	revoked := c.file(t, "revoked")
	c.act(t, "review", manager, revoked, "review", reviewOK, 200)
	c.act(t, "approve", approver, revoked, "approve", map[string]string{}, 200)
	c.act(t, "revoke", approver, revoked, "revoke", map[string]string{"comment": "Done here."}, 200)

	expired := c.file(t, "expired")
	c.run(t, step{name: "advance clock", as: operator, method: "POST", path: "/v1/dev/clock", body: map[string]string{"advance": "12h1m"}, want: 200})
	got := decode[*lockbox.AccessRequest](t, c.run(t, step{name: "get expired", as: operator, method: "GET", path: "/v1/requests/" + expired.ID, want: 200}))
	if got.Status != lockbox.StatusExpired {
		t.Errorf("after 12h1m the request is %s, want expired", got.Status)
	}
}

// quorum: a 2-of-N tenant; approvals narrow, the narrowest applies, the
// same approver twice is 409, widening and narrowing a denial are 400.
func (c *conformance) quorum(t *testing.T) {
	settings := "/v1/tenants/contoso/settings"
	c.run(t, step{name: "quorum of two", as: approver, method: "PATCH", path: settings, body: map[string]int{"approvals_required": 2}, want: 200})
	c.run(t, step{name: "quorum of six", as: approver, method: "PATCH", path: settings, body: map[string]int{"approvals_required": 6}, want: 400, invalid: true})
	in := newRequestBody("exchange")
	in["operations"] = []string{"Get-Mailbox", "Get-MailboxStatistics"}
	r := decode[*lockbox.AccessRequest](t, c.run(t, step{name: "quorum: create", as: operator, method: "POST", path: "/v1/requests", body: in, want: 201}))
	c.act(t, "quorum: review", manager, r, "review", map[string]string{"decision": "approve"}, 200)
	c.act(t, "quorum: widen", approver, r, "approve", map[string]any{"duration_minutes": 121}, 400)
	c.act(t, "quorum: deny with changes", approver, r, "deny", map[string]any{"duration_minutes": 60}, 400)
	got := c.act(t, "quorum: first approval", approver, r, "approve", map[string]any{"duration_minutes": 60, "operations": []string{"Get-MailboxStatistics"}, "comment": "Stats only."}, 200)
	if got.Status != lockbox.StatusPending || len(got.Approvals) != 1 || got.DurationMinutes != 60 || got.RequestedDurationMinutes != 120 {
		t.Errorf("after one of two approvals: %s, %d approvals, %d of %d minutes", got.Status, len(got.Approvals), got.DurationMinutes, got.RequestedDurationMinutes)
	}
	c.act(t, "quorum: same approver again", approver, r, "approve", nil, 409)
	got = c.act(t, "quorum: second approval", "admin@contoso.test", r, "approve", map[string]any{"duration_minutes": 90}, 200)
	if got.Status != lockbox.StatusActive || len(got.Approvals) != 2 || got.DurationMinutes != 60 || len(got.Operations) != 1 || len(got.RequestedOperations) != 2 {
		t.Errorf("after two of two: %s, %d approvals, %d minutes, %v of %v", got.Status, len(got.Approvals), got.DurationMinutes, got.Operations, got.RequestedOperations)
	}
	// Extensions of the active request, under the same quorum of two.
	c.act(t, "extend by approver", approver, r, "extend", map[string]any{"minutes": 30, "reason": "x"}, 403)
	c.act(t, "extend (to be denied)", operator, r, "extend", map[string]any{"minutes": 240, "reason": "a long job"}, 200)
	c.act(t, "extension deny", approver, r, "extension/deny", map[string]string{"comment": "Too long."}, 200)
	c.act(t, "extension deny again", approver, r, "extension/deny", nil, 409)
	c.run(t, step{name: "extend without reason", as: operator, method: "POST", path: "/v1/requests/" + r.ID + "/extend",
		body: map[string]any{"minutes": 30}, want: 400, invalid: true})
	c.act(t, "extend", operator, r, "extend", map[string]any{"minutes": 30, "reason": "Still copying."}, 200)
	c.act(t, "extend twice", operator, r, "extend", map[string]any{"minutes": 30, "reason": "again"}, 409)
	c.act(t, "extension approve 1 of 2", approver, r, "extension/approve", nil, 200)
	c.act(t, "extension approve twice", approver, r, "extension/approve", nil, 409)
	got = c.act(t, "extension approve 2 of 2", "admin@contoso.test", r, "extension/approve", map[string]string{"comment": "OK."}, 200)
	if len(got.Extensions) != 2 || got.Extensions[1].Status != lockbox.ExtensionApproved || got.AccessEndsAt.Sub(*got.AccessStartsAt) != 90*time.Minute {
		t.Errorf("after the extension: %+v, access %v..%v", got.Extensions, got.AccessStartsAt, got.AccessEndsAt)
	}
	c.run(t, step{name: "quorum of one", as: approver, method: "PATCH", path: settings, body: map[string]int{"approvals_required": 1}, want: 200})
}

// policy: rules are checked on PUT (400 naming the rule and position),
// read back, simulated, and decide a request as it becomes pending.
func (c *conformance) policy(t *testing.T) {
	path := "/v1/tenants/contoso/policy"
	bad := map[string]any{"rules": []map[string]any{
		{"id": "ok", "when": "true", "action": map[string]int{"require_approvals": 2}},
		{"id": "typo", "when": `request.servce == "exchange"`, "action": "deny"},
	}}
	body := c.run(t, step{name: "policy: typo", as: approver, method: "PUT", path: path, body: bad, want: 400})
	if !strings.Contains(string(body), `Rule \"typo\": line 1, column 8`) || !strings.Contains(string(body), `"field":"rules[1].when"`) {
		t.Errorf("policy: typo answered %s", body)
	}
	for _, s := range []step{
		{name: "policy: six approvals", as: approver, method: "PUT", path: path, want: 400, invalid: true,
			body: map[string]any{"rules": []map[string]any{{"id": "a", "when": "true", "action": map[string]int{"require_approvals": 6}}}}},
		{name: "policy: unknown action", as: approver, method: "PUT", path: path, want: 400, invalid: true,
			body: map[string]any{"rules": []map[string]any{{"id": "a", "when": "true", "action": "approve"}}}},
		{name: "policy: unknown member", as: approver, method: "PUT", path: path, want: 400, invalid: true,
			body: `{"rules":[{"id":"a","when":"true","action":"deny","priority":1}]}`},
		{name: "policy: as provider admin", as: "admin@provider.test", method: "PUT", path: path, want: 403,
			body: map[string]any{"rules": []any{}}},
		{name: "policy: other tenant", as: "admin@fabrikam.test", method: "GET", path: path, want: 404},
		{name: "policy: set", as: approver, method: "PUT", path: path, want: 200, body: map[string]any{"rules": []map[string]any{
			{"id": "no-sharepoint", "description": "Never SharePoint", "when": `request.service == "sharepoint"`, "action": "deny"},
			{"id": "diagnostics", "when": `request.operations.all(o, o.startsWith("Get-"))`, "action": "auto_approve"},
		}}},
		{name: "policy: get", as: "admin@contoso.test", method: "GET", path: path, want: 200},
	} {
		c.run(t, s)
	}
	sim := decode[lockbox.SimulationResult](t, c.run(t, step{name: "policy: simulate", as: approver, method: "POST", path: path + "/simulate", want: 200,
		body: map[string]any{"request": map[string]any{"service": "exchange", "operations": []string{"Get-Mailbox"}}, "now": "2026-03-30T07:30:00Z"}}))
	if sim.Decision.Outcome != lockbox.OutcomeAutoApprove || sim.Decision.Rule != "diagnostics" || len(sim.Rules) != 2 {
		t.Errorf("policy: simulate = %+v", sim)
	}
	c.run(t, step{name: "policy: simulate bad now", as: approver, method: "POST", path: path + "/simulate", want: 400, invalid: true,
		body: map[string]any{"request": map[string]any{}, "now": "yesterday"}})
	in := newRequestBody("exchange")
	in["operations"] = []string{"Get-Mailbox"}
	r := decode[*lockbox.AccessRequest](t, c.run(t, step{name: "policy: create", as: operator, method: "POST", path: "/v1/requests", body: in, want: 201}))
	got := c.act(t, "policy: review", manager, r, "review", map[string]string{"decision": "approve"}, 200)
	if got.Status != lockbox.StatusActive || got.DecidedBy == nil || *got.DecidedBy != "policy:diagnostics" || got.Policy == nil {
		t.Errorf("policy: auto-approved request is %s, decided by %v, policy %+v", got.Status, got.DecidedBy, got.Policy)
	}
	c.run(t, step{name: "policy: clear", as: approver, method: "PUT", path: path, want: 200, body: map[string]any{"rules": []any{}}})
}

// breakGlass: a tenant that enabled break-glass; the request is active at
// once after review, reported on, revoked, listed as needing review and
// acknowledged.
func (c *conformance) breakGlass(t *testing.T) {
	settings := "/v1/tenants/contoso/settings"
	c.run(t, step{name: "enable break-glass", as: approver, method: "PATCH", path: settings,
		body: map[string]any{"break_glass": map[string]any{"enabled": true, "max_minutes": 30},
			"escalation": map[string]any{"after_minutes": 60, "notify": []string{"duty@contoso.test"}}}, want: 200})
	c.run(t, step{name: "break-glass max too long", as: approver, method: "PATCH", path: settings,
		body: map[string]any{"break_glass": map[string]any{"max_minutes": 241}}, want: 400, invalid: true})
	in := newRequestBody("exchange")
	in["break_glass"] = true
	c.run(t, step{name: "break-glass without incident", as: operator, method: "POST", path: "/v1/requests", body: in, want: 400, invalid: true})
	in["incident"] = "INC-4711"
	r := decode[*lockbox.AccessRequest](t, c.run(t, step{name: "break-glass: create", as: operator, method: "POST", path: "/v1/requests", body: in, want: 201}))
	c.run(t, step{name: "report before access", as: operator, method: "GET", path: "/v1/requests/" + r.ID + "/report", want: 409})
	got := c.act(t, "break-glass: review", manager, r, "review", map[string]string{"decision": "approve"}, 200)
	if got.Status != lockbox.StatusActive || got.DurationMinutes != 30 || !got.NeedsReview {
		t.Errorf("break-glass after review: %s, %d minutes, needs_review %v", got.Status, got.DurationMinutes, got.NeedsReview)
	}
	rep := decode[*lockbox.AccessReport](t, c.run(t, step{name: "report so far", as: approver, method: "GET", path: "/v1/requests/" + r.ID + "/report", want: 200}))
	if rep.Final || len(rep.Unused) != 1 {
		t.Errorf("report while active: %+v", rep)
	}
	c.act(t, "acknowledge while active", approver, r, "acknowledge", nil, 409)
	c.act(t, "break-glass: revoke", approver, r, "revoke", nil, 200)
	c.run(t, step{name: "needs review", as: approver, method: "GET", path: "/v1/requests?needs_review=true", want: 200})
	c.run(t, step{name: "needs review bad", as: approver, method: "GET", path: "/v1/requests?needs_review=yes", want: 400, invalid: true})
	rep = decode[*lockbox.AccessReport](t, c.run(t, step{name: "final report", as: "auditor@contoso.test", method: "GET", path: "/v1/requests/" + r.Reference + "/report", want: 200}))
	if !rep.Final || rep.Status != lockbox.StatusRevoked || rep.RequestID != r.ID {
		t.Errorf("final report: %+v", rep)
	}
	c.act(t, "acknowledge by operator", operator, r, "acknowledge", nil, 403)
	got = c.act(t, "acknowledge", approver, r, "acknowledge", map[string]string{"comment": "Checked with the SOC."}, 200)
	if got.NeedsReview || got.AcknowledgedBy == nil {
		t.Errorf("after acknowledging: needs_review %v, by %v", got.NeedsReview, got.AcknowledgedBy)
	}
	c.act(t, "acknowledge twice", approver, r, "acknowledge", nil, 409)
	c.run(t, step{name: "disable break-glass", as: approver, method: "PATCH", path: settings,
		body: map[string]any{"break_glass": map[string]any{"enabled": false}, "escalation": map[string]any{"after_minutes": 0}}, want: 200})
}

func (c *conformance) requestErrors(t *testing.T) {
	r := c.file(t, "errors")
	path := "/v1/requests/" + r.ID
	for _, s := range []step{
		{name: "create unknown field", as: operator, method: "POST", path: "/v1/requests", body: `{"tenant":"contoso","priority":1}`, want: 400, invalid: true},
		{name: "create malformed", as: operator, method: "POST", path: "/v1/requests", body: `{"tenant":`, want: 400, invalid: true},
		{name: "create too large", as: operator, method: "POST", path: "/v1/requests", body: `{"reason":"` + strings.Repeat("x", 1<<20) + `"}`, want: 413, invalid: true},
		{name: "create unknown service", as: operator, method: "POST", path: "/v1/requests", body: newRequestBody("printer"), want: 400},
		{name: "create as approver", as: approver, method: "POST", path: "/v1/requests", body: newRequestBody("exchange"), want: 403},
		{name: "create without token", method: "POST", path: "/v1/requests", body: newRequestBody("exchange"), want: 401, invalid: true},
		{name: "list bad limit", as: operator, method: "GET", path: "/v1/requests?limit=0", want: 400, invalid: true},
		{name: "list bad status", as: operator, method: "GET", path: "/v1/requests?status=open", want: 400},
		{name: "get unknown", as: operator, method: "GET", path: "/v1/requests/LB-00000000", want: 404},
		{name: "get before tenant sees it", as: approver, method: "GET", path: path, want: 404},
		{name: "review own request", as: operator, method: "POST", path: path + "/review", body: map[string]string{"decision": "approve"}, want: 403},
		{name: "review bad decision", as: manager, method: "POST", path: path + "/review", body: map[string]string{"decision": "maybe"}, want: 400, invalid: true},
		{name: "review malformed If-Match", as: manager, method: "POST", path: path + "/review", body: map[string]string{"decision": "approve"}, header: map[string]string{"If-Match": "v1"}, want: 400, invalid: true},
		{name: "review stale If-Match", as: manager, method: "POST", path: path + "/review", body: map[string]string{"decision": "approve"}, header: map[string]string{"If-Match": `"v99"`}, want: 409},
		{name: "complete before approval", as: operator, method: "POST", path: path + "/complete", want: 409},
		{name: "comment too long", as: operator, method: "POST", path: path + "/cancel", body: map[string]string{"comment": strings.Repeat("x", 1001)}, want: 400, invalid: true},
	} {
		c.run(t, s)
	}
	c.run(t, step{name: "review", as: manager, method: "POST", path: path + "/review", body: map[string]string{"decision": "approve"}, want: 200})
	c.run(t, step{name: "review twice", as: manager, method: "POST", path: path + "/review", body: map[string]string{"decision": "approve"}, want: 409})
	c.run(t, step{name: "approve by auditor", as: "auditor@contoso.test", method: "POST", path: path + "/approve", want: 403})
	c.run(t, step{name: "approve by other tenant", as: "admin@fabrikam.test", method: "POST", path: path + "/approve", want: 404})
	c.run(t, step{name: "dev clock bad duration", as: operator, method: "POST", path: "/v1/dev/clock", body: map[string]string{"advance": "-1h"}, want: 400})
}

func (c *conformance) tenants(t *testing.T) {
	const admin, contosoAdmin = "admin@provider.test", "admin@contoso.test"
	newTenant := map[string]any{"name": "northwind", "display_name": "Northwind Traders", "admin": map[string]any{"email": "admin@northwind.test"}}
	for _, s := range []step{
		{name: "create tenant", as: admin, method: "POST", path: "/v1/tenants", body: newTenant, want: 201},
		{name: "create tenant again", as: admin, method: "POST", path: "/v1/tenants", body: newTenant, want: 409},
		{name: "create tenant bad name", as: admin, method: "POST", path: "/v1/tenants", body: map[string]any{"name": "North Wind", "admin": map[string]any{"email": "a@b.test"}}, want: 400, invalid: true},
		{name: "create tenant as operator", as: operator, method: "POST", path: "/v1/tenants", body: newTenant, want: 403},
		{name: "list tenants", as: admin, method: "GET", path: "/v1/tenants", want: 200},
		{name: "list tenants as tenant admin", as: contosoAdmin, method: "GET", path: "/v1/tenants", want: 403},
		{name: "get settings", as: contosoAdmin, method: "GET", path: "/v1/tenants/contoso/settings", want: 200},
		{name: "get settings as auditor", as: "auditor@contoso.test", method: "GET", path: "/v1/tenants/contoso/settings", want: 403},
		{name: "get other tenant's settings", as: "admin@fabrikam.test", method: "GET", path: "/v1/tenants/contoso/settings", want: 404},
		{name: "patch settings", as: approver, method: "PATCH", path: "/v1/tenants/contoso/settings",
			body: map[string]any{"request_ttl_minutes": 600, "notify_emails": []string{"soc@contoso.test"}, "require_approval": true}, want: 200},
		{name: "patch settings out of range", as: approver, method: "PATCH", path: "/v1/tenants/contoso/settings", body: map[string]any{"max_access_minutes": 0}, want: 400, invalid: true},
		{name: "patch settings unknown field", as: approver, method: "PATCH", path: "/v1/tenants/contoso/settings", body: `{"ttl":5}`, want: 400, invalid: true},
	} {
		c.run(t, s)
	}
}

func (c *conformance) users(t *testing.T) {
	const contosoAdmin = "admin@contoso.test"
	users := "/v1/tenants/contoso/users"
	for _, s := range []step{
		{name: "list users as approver", as: approver, method: "GET", path: users, want: 200},
		{name: "add user", as: contosoAdmin, method: "POST", path: users, body: map[string]any{"email": "new@contoso.test", "name": "New", "roles": []string{"lockbox_approver"}}, want: 201},
		{name: "add user again", as: contosoAdmin, method: "POST", path: users, body: map[string]any{"email": "new@contoso.test", "roles": []string{"lockbox_approver"}}, want: 409},
		{name: "add user with provider role", as: contosoAdmin, method: "POST", path: users, body: map[string]any{"email": "x@contoso.test", "roles": []string{"operator"}}, want: 400},
		{name: "add user as approver", as: approver, method: "POST", path: users, body: map[string]any{"email": "y@contoso.test", "roles": []string{"audit_reader"}}, want: 403},
		{name: "add user as provider admin", as: "admin@provider.test", method: "POST", path: users, body: map[string]any{"email": "z@contoso.test", "roles": []string{"global_admin"}}, want: 403},
		{name: "update user", as: contosoAdmin, method: "PATCH", path: users + "/new@contoso.test", body: map[string]any{"roles": []string{"audit_reader"}}, want: 200},
		{name: "update unknown user", as: contosoAdmin, method: "PATCH", path: users + "/nobody@contoso.test", body: map[string]any{"roles": []string{"audit_reader"}}, want: 404},
		{name: "remove user", as: contosoAdmin, method: "DELETE", path: users + "/new@contoso.test", want: 204},
		{name: "remove user again", as: contosoAdmin, method: "DELETE", path: users + "/new@contoso.test", want: 404},
		{name: "list other tenant's users", as: "admin@fabrikam.test", method: "GET", path: users, want: 404},
	} {
		c.run(t, s)
	}
}

func (c *conformance) staffAndServices(t *testing.T) {
	const admin = "admin@provider.test"
	for _, s := range []step{
		{name: "list staff", as: admin, method: "GET", path: "/v1/staff", want: 200},
		{name: "list staff as operator", as: operator, method: "GET", path: "/v1/staff", want: 403},
		{name: "add staff", as: admin, method: "POST", path: "/v1/staff", body: map[string]any{"email": "op3@provider.test", "roles": []string{"operator"}, "password": "long-enough-1"}, want: 201},
		{name: "add staff again", as: admin, method: "POST", path: "/v1/staff", body: map[string]any{"email": "op3@provider.test", "roles": []string{"operator"}}, want: 409},
		{name: "add staff with tenant role", as: admin, method: "POST", path: "/v1/staff", body: map[string]any{"email": "op4@provider.test", "roles": []string{"global_admin"}}, want: 400},
		{name: "create service account", as: admin, method: "POST", path: "/v1/service-accounts", body: map[string]string{"name": "exchange-frontend"}, want: 201},
		{name: "create service account as operator", as: operator, method: "POST", path: "/v1/service-accounts", body: map[string]string{"name": "x"}, want: 403},
		{name: "list services", as: operator, method: "GET", path: "/v1/services", want: 200},
		{name: "list services as tenant", as: approver, method: "GET", path: "/v1/services", want: 403},
		{name: "get service", as: operator, method: "GET", path: "/v1/services/exchange", want: 200},
		{name: "get unknown service", as: operator, method: "GET", path: "/v1/services/printer", want: 404},
		{name: "put service", as: admin, method: "PUT", path: "/v1/services/yammer", body: map[string]any{"display_name": "Yammer", "operations": []string{"Get-Community"}}, want: 200},
		{name: "put service bad operation", as: admin, method: "PUT", path: "/v1/services/yammer", body: map[string]any{"operations": []string{"1bad op"}}, want: 400},
		{name: "put service with name in body", as: admin, method: "PUT", path: "/v1/services/yammer", body: map[string]any{"name": "other", "operations": []string{"Get-Community"}}, want: 400, invalid: true},
		{name: "put service as operator", as: operator, method: "PUT", path: "/v1/services/yammer", body: map[string]any{"operations": []string{"Get-Community"}}, want: 403},
	} {
		c.run(t, s)
	}
}

func (c *conformance) routingErrors(t *testing.T) {
	for _, s := range []step{
		{name: "unknown path", as: operator, method: "GET", path: "/v1/printers", want: 404, invalid: true},
		{name: "wrong method", as: operator, method: "DELETE", path: "/v1/requests", want: 405, invalid: true},
	} {
		c.run(t, s)
	}
}
