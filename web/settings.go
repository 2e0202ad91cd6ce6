package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/lockboxhq/lockbox"
)

// settingsForm is the tenant's Lockbox settings page (SPEC §4), as typed.
type settingsForm struct {
	Tenant          string
	RequireApproval bool
	RequestTTL      string
	MaxAccess       string
	NotifyEmails    string // one address per line
	Reminder        string
	Approvals       string
	MaxTotal        string
	// Passkey settings (SPEC §10.3); PasskeySettings marks a form that has
	// their checkboxes, so an older form leaves them as they are.
	RequireSigned, RequireMFA, PasskeySettings bool
	// Break-glass and escalation (SPEC §11); EmergencySettings marks a
	// form that has them, as PasskeySettings does.
	BreakGlass, EmergencySettings bool
	BreakGlassMax, EscalateAfter  string
	EscalateNotify                string // one address per line
	Errors                        fieldErrors
	Problem                       string
}

func formFromSettings(tenant string, s *lockbox.Settings) *settingsForm {
	return &settingsForm{Tenant: tenant, RequireApproval: s.RequireApproval,
		RequestTTL:    strconv.Itoa(s.RequestTTLMinutes),
		MaxAccess:     strconv.Itoa(s.MaxAccessMinutes),
		NotifyEmails:  strings.Join(s.NotifyEmails, "\n"),
		Reminder:      strconv.Itoa(s.ReminderMinutesBeforeExpiry),
		Approvals:     strconv.Itoa(s.ApprovalsRequired),
		MaxTotal:      strconv.Itoa(s.MaxTotalAccessMinutes),
		RequireSigned: s.RequireSignedDecisions, RequireMFA: s.RequireMFA,
		BreakGlass: s.BreakGlass.Enabled, BreakGlassMax: strconv.Itoa(s.BreakGlass.MaxMinutes),
		EscalateAfter:  strconv.Itoa(s.Escalation.AfterMinutes),
		EscalateNotify: strings.Join(s.Escalation.Notify, "\n")}
}

func (h *Handler) settingsPage(w http.ResponseWriter, r *http.Request) {
	tenant := lockbox.UserFromContext(r.Context()).Tenant
	s, err := h.cfg.Tenants.GetSettings(r.Context(), tenant)
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "settings", "Settings", formFromSettings(tenant, s))
}

// saveSettings validates each field on its own, so every problem is shown
// next to its field at once, then saves them all in one change (audited
// with old and new values by the service, which validates again).
func (h *Handler) saveSettings(w http.ResponseWriter, r *http.Request) {
	tenant := lockbox.UserFromContext(r.Context()).Tenant
	if err := r.ParseForm(); err != nil {
		h.errorPage(w, r, http.StatusBadRequest, "The form could not be read.")
		return
	}
	p := r.PostForm
	f := &settingsForm{Tenant: tenant, RequireApproval: p.Get("require_approval") == "on",
		RequestTTL: strings.TrimSpace(p.Get("request_ttl_minutes")), MaxAccess: strings.TrimSpace(p.Get("max_access_minutes")),
		NotifyEmails: p.Get("notify_emails"), Reminder: strings.TrimSpace(p.Get("reminder_minutes_before_expiry")),
		Approvals: strings.TrimSpace(p.Get("approvals_required")), MaxTotal: strings.TrimSpace(p.Get("max_total_access_minutes")),
		Errors: fieldErrors{}, PasskeySettings: p.Get("passkey_settings") == "1",
		RequireSigned: p.Get("require_signed_decisions") == "on", RequireMFA: p.Get("require_mfa") == "on",
		EmergencySettings: p.Get("emergency_settings") == "1", BreakGlass: p.Get("break_glass.enabled") == "on",
		BreakGlassMax: strings.TrimSpace(p.Get("break_glass.max_minutes")), EscalateAfter: strings.TrimSpace(p.Get("escalation.after_minutes")),
		EscalateNotify: p.Get("escalation.notify")}
	patch := f.patch()
	if len(f.Errors) > 0 {
		f.Problem = "Some settings need your attention; nothing was saved."
		h.render(w, r, http.StatusBadRequest, "settings", "Settings", f)
		return
	}
	_, err := h.cfg.Tenants.UpdateSettings(r.Context(), tenant, patch)
	switch lockbox.ErrorCode(err) {
	case "":
		http.Redirect(w, r, "/settings?done=settings", http.StatusSeeOther)
	case lockbox.EINVALID:
		f.Problem = f.Errors.add(err)
		h.render(w, r, http.StatusBadRequest, "settings", "Settings", f)
	default:
		h.serviceError(w, r, err)
	}
}

// patch builds the change, checking each field with the root package's
// own validation (Settings.Apply), one field at a time so that every
// problem shows at once, each next to the field its error names.
func (f *settingsForm) patch() lockbox.SettingsPatch {
	p := lockbox.SettingsPatch{RequireApproval: &f.RequireApproval}
	if f.PasskeySettings {
		p.RequireSignedDecisions = &f.RequireSigned
		p.RequireMFA = &f.RequireMFA
	}
	check := func(one lockbox.SettingsPatch) {
		if _, err := lockbox.DefaultSettings().Apply(one); err != nil {
			f.Errors.add(err)
		}
	}
	number := func(field, v string) *int {
		n, err := strconv.Atoi(v)
		if err != nil {
			f.Errors[field] = "Enter a whole number of minutes."
			return nil
		}
		return &n
	}
	if p.RequestTTLMinutes = number("request_ttl_minutes", f.RequestTTL); p.RequestTTLMinutes != nil {
		check(lockbox.SettingsPatch{RequestTTLMinutes: p.RequestTTLMinutes})
	}
	if p.MaxAccessMinutes = number("max_access_minutes", f.MaxAccess); p.MaxAccessMinutes != nil {
		check(lockbox.SettingsPatch{MaxAccessMinutes: p.MaxAccessMinutes})
	}
	if p.ReminderMinutesBeforeExpiry = number("reminder_minutes_before_expiry", f.Reminder); p.ReminderMinutesBeforeExpiry != nil {
		check(lockbox.SettingsPatch{ReminderMinutesBeforeExpiry: p.ReminderMinutesBeforeExpiry})
	}
	if f.Approvals != "" { // a form from before quorums leaves it as it is
		n, err := strconv.Atoi(f.Approvals)
		if err != nil {
			f.Errors["approvals_required"] = "Enter a whole number of approvers."
		} else {
			p.ApprovalsRequired = &n
			check(lockbox.SettingsPatch{ApprovalsRequired: &n})
		}
	}
	if f.MaxTotal != "" {
		if p.MaxTotalAccessMinutes = number("max_total_access_minutes", f.MaxTotal); p.MaxTotalAccessMinutes != nil {
			check(lockbox.SettingsPatch{MaxTotalAccessMinutes: p.MaxTotalAccessMinutes})
		}
	}
	emails := addressLines(f.NotifyEmails)
	p.NotifyEmails = &emails
	check(lockbox.SettingsPatch{NotifyEmails: &emails})
	if f.EmergencySettings {
		p.BreakGlass = &lockbox.BreakGlassPatch{Enabled: &f.BreakGlass}
		if p.BreakGlass.MaxMinutes = number("break_glass.max_minutes", f.BreakGlassMax); p.BreakGlass.MaxMinutes != nil {
			check(lockbox.SettingsPatch{BreakGlass: &lockbox.BreakGlassPatch{MaxMinutes: p.BreakGlass.MaxMinutes}})
		}
		notify := addressLines(f.EscalateNotify)
		p.Escalation = &lockbox.EscalationPatch{Notify: &notify}
		// Checked together: a delay needs someone to tell.
		if p.Escalation.AfterMinutes = number("escalation.after_minutes", f.EscalateAfter); p.Escalation.AfterMinutes != nil {
			check(lockbox.SettingsPatch{Escalation: p.Escalation})
		}
	}
	return p
}

// addressLines splits a text area of addresses, one a line (or commas).
func addressLines(text string) []string {
	emails := []string{}
	for _, line := range strings.FieldsFunc(text, func(r rune) bool { return r == '\n' || r == '\r' || r == ',' }) {
		if line = strings.TrimSpace(line); line != "" {
			emails = append(emails, line)
		}
	}
	return emails
}
