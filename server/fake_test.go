package server_test

import (
	"context"
	"time"

	"github.com/lockboxhq/lockbox"
)

// fake implements the four service interfaces for handler tests. Each
// method calls its hook when set and otherwise answers a fixed value; err,
// when set, is what every method returns.
type fake struct {
	err error

	// Seen by the last call.
	user     *lockbox.User
	clientIP string
	filter   lockbox.RequestFilter
	newReq   lockbox.NewRequest
	event    lockbox.Event
	decision lockbox.Decision
	idOrRef  string

	authenticate func(token string) (*lockbox.User, error)
}

var (
	_ lockbox.RequestService = (*fake)(nil)
	_ lockbox.AccountService = (*fake)(nil)
	_ lockbox.TenantService  = (*fake)(nil)
	_ lockbox.CatalogService = (*fake)(nil)
)

var fakeTime = time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)

func fakeRequest() *lockbox.AccessRequest {
	return &lockbox.AccessRequest{
		ID: "0193f4c2-8a1e-7c3b-9d2f-5b7a1c9e4d10", Reference: "LB-7K3Q9MXA", Tenant: "contoso",
		Service: "exchange", ServiceRequest: "SR-1", Reason: "r", Operations: []string{"Get-Mailbox"},
		DurationMinutes: 60, Status: lockbox.StatusPendingReview, RequestedBy: "operator@provider.test",
		CreatedAt: fakeTime, ExpiresAt: fakeTime.Add(12 * time.Hour), Version: 3,
	}
}

func (f *fake) seen(ctx context.Context) {
	f.user = lockbox.UserFromContext(ctx)
	f.clientIP = lockbox.ClientIPFromContext(ctx)
}

func (f *fake) CreateRequest(ctx context.Context, in lockbox.NewRequest) (*lockbox.AccessRequest, error) {
	f.seen(ctx)
	f.newReq = in
	return fakeRequest(), f.err
}

func (f *fake) GetRequest(ctx context.Context, idOrRef string) (*lockbox.AccessRequest, error) {
	f.seen(ctx)
	f.idOrRef = idOrRef
	return fakeRequest(), f.err
}

func (f *fake) ListRequests(ctx context.Context, filter lockbox.RequestFilter) (*lockbox.RequestPage, error) {
	f.seen(ctx)
	f.filter = filter
	return &lockbox.RequestPage{Requests: []*lockbox.AccessRequest{fakeRequest()}}, f.err
}

func (f *fake) Act(ctx context.Context, idOrRef string, ev lockbox.Event, d lockbox.Decision) (*lockbox.AccessRequest, error) {
	f.seen(ctx)
	f.idOrRef, f.event, f.decision = idOrRef, ev, d
	return fakeRequest(), f.err
}

func (f *fake) Login(ctx context.Context, email, password string) (*lockbox.Session, error) {
	f.seen(ctx)
	return &lockbox.Session{Token: "t", ExpiresAt: fakeTime}, f.err
}

// Authenticate knows one token, "good", of an operator.
func (f *fake) Authenticate(ctx context.Context, token string) (*lockbox.User, error) {
	if f.authenticate != nil {
		return f.authenticate(token)
	}
	if token != "good" {
		return nil, lockbox.Errorf(lockbox.EUNAUTHENTICATED, "Your session has expired.")
	}
	return fakeUser(), nil
}

func fakeUser() *lockbox.User {
	return &lockbox.User{ID: "u1", Email: "operator@provider.test", Roles: []lockbox.Role{lockbox.RoleOperator}, CreatedAt: fakeTime}
}

func (f *fake) Me(ctx context.Context) (*lockbox.User, error) {
	f.seen(ctx)
	return f.user, f.err
}

func (f *fake) ListStaff(ctx context.Context) ([]*lockbox.User, error) {
	f.seen(ctx)
	return []*lockbox.User{fakeUser()}, f.err
}

func (f *fake) AddStaff(ctx context.Context, in lockbox.NewUser) (*lockbox.User, error) {
	f.seen(ctx)
	return fakeUser(), f.err
}

func (f *fake) CreateServiceAccount(ctx context.Context, name string) (*lockbox.ServiceAccount, error) {
	f.seen(ctx)
	return &lockbox.ServiceAccount{ID: "sa", Name: name, Token: "secret", CreatedAt: fakeTime}, f.err
}

func (f *fake) ListTenantUsers(ctx context.Context, tenant string) ([]*lockbox.User, error) {
	f.seen(ctx)
	return []*lockbox.User{fakeUser()}, f.err
}

func (f *fake) AddTenantUser(ctx context.Context, tenant string, in lockbox.NewUser) (*lockbox.User, error) {
	f.seen(ctx)
	return fakeUser(), f.err
}

func (f *fake) UpdateTenantUser(ctx context.Context, tenant, email string, upd lockbox.UserUpdate) (*lockbox.User, error) {
	f.seen(ctx)
	return fakeUser(), f.err
}

func (f *fake) RemoveTenantUser(ctx context.Context, tenant, email string) error {
	f.seen(ctx)
	return f.err
}

func (f *fake) CreateTenant(ctx context.Context, in lockbox.NewTenant) (*lockbox.TenantCreated, error) {
	f.seen(ctx)
	return &lockbox.TenantCreated{Tenant: &lockbox.Tenant{Name: in.Name, CreatedAt: fakeTime}, Admin: fakeUser()}, f.err
}

func (f *fake) ListTenants(ctx context.Context) ([]*lockbox.Tenant, error) {
	f.seen(ctx)
	return []*lockbox.Tenant{{Name: "contoso", DisplayName: "Contoso", CreatedAt: fakeTime}}, f.err
}

func (f *fake) GetSettings(ctx context.Context, tenant string) (*lockbox.Settings, error) {
	f.seen(ctx)
	s := lockbox.DefaultSettings()
	return &s, f.err
}

func (f *fake) UpdateSettings(ctx context.Context, tenant string, p lockbox.SettingsPatch) (*lockbox.Settings, error) {
	f.seen(ctx)
	s, err := lockbox.DefaultSettings().Apply(p)
	if err != nil {
		return nil, err
	}
	return &s, f.err
}

func (f *fake) ListServices(ctx context.Context) ([]*lockbox.Service, error) {
	f.seen(ctx)
	return []*lockbox.Service{fakeService()}, f.err
}

func (f *fake) GetService(ctx context.Context, name string) (*lockbox.Service, error) {
	f.seen(ctx)
	return fakeService(), f.err
}

func (f *fake) PutService(ctx context.Context, s *lockbox.Service) (*lockbox.Service, error) {
	f.seen(ctx)
	out := *s
	out.UpdatedAt = fakeTime
	return &out, f.err
}

func fakeService() *lockbox.Service {
	return &lockbox.Service{Name: "exchange", DisplayName: "Exchange", Operations: []string{"Get-Mailbox"}, UpdatedAt: fakeTime}
}

func (f *fake) Logout(ctx context.Context) error { f.seen(ctx); return f.err }

func (f *fake) ChangePassword(ctx context.Context, in lockbox.PasswordChange) error {
	f.seen(ctx)
	return f.err
}

func (f *fake) ListMyTokens(ctx context.Context) ([]*lockbox.TokenInfo, error) {
	f.seen(ctx)
	return []*lockbox.TokenInfo{{ID: "api_00", Kind: lockbox.TokenKindAPI, CreatedAt: fakeTime}}, f.err
}

func (f *fake) RevokeMyToken(ctx context.Context, id string) error { f.seen(ctx); return f.err }

func (f *fake) UpdateStaff(ctx context.Context, email string, upd lockbox.StaffUpdate) (*lockbox.User, error) {
	f.seen(ctx)
	return fakeUser(), f.err
}

func (f *fake) RemoveStaff(ctx context.Context, email string) error { f.seen(ctx); return f.err }

func (f *fake) ResetStaffPassword(ctx context.Context, email string) (*lockbox.OneTimePassword, error) {
	f.seen(ctx)
	return &lockbox.OneTimePassword{Email: email, Password: "otp"}, f.err
}

func (f *fake) ResetTenantUserPassword(ctx context.Context, tenant, email string) (*lockbox.OneTimePassword, error) {
	f.seen(ctx)
	return &lockbox.OneTimePassword{Email: email, Password: "otp"}, f.err
}

func (f *fake) ListServiceAccounts(ctx context.Context) ([]*lockbox.ServiceAccount, error) {
	f.seen(ctx)
	return []*lockbox.ServiceAccount{{ID: "sa", Name: "svc", CreatedAt: fakeTime}}, f.err
}

func (f *fake) RevokeServiceAccount(ctx context.Context, name string) error {
	f.seen(ctx)
	return f.err
}

func (f *fake) RotateServiceAccount(ctx context.Context, name string, grace time.Duration) (*lockbox.ServiceAccount, error) {
	f.seen(ctx)
	return &lockbox.ServiceAccount{ID: "sa", Name: name, Token: "secret", CreatedAt: fakeTime}, f.err
}

func (f *fake) AccessReport(ctx context.Context, idOrRef string) (*lockbox.AccessReport, error) {
	f.seen(ctx)
	f.idOrRef = idOrRef
	return lockbox.NewAccessReport(fakeRequest(), nil, true), f.err
}
