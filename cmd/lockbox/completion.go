package main

import (
	"context"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/keys"
)

// completeFlagValues offers the values of every flag whose values are
// known (shell completion: `lockbox completion bash`): output formats,
// booleans, statuses, roles, webhook events, key kinds, log formats, audit
// operations and record types, and, from the server when signed in,
// services, tenants and the operations of the chosen service or request.
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

// fromServer completes with what values asks of the signed-in server;
// nothing when it cannot (not signed in, offline, not allowed).
func (a *app) fromServer(values func(ctx context.Context, c api, cmd *cobra.Command, args []string) ([]string, error)) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		c, err := a.client()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		out, err := values(cmd.Context(), c, cmd, args)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

func (a *app) flagValues(c *cobra.Command, f *pflag.Flag) cobra.CompletionFunc {
	switch v := f.Value.(type) {
	case *formatValue:
		return fixed(v.allowed...)
	case *boolValue:
		return fixed("true", "false")
	}
	path := c.CommandPath()
	switch f.Name {
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
	case "log-format":
		return fixed("text", "json")
	case "record-type":
		return fixed(lockbox.AuditRecordTypes...)
	case "service":
		if strings.HasPrefix(path, "lockbox serve") {
			return nil
		}
		return a.fromServer(func(ctx context.Context, c api, _ *cobra.Command, _ []string) ([]string, error) {
			svcs, err := c.ListServices(ctx)
			var names []string
			for _, s := range svcs {
				names = append(names, s.Name)
			}
			return names, err
		})
	case "tenant":
		return a.fromServer(func(ctx context.Context, c api, _ *cobra.Command, _ []string) ([]string, error) {
			return completeTenants(ctx, c, strings.HasPrefix(path, "lockbox audit"))
		})
	case "operation":
		return a.operationValues(path)
	}
	return nil
}

// completeTenants lists the tenants the caller may name: every tenant for
// provider admins (and "provider", the provider's own log, for audit
// commands), else the caller's own.
func completeTenants(ctx context.Context, c api, audit bool) ([]string, error) {
	ts, err := c.ListTenants(ctx)
	if err != nil {
		u, merr := c.Me(ctx)
		if merr != nil || u.Tenant == "" {
			return nil, err
		}
		return []string{u.Tenant}, nil
	}
	var names []string
	for _, t := range ts {
		names = append(names, t.Name)
	}
	if audit {
		names = append(names, lockbox.ProviderLog)
	}
	return names, nil
}

// operationValues completes --operation: the audit log's operations in the
// audit commands; the operations of the request being approved; else the
// catalog's operations of the --service given so far (none before it).
// services set defines operations, so it gets none.
func (a *app) operationValues(path string) cobra.CompletionFunc {
	switch {
	case strings.HasPrefix(path, "lockbox audit"):
		return fixed(lockbox.AuditOperations...)
	case path == "lockbox requests approve":
		return a.fromServer(func(ctx context.Context, c api, _ *cobra.Command, args []string) ([]string, error) {
			if len(args) == 0 {
				return nil, nil
			}
			r, err := c.GetRequest(ctx, args[0])
			if err != nil {
				return nil, err
			}
			return r.Operations, nil
		})
	case strings.HasPrefix(path, "lockbox services"):
		return nil
	}
	return a.fromServer(func(ctx context.Context, c api, cmd *cobra.Command, _ []string) ([]string, error) {
		service, _ := cmd.Flags().GetString("service")
		if service == "" {
			return nil, nil
		}
		s, err := c.GetService(ctx, service)
		if err != nil {
			return nil, err
		}
		return s.Operations, nil
	})
}
