package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/lockboxhq/lockbox"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// The commands of one's own account (SPEC §10.1): passwd, tokens, and the
// one-time password change that login asks for.

func (a *app) passwdCmd() *cobra.Command {
	var first bool
	cmd := &cobra.Command{
		Use:   "passwd",
		Short: "Change your password; every other session and token of yours ends",
		Long: `Change your password. On a terminal the current and the new password are
prompted for (the new one twice); otherwise they are read from LOCKBOX_PASSWORD
and LOCKBOX_NEW_PASSWORD. A password has at least 12 characters, is not your
email address and is not one of the 10,000 most common passwords. Every other
session and API token of yours ends; this login stays signed in.

An account that has no password (it signs in through its organisation's
identity provider) chooses a first one with --first: no current password.`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			current := ""
			if !first {
				var err error
				if current, err = a.readPassword(); err != nil {
					return err
				}
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			return a.changePassword(cmd.Context(), c, current)
		},
	}
	cmd.Flags().BoolVar(&first, "first", false, "choose a first password for an account that has none (signed in through single sign-on)")
	return cmd
}

// changePassword asks for a new password and sets it with c's token.
func (a *app) changePassword(ctx context.Context, c api, current string) error {
	next, err := a.readNewPassword()
	if err != nil {
		return err
	}
	if err := c.ChangePassword(ctx, lockbox.PasswordChange{Current: current, New: next}); err != nil {
		return err
	}
	fmt.Fprintln(a.stdout, "Password changed; your other sessions and tokens have ended.")
	return nil
}

// readNewPassword prompts twice without echo on a terminal, and otherwise
// reads LOCKBOX_NEW_PASSWORD.
func (a *app) readNewPassword() (string, error) {
	if f, ok := a.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		read := func(prompt string) (string, error) {
			fmt.Fprint(a.stderr, prompt)
			b, err := term.ReadPassword(int(f.Fd()))
			fmt.Fprintln(a.stderr)
			return string(b), err
		}
		p1, err := read("New password: ")
		if err != nil {
			return "", fmt.Errorf("reading password: %w", err)
		}
		p2, err := read("New password again: ")
		if err != nil {
			return "", fmt.Errorf("reading password: %w", err)
		}
		if p1 != p2 {
			return "", errors.New("the two new passwords differ")
		}
		return p1, nil
	}
	if p := a.getenv("LOCKBOX_NEW_PASSWORD"); p != "" {
		return p, nil
	}
	return "", errors.New("no new password: standard input is not a terminal and LOCKBOX_NEW_PASSWORD is not set")
}

func (a *app) tokensCmd() *cobra.Command {
	list := &cobra.Command{
		Use:   "list",
		Short: "List your sessions and API tokens",
		Args:  exactArgs(),
	}
	format := addFormatFlag(list, formatTable, formatJSON, formatCSV)
	list.RunE = func(cmd *cobra.Command, _ []string) error {
		tokens, err := ask(a, func(c api) ([]*lockbox.TokenInfo, error) { return c.ListMyTokens(cmd.Context()) })
		if err != nil {
			return err
		}
		return writeList(a.stdout, format.value, tokens, []string{"ID", "KIND", "CREATED", "LAST USED", "EXPIRES", "CURRENT"},
			func(k *lockbox.TokenInfo) []string {
				current := ""
				if k.Current {
					current = "yes"
				}
				return []string{k.ID, k.Kind, formatTime(k.CreatedAt), formatTimePtr(k.LastUsedAt), formatTimePtr(k.ExpiresAt), current}
			})
	}
	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "End one of your sessions or API tokens",
		Args:  exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := ask(a, func(c api) (struct{}, error) { return struct{}{}, c.RevokeMyToken(cmd.Context(), args[0]) }); err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, "Ended.")
			return nil
		},
	}
	return group("tokens", "List and end your own sessions and API tokens", list, revoke)
}
