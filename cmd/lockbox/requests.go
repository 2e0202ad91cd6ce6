package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/lockboxhq/lockbox"
	"github.com/spf13/cobra"
)

func (a *app) requestsCmd() *cobra.Command {
	c := group("requests", "File, list and decide access requests",
		a.requestsListCmd(), a.requestsShowCmd(), a.requestsCreateCmd(), a.requestsReviewCmd(),
		a.requestsApproveCmd(),
		a.requestsActCmd(lockbox.EventDeny, "Deny a pending request (tenant approvers)"),
		a.requestsActCmd(lockbox.EventCancel, "Cancel a request before access begins (requester or tenant approvers)"),
		a.requestsActCmd(lockbox.EventRevoke, "End approved or active access early (tenant approvers)"),
		a.requestsActCmd(lockbox.EventComplete, "Close your active request as done (requester)"),
		a.requestsTokenCmd(), a.requestsExtendCmd(), a.requestsExtensionCmd(),
		a.requestsActCmd(lockbox.EventAcknowledge, "Acknowledge a break-glass request after its access ended (tenant approvers)"),
		a.requestsReportCmd(),
	)
	c.Aliases = []string{"request"}
	return c
}

func (a *app) requestsListCmd() *cobra.Command {
	var (
		f        lockbox.RequestFilter
		statuses statusesValue
		after    timeValue
		all      bool
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the requests you may see, newest first",
		Args:  exactArgs(),
	}
	fl := cmd.Flags()
	fl.StringVar(&f.Tenant, "tenant", "", "only this tenant's requests")
	fl.Var(&statuses, "status", "only requests in this status (repeatable: "+strings.Join(statusNames(), ", ")+")")
	fl.StringVar(&f.Service, "service", "", "only requests for this service")
	fl.BoolVar(&f.NeedsReview, "needs-review", false, "only break-glass requests waiting for a tenant approver's acknowledgement")
	fl.Var(&after, "created-after", "only requests created after this time (2026-12-04, RFC 3339, or 24h/7d ago)")
	fl.Var(&after, "since", "the same as --created-after (e.g. --since 24h)")
	fl.IntVar(&f.Limit, "limit", 0, "page size (server default 100)")
	fl.StringVar(&f.Cursor, "cursor", "", "start at this page (the cursor a previous listing printed)")
	fl.BoolVar(&all, "all", false, "follow the pages to the end")
	format := addFormatFlag(cmd, formatTable, formatJSON, formatCSV)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if f.Limit < 0 || f.Limit > lockbox.MaxRequestPageSize {
			return usageErrorf("--limit must be between 1 and %d", lockbox.MaxRequestPageSize)
		}
		c, err := a.client()
		if err != nil {
			return err
		}
		for _, s := range statuses.list {
			f.Status = append(f.Status, lockbox.Status(s))
		}
		f.CreatedAfter = after.t
		reqs, next, err := listRequests(cmd.Context(), c, f, all)
		if err != nil {
			return err
		}
		if err := a.printRequests(format.value, reqs); err != nil {
			return err
		}
		if next != "" {
			fmt.Fprintf(a.stderr, "More requests follow: run again with --all, or with --cursor %s\n", next)
		}
		return nil
	}
	return cmd
}

// listRequests returns one page of requests, or every page when all is
// set, and the cursor of the page after the last one returned.
func listRequests(ctx context.Context, c lockbox.RequestService, f lockbox.RequestFilter, all bool) ([]*lockbox.AccessRequest, string, error) {
	out := []*lockbox.AccessRequest{}
	seen := map[string]bool{}
	for {
		page, err := c.ListRequests(ctx, f)
		if err != nil {
			return nil, "", err
		}
		out = append(out, page.Requests...)
		if !all || page.NextCursor == "" {
			return out, page.NextCursor, nil
		}
		if seen[page.NextCursor] { // a server bug must not loop forever
			return nil, "", errors.New("the server returned the same page twice; stopping")
		}
		seen[page.NextCursor] = true
		f.Cursor = page.NextCursor
	}
}

func (a *app) printRequests(format string, reqs []*lockbox.AccessRequest) error {
	if format == formatCSV { // every field, not the table's columns
		return requestsCSV(reqs).writeCSV(a.stdout)
	}
	header := []string{"REFERENCE", "STATUS", "TENANT", "SERVICE", "SR", "DURATION", "REQUESTED BY", "CREATED", "EXPIRES"}
	return writeList(a.stdout, format, reqs, header, func(r *lockbox.AccessRequest) []string {
		return []string{r.Reference, string(r.Status), r.Tenant, r.Service, r.ServiceRequest,
			formatMinutes(r.DurationMinutes), r.RequestedBy, formatTime(r.CreatedAt), formatTime(r.ExpiresAt)}
	})
}

// requestField is one field of a request: its label for people, its name in
// the API (and CSV header), its value as text, and optionally a friendlier
// text for people.
type requestField struct {
	label, name string
	value       func(r *lockbox.AccessRequest) string
	human       func(r *lockbox.AccessRequest) string
}

// requestFields lists every field of a request, in the order shown.
var requestFields = []requestField{
	{"Reference", "reference", func(r *lockbox.AccessRequest) string { return r.Reference }, nil},
	{"Status", "status", func(r *lockbox.AccessRequest) string { return string(r.Status) }, nil},
	{"Tenant", "tenant", func(r *lockbox.AccessRequest) string { return r.Tenant }, nil},
	{"Service", "service", func(r *lockbox.AccessRequest) string { return r.Service }, nil},
	{"Service request", "service_request", func(r *lockbox.AccessRequest) string { return r.ServiceRequest }, nil},
	{"Reason", "reason", func(r *lockbox.AccessRequest) string { return r.Reason }, nil},
	{"Operations", "operations", func(r *lockbox.AccessRequest) string { return strings.Join(r.Operations, ", ") }, nil},
	{"Requested operations", "requested_operations", func(r *lockbox.AccessRequest) string { return strings.Join(r.RequestedOperations, ", ") }, nil},
	{"Requested duration", "requested_duration_minutes", func(r *lockbox.AccessRequest) string { return strconv.Itoa(r.RequestedDurationMinutes) },
		func(r *lockbox.AccessRequest) string { return formatMinutes(r.RequestedDurationMinutes) }},
	{"Requested start", "requested_start_time", func(r *lockbox.AccessRequest) string { return formatTimePtr(r.RequestedStartTime) }, nil},
	{"Duration", "duration_minutes", func(r *lockbox.AccessRequest) string { return strconv.Itoa(r.DurationMinutes) },
		func(r *lockbox.AccessRequest) string {
			return fmt.Sprintf("%s (%d minutes)", formatMinutes(r.DurationMinutes), r.DurationMinutes)
		}},
	{"Start time", "start_time", func(r *lockbox.AccessRequest) string { return formatTimePtr(r.StartTime) }, nil},
	{"Requested by", "requested_by", func(r *lockbox.AccessRequest) string { return r.RequestedBy }, nil},
	{"Created", "created_at", func(r *lockbox.AccessRequest) string { return formatTime(r.CreatedAt) }, nil},
	{"Expires", "expires_at", func(r *lockbox.AccessRequest) string { return formatTime(r.ExpiresAt) }, nil},
	{"Reviewed by", "reviewed_by", func(r *lockbox.AccessRequest) string { return formatStrPtr(r.ReviewedBy) }, nil},
	{"Reviewed at", "reviewed_at", func(r *lockbox.AccessRequest) string { return formatTimePtr(r.ReviewedAt) }, nil},
	{"Review comment", "review_comment", func(r *lockbox.AccessRequest) string { return formatStrPtr(r.ReviewComment) }, nil},
	{"Decided by", "decided_by", func(r *lockbox.AccessRequest) string { return formatStrPtr(r.DecidedBy) }, nil},
	{"Decided at", "decided_at", func(r *lockbox.AccessRequest) string { return formatTimePtr(r.DecidedAt) }, nil},
	{"Decision comment", "decision_comment", func(r *lockbox.AccessRequest) string { return formatStrPtr(r.DecisionComment) }, nil},
	{"Extensions", "extensions", func(r *lockbox.AccessRequest) string { return extensionList(r.Extensions) }, nil},
	{"Approvals required", "approvals_required", func(r *lockbox.AccessRequest) string { return strconv.Itoa(r.Quorum()) }, nil},
	{"Approvals", "approvals", func(r *lockbox.AccessRequest) string { return approverList(r.Approvals) },
		func(r *lockbox.AccessRequest) string {
			return fmt.Sprintf("%d of %d %s", len(r.Approvals), r.Quorum(), approverList(r.Approvals))
		}},
	{"Access starts", "access_starts_at", func(r *lockbox.AccessRequest) string { return formatTimePtr(r.AccessStartsAt) }, nil},
	{"Access ends", "access_ends_at", func(r *lockbox.AccessRequest) string { return formatTimePtr(r.AccessEndsAt) }, nil},
	{"Ended", "ended_at", func(r *lockbox.AccessRequest) string { return formatTimePtr(r.EndedAt) }, nil},
	{"Ended by", "ended_by", func(r *lockbox.AccessRequest) string { return formatStrPtr(r.EndedBy) }, nil},
	{"End comment", "end_comment", func(r *lockbox.AccessRequest) string { return formatStrPtr(r.EndComment) }, nil},
	{"Break-glass", "break_glass", func(r *lockbox.AccessRequest) string { return strconv.FormatBool(r.BreakGlass) }, nil},
	{"Incident", "incident", func(r *lockbox.AccessRequest) string { return r.Incident }, nil},
	{"Needs review", "needs_review", func(r *lockbox.AccessRequest) string { return strconv.FormatBool(r.NeedsReview) }, nil},
	{"Acknowledged by", "acknowledged_by", func(r *lockbox.AccessRequest) string { return formatStrPtr(r.AcknowledgedBy) }, nil},
	{"Acknowledged at", "acknowledged_at", func(r *lockbox.AccessRequest) string { return formatTimePtr(r.AcknowledgedAt) }, nil},
	{"Acknowledge comment", "acknowledge_comment", func(r *lockbox.AccessRequest) string { return formatStrPtr(r.AcknowledgeComment) }, nil},
	{"Escalates at", "escalate_at", func(r *lockbox.AccessRequest) string { return formatTimePtr(r.EscalateAt) }, nil},
	{"Escalated at", "escalated_at", func(r *lockbox.AccessRequest) string { return formatTimePtr(r.EscalatedAt) }, nil},
	{"Version", "version", func(r *lockbox.AccessRequest) string { return strconv.Itoa(r.Version) }, nil},
	{"ID", "id", func(r *lockbox.AccessRequest) string { return r.ID }, nil},
}

// requestsCSV has a column for every field, named as in the API.
func requestsCSV(reqs []*lockbox.AccessRequest) *table {
	t := &table{}
	for _, f := range requestFields {
		t.header = append(t.header, f.name)
	}
	for _, r := range reqs {
		row := make([]string, len(requestFields))
		for i, f := range requestFields {
			row[i] = f.value(r)
		}
		t.add(row...)
	}
	return t
}

// requestKV describes one request, every field, for a person.
func requestKV(r *lockbox.AccessRequest) [][2]string {
	out := make([][2]string, len(requestFields))
	for i, f := range requestFields {
		v := f.value
		if f.human != nil {
			v = f.human
		}
		out[i] = [2]string{f.label, v(r)}
	}
	return out
}

// requestSummary is the one-line confirmation after a change:
// "LB-7K3Q9MXA pending_review (expires 2026-11-21T21:00:00Z)".
func requestSummary(r *lockbox.AccessRequest) string {
	ref := r.Reference
	if ref == "" {
		ref = r.ID
	}
	s := ref + " " + string(r.Status)
	switch r.Status {
	case lockbox.StatusPendingReview, lockbox.StatusPending:
		s += " (expires " + formatTime(r.ExpiresAt) + ")"
	case lockbox.StatusApproved:
		s += " (access from " + formatTimePtr(r.AccessStartsAt) + " until " + formatTimePtr(r.AccessEndsAt) + ")"
	case lockbox.StatusActive:
		s += " (access until " + formatTimePtr(r.AccessEndsAt) + ")"
	}
	return sanitize(s)
}

// requestName names a request by its reference, the code people compare,
// and its id: "LB-7K3Q9MXA (id 0193f4c2-…)". Only the id when the request
// cannot be read.
func (a *app) requestName(ctx context.Context, id string) string {
	r, err := ask(a, func(c api) (*lockbox.AccessRequest, error) { return c.GetRequest(ctx, id) })
	if err != nil || r.Reference == "" {
		return id
	}
	return sanitize(r.Reference + " (id " + r.ID + ")")
}

// printChanged prints a request after a change: a summary line, or the
// whole object with -o json.
func (a *app) printChanged(format string, r *lockbox.AccessRequest) error {
	if format == formatJSON {
		return writeJSON(a.stdout, r)
	}
	_, err := fmt.Fprintln(a.stdout, requestSummary(r))
	return err
}

func (a *app) requestsShowCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "show ID|REFERENCE",
		Short: "Show every field of one request",
		Args:  exactArgs("ID|REFERENCE"),
	}
	format := addFormatFlag(cmd, formatTable, formatJSON)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		r, err := ask(a, func(c api) (*lockbox.AccessRequest, error) { return c.GetRequest(cmd.Context(), args[0]) })
		if err != nil {
			return err
		}
		if format.value == formatJSON {
			return writeJSON(a.stdout, r)
		}
		return writeKV(a.stdout, requestKV(r))
	}
	return cmd
}

func (a *app) requestsCreateCmd() *cobra.Command {
	var (
		in       lockbox.NewRequest
		duration minutesValue
		start    timeValue
	)
	cmd := &cobra.Command{
		Use:   "create --tenant T --service S --service-request SR --reason TEXT --duration 2h",
		Short: "File an access request (operators)",
		Args:  exactArgs(),
	}
	fl := cmd.Flags()
	fl.StringVar(&in.Tenant, "tenant", "", "the customer tenant")
	fl.StringVar(&in.Service, "service", "", "the service to access (see 'lockbox services list')")
	fl.StringVar(&in.ServiceRequest, "service-request", "", "the support ticket number")
	fl.StringVar(&in.Reason, "reason", "", "why access is needed")
	fl.Var(&duration, "duration", "how long access lasts, in whole minutes (2h, 90m; at most 4h)")
	fl.Var(&start, "start", "earliest start of access: 2026-12-04, 2026-12-04T09:00, RFC 3339, or +2h (default: on approval)")
	fl.StringSliceVar(&in.Operations, "operation", nil, "an operation needed (repeatable; default: all of the service's)")
	fl.BoolVar(&in.BreakGlass, "break-glass", false, "an emergency: starts at once after review if the tenant enabled break-glass (needs --incident)")
	fl.StringVar(&in.Incident, "incident", "", "the incident a break-glass request is for (INC-…)")
	required(cmd, "tenant", "service", "service-request", "reason", "duration")
	apiChangeFields(cmd) // the others are named like their fields
	format := addFormatFlag(cmd, formatTable, formatJSON)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		in.DurationMinutes = duration.minutes
		in.StartTime = start.t
		r, err := ask(a, func(c api) (*lockbox.AccessRequest, error) { return c.CreateRequest(cmd.Context(), in) })
		if err != nil {
			return err
		}
		return a.printChanged(format.value, r)
	}
	return cmd
}

func (a *app) requestsReviewCmd() *cobra.Command {
	var (
		approve, deny bool
		d             lockbox.Decision
	)
	cmd := &cobra.Command{
		Use:   "review ID --approve|--deny",
		Short: "Review a request of another operator (support managers)",
		Args:  exactArgs("ID|REFERENCE"),
	}
	cmd.Flags().BoolVar(&approve, "approve", false, "pass the request on to the tenant's approvers")
	cmd.Flags().BoolVar(&deny, "deny", false, "deny the request")
	cmd.Flags().StringVar(&d.Comment, "comment", "", "a comment for the record")
	format := addFormatFlag(cmd, formatTable, formatJSON)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if approve == deny {
			return usageErrorf("give exactly one of --approve or --deny")
		}
		ev := lockbox.EventReviewApprove
		if deny {
			ev = lockbox.EventReviewDeny
		}
		return a.act(cmd, format.value, args[0], ev, d)
	}
	return cmd
}

// requestsApproveCmd approves, optionally for less than was requested.
func (a *app) requestsApproveCmd() *cobra.Command {
	var (
		d        lockbox.Decision
		duration minutesValue
		start    timeValue
	)
	cmd := &cobra.Command{
		Use:   "approve ID|REFERENCE [--duration 1h] [--operation OP]... [--start TIME]",
		Short: "Approve a pending request, optionally narrowed (tenant approvers)",
		Long: `Approve a pending request (tenant approvers). The flags approve less than was
requested: a shorter duration, a subset of the operations, a later start.
When the tenant requires several approvals, the narrowest of them applies.`,
		Args: exactArgs("ID|REFERENCE"),
	}
	fl := cmd.Flags()
	fl.StringVar(&d.Comment, "comment", "", "a comment for the record")
	fl.Var(&duration, "duration", "approve a shorter access, in whole minutes (1h, 90m)")
	fl.StringSliceVar(&d.Operations, "operation", nil, "approve only this operation (repeatable)")
	fl.Var(&start, "start", "approve a later start: 2026-12-04T09:00, RFC 3339, or +2h")
	apiChangeFields(cmd)
	format := addFormatFlag(cmd, formatTable, formatJSON)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if duration.minutes != 0 {
			d.DurationMinutes = &duration.minutes
		}
		d.StartTime = start.t
		return a.act(cmd, format.value, args[0], lockbox.EventApprove, d)
	}
	return cmd
}

// apiChangeFields marks the flags that narrow a request (create asks for
// them, approve narrows them) with the API fields they send.
func apiChangeFields(cmd *cobra.Command) {
	apiField(cmd, "duration", "duration_minutes", "minutes")
	apiField(cmd, "operation", "operations", "")
	apiField(cmd, "start", "start_time", "")
}

// requestsExtendCmd asks for more time on an active request.
func (a *app) requestsExtendCmd() *cobra.Command {
	var (
		ask     lockbox.ExtensionAsk
		minutes minutesValue
	)
	cmd := &cobra.Command{
		Use:   "extend ID|REFERENCE --minutes 30m --reason TEXT",
		Short: "Ask for more time on your active request (requester)",
		Long: `Ask the tenant for more time on your active request. Its approvers approve or deny
the extension (with the request's quorum); if nobody decides before access ends, it
lapses. Approved, access ends later: get a new token, as tokens never outlive access.`,
		Args: exactArgs("ID|REFERENCE"),
	}
	cmd.Flags().Var(&minutes, "minutes", "how much more time, in whole minutes (30m, 1h)")
	cmd.Flags().StringVar(&ask.Reason, "reason", "", "why more time is needed")
	required(cmd, "minutes", "reason")
	apiField(cmd, "minutes", "minutes", "minutes")
	format := addFormatFlag(cmd, formatTable, formatJSON)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		ask.Minutes = minutes.minutes
		return a.act(cmd, format.value, args[0], lockbox.EventExtend, lockbox.Decision{Extend: &ask})
	}
	return cmd
}

// requestsReportCmd prints a request's access report.
func (a *app) requestsReportCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "report ID|REFERENCE",
		Short: "Show what was done with a request's access: allowed, blocked and unused operations",
		Args:  exactArgs("ID|REFERENCE"),
	}
	format := addFormatFlag(cmd, formatTable, formatJSON)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		rep, err := ask(a, func(c api) (*lockbox.AccessReport, error) { return c.AccessReport(cmd.Context(), args[0]) })
		if err != nil {
			return err
		}
		if format.value == formatJSON {
			return writeJSON(a.stdout, rep)
		}
		return writeReport(a.stdout, rep)
	}
	return cmd
}

// writeReport prints a report: a summary, then one row per operation.
func writeReport(w io.Writer, rep *lockbox.AccessReport) error {
	state := "final"
	if !rep.Final {
		state = "so far (access is still active)"
	}
	if err := writeKV(w, [][2]string{{"Reference", rep.Reference}, {"Status", string(rep.Status)}, {"Report", state},
		{"Access started", formatTimePtr(rep.AccessStartsAt)}, {"Access ended", formatTimePtr(rep.AccessEndedAt)},
		{"Allowed actions", strconv.Itoa(rep.AllowedTotal)}, {"Blocked attempts", strconv.Itoa(rep.BlockedTotal)},
		{"Unused operations", strings.Join(rep.Unused, ", ")}}); err != nil {
		return err
	}
	if _, err := fmt.Fprintln(w); err != nil {
		return err
	}
	t := newTable("OPERATION", "APPROVED", "ALLOWED", "BLOCKED")
	for _, o := range rep.Operations {
		t.add(o.Operation, "yes", strconv.Itoa(o.Allowed), strconv.Itoa(o.Blocked))
	}
	for _, b := range rep.Blocked {
		if !b.Approved {
			t.add(b.Operation, "no", "0", strconv.Itoa(b.Count))
		}
	}
	return t.writeText(w)
}

// requestsExtensionCmd decides a pending extension.
func (a *app) requestsExtensionCmd() *cobra.Command {
	return group("extension", "Approve or deny a pending extension (tenant approvers)",
		a.requestsActCmd(lockbox.EventExtensionApprove, "Approve the pending extension of a request (tenant approvers)"),
		a.requestsActCmd(lockbox.EventExtensionDeny, "Deny the pending extension of a request (tenant approvers)"))
}

// requestsActCmd is one of deny, cancel, revoke, complete, and the
// extension decisions.
func (a *app) requestsActCmd(ev lockbox.Event, short string) *cobra.Command {
	var d lockbox.Decision
	name := strings.TrimPrefix(string(ev), "extension_")
	cmd := &cobra.Command{
		Use:   name + " ID|REFERENCE",
		Short: short,
		Args:  exactArgs("ID|REFERENCE"),
	}
	cmd.Flags().StringVar(&d.Comment, "comment", "", "a comment for the record")
	format := addFormatFlag(cmd, formatTable, formatJSON)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return a.act(cmd, format.value, args[0], ev, d)
	}
	return cmd
}

func (a *app) act(cmd *cobra.Command, format, idOrRef string, ev lockbox.Event, d lockbox.Decision) error {
	r, err := ask(a, func(c api) (*lockbox.AccessRequest, error) { return c.Act(cmd.Context(), idOrRef, ev, d) })
	if err != nil {
		return err
	}
	return a.printChanged(format, r)
}

// approverList names the approvers so far, each with the narrowing they
// asked for.
func approverList(as []lockbox.Approval) string {
	names := make([]string, len(as))
	for i, a := range as {
		names[i] = a.By
		var asked []string
		if a.DurationMinutes != nil {
			asked = append(asked, formatMinutes(*a.DurationMinutes))
		}
		if a.Operations != nil {
			asked = append(asked, strings.Join(a.Operations, "+"))
		}
		if a.StartTime != nil {
			asked = append(asked, "from "+formatTime(*a.StartTime))
		}
		if len(asked) > 0 {
			names[i] += " (" + strings.Join(asked, ", ") + ")"
		}
	}
	return strings.Join(names, "; ")
}

// extensionList is "30m approved; 1h pending", oldest first.
func extensionList(xs []lockbox.Extension) string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = formatMinutes(x.Minutes) + " " + x.Status
	}
	return strings.Join(out, "; ")
}

func statusNames() []string {
	s := make([]string, len(lockbox.Statuses))
	for i, st := range lockbox.Statuses {
		s[i] = string(st)
	}
	return s
}
