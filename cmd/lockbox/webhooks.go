package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/client"
)

// webhookAPI is the webhook endpoints of a server, which only the HTTP
// client offers (the api interface stays the fakes' size).
type webhookAPI interface {
	lockbox.WebhookService
}

var _ webhookAPI = (*client.Client)(nil)

func (a *app) webhooksCmd() *cobra.Command {
	return group("webhooks", "Manage a tenant's webhook endpoints (signed event deliveries)",
		a.webhooksListCmd(), a.webhooksCreateCmd(), a.webhooksUpdateCmd(), a.webhooksDeliveriesCmd(), a.webhooksResendCmd(), a.webhooksTestCmd(), a.webhooksRotateSecretCmd(),
		a.webhooksDeleteCmd())
}

// webhooksOf returns the signed-in server's webhook API, and sets tenant to
// the user's own when it was left out.
func (a *app) webhooksOf(cmd *cobra.Command, tenant *string) (webhookAPI, error) {
	if err := a.ownTenant(cmd, tenant); err != nil {
		return nil, err
	}
	return clientAs[webhookAPI](a, "manage webhooks")
}

func (a *app) webhooksListCmd() *cobra.Command {
	var tenant string
	cmd := &cobra.Command{Use: "list --tenant T", Short: "List a tenant's webhook endpoints", Args: exactArgs()}
	addTenantFlag(cmd, &tenant)
	format := addFormatFlag(cmd, formatTable, formatJSON, formatCSV)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		w, err := a.webhooksOf(cmd, &tenant)
		if err != nil {
			return err
		}
		hooks, err := w.ListWebhooks(cmd.Context(), tenant)
		if err != nil {
			return err
		}
		header := []string{"ID", "URL", "EVENTS", "DESCRIPTION", "CREATED BY", "CREATED", "OLD SECRET SIGNS UNTIL", "WAITING", "WAITING SINCE"}
		return writeList(a.stdout, format.value, hooks, header, func(h *lockbox.Webhook) []string {
			return []string{h.ID, h.URL, strings.Join(h.Events, ","), h.Description, h.CreatedBy, formatTime(h.CreatedAt),
				formatTimePtr(h.PreviousSecretExpiresAt), strconv.Itoa(h.Waiting), formatTimePtr(h.WaitingSince)}
		})
	}
	return cmd
}

func (a *app) webhooksCreateCmd() *cobra.Command {
	var (
		tenant string
		in     lockbox.NewWebhook
	)
	cmd := &cobra.Command{
		Use:   "create --tenant T --url URL [--event E]... [--description D]",
		Short: "Register a webhook endpoint and print its signing secret (shown once)",
		Args:  exactArgs(),
	}
	fl := cmd.Flags()
	addTenantFlag(cmd, &tenant)
	fl.StringVar(&in.URL, "url", "", "the endpoint's https URL")
	fl.StringSliceVar(&in.Events, "event", nil, "an event to deliver (repeatable; default all): "+strings.Join(lockbox.WebhookEvents, ", "))
	fl.StringVar(&in.Description, "description", "", "what the endpoint is for")
	required(cmd, "url")
	apiField(cmd, "event", "events", "")
	format := addFormatFlag(cmd, formatTable, formatJSON)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		w, err := a.webhooksOf(cmd, &tenant)
		if err != nil {
			return err
		}
		h, err := w.CreateWebhook(cmd.Context(), tenant, in)
		if err != nil {
			return err
		}
		if format.value == formatJSON {
			return writeJSON(a.stdout, h)
		}
		_, err = fmt.Fprintf(a.stdout, "%s\n\nSigning secret (shown only now; store it with the receiver):\n\n    %s\n\n"+
			"Deliveries carry webhook-id, webhook-timestamp and webhook-signature headers (Standard Webhooks).\n",
			sanitize(fmt.Sprintf("Webhook %s created for %s → %s (%s).", h.ID, h.Tenant, h.URL, strings.Join(h.Events, ", "))), h.Secret)
		return err
	}
	return cmd
}

func (a *app) webhooksUpdateCmd() *cobra.Command {
	var (
		tenant, url, description string
		events                   []string
	)
	cmd := &cobra.Command{
		Use:   "update ID --tenant T [--url URL] [--event E]... [--description D]",
		Short: "Change a webhook endpoint's URL, events or description (its secret and pending deliveries stay)",
		Args:  exactArgs("ID"),
	}
	fl := cmd.Flags()
	addTenantFlag(cmd, &tenant)
	fl.StringVar(&url, "url", "", "the endpoint's new https URL")
	fl.StringSliceVar(&events, "event", nil, "the events to deliver from now on (repeatable; replaces the list): "+strings.Join(lockbox.WebhookEvents, ", "))
	fl.StringVar(&description, "description", "", "what the endpoint is for")
	apiField(cmd, "event", "events", "")
	format := addFormatFlag(cmd, formatTable, formatJSON)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		var in lockbox.WebhookUpdate
		if fl.Changed("url") {
			in.URL = &url
		}
		if fl.Changed("event") {
			in.Events = &events
		}
		if fl.Changed("description") {
			in.Description = &description
		}
		w, err := a.webhooksOf(cmd, &tenant)
		if err != nil {
			return err
		}
		h, err := w.UpdateWebhook(cmd.Context(), tenant, args[0], in)
		if err != nil {
			return err
		}
		if format.value == formatJSON {
			return writeJSON(a.stdout, h)
		}
		return a.printLine("Webhook %s of %s → %s (%s).", h.ID, h.Tenant, h.URL, strings.Join(h.Events, ", "))
	}
	return cmd
}

func (a *app) webhooksDeliveriesCmd() *cobra.Command {
	var tenant string
	cmd := &cobra.Command{
		Use:   "deliveries ID --tenant T",
		Short: "Show a webhook endpoint's latest deliveries: delivered, being retried, or given up, and why",
		Args:  exactArgs("ID"),
	}
	addTenantFlag(cmd, &tenant)
	format := addFormatFlag(cmd, formatTable, formatJSON, formatCSV)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		w, err := a.webhooksOf(cmd, &tenant)
		if err != nil {
			return err
		}
		list, err := w.ListWebhookDeliveries(cmd.Context(), tenant, args[0])
		if err != nil {
			return err
		}
		header := []string{"ID", "EVENT", "STATUS", "ATTEMPTS", "CREATED", "RESENT", "NEXT ATTEMPT", "FINISHED", "LAST ERROR"}
		return writeList(a.stdout, format.value, list, header, func(d *lockbox.WebhookDelivery) []string {
			return []string{d.ID, d.Type, d.Status, strconv.Itoa(d.Attempts), formatTime(d.Created), formatTimePtr(d.ResentAt),
				formatTimePtr(d.NextAttemptAt), formatTimePtr(d.FinishedAt), d.LastError}
		})
	}
	return cmd
}

func (a *app) webhooksResendCmd() *cobra.Command {
	var tenant string
	cmd := &cobra.Command{
		Use:   "resend ID DELIVERY --tenant T",
		Short: "Send a delivered or given-up delivery of a webhook endpoint again (same webhook-id)",
		Args:  exactArgs("ID", "DELIVERY"),
	}
	addTenantFlag(cmd, &tenant)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		w, err := a.webhooksOf(cmd, &tenant)
		if err != nil {
			return err
		}
		d, err := w.ResendWebhookDelivery(cmd.Context(), tenant, args[0], args[1])
		if err != nil {
			return err
		}
		return a.printLine("Delivery %s (%s) of webhook %s will be sent again within a second; see it with lockbox webhooks deliveries.", d.ID, d.Type, args[0])
	}
	return cmd
}

func (a *app) webhooksTestCmd() *cobra.Command {
	var tenant string
	cmd := &cobra.Command{
		Use:   "test ID --tenant T",
		Short: "Send a webhook.test delivery to a webhook endpoint, to check its receiver",
		Args:  exactArgs("ID"),
	}
	addTenantFlag(cmd, &tenant)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		w, err := a.webhooksOf(cmd, &tenant)
		if err != nil {
			return err
		}
		d, err := w.SendWebhookTest(cmd.Context(), tenant, args[0])
		if err != nil {
			return err
		}
		return a.printLine("Test delivery %s (webhook.test) to webhook %s goes out within a second; see how it went with lockbox webhooks deliveries.", d.ID, args[0])
	}
	return cmd
}

func (a *app) webhooksRotateSecretCmd() *cobra.Command {
	var (
		tenant string
		grace  time.Duration
	)
	cmd := &cobra.Command{
		Use:   "rotate-secret ID --tenant T [--grace 24h]",
		Short: "Give a webhook endpoint a new signing secret (shown once); the old one signs too until --grace ends",
		Args:  exactArgs("ID"),
	}
	addTenantFlag(cmd, &tenant)
	cmd.Flags().DurationVar(&grace, "grace", 0, "how long deliveries are signed with the old secret too (at most 24h; default: it stops at once)")
	format := addFormatFlag(cmd, formatTable, formatJSON)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		w, err := a.webhooksOf(cmd, &tenant)
		if err != nil {
			return err
		}
		h, err := w.RotateWebhookSecret(cmd.Context(), tenant, args[0], grace)
		if err != nil {
			return err
		}
		if format.value == formatJSON {
			return writeJSON(a.stdout, h)
		}
		old := "The old secret no longer signs deliveries."
		if h.PreviousSecretExpiresAt != nil {
			old = "Deliveries are signed with the old secret too until " + formatTime(*h.PreviousSecretExpiresAt) + "."
		}
		_, err = fmt.Fprintf(a.stdout, "%s\n\nSigning secret (shown only now; store it with the receiver):\n\n    %s\n\n%s\n",
			sanitize(fmt.Sprintf("New signing secret for webhook %s of %s → %s.", h.ID, h.Tenant, h.URL)), h.Secret, old)
		return err
	}
	return cmd
}

func (a *app) webhooksDeleteCmd() *cobra.Command {
	var tenant string
	cmd := &cobra.Command{Use: "delete ID --tenant T", Short: "Delete a webhook endpoint", Args: exactArgs("ID")}
	addTenantFlag(cmd, &tenant)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		w, err := a.webhooksOf(cmd, &tenant)
		if err != nil {
			return err
		}
		if err := w.DeleteWebhook(cmd.Context(), tenant, args[0]); err != nil {
			return err
		}
		return a.printLine("Deleted webhook %s of %s.", args[0], tenant)
	}
	return cmd
}
