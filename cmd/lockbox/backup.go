package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/sqlite"
)

// The backup and restore commands work on the SQLite database file
// directly, beside a running server (backup) or instead of one (restore).
// PostgreSQL has pg_dump and pg_restore (docs/operations.md).

func (a *app) backupCmd() *cobra.Command {
	var db, out string
	cmd := &cobra.Command{
		Use:   "backup --database PATH --out FILE",
		Short: "Take a consistent snapshot of a live SQLite database",
		Long: `Write a consistent snapshot of a SQLite database to a new file while the server
keeps running: the snapshot holds every transaction committed before it began.
Signing keys are not in the database; back up --key-dir separately (docs/operations.md).
For PostgreSQL use pg_dump.`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := sqliteOnly(db); err != nil {
				return err
			}
			if err := sqlite.Backup(cmd.Context(), db, out); err != nil {
				return err
			}
			info, err := os.Stat(out)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(a.stdout, "Backed up %s to %s (%d bytes).\n", db, out, info.Size())
			return err
		},
	}
	cmd.Flags().StringVar(&db, "database", "", "the SQLite database file of the server")
	cmd.Flags().StringVar(&out, "out", "", "the snapshot file to write (must not exist)")
	required(cmd, "database", "out")
	return cmd
}

func (a *app) restoreCmd() *cobra.Command {
	var db, from string
	var force bool
	cmd := &cobra.Command{
		Use:   "restore --database PATH --from FILE [--force]",
		Short: "Replace a SQLite database with a snapshot (server stopped)",
		Long: `Replace a SQLite database with a snapshot taken by 'lockbox backup'. Stop every
server using the database first: restore refuses while anything has it open. A
crash during the restore leaves the old database or the new one.

Restoring rolls every audit log back to the snapshot. Customers who verified a
checkpoint after the snapshot was taken will see their log shrink, which
'lockbox audit verify' reports as a rollback. So restore refuses when any log of
the database holds records the snapshot lacks, naming the tenants that would
lose them, unless --force.`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := sqliteOnly(db); err != nil {
				return err
			}
			// First, so that a running server is what the user hears of.
			if err := sqlite.CheckIdle(cmd.Context(), db); err != nil {
				return err
			}
			losses, err := sqlite.CompareLogs(cmd.Context(), db, from)
			if err != nil {
				return err
			}
			if len(losses) > 0 && !force {
				return fmt.Errorf("not restoring: %s. Checkpoints handed out after the snapshot will no longer verify; restore with --force only if that is what you mean", describeLosses(losses))
			}
			if len(losses) > 0 {
				fmt.Fprintf(a.stderr, "lockbox: restoring with --force: %s.\n", describeLosses(losses))
			}
			if err := sqlite.Restore(cmd.Context(), db, from); err != nil {
				return err
			}
			_, err = fmt.Fprintf(a.stdout, "Restored %s from %s.\n", db, from)
			return err
		},
	}
	cmd.Flags().StringVar(&db, "database", "", "the SQLite database file to replace")
	cmd.Flags().StringVar(&from, "from", "", "the snapshot written by lockbox backup")
	cmd.Flags().BoolVar(&force, "force", false, "restore even if audit logs lose records")
	required(cmd, "database", "from")
	return cmd
}

// describeLosses names each log that would lose records, and how many.
func describeLosses(losses []sqlite.LogLoss) string {
	parts := make([]string, len(losses))
	for i, l := range losses {
		name := "tenant " + l.Log
		if l.Log == lockbox.ProviderLog {
			name = "the provider's log"
		}
		if l.Diverged {
			parts[i] = fmt.Sprintf("%s has another history in the snapshot (%d records now, %d in the snapshot)", name, l.Current, l.Saved)
		} else {
			parts[i] = fmt.Sprintf("%s would lose %d audit records (%d → %d)", name, l.Current-l.Saved, l.Current, l.Saved)
		}
	}
	return strings.Join(parts, "; ")
}

func sqliteOnly(db string) error {
	if strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://") {
		return usageErrorf("--database is a PostgreSQL URL: back it up with pg_dump and restore with pg_restore (docs/operations.md)")
	}
	return nil
}
