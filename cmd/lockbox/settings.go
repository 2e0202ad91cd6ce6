package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/lockboxhq/lockbox"
	"github.com/spf13/cobra"
)

func (a *app) settingsCmd() *cobra.Command {
	return group("settings", "Show and change a tenant's Lockbox settings",
		a.settingsGetCmd(), a.settingsSetCmd())
}

func (a *app) settingsGetCmd() *cobra.Command {
	var tenant string
	cmd := &cobra.Command{
		Use:   "get --tenant T",
		Short: "Show a tenant's Lockbox settings",
		Args:  exactArgs(),
	}
	addTenantFlag(cmd, &tenant)
	format := addFormatFlag(cmd, formatTable, formatJSON)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := a.ownTenant(cmd, &tenant); err != nil {
			return err
		}
		s, err := ask(a, func(c api) (*lockbox.Settings, error) { return c.GetSettings(cmd.Context(), tenant) })
		if err != nil {
			return err
		}
		if format.value == formatJSON {
			return writeJSON(a.stdout, s)
		}
		return writeKV(a.stdout, settingsKV(s))
	}
	return cmd
}

func (a *app) settingsSetCmd() *cobra.Command {
	var (
		tenant          string
		requireApproval boolValue
		requireSigned   boolValue
		requireMFA      boolValue
		ttl, maxAccess  minutesValue
		reminder        = minutesValue{allowZero: true}
		notify          []string
		approvals       int
		maxTotal        minutesValue
		breakGlass      boolValue
		breakGlassMax   minutesValue
		escalateAfter   = minutesValue{allowZero: true}
		escalateNotify  []string
	)
	cmd := &cobra.Command{
		Use:   "set --tenant T [--require-approval=BOOL] [--request-ttl 12h] [--max-duration 4h] [--notify-email E]... [--reminder 2h] [--approvals-required N]",
		Short: "Change a tenant's Lockbox settings (only the settings given)",
		Args:  exactArgs(),
	}
	fl := cmd.Flags()
	addTenantFlag(cmd, &tenant)
	fl.Var(&requireApproval, "require-approval", "require approval for all data access requests (true or false)")
	fl.Var(&ttl, "request-ttl", "how long approvers have to decide (1h to 168h)")
	fl.Var(&maxAccess, "max-duration", "the longest access any request may get (1m to 4h)")
	fl.StringSliceVar(&notify, "notify-email", nil, `an extra address to notify (repeatable; replaces the list; "" clears it)`)
	fl.Var(&reminder, "reminder", "remind approvers this long before a request expires (0 for none)")
	fl.IntVar(&approvals, "approvals-required", 0, "how many distinct approvers must approve a request (1 to 5)")
	fl.Var(&maxTotal, "max-total", "the longest whole access, extensions included (1m to 24h)")
	fl.Var(&requireSigned, "require-signed-decisions", "approve and deny need a passkey signature over the decision (true or false)")
	apiField(cmd, "require-signed-decisions", "require_signed_decisions", "")
	fl.Var(&requireMFA, "require-mfa", "the tenant's users confirm password sign-in with a passkey; one without a passkey signs in with a password only to register one (true or false)")
	apiField(cmd, "require-mfa", "require_mfa", "")
	fl.Var(&breakGlass, "break-glass", "let reviewed break-glass requests start without approval (true or false)")
	fl.Var(&breakGlassMax, "break-glass-max", "the longest access a break-glass request may get (1m to 4h)")
	fl.Var(&escalateAfter, "escalate-after", "email --escalate-notify about a request still pending this long (0 for never)")
	fl.StringSliceVar(&escalateNotify, "escalate-notify", nil, "an address told of escalations (repeatable; replaces the list)")
	apiField(cmd, "break-glass", "break_glass.enabled", "")
	apiField(cmd, "break-glass-max", "break_glass.max_minutes", "minutes")
	apiField(cmd, "escalate-after", "escalation.after_minutes", "minutes")
	apiField(cmd, "escalate-notify", "escalation.notify", "")
	apiField(cmd, "require-approval", "require_approval", "")
	apiField(cmd, "request-ttl", "request_ttl_minutes", "minutes")
	apiField(cmd, "max-duration", "max_access_minutes", "minutes")
	apiField(cmd, "reminder", "reminder_minutes_before_expiry", "minutes")
	apiField(cmd, "notify-email", "notify_emails", "")
	apiField(cmd, "approvals-required", "approvals_required", "")
	apiField(cmd, "max-total", "max_total_access_minutes", "minutes")
	format := addFormatFlag(cmd, formatTable, formatJSON)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := a.ownTenant(cmd, &tenant); err != nil {
			return err
		}
		var p lockbox.SettingsPatch
		if fl.Changed("require-approval") {
			p.RequireApproval = &requireApproval.b
		}
		if fl.Changed("request-ttl") {
			p.RequestTTLMinutes = &ttl.minutes
		}
		if fl.Changed("max-duration") {
			p.MaxAccessMinutes = &maxAccess.minutes
		}
		if fl.Changed("reminder") {
			p.ReminderMinutesBeforeExpiry = &reminder.minutes
		}
		if fl.Changed("max-total") {
			p.MaxTotalAccessMinutes = &maxTotal.minutes
		}
		if fl.Changed("approvals-required") {
			p.ApprovalsRequired = &approvals
		}
		if fl.Changed("require-signed-decisions") {
			p.RequireSignedDecisions = &requireSigned.b
		}
		if fl.Changed("require-mfa") {
			p.RequireMFA = &requireMFA.b
		}
		if fl.Changed("notify-email") {
			emails := append([]string{}, notify...) // never nil: an empty list clears
			p.NotifyEmails = &emails
		}
		if fl.Changed("break-glass") || fl.Changed("break-glass-max") {
			p.BreakGlass = &lockbox.BreakGlassPatch{}
			if fl.Changed("break-glass") {
				p.BreakGlass.Enabled = &breakGlass.b
			}
			if fl.Changed("break-glass-max") {
				p.BreakGlass.MaxMinutes = &breakGlassMax.minutes
			}
		}
		if fl.Changed("escalate-after") || fl.Changed("escalate-notify") {
			p.Escalation = &lockbox.EscalationPatch{}
			if fl.Changed("escalate-after") {
				p.Escalation.AfterMinutes = &escalateAfter.minutes
			}
			if fl.Changed("escalate-notify") {
				emails := append([]string{}, escalateNotify...)
				p.Escalation.Notify = &emails
			}
		}
		if p == (lockbox.SettingsPatch{}) {
			return usageErrorf("nothing to change: give at least one of --require-approval, --request-ttl, --max-duration, --notify-email, --reminder, --approvals-required, --max-total, --break-glass, --break-glass-max, --escalate-after, --escalate-notify, --require-signed-decisions, --require-mfa")
		}
		s, err := ask(a, func(c api) (*lockbox.Settings, error) { return c.UpdateSettings(cmd.Context(), tenant, p) })
		if err != nil {
			return err
		}
		if format.value == formatJSON {
			return writeJSON(a.stdout, s)
		}
		return a.printLine("%s", settingsSummary(tenant, s))
	}
	return cmd
}

func settingsKV(s *lockbox.Settings) [][2]string {
	return [][2]string{
		{"Require approval", strconv.FormatBool(s.RequireApproval)},
		{"Request TTL", formatMinutes(s.RequestTTLMinutes)},
		{"Max access duration", formatMinutes(s.MaxAccessMinutes)},
		{"Reminder before expiry", reminderText(s.ReminderMinutesBeforeExpiry)},
		{"Notify emails", strings.Join(s.NotifyEmails, ", ")},
		{"Approvals required", strconv.Itoa(s.ApprovalsRequired)},
		{"Max total access", formatMinutes(s.MaxTotalAccessMinutes)},
		{"Require signed decisions", strconv.FormatBool(s.RequireSignedDecisions)},
		{"Require MFA", strconv.FormatBool(s.RequireMFA)},
		{"Break-glass", breakGlassText(s.BreakGlass)},
		{"Escalation", escalationText(s.Escalation)},
	}
}

// settingsSummary is the one-line confirmation of a change, in the flags'
// own words so it can be pasted back.
func settingsSummary(tenant string, s *lockbox.Settings) string {
	return fmt.Sprintf("Updated settings of %s: --require-approval=%t --request-ttl=%s --max-duration=%s --reminder=%s --notify-email=%q --approvals-required=%d --require-signed-decisions=%t --require-mfa=%t",
		tenant, s.RequireApproval, formatMinutes(s.RequestTTLMinutes), formatMinutes(s.MaxAccessMinutes),
		formatMinutes(s.ReminderMinutesBeforeExpiry), strings.Join(s.NotifyEmails, ","), s.ApprovalsRequired,
		s.RequireSignedDecisions, s.RequireMFA)
}

func reminderText(m int) string {
	if m == 0 {
		return "none"
	}
	return formatMinutes(m)
}

func breakGlassText(b lockbox.BreakGlassSettings) string {
	if !b.Enabled {
		return "off (at most " + formatMinutes(b.MaxMinutes) + " when on)"
	}
	return "on, at most " + formatMinutes(b.MaxMinutes)
}

func escalationText(e lockbox.EscalationSettings) string {
	if e.AfterMinutes == 0 {
		return "off"
	}
	return "after " + formatMinutes(e.AfterMinutes) + " to " + strings.Join(e.Notify, ", ")
}
