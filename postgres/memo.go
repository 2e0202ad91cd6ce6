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
	// rules is each tenant's policy rules as stored (JSON), read with the
	// tenant and parsed when asked for.
	rules map[string]string
	// hooksVersion is the webhooks_version read with each tenant
	// (webhookcache.go).
	hooksVersion map[string]int64
	// wroteHooks is set once the transaction changes any webhook: from
	// then on it neither uses nor fills the Store's webhook cache.
	wroteHooks bool
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
	delete(m.hooksVersion, name)
	delete(m.rules, name)
}

func (m *memo) setRules(tenant, rules string) {
	if m.rules == nil {
		m.rules = map[string]string{}
	}
	m.rules[tenant] = rules
}

func (m *memo) setHooksVersion(tenant string, v int64) {
	if m.hooksVersion == nil {
		m.hooksVersion = map[string]int64{}
	}
	m.hooksVersion[tenant] = v
}

func (m *memo) webhooks(tenant string) ([]*lockbox.Webhook, bool) {
	hooks, ok := m.hooks[tenant]
	if !ok {
		return nil, false
	}
	return copyHooks(hooks), true
}

func (m *memo) setWebhooks(tenant string, hooks []*lockbox.Webhook) {
	if m.hooks == nil {
		m.hooks = map[string][]lockbox.Webhook{}
	}
	m.hooks[tenant] = keepHooks(hooks)
}

// wroteWebhooks forgets the tenant's list and the version read with the
// tenant (the change bumped it), and stops the use of the Store's cache.
func (m *memo) wroteWebhooks(tenant string) {
	delete(m.hooks, tenant)
	delete(m.hooksVersion, tenant)
	m.wroteHooks = true
}
