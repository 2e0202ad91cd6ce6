package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/client"
	"github.com/lockboxhq/lockbox/server"
)

// policyAPI is a tenant's policy rules, which only the HTTP client offers
// (the api interface stays the fakes' size).
type policyAPI interface {
	lockbox.PolicyService
}

var _ policyAPI = (*client.Client)(nil)

func (a *app) policyCmd() *cobra.Command {
	return group("policy", "Show, change and try a tenant's policy rules (CEL)",
		a.policyGetCmd(), a.policySetCmd(), a.policySimulateCmd())
}

func (a *app) policies() (policyAPI, error) { return clientAs[policyAPI](a, "manage policy rules") }

func (a *app) policyGetCmd() *cobra.Command {
	var tenant string
	cmd := &cobra.Command{Use: "get --tenant T", Short: "Show a tenant's policy rules", Args: exactArgs()}
	addTenantFlag(cmd, &tenant)
	format := addFormatFlag(cmd, formatTable, formatJSON)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := a.ownTenant(cmd, &tenant); err != nil {
			return err
		}
		p, err := a.policies()
		if err != nil {
			return err
		}
		pol, err := p.GetPolicy(cmd.Context(), tenant)
		if err != nil {
			return err
		}
		if format.value == formatJSON {
			return writeJSON(a.stdout, pol)
		}
		t := newTable("ID", "ACTION", "WHEN", "DESCRIPTION")
		for _, r := range pol.Rules {
			t.add(r.ID, r.Action.String(), strings.Join(strings.Fields(r.When), " "), r.Description)
		}
		return t.writeText(a.stdout)
	}
	return cmd
}

func (a *app) policySetCmd() *cobra.Command {
	var tenant, file string
	cmd := &cobra.Command{
		Use:   "set --tenant T -f rules.json",
		Short: "Replace a tenant's policy rules with those in a file ({\"rules\": [...]}; - for standard input)",
		Args:  exactArgs(),
	}
	addTenantFlag(cmd, &tenant)
	cmd.Flags().StringVarP(&file, "file", "f", "", "the rules as JSON: {\"rules\":[{\"id\",\"description\",\"when\",\"action\"}]}")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if file == "" {
			return &usageError{msg: "policy set needs -f rules.json (or -f - for standard input)"}
		}
		if err := a.ownTenant(cmd, &tenant); err != nil {
			return err
		}
		var in lockbox.Policy
		if err := readJSONFile(file, cmd.InOrStdin(), &in); err != nil {
			return err
		}
		p, err := a.policies()
		if err != nil {
			return err
		}
		out, err := p.PutPolicy(cmd.Context(), tenant, in)
		if err != nil {
			return err
		}
		return a.printLine("%s now has %d policy rule(s).", tenant, len(out.Rules))
	}
	return cmd
}

// readJSONFile reads one strict JSON value (as the server reads bodies)
// from the file name, or from stdin for "-".
func readJSONFile(name string, stdin io.Reader, v any) error {
	b, err := readJSONBody(name, stdin)
	if err != nil {
		return err
	}
	if err := server.DecodeStrict(b, v); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

func (a *app) policySimulateCmd() *cobra.Command {
	var (
		tenant, at string
		in         lockbox.PolicyInput
		duration   minutesValue
	)
	cmd := &cobra.Command{
		Use:   "simulate --tenant T --service S [--operation OP]... [--duration 1h] [--requested-by E] [--reason R] [--service-request SR] [--break-glass] [--at 2026-03-30T09:30:00+02:00]",
		Short: "Show which rules match a request and what they decide; changes nothing",
		Args:  exactArgs(),
	}
	fl := cmd.Flags()
	addTenantFlag(cmd, &tenant)
	fl.StringVar(&in.Service, "service", "", "the request's service")
	fl.StringArrayVar(&in.Operations, "operation", nil, "an operation asked for (repeat for several)")
	fl.Var(&duration, "duration", "the access duration asked for (e.g. 90m, 2h)")
	fl.StringVar(&in.RequestedBy, "requested-by", "", "the requester's email")
	fl.StringVar(&in.ServiceRequest, "service-request", "", "the service request (ticket) number")
	fl.StringVar(&in.Reason, "reason", "", "the reason given")
	fl.BoolVar(&in.BreakGlass, "break-glass", false, "simulate a break-glass request")
	fl.StringVar(&at, "at", "", "evaluate at this time (RFC 3339; default now)")
	format := addFormatFlag(cmd, formatTable, formatJSON)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := a.ownTenant(cmd, &tenant); err != nil {
			return err
		}
		sim := lockbox.PolicySimulation{Request: in}
		sim.Request.DurationMinutes = duration.minutes
		if at != "" {
			t, err := time.Parse(time.RFC3339, at)
			if err != nil {
				return &usageError{msg: fmt.Sprintf("--at %q: want an RFC 3339 time such as 2026-03-30T09:30:00+02:00", at)}
			}
			sim.Now = &t
		}
		p, err := a.policies()
		if err != nil {
			return err
		}
		out, err := p.SimulatePolicy(cmd.Context(), tenant, sim)
		if err != nil {
			return err
		}
		if format.value == formatJSON {
			return writeJSON(a.stdout, out)
		}
		t := newTable("RULE", "MATCHED", "ERROR")
		for _, r := range out.Rules {
			t.add(r.ID, fmt.Sprint(r.Matched), r.Error)
		}
		if err := t.writeText(a.stdout); err != nil {
			return err
		}
		return a.printLine("%s", simulationSummary(out))
	}
	return cmd
}

// simulationSummary is the outcome in one line.
func simulationSummary(out *lockbox.SimulationResult) string {
	at := out.Now.UTC().Format(time.RFC3339)
	switch d := out.Decision; {
	case out.DecidedAtOnce == lockbox.EventBreakGlass:
		return fmt.Sprintf("At %s: activated at once by break-glass (the tenant enabled it); it needs review afterwards.", at)
	case d.Outcome == lockbox.OutcomeAutoApprove && out.DecidedAtOnce == "":
		return fmt.Sprintf("At %s: rule %s matched to approve, but the tenant requires signed decisions: %d approval(s) needed.", at, d.Rule, out.ApprovalsRequired)
	}
	switch d := out.Decision; d.Outcome {
	case lockbox.OutcomeDeny:
		return fmt.Sprintf("At %s: denied by rule %s.", at, d.Rule)
	case lockbox.OutcomeAutoApprove:
		return fmt.Sprintf("At %s: approved automatically by rule %s.", at, d.Rule)
	case lockbox.OutcomeRequireApprovals:
		return fmt.Sprintf("At %s: needs %d approvals (rule %s).", at, out.ApprovalsRequired, d.Rule)
	}
	if !out.RequireApproval {
		return fmt.Sprintf("At %s: no rule matched; the settings approve it automatically.", at)
	}
	return fmt.Sprintf("At %s: no rule decided; the settings apply (%d approval(s) needed).", at, out.ApprovalsRequired)
}
