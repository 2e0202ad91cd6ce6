package postgres

import (
	"slices"

	"github.com/lockboxhq/lockbox"
)

// memo is what one transaction has read of tenants, settings and webhook
// lists, so a workflow step that consults them several times (each
// transition of a step, each notification) reads each once. It lives and
// dies with its transaction, so no other replica's change can make it
// stale in a way a second read would not: under READ COMMITTED two reads in
// one transaction may see different commits anyway, and the first is as
// good an answer as the second. LockSettings always reads (and locks), and
// refreshes it; this transaction's own writes forget what they change.
// Callers get copies: they may change what they are given.
type memo struct {
	tenants  map[string]lockbox.Tenant
	settings map[string]lockbox.Settings
	hooks    map[string][]lockbox.Webhook
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

// forgetTenant drops the tenant and its settings.
func (m *memo) forgetTenant(name string) {
	delete(m.tenants, name)
	delete(m.settings, name)
}

func (m *memo) webhooks(tenant string) ([]*lockbox.Webhook, bool) {
	hooks, ok := m.hooks[tenant]
	if !ok {
		return nil, false
	}
	out := make([]*lockbox.Webhook, len(hooks))
	for i, h := range hooks {
		h.Events = slices.Clone(h.Events)
		out[i] = &h
	}
	return out, true
}

func (m *memo) setWebhooks(tenant string, hooks []*lockbox.Webhook) {
	if m.hooks == nil {
		m.hooks = map[string][]lockbox.Webhook{}
	}
	c := make([]lockbox.Webhook, len(hooks))
	for i, h := range hooks {
		c[i] = *h
		c[i].Events = slices.Clone(h.Events)
	}
	m.hooks[tenant] = c
}

func (m *memo) forgetWebhooks(tenant string) { delete(m.hooks, tenant) }
