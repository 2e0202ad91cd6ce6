package approval

import (
	"context"

	"github.com/lockboxhq/lockbox"
)

// DevPassword is the password of every account SeedDev creates.
const DevPassword = "lockbox-dev"

// DevServiceToken is the bearer token of the dev service account.
const DevServiceToken = "dev-service-token"

// DevServices is the dev services catalog.
var DevServices = []*lockbox.Service{
	{Name: "exchange", DisplayName: "Exchange Online", Operations: []string{
		"Get-Mailbox", "Get-MailboxStatistics", "Get-MailboxFolderStatistics", "Repair-Mailbox", "Export-MailboxDiagnosticLogs"}},
	{Name: "sharepoint", DisplayName: "SharePoint Online", Operations: []string{
		"Get-Site", "Get-SiteStorage", "Read-ListItem", "Repair-SitePermissions"}},
	{Name: "onedrive", DisplayName: "OneDrive", Operations: []string{
		"Get-Drive", "Read-File", "Restore-File"}},
	{Name: "teams", DisplayName: "Microsoft Teams", Operations: []string{
		"Get-Team", "Read-ChannelMessages", "Repair-TeamMembership"}},
}

// SeedDev creates SPEC §9's dev accounts, tenants and services, unless they
// exist already (a dev server restarted on the same database, or another
// replica that seeded it first: replicas starting together on one empty
// database seed it one after the other, under the store's lock).
func (s *Service) SeedDev(ctx context.Context) error {
	return s.withStoreLock(ctx, "seed", s.seedDev)
}

// withStoreLock runs fn under the store's named lock when the store is
// shared by several processes (lockbox.StoreLocker), else directly.
// Without it, replicas seeding one empty database at once would fail on
// each other's accounts (ECONFLICT) and write the catalog's audit records
// several times.
func (s *Service) withStoreLock(ctx context.Context, name string, fn func(context.Context) error) error {
	if s.locker != nil {
		return s.locker.WithLock(ctx, name, fn)
	}
	return fn(ctx)
}

func (s *Service) seedDev(ctx context.Context) error {
	ctx = lockbox.NewContextWithUser(ctx, lockbox.System)
	if exists, err := s.userExists(ctx, "admin@provider.test"); err != nil || exists {
		return err
	}
	staff := []struct {
		email string
		role  lockbox.Role
	}{
		{"admin@provider.test", lockbox.RoleProviderAdmin},
		{"operator@provider.test", lockbox.RoleOperator},
		{"operator2@provider.test", lockbox.RoleOperator},
		{"manager@provider.test", lockbox.RoleSupportManager},
	}
	for _, st := range staff {
		if _, err := s.AddStaff(ctx, lockbox.NewUser{Email: st.email, Roles: []lockbox.Role{st.role}, Password: DevPassword}); err != nil {
			return err
		}
	}
	if _, err := s.createServiceAccount(ctx, "dev-service", DevServiceToken); err != nil {
		return err
	}
	for _, svc := range DevServices {
		if _, err := s.PutService(ctx, svc); err != nil {
			return err
		}
	}
	return s.seedDevTenants(ctx)
}

func (s *Service) seedDevTenants(ctx context.Context) error {
	tenants := []struct {
		name, display, admin string
		more                 []lockbox.NewUser
	}{
		{"contoso", "Contoso Ltd", "admin@contoso.test", []lockbox.NewUser{
			{Email: "approver@contoso.test", Roles: []lockbox.Role{lockbox.RoleLockboxApprover}, Password: DevPassword},
			{Email: "auditor@contoso.test", Roles: []lockbox.Role{lockbox.RoleAuditReader}, Password: DevPassword},
		}},
		{"fabrikam", "Fabrikam Inc", "admin@fabrikam.test", nil},
	}
	for _, t := range tenants {
		_, err := s.createTenant(ctx, lockbox.NewTenant{Name: t.name, DisplayName: t.display,
			Admin: lockbox.NewUser{Email: t.admin, Password: DevPassword}}, true)
		if err != nil {
			return err
		}
		for _, nu := range t.more {
			if _, err := s.AddTenantUser(ctx, t.name, nu); err != nil {
				return err
			}
		}
	}
	return nil
}

// Bootstrap creates the first provider admin, admin@localhost, with a random
// password, when the database has no provider staff at all. It returns the
// password (to print once), or "" when staff exist already. Replicas
// starting together on one empty database create it once (the store's lock,
// as in SeedDev): one of them prints the password.
func (s *Service) Bootstrap(ctx context.Context) (password string, err error) {
	err = s.withStoreLock(ctx, "seed", func(ctx context.Context) error {
		password, err = s.bootstrap(ctx)
		return err
	})
	return password, err
}

func (s *Service) bootstrap(ctx context.Context) (string, error) {
	ctx = lockbox.NewContextWithUser(ctx, lockbox.System)
	var staff []*lockbox.User
	err := s.store.View(ctx, func(tx lockbox.Tx) error {
		var err error
		staff, err = tx.ListUsers(ctx, "")
		return err
	})
	if err != nil || len(staff) > 0 {
		return "", err
	}
	u, err := s.AddStaff(ctx, lockbox.NewUser{Email: "admin@localhost", Name: "Bootstrap admin",
		Roles: []lockbox.Role{lockbox.RoleProviderAdmin}})
	if err != nil {
		return "", err
	}
	return u.InitialPassword, nil
}

func (s *Service) userExists(ctx context.Context, email string) (bool, error) {
	var found bool
	err := s.store.View(ctx, func(tx lockbox.Tx) error {
		_, _, err := tx.GetUserByEmail(ctx, "", email) // provider staff
		found = err == nil
		if lockbox.ErrorCode(err) == lockbox.ENOTFOUND {
			return nil
		}
		return err
	})
	return found, err
}
