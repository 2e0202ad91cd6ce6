package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/lockboxhq/lockbox/auditlog"
)

func (a *app) auditVerifyExportCmd() *cobra.Command {
	var key string
	cmd := &cobra.Command{
		Use:   "verify-export EXPORT.csv BUNDLE.proof --key VKEY",
		Short: "Check offline that a CSV export is exactly what the signed log holds",
		Long: `Check, with no server, that a CSV export (audit search -o csv --file F --proof
F.proof) is exactly what the provider's signed log holds: the bundle's
checkpoint must verify with the key you trust (--key, the provider's log
verifier key, obtained independently), every row's AuditData must be a
canonical record of the log with an inclusion proof in the signed tree, every
other cell must be what that record says, and no proven record may be missing.
Exit status 1 when it does not verify.`,
		Args: cobra.ExactArgs(2),
	}
	cmd.Flags().StringVar(&key, "key", "", "the log verifier key to trust (as GET /v1/log/key serves it)")
	format := addOutputFlag(cmd, formatTable, formatJSON)
	required(cmd, "key")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		bf, err := os.Open(args[1])
		if err != nil {
			return err
		}
		defer bf.Close()
		b, err := auditlog.ReadBundle(bf)
		if err != nil {
			return err
		}
		ef, err := os.Open(args[0])
		if err != nil {
			return err
		}
		defer ef.Close()
		r, err := auditlog.VerifyExport(ef, b, key)
		if err != nil {
			return err
		}
		if format.value == formatJSON {
			if err := writeJSON(a.stdout, r); err != nil {
				return err
			}
		} else if r.OK() {
			fmt.Fprintf(a.stdout, "%s verified: %d records of %s's log, each proven in the signed tree of %d records (origin %s).\n",
				sanitize(args[0]), r.Records, sanitize(r.Log), r.Size, sanitize(r.Origin))
		} else {
			fmt.Fprintf(a.stdout, "%s: VERIFICATION FAILED\n", sanitize(args[0]))
			for _, p := range r.Problems {
				fmt.Fprintln(a.stdout, "  - "+sanitize(p))
			}
		}
		if !r.OK() {
			return fmt.Errorf("the export %s did NOT verify: %d problem(s)", args[0], len(r.Problems))
		}
		return nil
	}
	return cmd
}
