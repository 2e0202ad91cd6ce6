package postgres

import (
	"slices"
	"sync"

	"github.com/lockboxhq/lockbox"
)

// webhookCache is what this Store has read of tenants' webhook lists, each
// under the tenant's webhooks_version it was read with (one statement, so
// one snapshot: migration 00019). Every change to a tenant's webhooks bumps
// that version in the change's transaction, so a list is the list of its
// version whichever replica wrote it: a transaction that read version v on
// the tenant's row may be given the remembered list of v without reading
// it again, and a change committed on another replica is seen by the first
// transaction here that reads the tenant row after that commit.
//
// Only lists read by transactions that changed no webhooks are remembered:
// a transaction's own uncommitted change may yet roll back, and its version
// number would then be reused for another list.
type webhookCache struct {
	mu      sync.Mutex
	entries map[string]cachedHooks
}

type cachedHooks struct {
	version int64
	hooks   []lockbox.Webhook
}

// maxCachedTenants bounds the memory of the cache: past it, the cache
// starts over (the lists are re-read on the next steps that need them).
const maxCachedTenants = 10000

// get returns copies of tenant's webhooks if they are remembered at version.
func (c *webhookCache) get(tenant string, version int64) ([]*lockbox.Webhook, bool) {
	c.mu.Lock()
	e, ok := c.entries[tenant]
	c.mu.Unlock()
	if !ok || e.version != version {
		return nil, false
	}
	return copyHooks(e.hooks), true
}

// put remembers tenant's webhooks at version, unless a newer version is
// remembered already.
func (c *webhookCache) put(tenant string, version int64, hooks []*lockbox.Webhook) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[tenant]; ok && e.version > version {
		return
	}
	if c.entries == nil || len(c.entries) >= maxCachedTenants {
		c.entries = map[string]cachedHooks{}
	}
	c.entries[tenant] = cachedHooks{version: version, hooks: keepHooks(hooks)}
}

// keepHooks copies hooks to be kept; copyHooks copies kept hooks to be
// handed out (callers may change what they are given).
func keepHooks(hooks []*lockbox.Webhook) []lockbox.Webhook {
	c := make([]lockbox.Webhook, len(hooks))
	for i, h := range hooks {
		c[i] = *h
		c[i].Events = slices.Clone(h.Events)
	}
	return c
}

func copyHooks(hooks []lockbox.Webhook) []*lockbox.Webhook {
	out := make([]*lockbox.Webhook, len(hooks))
	for i, h := range hooks {
		h.Events = slices.Clone(h.Events)
		out[i] = &h
	}
	return out
}
