package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/lockboxhq/lockbox"
)

// grantIssuer is the grant endpoint, which only the HTTP client offers.
type grantIssuer interface {
	IssueGrant(ctx context.Context, idOrRef string) (*lockbox.Grant, error)
}

func (a *app) requestsTokenCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token ID|REFERENCE",
		Short: "Print a grant token for your own active request (operators)",
		Long: `Print a grant token for your own active request: a signed JWT that
data-plane services accept for the approved operations. It is valid for at
most 15 minutes and never after the approved access ends; run this again to
refresh it. The token alone is printed, so it can be captured:

  TOKEN=$(lockbox requests token LB-7K3Q9MXA)`,
		Args: exactArgs("ID|REFERENCE"),
	}
	format := addFormatFlag(cmd, formatTable, formatJSON)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		gi, err := clientAs[grantIssuer](a, "obtain grant tokens")
		if err != nil {
			return err
		}
		g, err := gi.IssueGrant(cmd.Context(), args[0])
		if err != nil {
			return err
		}
		if format.value == formatJSON {
			return writeJSON(a.stdout, g)
		}
		fmt.Fprintf(a.stderr, "Grant for request %s, valid until %s (key %s).\n",
			a.requestName(cmd.Context(), g.RequestID), g.ExpiresAt.UTC().Format(time.RFC3339), g.KID)
		_, err = fmt.Fprintln(a.stdout, g.Token)
		return err
	}
	return cmd
}
