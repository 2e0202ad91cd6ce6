package main

import (
	"fmt"
	"os"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
	"github.com/lockboxhq/lockbox/postgres"
	"github.com/spf13/cobra"
)

// adminCmd holds what the holder of the database does without a server
// (SPEC §10.1): recovery when nobody can sign in.
func (a *app) adminCmd() *cobra.Command {
	return group("admin", "Recovery with direct access to the database (no server needed)",
		a.adminResetPasswordCmd())
}

func (a *app) adminResetPasswordCmd() *cobra.Command {
	var database, tenant string
	cmd := &cobra.Command{
		Use:   "reset-password --database PATH|URL [--tenant T] EMAIL",
		Short: "Give an account a new one-time password, straight in the database",
		Long: `Give an account a new one-time password by writing to the database directly:
for a lost bootstrap password, or when every provider admin is locked out. It
needs no server and no sign-in, only access to the database; it prints the
one-time password once, ends the account's sessions and tokens, enables it if
it was disabled, and writes account.password_reset to the account's audit log
(the provider's for staff, the tenant's for a tenant user), done by "system".`,
		Args: exactArgs("EMAIL"),
	}
	cmd.Flags().StringVar(&database, "database", "", "SQLite file or postgres:// URL of the Lockbox database")
	cmd.Flags().StringVar(&tenant, "tenant", "", "the tenant of the account (default: provider staff)")
	required(cmd, "database")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if !isPostgres(database) {
			// Opening a missing SQLite file would create an empty database.
			if _, err := os.Stat(database); err != nil {
				return fmt.Errorf("database %s: %w", database, err)
			}
		}
		store, err := openStore(cmd.Context(), database, postgres.Options{Tool: true})
		if err != nil {
			return fmt.Errorf("open database: %w", err)
		}
		defer store.Close()
		svc := approval.New(store, lockbox.SystemClock{}, approval.Options{})
		otp, err := svc.ResetPasswordOffline(cmd.Context(), tenant, args[0])
		if err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "One-time password for %s (shown once; it signs in only to choose a new one):\n\n    %s\n\n",
			sanitize(otp.Email), sanitize(otp.Password))
		return nil
	}
	return cmd
}
