package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
	"github.com/lockboxhq/lockbox/client"
	"github.com/lockboxhq/lockbox/server"
	"github.com/lockboxhq/lockbox/sqlite"
	"github.com/lockboxhq/lockbox/sqlite/sqlitetest"
)

// newServer starts the real API (workflow service on SQLite, dev data
// seeded, --dev mode) and returns its URL.
func newServer(tb testing.TB) string {
	tb.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, sqlitetest.Path(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { store.Close() })
	clock := lockbox.NewOffsetClock()
	svc := approval.New(store, clock, approval.Options{PasswordMemoryKiB: 64, PasswordTime: 1, SessionTTL: 30 * 24 * time.Hour})
	if err := svc.SeedDev(ctx); err != nil {
		tb.Fatal(err)
	}
	s := &server.Server{
		Requests: svc, Accounts: svc, Tenants: svc, Catalog: svc,
		Ready: store.Ping, DevClock: clock, Logger: slog.New(slog.DiscardHandler),
	}
	ts := httptest.NewServer(s.Handler())
	tb.Cleanup(ts.Close)
	return ts.URL
}

// mustSignIn returns a client signed in as email with the dev password.
func mustSignIn(tb testing.TB, url, email string) *client.Client {
	tb.Helper()
	sess, err := client.New(url, "").Login(context.Background(), email, approval.DevPassword)
	if err != nil {
		tb.Fatalf("login %s: %v", email, err)
	}
	return client.New(url+"/", sess.Token) // a trailing slash must not matter
}

func mustCode(tb testing.TB, err error, code string) {
	tb.Helper()
	var e *lockbox.Error
	if !errors.As(err, &e) {
		tb.Fatalf("error %v (%T) is not a *lockbox.Error", err, err)
	}
	if e.Code != code || e.Message == "" {
		tb.Fatalf("error = {%q, %q}, want code %q and a message", e.Code, e.Message, code)
	}
}

func validRequest() lockbox.NewRequest {
	return lockbox.NewRequest{Tenant: "contoso", Service: "exchange", ServiceRequest: "SR-2026-004211",
		Reason: "Mailbox fails to load.", Operations: []string{"Get-MailboxStatistics"}, DurationMinutes: 120}
}

func TestRequestLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := newServer(t)
	operator := mustSignIn(t, url, "operator@provider.test")
	manager := mustSignIn(t, url, "manager@provider.test")
	approver := mustSignIn(t, url, "approver@contoso.test")

	r, err := operator.CreateRequest(ctx, validRequest())
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		who        *client.Client
		ev         lockbox.Event
		d          lockbox.Decision
		wantStatus lockbox.Status
	}{
		{manager, lockbox.EventReviewApprove, lockbox.Decision{Comment: "Ticket checked.", IfVersion: r.Version}, lockbox.StatusPending},
		{approver, lockbox.EventApprove, lockbox.Decision{Comment: "OK for 2h"}, lockbox.StatusActive},
		{operator, lockbox.EventComplete, lockbox.Decision{}, lockbox.StatusCompleted},
	}
	for _, st := range steps {
		got, err := st.who.Act(ctx, r.Reference, st.ev, st.d)
		if err != nil {
			t.Fatalf("%s: %v", st.ev, err)
		}
		if got.Status != st.wantStatus || got.Version <= r.Version {
			t.Fatalf("after %s: status %s version %d, want %s and a version above %d", st.ev, got.Status, got.Version, st.wantStatus, r.Version)
		}
		r = got
	}
	if r.DecisionComment == nil || *r.DecisionComment != "OK for 2h" {
		t.Errorf("decision_comment = %v, want OK for 2h", r.DecisionComment)
	}

	got, err := approver.GetRequest(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(r, got); diff != "" {
		t.Errorf("GetRequest (-after complete +got):\n%s", diff)
	}
	before := r.CreatedAt.Add(-time.Minute)
	page, err := operator.ListRequests(ctx, lockbox.RequestFilter{
		Tenant: "contoso", Status: []lockbox.Status{lockbox.StatusCompleted, lockbox.StatusActive},
		Service: "exchange", CreatedAfter: &before, Limit: 5,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Requests) != 1 || page.Requests[0].ID != r.ID || page.NextCursor != "" {
		t.Errorf("ListRequests = %v (next %q), want only the completed request", page.Requests, page.NextCursor)
	}
}

func TestErrorsAreLockboxErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := newServer(t)
	operator := mustSignIn(t, url, "operator@provider.test")
	approver := mustSignIn(t, url, "approver@contoso.test")
	r, err := operator.CreateRequest(ctx, validRequest())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"Unauthenticated", func() error { _, err := client.New(url, "nope").Me(ctx); return err }, lockbox.EUNAUTHENTICATED},
		{"NoToken", func() error { _, err := client.New(url, "").ListServices(ctx); return err }, lockbox.EUNAUTHENTICATED},
		{"WrongPassword", func() error {
			_, err := client.New(url, "").Login(ctx, "operator@provider.test", "wrong-password")
			return err
		}, lockbox.EUNAUTHENTICATED},
		{"AuthenticateEmptyToken", func() error { _, err := operator.Authenticate(ctx, ""); return err }, lockbox.EUNAUTHENTICATED},
		{"Invalid", func() error {
			in := validRequest()
			in.DurationMinutes = 0
			_, err := operator.CreateRequest(ctx, in)
			return err
		}, lockbox.EINVALID},
		{"Forbidden", func() error { _, err := approver.CreateRequest(ctx, validRequest()); return err }, lockbox.EFORBIDDEN},
		{"NotFound", func() error { _, err := operator.GetRequest(ctx, "LB-00000000"); return err }, lockbox.ENOTFOUND},
		{"NotVisibleYet", func() error { _, err := approver.GetRequest(ctx, r.ID); return err }, lockbox.ENOTFOUND},
		{"Conflict", func() error { _, err := operator.Act(ctx, r.ID, lockbox.EventComplete, lockbox.Decision{}); return err }, lockbox.ECONFLICT},
		{"StaleIfMatch", func() error {
			_, err := operator.Act(ctx, r.ID, lockbox.EventCancel, lockbox.Decision{IfVersion: r.Version + 5})
			return err
		}, lockbox.ECONFLICT},
		{"SystemEvent", func() error { _, err := operator.Act(ctx, r.ID, lockbox.EventExpire, lockbox.Decision{}); return err }, lockbox.EINVALID},
		{"UnknownTenant", func() error { _, err := approver.GetSettings(ctx, "fabrikam"); return err }, lockbox.ENOTFOUND},
		{"CommentTooLong", func() error {
			_, err := operator.Act(ctx, r.ID, lockbox.EventCancel, lockbox.Decision{Comment: strings.Repeat("x", 1001)})
			return err
		}, lockbox.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { mustCode(t, tt.call(), tt.want) })
	}
}

// TestEveryMethod calls each remaining method once against the real server.
func TestEveryMethod(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := newServer(t)
	admin := mustSignIn(t, url, "admin@provider.test")
	contoso := mustSignIn(t, url, "admin@contoso.test")
	operator := mustSignIn(t, url, "operator@provider.test")

	t.Run("Authenticate", func(t *testing.T) {
		u, err := client.New(url, "").Authenticate(ctx, operator.Token)
		if err != nil || u.Email != "operator@provider.test" {
			t.Fatalf("Authenticate = %v, %v", u, err)
		}
	})
	t.Run("Tenants", func(t *testing.T) {
		created, err := admin.CreateTenant(ctx, lockbox.NewTenant{Name: "northwind", Admin: lockbox.NewUser{Email: "admin@northwind.test"}})
		if err != nil || created.Tenant.Name != "northwind" || created.Admin.InitialPassword == "" {
			t.Fatalf("CreateTenant = %+v, %v", created, err)
		}
		tenants, err := admin.ListTenants(ctx)
		if err != nil || len(tenants) != 3 {
			t.Fatalf("ListTenants = %v, %v", tenants, err)
		}
	})
	t.Run("Settings", func(t *testing.T) {
		ttl := 600
		s, err := contoso.UpdateSettings(ctx, "contoso", lockbox.SettingsPatch{RequestTTLMinutes: &ttl})
		if err != nil || s.RequestTTLMinutes != 600 {
			t.Fatalf("UpdateSettings = %+v, %v", s, err)
		}
		got, err := contoso.GetSettings(ctx, "contoso")
		if diff := cmp.Diff(s, got); err != nil || diff != "" {
			t.Fatalf("GetSettings: %v (-updated +got):\n%s", err, diff)
		}
	})
	t.Run("TenantUsers", func(t *testing.T) {
		email := "new+1@contoso.test" // '+' must survive the path
		if _, err := contoso.AddTenantUser(ctx, "contoso", lockbox.NewUser{Email: email, Roles: []lockbox.Role{lockbox.RoleAuditReader}}); err != nil {
			t.Fatal(err)
		}
		u, err := contoso.UpdateTenantUser(ctx, "contoso", email, lockbox.UserUpdate{Roles: []lockbox.Role{lockbox.RoleLockboxApprover}})
		if err != nil || !u.HasRole(lockbox.RoleLockboxApprover) {
			t.Fatalf("UpdateTenantUser = %+v, %v", u, err)
		}
		if err := contoso.RemoveTenantUser(ctx, "contoso", email); err != nil {
			t.Fatal(err)
		}
		users, err := contoso.ListTenantUsers(ctx, "contoso")
		if err != nil || len(users) != 3 {
			t.Fatalf("ListTenantUsers = %d users, %v; want the 3 seeded", len(users), err)
		}
	})
	t.Run("Staff", func(t *testing.T) {
		if _, err := admin.AddStaff(ctx, lockbox.NewUser{Email: "op3@provider.test", Roles: []lockbox.Role{lockbox.RoleOperator}}); err != nil {
			t.Fatal(err)
		}
		staff, err := admin.ListStaff(ctx)
		if err != nil || len(staff) != 5 {
			t.Fatalf("ListStaff = %d, %v; want 5", len(staff), err)
		}
		sa, err := admin.CreateServiceAccount(ctx, "exchange-frontend")
		if err != nil || sa.Token == "" {
			t.Fatalf("CreateServiceAccount = %+v, %v", sa, err)
		}
	})
	t.Run("Catalog", func(t *testing.T) {
		in := &lockbox.Service{Name: "yammer", DisplayName: "Yammer", Operations: []string{"Get-Community"}}
		put, err := admin.PutService(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		got, err := operator.GetService(ctx, "yammer")
		if diff := cmp.Diff(put, got); err != nil || diff != "" {
			t.Fatalf("GetService: %v (-put +got):\n%s", err, diff)
		}
		all, err := operator.ListServices(ctx)
		if err != nil || len(all) != len(approval.DevServices)+1 {
			t.Fatalf("ListServices = %d, %v", len(all), err)
		}
	})
	t.Run("AdvanceClock", func(t *testing.T) {
		now, err := operator.AdvanceClock(ctx, 12*time.Hour+time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if ahead := time.Until(now); ahead < 12*time.Hour || ahead > 12*time.Hour+2*time.Minute {
			t.Errorf("clock is %v ahead, want 12h1m", ahead)
		}
		_, err = operator.AdvanceClock(ctx, -time.Hour)
		mustCode(t, err, lockbox.EINVALID)
	})
}

// recorded is what a stub server saw of one call.
type recorded struct {
	Method, Path, IfMatch, Auth, Body string
}

// stub answers every call with status and body, recording the call.
func stub(t *testing.T, status int, contentType, body string) (*client.Client, *recorded) {
	t.Helper()
	rec := &recorded{}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		*rec = recorded{r.Method, r.URL.RequestURI(), r.Header.Get("If-Match"), r.Header.Get("Authorization"), string(b)}
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(ts.Close)
	return client.New(ts.URL, "tok"), rec
}

func TestActRequests(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ev   lockbox.Event
		d    lockbox.Decision
		want recorded
	}{
		{lockbox.EventReviewApprove, lockbox.Decision{Comment: "ok"}, recorded{"POST", "/v1/requests/LB-1/review", "", "Bearer tok", `{"decision":"approve","comment":"ok"}`}},
		{lockbox.EventReviewDeny, lockbox.Decision{IfVersion: 2}, recorded{"POST", "/v1/requests/LB-1/review", `"v2"`, "Bearer tok", `{"decision":"deny"}`}},
		{lockbox.EventApprove, lockbox.Decision{IfVersion: 12}, recorded{"POST", "/v1/requests/LB-1/approve", `"v12"`, "Bearer tok", `{}`}},
		{lockbox.EventDeny, lockbox.Decision{Comment: "no"}, recorded{"POST", "/v1/requests/LB-1/deny", "", "Bearer tok", `{"comment":"no"}`}},
		{lockbox.EventCancel, lockbox.Decision{}, recorded{"POST", "/v1/requests/LB-1/cancel", "", "Bearer tok", `{}`}},
		{lockbox.EventRevoke, lockbox.Decision{}, recorded{"POST", "/v1/requests/LB-1/revoke", "", "Bearer tok", `{}`}},
		{lockbox.EventComplete, lockbox.Decision{}, recorded{"POST", "/v1/requests/LB-1/complete", "", "Bearer tok", `{}`}},
	}
	for _, tt := range tests {
		t.Run(string(tt.ev), func(t *testing.T) {
			c, rec := stub(t, 200, "application/json", `{"id":"1","status":"pending"}`)
			r, err := c.Act(context.Background(), "LB-1", tt.ev, tt.d)
			if err != nil || r.Status != lockbox.StatusPending {
				t.Fatalf("Act = %+v, %v", r, err)
			}
			if diff := cmp.Diff(tt.want, *rec); diff != "" {
				t.Errorf("request (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRequestPaths(t *testing.T) {
	t.Parallel()
	after := time.Date(2026, 11, 21, 10, 0, 0, 0, time.FixedZone("CET", 3600))
	tests := []struct {
		name string
		call func(*client.Client) error
		want string
	}{
		{"ListDefaults", func(c *client.Client) error {
			_, err := c.ListRequests(context.Background(), lockbox.RequestFilter{})
			return err
		}, "/v1/requests"},
		{"ListAll", func(c *client.Client) error {
			_, err := c.ListRequests(context.Background(), lockbox.RequestFilter{Tenant: "contoso", Status: []lockbox.Status{"pending", "active"},
				Service: "exchange", CreatedAfter: &after, Limit: 10, Cursor: "c/1"})
			return err
		}, "/v1/requests?created_after=2026-11-21T09%3A00%3A00Z&cursor=c%2F1&limit=10&service=exchange&status=pending&status=active&tenant=contoso"},
		{"GetEscapes", func(c *client.Client) error {
			_, err := c.GetRequest(context.Background(), "a/b?c")
			return err
		}, "/v1/requests/a%2Fb%3Fc"},
		{"UserEmail", func(c *client.Client) error {
			return c.RemoveTenantUser(context.Background(), "contoso", "a+b@contoso.test")
		},
			"/v1/tenants/contoso/users/a+b@contoso.test"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, rec := stub(t, 200, "application/json", `{}`)
			if err := tt.call(c); err != nil {
				t.Fatal(err)
			}
			if rec.Path != tt.want {
				t.Errorf("path = %s, want %s", rec.Path, tt.want)
			}
		})
	}
}

func TestErrorResponses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, contentType, body string
		status                  int
		want                    lockbox.Error
	}{
		{"Problem", "application/problem+json", `{"type":"about:blank","title":"Conflict","status":409,"detail":"Too late.","code":"conflict"}`, 409,
			lockbox.Error{Code: "conflict", Message: "Too late."}},
		{"ProxyPage", "text/html", `<html>Bad Gateway</html>`, 502,
			lockbox.Error{Code: "unavailable", Message: "The server answered 502 Bad Gateway."}},
		{"ProblemWithoutCode", "application/problem+json", `{"status":404,"detail":"No such thing."}`, 404,
			lockbox.Error{Code: "not_found", Message: "No such thing."}},
		{"EmptyTeapot", "text/plain", ``, 418,
			lockbox.Error{Code: "internal", Message: "The server answered 418 I'm a teapot."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := stub(t, tt.status, tt.contentType, tt.body)
			_, err := c.Me(context.Background())
			var got *lockbox.Error
			if !errors.As(err, &got) {
				t.Fatalf("error %v is not a *lockbox.Error", err)
			}
			if diff := cmp.Diff(tt.want, *got); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUnreachableServer(t *testing.T) {
	t.Parallel()
	ts := httptest.NewServer(http.NotFoundHandler())
	url := ts.URL
	ts.Close()
	_, err := client.New(url, "tok").Me(context.Background())
	mustCode(t, err, lockbox.EUNAVAILABLE)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = client.New(url, "tok").Me(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("canceled call: %v, want context.Canceled", err)
	}
}

func TestLoginSendsNoToken(t *testing.T) {
	t.Parallel()
	c, rec := stub(t, 200, "application/json", `{"token":"t","expires_at":"2026-11-21T09:00:00Z"}`)
	if _, err := c.Login(context.Background(), "a@b.test", "pw"); err != nil {
		t.Fatal(err)
	}
	var body map[string]string
	if err := json.Unmarshal([]byte(rec.Body), &body); err != nil {
		t.Fatal(err)
	}
	if rec.Auth != "" || body["email"] != "a@b.test" || body["password"] != "pw" {
		t.Errorf("login sent Authorization %q and body %s", rec.Auth, rec.Body)
	}
}

func TestWithHTTPClient(t *testing.T) {
	t.Parallel()
	c := client.New("http://127.0.0.1:1", "tok")
	hc := &http.Client{Timeout: time.Second}
	c2 := c.WithHTTPClient(hc)
	if c2.HTTPClient != hc || c.HTTPClient != nil {
		t.Errorf("WithHTTPClient changed the original or did not set the copy")
	}
}
