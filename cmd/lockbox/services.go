package main

import (
	"strings"

	"github.com/lockboxhq/lockbox"
	"github.com/spf13/cobra"
)

func (a *app) servicesCmd() *cobra.Command {
	return group("services", "Show and manage the services catalog",
		a.servicesListCmd(), a.servicesShowCmd(), a.servicesSetCmd())
}

func (a *app) servicesListCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the services and their operations",
		Args:  exactArgs(),
	}
	format := addFormatFlag(cmd, formatTable, formatJSON, formatCSV)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		services, err := ask(a, func(c api) ([]*lockbox.Service, error) { return c.ListServices(cmd.Context()) })
		if err != nil {
			return err
		}
		return writeList(a.stdout, format.value, services, []string{"NAME", "DISPLAY NAME", "OPERATIONS", "UPDATED"},
			func(s *lockbox.Service) []string {
				return []string{s.Name, s.DisplayName, strings.Join(s.Operations, ", "), formatTime(s.UpdatedAt)}
			})
	}
	return cmd
}

func (a *app) servicesShowCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "show NAME",
		Short: "Show one service",
		Args:  exactArgs("NAME"),
	}
	format := addFormatFlag(cmd, formatTable, formatJSON)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		s, err := ask(a, func(c api) (*lockbox.Service, error) { return c.GetService(cmd.Context(), args[0]) })
		if err != nil {
			return err
		}
		if format.value == formatJSON {
			return writeJSON(a.stdout, s)
		}
		return writeKV(a.stdout, [][2]string{
			{"Name", s.Name},
			{"Display name", s.DisplayName},
			{"Operations", strings.Join(s.Operations, ", ")},
			{"Updated", formatTime(s.UpdatedAt)},
		})
	}
	return cmd
}

func (a *app) servicesSetCmd() *cobra.Command {
	var s lockbox.Service
	cmd := &cobra.Command{
		Use:   "set NAME --operation OP...",
		Short: "Create a service or replace its operations",
		Long: `Create a service, or replace the operations of an existing one. The
operations given are the complete new list. Without --display-name an
existing service keeps its display name.`,
		Args: exactArgs("NAME"),
	}
	cmd.Flags().StringSliceVar(&s.Operations, "operation", nil, "an operation of the service (repeatable)")
	cmd.Flags().StringVar(&s.DisplayName, "display-name", "", "the service's full name")
	required(cmd, "operation")
	format := addFormatFlag(cmd, formatTable, formatJSON)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, err := a.client()
		if err != nil {
			return err
		}
		s.Name = args[0]
		if !cmd.Flags().Changed("display-name") {
			old, err := c.GetService(cmd.Context(), s.Name)
			if err != nil && lockbox.ErrorCode(err) != lockbox.ENOTFOUND {
				return err
			}
			if old != nil {
				s.DisplayName = old.DisplayName
			}
		}
		out, err := c.PutService(cmd.Context(), &s)
		if err != nil {
			return err
		}
		if format.value == formatJSON {
			return writeJSON(a.stdout, out)
		}
		return a.printLine("Saved service %s with %d operation(s): %s.",
			out.Name, len(out.Operations), strings.Join(out.Operations, ", "))
	}
	return cmd
}
