package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
	"github.com/spf13/cobra"
)

func (a *app) devCmd() *cobra.Command {
	return group("dev", "Development helpers (servers started with --dev only)",
		group("clock", "Move a dev server's clock", a.devClockAdvanceCmd()))
}

func (a *app) devClockAdvanceCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "advance DURATION",
		Short: "Move a dev server's clock forward (such as 12h), to watch deadlines pass",
		Args:  exactArgs("DURATION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := time.ParseDuration(args[0])
			if err != nil || d <= 0 {
				return usageErrorf("%q is not a positive duration (use Go syntax such as 12h or 90m)", args[0])
			}
			explicitToken := a.token != ""
			now, err := a.advanceClock(cmd.Context(), d)
			if (errors.Is(err, errNotSignedIn) && a.server != "") ||
				(lockbox.ErrorCode(err) == lockbox.EUNAUTHENTICATED && !explicitToken) {
				// A dev server's clock needs no valid login: the server
				// (--server, LOCKBOX_SERVER or the saved login's) and the dev
				// service token, which every --dev server has, are enough;
				// so a login that has expired is no obstacle either.
				a.token = approval.DevServiceToken
				now, err = a.advanceClock(cmd.Context(), d)
			}
			if lockbox.ErrorCode(err) == lockbox.ENOTFOUND {
				return errors.New("the server does not offer a clock: it was not started with --dev")
			} else if err != nil {
				return err
			}
			_, err = fmt.Fprintf(a.stdout, "Server clock moved forward %s; it is now %s.\n", d, formatTime(now))
			return err
		},
	}
}

// advanceClock moves the clock of the server the client resolves to.
func (a *app) advanceClock(ctx context.Context, d time.Duration) (time.Time, error) {
	ca, err := clientAs[clockAdvancer](a, "move the server's clock")
	if err != nil {
		return time.Time{}, err
	}
	return ca.AdvanceClock(ctx, d)
}
