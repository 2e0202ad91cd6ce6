package server_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
	"github.com/lockboxhq/lockbox/internal/lockboxtest"
	"github.com/lockboxhq/lockbox/postgres"
	"github.com/lockboxhq/lockbox/postgres/pgtest"
	"github.com/lockboxhq/lockbox/server"
	"github.com/lockboxhq/lockbox/sqlite"
	"github.com/lockboxhq/lockbox/sqlite/sqlitetest"
)

// strictServer is the API on the real workflow service over one engine,
// for SPEC §14's refusals, which must be the same on both.
type strictServer struct {
	handler http.Handler
	store   lockbox.Store
	svc     *approval.Service
	tokens  map[string]string
	pending string // a request awaiting contoso's approval
}

func newStrictServer(t *testing.T, engine string) *strictServer {
	t.Helper()
	ctx := context.Background()
	var (
		st  lockbox.Store
		err error
	)
	if engine == "postgres" {
		st, err = postgres.Open(ctx, pgtest.Migrated(t, pgtest.DSN(t)))
	} else {
		st, err = sqlite.Open(ctx, sqlitetest.Path(t))
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc := approval.New(st, lockbox.SystemClock{}, approval.Options{PasswordMemoryKiB: 64, PasswordTime: 1, Resolver: lockboxtest.DNS,
		Secrets: lockboxtest.SecretBox(t)})
	if err := svc.SeedDev(ctx); err != nil {
		t.Fatal(err)
	}
	s := &strictServer{store: st, svc: svc, tokens: map[string]string{},
		handler: (&server.Server{Requests: svc, Accounts: svc, Tenants: svc, Catalog: svc, Webhooks: svc,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}).Handler()}
	for _, email := range []string{"operator@provider.test", "manager@provider.test", "admin@provider.test", "approver@contoso.test", "admin@contoso.test"} {
		rec := s.do("", "POST", "/v1/auth/token", map[string]string{"Content-Type": "application/json"},
			`{"email":"`+email+`","password":"lockbox-dev"}`)
		var tok struct{ Token string }
		if err := json.Unmarshal(rec.Body.Bytes(), &tok); err != nil || tok.Token == "" {
			t.Fatalf("login %s: %d %s", email, rec.Code, rec.Body)
		}
		s.tokens[email] = tok.Token
	}
	as := func(email string) context.Context {
		var u *lockbox.User
		err := st.View(ctx, func(tx lockbox.Tx) (err error) {
			u, _, err = tx.GetUserByEmail(ctx, "", email) // provider staff: the only ones it is asked for
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return lockbox.NewContextWithUser(ctx, u)
	}
	r, err := svc.CreateRequest(as("operator@provider.test"), lockbox.NewRequest{Tenant: "contoso", Service: "exchange",
		ServiceRequest: "SR-1", Reason: "pending", DurationMinutes: 60})
	if err == nil {
		r, err = svc.Act(as("manager@provider.test"), r.ID, lockbox.EventReviewApprove, lockbox.Decision{})
	}
	if err != nil {
		t.Fatal(err)
	}
	s.pending = r.ID
	return s
}

func (s *strictServer) do(as, method, path string, header map[string]string, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if as != "" {
		req.Header.Set("Authorization", "Bearer "+s.tokens[as])
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	s.handler.ServeHTTP(rec, req)
	return rec
}

// state is what a refused input must leave as it was: every log's size,
// the pending request, the tenant's users, webhooks and settings.
type state struct {
	AuditSizes map[string]int64
	Request    *lockbox.AccessRequest
	Users      []string
	Webhooks   int
	Settings   *lockbox.Settings
	Tenants    int
}

func (s *strictServer) state(t *testing.T) state {
	t.Helper()
	ctx := context.Background()
	out := state{AuditSizes: map[string]int64{}}
	err := s.store.View(ctx, func(tx lockbox.Tx) error {
		for _, log := range []string{"contoso", "fabrikam", lockbox.ProviderLog} {
			n, err := tx.AuditSize(ctx, log)
			if err != nil {
				return err
			}
			out.AuditSizes[log] = n
		}
		var err error
		if out.Request, err = tx.GetRequest(ctx, s.pending); err != nil {
			return err
		}
		users, err := tx.ListUsers(ctx, "contoso")
		if err != nil {
			return err
		}
		for _, u := range users {
			out.Users = append(out.Users, u.Email)
		}
		hooks, err := tx.ListWebhooks(ctx, "contoso")
		out.Webhooks = len(hooks)
		if err != nil {
			return err
		}
		if out.Settings, err = tx.GetSettings(ctx, "contoso"); err != nil {
			return err
		}
		tenants, err := tx.ListTenants(ctx)
		out.Tenants = len(tenants)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

const validNewRequest = `{"tenant":"contoso","service":"exchange","service_request":"SR-2","reason":"why","duration_minutes":60}`

// TestStrictInput sends every class of input SPEC §14 refuses, on both
// engines, and checks the status, the code, that the answer explains
// itself, and that nothing changed: no log grew, no request, user,
// webhook, setting or tenant moved.
func TestStrictInput(t *testing.T) {
	t.Parallel()
	const (
		operator = "operator@provider.test"
		admin    = "admin@contoso.test"
		provider = "admin@provider.test"
		json     = "application/json"
	)
	hooks := "/v1/tenants/contoso/webhooks"
	hook := func(url string) string { return `{"url":"` + url + `"}` }
	cases := []struct {
		name, as, method, path, contentType, body string
		status                                    int
		code                                      string
	}{
		// The decoder.
		{"KeyDiffersInCase", operator, "POST", "/v1/requests", json, strings.Replace(validNewRequest, `"reason"`, `"Reason"`, 1), 400, lockbox.EINVALID},
		{"DuplicateKey", operator, "POST", "/v1/requests", json, strings.Replace(validNewRequest, `{`, `{"tenant":"fabrikam",`, 1), 400, lockbox.EINVALID},
		{"InvalidUTF8", operator, "POST", "/v1/requests", json, strings.Replace(validNewRequest, "why", "why\xc3\x28", 1), 400, lockbox.EINVALID},
		{"LoneSurrogate", operator, "POST", "/v1/requests", json, strings.Replace(validNewRequest, "why", `why\ud800`, 1), 400, lockbox.EINVALID},
		{"TextPlain", operator, "POST", "/v1/requests", "text/plain", validNewRequest, 415, lockbox.EUNSUPPORTEDMEDIA},
		{"FormEncoded", operator, "POST", "/v1/requests", "application/x-www-form-urlencoded", validNewRequest, 415, lockbox.EUNSUPPORTEDMEDIA},
		{"NoContentType", operator, "POST", "/v1/requests", "", validNewRequest, 415, lockbox.EUNSUPPORTEDMEDIA},
		{"NumberOverflow", operator, "POST", "/v1/requests", json, strings.Replace(validNewRequest, "60", "99999999999999999999", 1), 400, lockbox.EINVALID},
		{"NumberOutOfFieldRange", operator, "POST", "/v1/requests", json, strings.Replace(validNewRequest, "60", "100000", 1), 400, lockbox.EINVALID},
		{"SettingOverflow", admin, "PATCH", "/v1/tenants/contoso/settings", json, `{"request_ttl_minutes":1e30}`, 400, lockbox.EINVALID},
		// An explicit empty list is not "everything".
		{"EmptyOperations", operator, "POST", "/v1/requests", json, strings.Replace(validNewRequest, `}`, `,"operations":[]}`, 1), 400, lockbox.EINVALID},
		{"EmptyWebhookEvents", admin, "POST", hooks, json, `{"url":"https://hooks.example.com/x","events":[]}`, 400, lockbox.EINVALID},
		// Control characters, which PostgreSQL answered with 500.
		{"NULInReason", operator, "POST", "/v1/requests", json, strings.Replace(validNewRequest, "why", `why\u0000`, 1), 400, lockbox.EINVALID},
		{"EscapeInServiceRequest", operator, "POST", "/v1/requests", json, strings.Replace(validNewRequest, "SR-2", `SR-2\u001b[31m`, 1), 400, lockbox.EINVALID},
		{"NULInTenant", operator, "POST", "/v1/requests", json, strings.Replace(validNewRequest, `"contoso"`, `"contoso\u0000"`, 1), 400, lockbox.EINVALID},
		{"NULInService", operator, "POST", "/v1/requests", json, strings.Replace(validNewRequest, `"exchange"`, `"exchange\u0000"`, 1), 400, lockbox.EINVALID},
		{"NULInOperation", operator, "POST", "/v1/requests", json, strings.Replace(validNewRequest, `}`, `,"operations":["Get-Mailbox\u0000"]}`, 1), 400, lockbox.EINVALID},
		{"NULInComment", "approver@contoso.test", "POST", "/v1/requests/{pending}/approve", json, `{"comment":"ok\u0000"}`, 400, lockbox.EINVALID},
		{"BellInComment", "approver@contoso.test", "POST", "/v1/requests/{pending}/deny", json, `{"comment":"no\u0007"}`, 400, lockbox.EINVALID},
		{"NULInPath", "approver@contoso.test", "POST", "/v1/requests/{pending}%00/approve", json, `{}`, 400, lockbox.EINVALID},
		{"NULInQuery", operator, "GET", "/v1/requests?tenant=contoso%00", "", ``, 400, lockbox.EINVALID},
		{"NULInTenantPath", admin, "GET", "/v1/tenants/contoso%00/settings", "", ``, 400, lockbox.EINVALID},
		{"NULInUserEmail", admin, "POST", "/v1/tenants/contoso/users", json, `{"email":"eve\u0000@contoso.test","roles":["audit_reader"]}`, 400, lockbox.EINVALID},
		{"NULInUserName", admin, "POST", "/v1/tenants/contoso/users", json, `{"email":"eve@contoso.test","name":"Eve\u0000","roles":["audit_reader"]}`, 400, lockbox.EINVALID},
		{"NULInDisplayName", provider, "POST", "/v1/tenants", json, `{"name":"northwind","display_name":"North\u0000wind","admin":{"email":"admin@northwind.test","roles":["global_admin"]}}`, 400, lockbox.EINVALID},
		{"NULInSignInEmail", "", "POST", "/v1/auth/token", json, `{"email":"operator\u0000@provider.test","password":"x"}`, 400, lockbox.EINVALID},
		{"NULInWebhookDescription", admin, "POST", hooks, json, `{"url":"https://hooks.example.com/x","description":"SIEM\u0000"}`, 400, lockbox.EINVALID},
		// Webhook URLs: ports and every spelling of a non-public host.
		{"WebhookPortTooHigh", admin, "POST", hooks, json, hook("https://hooks.example.com:99999/x"), 400, lockbox.EINVALID},
		{"WebhookPortZero", admin, "POST", hooks, json, hook("https://hooks.example.com:0/x"), 400, lockbox.EINVALID},
		{"WebhookShortLoopback", admin, "POST", hooks, json, hook("https://127.1/x"), 400, lockbox.EINVALID},
		{"WebhookOctalLoopback", admin, "POST", hooks, json, hook("https://0177.0.0.1/x"), 400, lockbox.EINVALID},
		{"WebhookDecimalLoopback", admin, "POST", hooks, json, hook("https://2130706433/x"), 400, lockbox.EINVALID},
		{"WebhookHexLoopback", admin, "POST", hooks, json, hook("https://0x7f000001/x"), 400, lockbox.EINVALID},
		{"WebhookMappedLoopback", admin, "POST", hooks, json, hook("https://[::ffff:127.0.0.1]/x"), 400, lockbox.EINVALID},
		{"WebhookHexMetadata", admin, "POST", hooks, json, hook("https://0xa9fea9fe/latest"), 400, lockbox.EINVALID},
		{"WebhookNameToPrivate", admin, "POST", hooks, json, hook("https://internal.example.com/x"), 400, lockbox.EINVALID},
		{"WebhookNameToLoopbackAmongPublic", admin, "POST", hooks, json, hook("https://rebind.example.com/x"), 400, lockbox.EINVALID},
		{"WebhookNameToMappedLoopback", admin, "POST", hooks, json, hook("https://mapped.example.com/x"), 400, lockbox.EINVALID},
		{"WebhookPlainHTTP", admin, "POST", hooks, json, hook("http://hooks.example.com/x"), 400, lockbox.EINVALID},
	}
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			s := newStrictServer(t, engine)
			before := s.state(t)
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					header := map[string]string{}
					if tc.contentType != "" {
						header["Content-Type"] = tc.contentType
					}
					rec := s.do(tc.as, tc.method, strings.ReplaceAll(tc.path, "{pending}", s.pending), header, tc.body)
					p := mustProblem(t, rec, tc.status, tc.code)
					if strings.Contains(p.Detail, "lockbox error") || strings.Contains(p.Detail, "jsontext") || strings.Contains(p.Detail, "\x00") {
						t.Errorf("detail is not for a person: %q", p.Detail)
					}
					if diff := cmp.Diff(before, s.state(t)); diff != "" {
						t.Errorf("a refused input changed state (-before +after):\n%s", diff)
					}
				})
			}
			// The same server accepts the valid forms, so the refusals
			// above are about the input, not a broken harness.
			for _, ok := range []struct{ as, method, path, body string }{
				{operator, "POST", "/v1/requests", strings.Replace(validNewRequest, "why", `why:\n\tline two\r\n`, 1)},
				{operator, "POST", "/v1/requests", strings.Replace(validNewRequest, `}`, `,"operations":["Get-Mailbox"]}`, 1)},
				{admin, "POST", hooks, `{"url":"https://hooks.example.com:8443/x","events":["request.pending"]}`},
				{"approver@contoso.test", "POST", "/v1/requests/" + s.pending + "/approve", `{"comment":"fine,\nfor one hour"}`},
			} {
				if rec := s.do(ok.as, ok.method, ok.path, map[string]string{"Content-Type": json}, ok.body); rec.Code >= 300 {
					t.Errorf("%s %s %s: %d %s", ok.method, ok.path, ok.body, rec.Code, rec.Body)
				}
			}
			if after := s.state(t); after.AuditSizes["contoso"] == before.AuditSizes["contoso"] {
				t.Error("the accepted inputs wrote no audit record; the state check cannot see a change")
			}
		})
	}
}
