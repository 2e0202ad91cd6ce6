package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/lockboxhq/lockbox"
)

// passkeysCmd lists and removes one's own passkeys (SPEC §10.3).
// Registering one needs a browser's authenticator: the Account page.
func (a *app) passkeysCmd() *cobra.Command {
	list := &cobra.Command{
		Use:   "list",
		Short: "List your passkeys",
		Args:  exactArgs(),
	}
	format := addFormatFlag(list, formatTable, formatJSON, formatCSV)
	list.RunE = func(cmd *cobra.Command, _ []string) error {
		keys, err := ask(a, func(c api) ([]*lockbox.Passkey, error) {
			ps, err := passkeysOf(c)
			if err != nil {
				return nil, err
			}
			return ps.ListPasskeys(cmd.Context())
		})
		if err != nil {
			return err
		}
		return writeList(a.stdout, format.value, keys, []string{"ID", "NAME", "CREATED", "LAST USED"},
			func(k *lockbox.Passkey) []string {
				return []string{k.ID, k.Name, formatTime(k.CreatedAt), formatTimePtr(k.LastUsedAt)}
			})
	}
	remove := &cobra.Command{
		Use:   "remove ID",
		Short: "Remove one of your passkeys (audited as passkey.removed)",
		Args:  exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := ask(a, func(c api) (struct{}, error) {
				ps, err := passkeysOf(c)
				if err != nil {
					return struct{}{}, err
				}
				return struct{}{}, ps.RemovePasskey(cmd.Context(), args[0])
			}); err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, "Removed.")
			return nil
		},
	}
	return group("passkeys", "List and remove your own passkeys (add one on the admin center's Account page)", list, remove)
}

// passkeysOf is c's passkey calls, which only the HTTP client offers.
func passkeysOf(c api) (lockbox.PasskeyService, error) {
	if ps, ok := c.(lockbox.PasskeyService); ok {
		return ps, nil
	}
	return nil, errors.New("this client cannot manage passkeys")
}
