package lockbox

import (
	"context"
	"regexp"
	"time"
)

// Tenant is one customer organisation.
type Tenant struct {
	Name        string    `json:"name"`
	DisplayName string    `json:"display_name"`
	CreatedAt   time.Time `json:"created_at"`
}

// ProviderLog is the name of the provider's own audit log (staff, tenants,
// services). It is reserved: no tenant can take it.
const ProviderLog = "provider"

var tenantNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,61}[a-z0-9]$`)

// ValidateTenantName checks a tenant's short name (its URL path segment).
func ValidateTenantName(s string) error {
	if !tenantNameRE.MatchString(s) {
		return FieldErrorf(EINVALID, "name", "Tenant name %q must be 2–63 lower-case letters, digits or hyphens, not starting or ending with a hyphen.", s)
	}
	if s == ProviderLog {
		return FieldErrorf(EINVALID, "name", "Tenant name %q is reserved.", s)
	}
	return nil
}

// Settings are a tenant's Lockbox settings (SPEC §4).
type Settings struct {
	RequireApproval             bool     `json:"require_approval"`
	RequestTTLMinutes           int      `json:"request_ttl_minutes"`
	MaxAccessMinutes            int      `json:"max_access_minutes"`
	NotifyEmails                []string `json:"notify_emails"`
	ReminderMinutesBeforeExpiry int      `json:"reminder_minutes_before_expiry"`
	// ApprovalsRequired is the quorum of distinct approvers a request needs
	// (SPEC §11).
	ApprovalsRequired int `json:"approvals_required"`
	// MaxTotalAccessMinutes caps a request's whole access, extensions
	// included (SPEC §11).
	MaxTotalAccessMinutes int `json:"max_total_access_minutes"`
	// RequireSignedDecisions: approve and deny need a passkey assertion
	// over the decision statement, and grants need such approvals (§10.3).
	RequireSignedDecisions bool `json:"require_signed_decisions"`
	// RequireMFA: the tenant's users finish a password sign-in with a
	// passkey, and one without a passkey signs in with a password only to
	// register one (§10.3, lockbox.CheckActiveFor). Single sign-on is not affected: the IdP does its own MFA.
	RequireMFA bool `json:"require_mfa"`
	// BreakGlass lets a reviewed emergency request start without the
	// tenant's approval (SPEC §11, breakglass.go).
	BreakGlass BreakGlassSettings `json:"break_glass"`
	// Escalation emails more people about a request still pending after a
	// while (SPEC §11).
	Escalation EscalationSettings `json:"escalation"`
}

// BreakGlassSettings is the tenant's break_glass setting.
type BreakGlassSettings struct {
	Enabled bool `json:"enabled"`
	// MaxMinutes caps the access of a break-glass request (1–240).
	MaxMinutes int `json:"max_minutes"`
}

// EscalationSettings is the tenant's escalation setting.
type EscalationSettings struct {
	// AfterMinutes is how long after a request became pending it is
	// escalated if still pending; 0 turns escalation off.
	AfterMinutes int `json:"after_minutes"`
	// Notify are the addresses told (they cannot decide unless they are
	// approvers).
	Notify []string `json:"notify"`
}

// Limits of the break_glass and escalation settings.
const (
	DefaultBreakGlassMinutes = 60
	MaxEscalationMinutes     = 10080
)

// DefaultSettings are a new tenant's settings.
func DefaultSettings() Settings {
	return Settings{
		RequireApproval:             true,
		RequestTTLMinutes:           720,
		MaxAccessMinutes:            240,
		NotifyEmails:                []string{},
		ReminderMinutesBeforeExpiry: 120,
		ApprovalsRequired:           1,
		MaxTotalAccessMinutes:       DefaultMaxTotalAccessMinutes,
		BreakGlass:                  BreakGlassSettings{MaxMinutes: DefaultBreakGlassMinutes},
		Escalation:                  EscalationSettings{Notify: []string{}},
	}
}

// RequestTTL is how long approvers have to decide.
func (s Settings) RequestTTL() time.Duration {
	return time.Duration(s.RequestTTLMinutes) * time.Minute
}

// SettingsPatch changes some settings; nil fields stay as they are.
type SettingsPatch struct {
	RequireApproval             *bool     `json:"require_approval,omitempty"`
	RequestTTLMinutes           *int      `json:"request_ttl_minutes,omitempty"`
	MaxAccessMinutes            *int      `json:"max_access_minutes,omitempty"`
	NotifyEmails                *[]string `json:"notify_emails,omitempty"`
	ReminderMinutesBeforeExpiry *int      `json:"reminder_minutes_before_expiry,omitempty"`
	ApprovalsRequired           *int      `json:"approvals_required,omitempty"`
	MaxTotalAccessMinutes       *int      `json:"max_total_access_minutes,omitempty"`
	RequireSignedDecisions      *bool     `json:"require_signed_decisions,omitempty"`
	RequireMFA                  *bool     `json:"require_mfa,omitempty"`
	// BreakGlass and Escalation change the fields they name of their
	// setting; the others stay as they are.
	BreakGlass *BreakGlassPatch `json:"break_glass,omitempty"`
	Escalation *EscalationPatch `json:"escalation,omitempty"`
}

// BreakGlassPatch changes some fields of the break_glass setting.
type BreakGlassPatch struct {
	Enabled    *bool `json:"enabled,omitempty"`
	MaxMinutes *int  `json:"max_minutes,omitempty"`
}

// EscalationPatch changes some fields of the escalation setting.
type EscalationPatch struct {
	AfterMinutes *int      `json:"after_minutes,omitempty"`
	Notify       *[]string `json:"notify,omitempty"`
}

// Apply returns s with p applied, or EINVALID naming the first bad value
// (its Field is the setting's JSON name).
func (s Settings) Apply(p SettingsPatch) (Settings, error) {
	out := s
	out.NotifyEmails = append([]string{}, s.NotifyEmails...)
	if p.RequireApproval != nil {
		out.RequireApproval = *p.RequireApproval
	}
	if p.RequireSignedDecisions != nil {
		out.RequireSignedDecisions = *p.RequireSignedDecisions
	}
	if p.RequireMFA != nil {
		out.RequireMFA = *p.RequireMFA
	}
	if err := setInt(&out.RequestTTLMinutes, p.RequestTTLMinutes, "request_ttl_minutes", 60, 10080); err != nil {
		return s, err
	}
	if err := setInt(&out.MaxAccessMinutes, p.MaxAccessMinutes, "max_access_minutes", 1, 240); err != nil {
		return s, err
	}
	if err := setInt(&out.ReminderMinutesBeforeExpiry, p.ReminderMinutesBeforeExpiry, "reminder_minutes_before_expiry", 0, 720); err != nil {
		return s, err
	}
	if err := setInt(&out.ApprovalsRequired, p.ApprovalsRequired, "approvals_required", MinApprovalsRequired, MaxApprovalsRequired); err != nil {
		return s, err
	}
	if err := setInt(&out.MaxTotalAccessMinutes, p.MaxTotalAccessMinutes, "max_total_access_minutes", MinTotalAccessMinutes, MaxTotalAccessMinutes); err != nil {
		return s, err
	}
	if p.NotifyEmails != nil {
		emails, err := normalizeEmails("notify_emails", *p.NotifyEmails)
		if err != nil {
			return s, err
		}
		out.NotifyEmails = emails
	}
	if err := out.applyPolicy(p); err != nil {
		return s, err
	}
	return out, nil
}

// applyPolicy applies p's break_glass and escalation fields to s (a copy
// the caller owns).
func (s *Settings) applyPolicy(p SettingsPatch) error {
	s.Escalation.Notify = append([]string{}, s.Escalation.Notify...)
	if b := p.BreakGlass; b != nil {
		if b.Enabled != nil {
			s.BreakGlass.Enabled = *b.Enabled
		}
		if err := setInt(&s.BreakGlass.MaxMinutes, b.MaxMinutes, "break_glass.max_minutes", 1, 240); err != nil {
			return err
		}
	}
	if e := p.Escalation; e != nil {
		if err := setInt(&s.Escalation.AfterMinutes, e.AfterMinutes, "escalation.after_minutes", 0, MaxEscalationMinutes); err != nil {
			return err
		}
		if e.Notify != nil {
			emails, err := normalizeEmails("escalation.notify", *e.Notify)
			if err != nil {
				return err
			}
			s.Escalation.Notify = emails
		}
	}
	if s.Escalation.AfterMinutes > 0 && len(s.Escalation.Notify) == 0 {
		return FieldErrorf(EINVALID, "escalation.notify", "escalation.notify needs at least one address when escalation.after_minutes is set.")
	}
	return nil
}

func setInt(dst *int, v *int, name string, lo, hi int) error {
	if v == nil {
		return nil
	}
	if *v < lo || *v > hi {
		return FieldErrorf(EINVALID, name, "%s must be between %d and %d; got %d.", name, lo, hi, *v)
	}
	*dst = *v
	return nil
}

func normalizeEmails(field string, in []string) ([]string, error) {
	if len(in) > 20 {
		return nil, FieldErrorf(EINVALID, field, "%s holds at most 20 addresses; got %d.", field, len(in))
	}
	out := []string{}
	seen := map[string]bool{}
	for _, e := range in {
		e = NormalizeEmail(e)
		if !ValidEmail(e) {
			return nil, FieldErrorf(EINVALID, field, "%s: %q is not an email address.", field, e)
		}
		if !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	return out, nil
}

// NewTenant onboards a tenant with its first global admin.
type NewTenant struct {
	Name        string  `json:"name"`
	DisplayName string  `json:"display_name,omitempty"`
	Admin       NewUser `json:"admin"`
}

// TenantCreated is the result of onboarding: the tenant and its first admin
// (with the initial password when none was given, shown once).
type TenantCreated struct {
	Tenant *Tenant `json:"tenant"`
	Admin  *User   `json:"admin"`
}

// TenantService onboards tenants (provider_admin) and manages their
// Lockbox settings (the tenant's global_admin and lockbox_approver).
type TenantService interface {
	// CreateTenant: provider_admin. ECONFLICT when the name is taken.
	CreateTenant(ctx context.Context, in NewTenant) (*TenantCreated, error)
	ListTenants(ctx context.Context) ([]*Tenant, error)
	// GetSettings, UpdateSettings: ENOTFOUND for another tenant.
	GetSettings(ctx context.Context, tenant string) (*Settings, error)
	UpdateSettings(ctx context.Context, tenant string, p SettingsPatch) (*Settings, error)
}
