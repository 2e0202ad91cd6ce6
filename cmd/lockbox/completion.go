package main

import (
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/keys"
)

// completeFlagValues offers the values of every flag whose values are
// known (shell completion: `lockbox completion bash`): output formats,
// statuses, roles, webhook events, key kinds, booleans, and, from the
// server when signed in, services and tenants.
func (a *app) completeFlagValues(c *cobra.Command) {
	c.Flags().VisitAll(func(f *pflag.Flag) {
		if values := a.flagValues(c, f); values != nil {
			_ = c.RegisterFlagCompletionFunc(f.Name, values)
		}
	})
	for _, sub := range c.Commands() {
		a.completeFlagValues(sub)
	}
}

func fixed(values ...string) cobra.CompletionFunc {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return values, cobra.ShellCompDirectiveNoFileComp
	}
}

func (a *app) flagValues(c *cobra.Command, f *pflag.Flag) cobra.CompletionFunc {
	switch f.Name {
	case "format":
		if v, ok := f.Value.(*formatValue); ok {
			return fixed(v.allowed...)
		}
	case "status":
		return fixed(statusNames()...)
	case "role":
		var roles []string
		for _, r := range append(append([]lockbox.Role{}, lockbox.TenantRoles...), lockbox.ProviderRoles...) {
			roles = append(roles, string(r))
		}
		return fixed(roles...)
	case "event":
		return fixed(lockbox.WebhookEvents...)
	case "kind":
		return fixed(string(keys.KindGrant), string(keys.KindLog))
	case "require-approval":
		return fixed("true", "false")
	case "service":
		if strings.HasPrefix(c.CommandPath(), "lockbox serve") {
			return nil
		}
		return func(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
			svcs, err := ask(a, func(c api) ([]*lockbox.Service, error) { return c.ListServices(cmd.Context()) })
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var names []string
			for _, s := range svcs {
				names = append(names, s.Name)
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		}
	}
	return nil
}
