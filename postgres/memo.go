package postgres

import (
	"slices"

	"github.com/lockboxhq/lockbox"
)

// memo is what one transaction has read of tenants, settings, webhook
// lists and account lists, so a workflow step that consults them several
// times (each transition of a step, each notification) reads each once. It lives and
// dies with its transaction, so no other replica's change can make it
// stale in a way a second read would not: under READ COMMITTED two reads in
// one transaction may see different commits anyway, and the first is as
// good an answer as the second. LockSettings reads (and locks), and
// refreshes it, unless the transaction holds the row shared already and is
// asked for no more (shared); this transaction's own writes forget what
// they change.
// Callers get copies: they may change what they are given.
type memo struct {
	tenants  map[string]lockbox.Tenant
	settings map[string]lockbox.Settings
	// rules is each tenant's policy rules as stored (JSON), read with the
	// tenant and parsed when asked for.
	rules map[string]string
	// hooks and users are the tenants' webhook and account lists, with
	// the versions read with each tenant's row (listcache.go).
	hooks txLists[lockbox.Webhook]
	users txLists[lockbox.User]
	// shared names the tenants whose rows this transaction holds shared
	// (FOR SHARE) since their settings were read as they are here.
	shared map[string]bool
}

func (m *memo) setShared(tenant string) {
	if m.shared == nil {
		m.shared = map[string]bool{}
	}
	m.shared[tenant] = true
}

func (m *memo) tenant(name string) (*lockbox.Tenant, bool) {
	tn, ok := m.tenants[name]
	return &tn, ok
}

func (m *memo) setTenant(tn *lockbox.Tenant) {
	if m.tenants == nil {
		m.tenants = map[string]lockbox.Tenant{}
	}
	m.tenants[tn.Name] = *tn
}

func (m *memo) settingsOf(tenant string) (*lockbox.Settings, bool) {
	s, ok := m.settings[tenant]
	s.NotifyEmails = slices.Clone(s.NotifyEmails)
	return &s, ok
}

func (m *memo) setSettings(tenant string, s *lockbox.Settings) {
	if m.settings == nil {
		m.settings = map[string]lockbox.Settings{}
	}
	c := *s
	c.NotifyEmails = slices.Clone(s.NotifyEmails)
	m.settings[tenant] = c
}

// forgetTenant drops the tenant, its settings and the lists' versions
// read with its row.
func (m *memo) forgetTenant(name string) {
	delete(m.tenants, name)
	delete(m.settings, name)
	delete(m.rules, name)
	delete(m.hooks.versions, name)
	delete(m.users.versions, name)
	delete(m.shared, name)
}

func (m *memo) setRules(tenant, rules string) {
	if m.rules == nil {
		m.rules = map[string]string{}
	}
	m.rules[tenant] = rules
}

// cloneWebhook and cloneUser copy one list item deeply, for the lists'
// memo and cache: callers may change what they are given.
func cloneWebhook(h lockbox.Webhook) lockbox.Webhook {
	h.Events = slices.Clone(h.Events)
	if h.PreviousSecretExpiresAt != nil {
		until := *h.PreviousSecretExpiresAt
		h.PreviousSecretExpiresAt = &until
	}
	return h
}

func cloneUser(u lockbox.User) lockbox.User {
	u.Roles = slices.Clone(u.Roles)
	return u
}
