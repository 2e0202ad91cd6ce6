package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
)

// fakeAPI records the calls the commands make and answers with canned
// values, or with err when set.
type fakeAPI struct {
	dials []dial
	calls []call
	err   error
	pages map[string]*lockbox.RequestPage // by cursor
	me    *lockbox.User                   // Me's answer; nil: approver@contoso.test
}

var (
	_ api           = (*fakeAPI)(nil)
	_ clockAdvancer = (*fakeAPI)(nil)
)

type dial struct{ Server, Token string }

type call struct {
	Method string
	Args   []any
}

var t0 = time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)

func (f *fakeAPI) record(method string, args ...any) error {
	f.calls = append(f.calls, call{method, args})
	return f.err
}

func sampleRequest() *lockbox.AccessRequest {
	return &lockbox.AccessRequest{
		ID: "0193f4c2-8a1e-7c3b-9d2f-5b7a1c9e4d10", Reference: "LB-7K3Q9MXA",
		Tenant: "contoso", Service: "exchange", ServiceRequest: "SR-2026-004211",
		Reason: "Mailbox fails to load", Operations: []string{"Get-MailboxStatistics", "Repair-Mailbox"},
		DurationMinutes: 120, Status: lockbox.StatusPendingReview, RequestedBy: "operator@provider.test",
		CreatedAt: t0, ExpiresAt: t0.Add(12 * time.Hour), Version: 1,
	}
}

func (f *fakeAPI) CreateRequest(_ context.Context, in lockbox.NewRequest) (*lockbox.AccessRequest, error) {
	return sampleRequest(), f.record("CreateRequest", in)
}

func (f *fakeAPI) GetRequest(_ context.Context, idOrRef string) (*lockbox.AccessRequest, error) {
	return sampleRequest(), f.record("GetRequest", idOrRef)
}

func (f *fakeAPI) ListRequests(_ context.Context, fl lockbox.RequestFilter) (*lockbox.RequestPage, error) {
	if err := f.record("ListRequests", fl); err != nil {
		return nil, err
	}
	if p, ok := f.pages[fl.Cursor]; ok {
		return p, nil
	}
	return &lockbox.RequestPage{Requests: []*lockbox.AccessRequest{sampleRequest()}}, nil
}

func (f *fakeAPI) Act(_ context.Context, idOrRef string, ev lockbox.Event, d lockbox.Decision) (*lockbox.AccessRequest, error) {
	r := sampleRequest()
	r.Status = lockbox.StatusPending
	return r, f.record("Act", idOrRef, ev, d)
}

func (f *fakeAPI) Login(_ context.Context, email, password string) (*lockbox.Session, error) {
	return &lockbox.Session{Token: "secret-session-token", ExpiresAt: t0.Add(12 * time.Hour)},
		f.record("Login", email, password)
}

func (f *fakeAPI) Authenticate(_ context.Context, token string) (*lockbox.User, error) {
	return nil, f.record("Authenticate", token)
}

func (f *fakeAPI) Me(context.Context) (*lockbox.User, error) {
	if f.me != nil {
		return f.me, f.record("Me")
	}
	u := &lockbox.User{ID: "u1", Email: "approver@contoso.test", Tenant: "contoso",
		Roles: []lockbox.Role{lockbox.RoleLockboxApprover}}
	return u, f.record("Me")
}

func (f *fakeAPI) ListStaff(context.Context) ([]*lockbox.User, error) {
	u := &lockbox.User{Email: "operator@provider.test", Roles: []lockbox.Role{lockbox.RoleOperator}, CreatedAt: t0}
	return []*lockbox.User{u}, f.record("ListStaff")
}

func (f *fakeAPI) AddStaff(_ context.Context, in lockbox.NewUser) (*lockbox.User, error) {
	return &lockbox.User{Email: in.Email, Roles: in.Roles, InitialPassword: "initial-pw-123"},
		f.record("AddStaff", in)
}

func (f *fakeAPI) CreateServiceAccount(_ context.Context, name string) (*lockbox.ServiceAccount, error) {
	return &lockbox.ServiceAccount{ID: "sa1", Name: name, Token: "sa-token-xyz"}, f.record("CreateServiceAccount", name)
}

func (f *fakeAPI) ListTenantUsers(_ context.Context, tenant string) ([]*lockbox.User, error) {
	u := &lockbox.User{Email: "=cmd|' /C calc'!A0", Tenant: tenant, Roles: []lockbox.Role{lockbox.RoleGlobalAdmin}, CreatedAt: t0}
	return []*lockbox.User{u}, f.record("ListTenantUsers", tenant)
}

func (f *fakeAPI) AddTenantUser(_ context.Context, tenant string, in lockbox.NewUser) (*lockbox.User, error) {
	return &lockbox.User{Email: in.Email, Tenant: tenant, Roles: in.Roles}, f.record("AddTenantUser", tenant, in)
}

func (f *fakeAPI) UpdateTenantUser(_ context.Context, tenant, email string, upd lockbox.UserUpdate) (*lockbox.User, error) {
	return &lockbox.User{Email: email, Tenant: tenant, Roles: upd.Roles}, f.record("UpdateTenantUser", tenant, email, upd)
}

func (f *fakeAPI) RemoveTenantUser(_ context.Context, tenant, email string) error {
	return f.record("RemoveTenantUser", tenant, email)
}

func (f *fakeAPI) CreateTenant(_ context.Context, in lockbox.NewTenant) (*lockbox.TenantCreated, error) {
	admin := &lockbox.User{Email: in.Admin.Email, Tenant: in.Name, Roles: in.Admin.Roles, InitialPassword: "tenant-admin-pw"}
	return &lockbox.TenantCreated{Tenant: &lockbox.Tenant{Name: in.Name, DisplayName: in.DisplayName}, Admin: admin},
		f.record("CreateTenant", in)
}

func (f *fakeAPI) ListTenants(context.Context) ([]*lockbox.Tenant, error) {
	return []*lockbox.Tenant{{Name: "contoso", DisplayName: "Contoso", CreatedAt: t0}}, f.record("ListTenants")
}

func (f *fakeAPI) GetSettings(_ context.Context, tenant string) (*lockbox.Settings, error) {
	s := lockbox.DefaultSettings()
	return &s, f.record("GetSettings", tenant)
}

func (f *fakeAPI) UpdateSettings(_ context.Context, tenant string, p lockbox.SettingsPatch) (*lockbox.Settings, error) {
	s, err := lockbox.DefaultSettings().Apply(p)
	if err != nil {
		return nil, err
	}
	return &s, f.record("UpdateSettings", tenant, p)
}

func (f *fakeAPI) ListServices(context.Context) ([]*lockbox.Service, error) {
	return []*lockbox.Service{{Name: "exchange", DisplayName: "Exchange Online",
		Operations: []string{"Get-Mailbox"}, UpdatedAt: t0}}, f.record("ListServices")
}

func (f *fakeAPI) GetService(_ context.Context, name string) (*lockbox.Service, error) {
	if err := f.record("GetService", name); err != nil {
		return nil, err
	}
	if name != "exchange" {
		return nil, lockbox.Errorf(lockbox.ENOTFOUND, "Service not found.")
	}
	return &lockbox.Service{Name: name, DisplayName: "Exchange Online", Operations: []string{"Get-Mailbox"}}, nil
}

func (f *fakeAPI) PutService(_ context.Context, s *lockbox.Service) (*lockbox.Service, error) {
	cp := *s
	return &cp, f.record("PutService", cp)
}

func (f *fakeAPI) AdvanceClock(_ context.Context, d time.Duration) (time.Time, error) {
	return t0.Add(d), f.record("AdvanceClock", d)
}

// result is what one run of the CLI did.
type result struct {
	code           int
	stdout, stderr string
}

// runFake runs the CLI in-process against f, with env as the whole
// environment and a fresh config directory unless env names one.
func runFake(t *testing.T, f *fakeAPI, env map[string]string, args ...string) result {
	t.Helper()
	if _, ok := env["LOCKBOX_CONFIG_DIR"]; !ok {
		env = withEnv(env, "LOCKBOX_CONFIG_DIR", t.TempDir())
	}
	var stdout, stderr bytes.Buffer
	a := &app{
		stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr,
		getenv: func(k string) string { return env[k] },
		dial: func(server, token string) api {
			f.dials = append(f.dials, dial{server, token})
			return f
		},
	}
	code := a.execute(context.Background(), args)
	return result{code, stdout.String(), stderr.String()}
}

// signedIn is an environment with a server and token.
func signedIn() map[string]string {
	return map[string]string{"LOCKBOX_SERVER": "http://127.0.0.1:8080", "LOCKBOX_TOKEN": "tok"}
}

func withEnv(env map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range env {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func (f *fakeAPI) Logout(context.Context) error { return f.record("Logout") }

func (f *fakeAPI) ChangePassword(_ context.Context, in lockbox.PasswordChange) error {
	return f.record("ChangePassword", in)
}

func (f *fakeAPI) ListMyTokens(context.Context) ([]*lockbox.TokenInfo, error) {
	return []*lockbox.TokenInfo{{ID: "api_01", Kind: lockbox.TokenKindAPI, CreatedAt: t0, Current: true}}, f.record("ListMyTokens")
}

func (f *fakeAPI) RevokeMyToken(_ context.Context, id string) error {
	return f.record("RevokeMyToken", id)
}

func (f *fakeAPI) UpdateStaff(_ context.Context, email string, upd lockbox.StaffUpdate) (*lockbox.User, error) {
	return &lockbox.User{Email: email, Roles: upd.Roles, CreatedAt: t0}, f.record("UpdateStaff", email, upd)
}

func (f *fakeAPI) RemoveStaff(_ context.Context, email string) error {
	return f.record("RemoveStaff", email)
}

func (f *fakeAPI) ResetStaffPassword(_ context.Context, email string) (*lockbox.OneTimePassword, error) {
	return &lockbox.OneTimePassword{Email: email, Password: "otp-secret"}, f.record("ResetStaffPassword", email)
}

func (f *fakeAPI) ResetTenantUserPassword(_ context.Context, tenant, email string) (*lockbox.OneTimePassword, error) {
	return &lockbox.OneTimePassword{Email: email, Password: "otp-secret"}, f.record("ResetTenantUserPassword", tenant, email)
}

func (f *fakeAPI) ListServiceAccounts(context.Context) ([]*lockbox.ServiceAccount, error) {
	return []*lockbox.ServiceAccount{{Name: "svc", CreatedAt: t0}}, f.record("ListServiceAccounts")
}

func (f *fakeAPI) RevokeServiceAccount(_ context.Context, name string) error {
	return f.record("RevokeServiceAccount", name)
}

func (f *fakeAPI) RotateServiceAccount(_ context.Context, name string, grace time.Duration) (*lockbox.ServiceAccount, error) {
	return &lockbox.ServiceAccount{Name: name, Token: "new-token", CreatedAt: t0}, f.record("RotateServiceAccount", name, grace)
}

func (f *fakeAPI) AccessReport(_ context.Context, idOrRef string) (*lockbox.AccessReport, error) {
	return lockbox.NewAccessReport(sampleRequest(), nil, true), f.record("AccessReport", idOrRef)
}
