package main

import (
	"fmt"

	"github.com/lockboxhq/lockbox"
	"github.com/spf13/cobra"
)

func (a *app) usersCmd() *cobra.Command {
	return group("users", "Manage a tenant's users and roles (global admins)",
		a.usersListCmd(), a.usersAddCmd(), a.usersSetRolesCmd(), a.usersRemoveCmd(), a.usersResetPasswordCmd())
}

func (a *app) usersListCmd() *cobra.Command {
	var tenant string
	cmd := &cobra.Command{
		Use:   "list --tenant T",
		Short: "List a tenant's users",
		Args:  exactArgs(),
	}
	addTenantFlag(cmd, &tenant)
	format := addFormatFlag(cmd, formatTable, formatJSON, formatCSV)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := a.ownTenant(cmd, &tenant); err != nil {
			return err
		}
		users, err := ask(a, func(c api) ([]*lockbox.User, error) { return c.ListTenantUsers(cmd.Context(), tenant) })
		if err != nil {
			return err
		}
		return a.printUsers(format.value, users)
	}
	return cmd
}

// printUsers lists tenant users or provider staff.
func (a *app) printUsers(format string, users []*lockbox.User) error {
	return writeList(a.stdout, format, users, []string{"EMAIL", "NAME", "ROLES", "CREATED"},
		func(u *lockbox.User) []string {
			return []string{u.Email, u.Name, joinRoles(u.Roles), formatTime(u.CreatedAt)}
		})
}

func (a *app) usersAddCmd() *cobra.Command {
	var (
		tenant string
		in     lockbox.NewUser
		roles  []string
	)
	cmd := &cobra.Command{
		Use:   "add --tenant T --email E --role R...",
		Short: "Add a user to a tenant",
		Long: `Add a user to a tenant with one or more of the roles global_admin,
lockbox_approver and audit_reader. Without --password the server makes up an
initial password, which is printed once.`,
		Args: exactArgs(),
	}
	fl := cmd.Flags()
	addTenantFlag(cmd, &tenant)
	fl.StringVar(&in.Email, "email", "", "the user's email address")
	fl.StringSliceVar(&roles, "role", nil, "a role to grant (repeatable)")
	fl.StringVar(&in.Name, "name", "", "the user's name")
	fl.StringVar(&in.Password, "password", "", "the initial password (default: generated and printed once)")
	required(cmd, "email", "role")
	apiField(cmd, "role", "roles", "")
	format := addFormatFlag(cmd, formatTable, formatJSON)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := a.ownTenant(cmd, &tenant); err != nil {
			return err
		}
		in.Roles = toRoles(roles)
		u, err := ask(a, func(c api) (*lockbox.User, error) { return c.AddTenantUser(cmd.Context(), tenant, in) })
		if err != nil {
			return err
		}
		return a.printNewUser(format.value, fmt.Sprintf("Added %s to %s as %s.", u.Email, tenant, joinRoles(u.Roles)), u)
	}
	return cmd
}

// printNewUser confirms a new account and shows its generated initial
// password, which the server returns this once only.
func (a *app) printNewUser(format, line string, u *lockbox.User) error {
	if format == formatJSON {
		return writeJSON(a.stdout, u)
	}
	fmt.Fprintln(a.stdout, sanitize(line))
	if u.InitialPassword != "" {
		fmt.Fprintf(a.stdout, "Initial password (shown only once): %s\n", sanitize(u.InitialPassword))
	}
	return nil
}

func (a *app) usersSetRolesCmd() *cobra.Command {
	var (
		tenant, email string
		roles         []string
	)
	cmd := &cobra.Command{
		Use:   "set-roles --tenant T --email E --role R...",
		Short: "Replace a tenant user's roles",
		Args:  exactArgs(),
	}
	fl := cmd.Flags()
	addTenantFlag(cmd, &tenant)
	fl.StringVar(&email, "email", "", "the user's email address")
	fl.StringSliceVar(&roles, "role", nil, "a role the user is to hold (repeatable)")
	required(cmd, "email", "role")
	apiField(cmd, "role", "roles", "")
	format := addFormatFlag(cmd, formatTable, formatJSON)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := a.ownTenant(cmd, &tenant); err != nil {
			return err
		}
		u, err := ask(a, func(c api) (*lockbox.User, error) {
			return c.UpdateTenantUser(cmd.Context(), tenant, email, lockbox.UserUpdate{Roles: toRoles(roles)})
		})
		if err != nil {
			return err
		}
		if format.value == formatJSON {
			return writeJSON(a.stdout, u)
		}
		return a.printLine("%s in %s now holds %s.", u.Email, tenant, joinRoles(u.Roles))
	}
	return cmd
}

func (a *app) usersRemoveCmd() *cobra.Command {
	var tenant, email string
	cmd := &cobra.Command{
		Use:   "remove --tenant T --email E",
		Short: "Remove a user from a tenant",
		Args:  exactArgs(),
	}
	addTenantFlag(cmd, &tenant)
	cmd.Flags().StringVar(&email, "email", "", "the user's email address")
	required(cmd, "email")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := a.ownTenant(cmd, &tenant); err != nil {
			return err
		}
		c, err := a.client()
		if err != nil {
			return err
		}
		if err := c.RemoveTenantUser(cmd.Context(), tenant, email); err != nil {
			return err
		}
		return a.printLine("Removed %s from %s.", email, tenant)
	}
	return cmd
}

func (a *app) usersResetPasswordCmd() *cobra.Command {
	var tenant string
	cmd := &cobra.Command{
		Use:   "reset-password --tenant T EMAIL",
		Short: "Give a tenant user a one-time password (printed once)",
		Args:  exactArgs("EMAIL"),
	}
	addTenantFlag(cmd, &tenant)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := a.ownTenant(cmd, &tenant); err != nil {
			return err
		}
		otp, err := ask(a, func(c api) (*lockbox.OneTimePassword, error) {
			return c.ResetTenantUserPassword(cmd.Context(), tenant, args[0])
		})
		if err != nil {
			return err
		}
		return a.printOneTimePassword(otp)
	}
	return cmd
}
