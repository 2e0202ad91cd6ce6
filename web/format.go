package web

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/lockboxhq/lockbox"
)

// funcs are the template helpers. "when" and "relative" depend on the
// request (the viewer's zone, the workflow clock): render replaces them.
var funcs = template.FuncMap{
	"when":               whenIn(time.UTC),
	"whenShort":          whenShortIn(time.UTC),
	"relative":           func(any) string { return "" },
	"minutes":            humanMinutes,
	"statusLabel":        statusLabel,
	"statusClass":        statusClass,
	"roleLabel":          roleLabel,
	"deref":              deref,
	"join":               strings.Join,
	"hasRole":            func(roles []lockbox.Role, r lockbox.Role) bool { return slices.Contains(roles, r) },
	"contains":           func(list []string, s string) bool { return slices.Contains(list, s) },
	"userPath":           userPath,
	"staffPath":          staffPath,
	"serviceAccountPath": serviceAccountPath,
	"webhookPath":        webhookPath,
	"resendPath":         resendPath,
	"json":               indentJSON,
	"dict":               dict,
	"sub":                func(a, b int) int { return a - b },
	"simOutcome":         simOutcome,
}

// indentJSON shows audit data readably; the template escapes it.
func indentJSON(v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// dict builds a map from key, value pairs, for passing several values to a
// sub-template.
func dict(kv ...any) (map[string]any, error) {
	if len(kv)%2 != 0 {
		return nil, fmt.Errorf("dict: odd number of arguments")
	}
	m := make(map[string]any, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		k, ok := kv[i].(string)
		if !ok {
			return nil, fmt.Errorf("dict: key %v is not a string", kv[i])
		}
		m[k] = kv[i+1]
	}
	return m, nil
}

// timeOf is the instant a template passed (a time.Time or a *time.Time);
// ok is false for nil, the zero time, or anything else.
func timeOf(v any) (t time.Time, ok bool) {
	switch x := v.(type) {
	case time.Time:
		t = x
	case *time.Time:
		if x != nil {
			t = *x
		}
	}
	return t, !t.IsZero()
}

// whenIn formats an instant in loc with UTC alongside, inside a <time>
// element carrying the exact RFC 3339 value: "21 Nov 2026, 10:00 CET
// (09:00 UTC)". The UTC part repeats the date when it differs.
func whenIn(loc *time.Location) func(any) template.HTML {
	return func(v any) template.HTML {
		t, ok := timeOf(v)
		if !ok {
			return "—"
		}
		utc, local := t.UTC(), t.In(loc)
		text := local.Format("2 Jan 2006, 15:04 MST")
		if loc != time.UTC {
			u := utc.Format("15:04 UTC")
			if utc.Format("2006-01-02") != local.Format("2006-01-02") {
				u = utc.Format("2 Jan 15:04 UTC")
			}
			text += " (" + u + ")"
		}
		return template.HTML(fmt.Sprintf(`<time datetime="%s">%s</time>`,
			template.HTMLEscapeString(utc.Format(time.RFC3339)), template.HTMLEscapeString(text)))
	}
}

// whenShortIn is whenIn for table cells: no year, UTC on its own line.
func whenShortIn(loc *time.Location) func(any) template.HTML {
	return func(v any) template.HTML {
		t, ok := timeOf(v)
		if !ok {
			return "—"
		}
		utc, local := t.UTC(), t.In(loc)
		out := fmt.Sprintf(`<time datetime="%s">%s</time>`, template.HTMLEscapeString(utc.Format(time.RFC3339)),
			template.HTMLEscapeString(local.Format("2 Jan, 15:04 MST")))
		if loc != time.UTC {
			u := utc.Format("15:04 UTC")
			if utc.Format("2006-01-02") != local.Format("2006-01-02") {
				u = utc.Format("2 Jan, 15:04 UTC")
			}
			out += `<br><span class="muted small">` + template.HTMLEscapeString(u) + `</span>`
		}
		return template.HTML(out)
	}
}

// relative says how far t is from the workflow clock's now: "in 11 h 52 min",
// "5 min ago".
func (h *Handler) relative(v any) string {
	t, ok := timeOf(v)
	if !ok {
		return ""
	}
	d := t.Sub(h.cfg.Clock.Now())
	switch {
	case d >= time.Minute:
		return "in " + humanDuration(d)
	case d > -time.Minute:
		return "now"
	default:
		return humanDuration(-d) + " ago"
	}
}

// humanMinutes writes a duration in minutes as "2 h", "1 h 30 min", "45 min".
func humanMinutes(m int) string { return humanDuration(time.Duration(m) * time.Minute) }

// humanDuration rounds down to the minute; days are 24-hour periods (SPEC:
// durations never use calendar arithmetic).
func humanDuration(d time.Duration) string {
	d = d.Truncate(time.Minute)
	days, hours, mins := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour), int(d%time.Hour/time.Minute)
	var parts []string
	if days > 0 {
		parts = append(parts, fmt.Sprintf("%d d", days))
	}
	if hours > 0 {
		parts = append(parts, fmt.Sprintf("%d h", hours))
	}
	if mins > 0 || len(parts) == 0 {
		parts = append(parts, fmt.Sprintf("%d min", mins))
	}
	return strings.Join(parts, " ")
}

var statusLabels = map[lockbox.Status]string{
	lockbox.StatusPendingReview: "Pending review",
	lockbox.StatusPending:       "Pending",
	lockbox.StatusApproved:      "Approved (scheduled)",
	lockbox.StatusActive:        "Active",
	lockbox.StatusCompleted:     "Completed",
	lockbox.StatusDenied:        "Denied",
	lockbox.StatusCanceled:      "Canceled",
	lockbox.StatusExpired:       "Expired",
	lockbox.StatusRevoked:       "Revoked",
}

// statusLabel is the word shown for a status; the colour only repeats it.
// It takes a Status or a plain string (a filter value).
func statusLabel(v any) string {
	s := lockbox.Status(fmt.Sprint(v))
	if l, ok := statusLabels[s]; ok {
		return l
	}
	return string(s)
}

// statusClass picks the badge colour: waiting, access open, ended well,
// ended badly.
func statusClass(s lockbox.Status) string {
	switch s {
	case lockbox.StatusPendingReview, lockbox.StatusPending:
		return "badge badge-waiting"
	case lockbox.StatusApproved, lockbox.StatusActive:
		return "badge badge-open"
	case lockbox.StatusCompleted:
		return "badge badge-done"
	}
	return "badge badge-ended"
}

var roleLabels = map[lockbox.Role]string{
	lockbox.RoleOperator:        "Operator",
	lockbox.RoleSupportManager:  "Support manager",
	lockbox.RoleProviderAdmin:   "Provider admin",
	lockbox.RoleServiceAccount:  "Service account",
	lockbox.RoleGlobalAdmin:     "Global admin",
	lockbox.RoleLockboxApprover: "Customer Lockbox access approver",
	lockbox.RoleAuditReader:     "Audit reader",
}

func roleLabel(r lockbox.Role) string {
	if l, ok := roleLabels[r]; ok {
		return l
	}
	return string(r)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

type navItem struct {
	Label, Href string
}

// navFor lists the pages open to u, each entry asking the root package's
// authorization the question its page stands for, so the menu cannot offer
// what the services refuse or hide what they allow. It only saves people
// clicks: every page is still authorized by the services.
func navFor(u *lockbox.User, dev, policies, webhooks bool) []navItem {
	if u == nil {
		return nil
	}
	var nav []navItem
	add := func(ok bool, label, href string) {
		if ok {
			nav = append(nav, navItem{label, href})
		}
	}
	scope := lockbox.VisibleTo(u)
	add(lockbox.AuthorizeCreate(u) == nil, "New request", "/requests/new")
	add(scope.OwnOnly(), requestListTitle(u), "/requests")
	add(lockbox.Can(u, lockbox.PermReviewRequests, ""), "Review queue", "/review")
	add(scope.Sees() && !scope.OwnOnly(), requestListTitle(u), "/requests")
	add(lockbox.Can(u, lockbox.PermWriteSettings, u.Tenant), "Settings", "/settings")
	add(policies && lockbox.Can(u, lockbox.PermWritePolicy, u.Tenant), "Policy", "/policy")
	add(lockbox.Can(u, lockbox.PermWriteTenantUsers, u.Tenant), "Users and roles", "/users")
	add(lockbox.Can(u, lockbox.PermManageSSO, u.Tenant), "Single sign-on", "/sso")
	add(webhooks && lockbox.Can(u, lockbox.PermManageWebhooks, u.Tenant), "Webhooks", "/webhooks")
	add(lockbox.AuthorizeReadLog(u, auditLog(u)) == nil, "Audit log", "/audit")
	add(lockbox.Can(u, lockbox.PermManageTenants, ""), "Tenants", "/tenants")
	add(lockbox.Can(u, lockbox.PermManageStaff, ""), "Staff", "/staff")
	add(lockbox.Can(u, lockbox.PermManageStaff, ""), "Service accounts", "/service-accounts")
	add(lockbox.Can(u, lockbox.PermWriteCatalog, ""), "Services", "/services")
	add(dev, "Dev mail", "/dev/mail")
	return nav
}

// requestListTitle names the request list after what u may see in it
// (lockbox.VisibleTo): a tenant's requests, the operator's own, or all.
func requestListTitle(u *lockbox.User) string {
	switch scope := lockbox.VisibleTo(u); {
	case scope.Tenant() != "":
		return "Customer Lockbox requests"
	case scope.OwnOnly():
		return "My requests"
	default:
		return "All requests"
	}
}

// notices are the success messages a redirect may ask for by name, so no
// text from a URL is ever shown as if Lockbox said it.
var notices = map[string]string{
	"approve":                 "Request approved.",
	"deny":                    "Request denied.",
	"revoke":                  "Access revoked: the request has ended.",
	"cancel":                  "Request canceled.",
	"complete":                "Request completed: access has ended.",
	"review-approve":          "Review approved: the tenant's approvers have been asked to decide.",
	"review-deny":             "Request denied in review.",
	"created":                 "Request filed. A support manager will review it next.",
	"settings":                "Settings saved.",
	"policy":                  "Policy saved. It decides every request that reaches you from now on.",
	"user_added":              "User added.",
	"roles":                   "Roles saved.",
	"removed":                 "User removed.",
	"service":                 "Service saved.",
	"password":                "Password changed. Your other sessions and API tokens have ended.",
	"passkey":                 "Passkey added. Your organization's administrators were told by email.",
	"passkey_removed":         "Passkey removed.",
	"token":                   "Session ended.",
	"disabled":                "Staff member disabled: their sessions have ended and their requests were revoked or canceled.",
	"enabled":                 "Staff member enabled.",
	"staff_removed":           "Staff member removed: their sessions have ended and their requests were revoked or canceled.",
	"approval":                "Your approval is recorded. The request needs more approvals before access begins.",
	"extend":                  "More time asked for. The tenant's approvers have been asked to decide.",
	"extension-approve":       "Extension approved (or, under a quorum, your approval recorded).",
	"extension-deny":          "Extension denied.",
	"sso":                     "Single sign-on saved.",
	"sso_removed":             "Single sign-on removed: your users sign in with their passwords again.",
	"acknowledge":             "Break-glass request acknowledged: it no longer needs review.",
	"service_account_revoked": "Service account revoked: its tokens have stopped working.",
	"webhook_deleted":         "Webhook deleted: nothing more is sent to it.",
	"webhook_updated":         "Webhook saved. Its secret is the same; deliveries not yet made go to its URL as it is now.",
	"resent":                  "The delivery will be sent again within a second, with the same webhook-id.",
	"test_sent":               "A webhook.test delivery goes out within a second; reload this page to see how it went.",
}

func notice(r *http.Request) string { return notices[r.URL.Query().Get("done")] }
